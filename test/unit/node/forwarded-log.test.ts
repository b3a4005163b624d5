/**
 * A worker's log written by another thread: records encoded where the events happen, posted in
 * batches, and appended to an LMDB log that reads back the same events; a repeated batch is skipped
 * and a lost one is an error that names the gap.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { StoredBatch } from '../../../node/store/event-log-codec.js';
import { EventLog } from '../../../node/store/event-log.js';
import { ForwardedLog, forwardedLogLagMs, keepBatchMemory, memoryOf, recordsOf } from '../../../node/store/forwarded-log.js';
import { PlainRecordWriter } from '../../../node/store/plain-record-writer.js';
import type { LogRecords } from '../../../node/store/forwarded-log.js';

void test('records forwarded from another thread read back as the events, captured when appended', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-forwarded-log-'));
  const batches: LogRecords[] = [];
  const forwarded = new ForwardedLog('worker:n1.w1', (batch, transfer) => {
    // As postMessage does: the transferred buffer leaves the sending side.
    batches.push(structuredClone(batch, { transfer }));
  });
  const event = { type: 'task/pushed', n: 1 };
  assert.equal(forwarded.append(10, event), 1);
  event.n = 2;
  assert.equal(forwarded.append(11, { type: 'task/executed' }, 1), 2);
  forwarded.flushNow();
  assert.equal(forwarded.append(12, { type: 'refs/released' }), 3);
  await forwarded.committed(3);
  assert.equal(batches.length, 2);

  const log = EventLog.open(join(dir, 'log'), { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging' });
  try {
    for (const batch of batches) log.appendEncoded(batch.firstSeq, recordsOf(batch));
    // A batch delivered twice changes nothing.
    const first = batches[0] as LogRecords;
    log.appendEncoded(first.firstSeq, recordsOf(first));
    await log.flush();
    assert.deepEqual(
      [...log.read()],
      [
        { seq: 1, atMs: 10, event: { type: 'task/pushed', n: 1 } },
        { seq: 2, atMs: 11, parent: 1, event: { type: 'task/executed' } },
        { seq: 3, atMs: 12, event: { type: 'refs/released' } },
      ],
    );
    // A batch that skips records is refused, naming the gap.
    assert.throws(() => log.appendEncoded(6, [new Uint8Array([1])]), /got record 6 while it waits for 4/);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("a batch is handed over as the very value the log thread's log stores, which it puts as it is", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-forwarded-log-'));
  const batches: LogRecords[] = [];
  const forwarded = new ForwardedLog('worker:n1.w1', (batch, transfer) => batches.push(structuredClone(batch, { transfer })));
  const events = Array.from({ length: 30 }, (_, index) => ({ type: index % 3 === 0 ? 'task/executed' : 'task/pushed', taskId: `t${index}`, data: new Uint8Array([index]) }));
  events.slice(0, 20).forEach((event, index) => forwarded.append(100 + index, event, index === 0 ? undefined : index));
  forwarded.flushNow();
  events.slice(20).forEach((event, index) => forwarded.append(120 + index, event));
  forwarded.flushNow();
  assert.deepEqual(batches.map((batch) => [batch.firstSeq, batch.count]), [[1, 20], [21, 10]]);
  for (const batch of batches) assert.deepEqual(Buffer.from(batch.bytes), Buffer.from(StoredBatch.encode(batch.firstSeq, recordsOf(batch))));
  // As the log thread opens the logs it writes.
  const log = EventLog.open(join(dir, 'log'), { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging', syncWrites: true });
  const put = log['events'].putSync.bind(log['events']);
  const stored: unknown[] = [];
  log['events'].putSync = ((key: number, value: unknown, options?: unknown) => {
    stored.push(value);
    return put(key, value, options as never);
  });
  try {
    for (const batch of batches) log.appendStoredBatch(batch.firstSeq, batch.bytes, batch.count);
    // Put as they came: no copy laid out again.
    assert.equal(stored.length, 2);
    batches.forEach((batch, index) => assert.equal((stored[index] as Record<string, Uint8Array>)['\x10binary-data\x02'], batch.bytes));
    // A batch delivered twice changes nothing; one that skips records is refused, naming the gap.
    const first = batches[0] as LogRecords;
    log.appendStoredBatch(first.firstSeq, first.bytes, first.count);
    assert.throws(() => log.appendStoredBatch(40, first.bytes.slice(), first.count), /damaged|got record 40 while it waits for 31/);
    await log.flush();
    assert.deepEqual(
      [...log.read()].map((record) => ('event' in record ? record.event : record)),
      events,
    );
    assert.deepEqual(
      [...log.read()].slice(0, 2).map((record) => ('event' in record ? [record.seq, record.atMs, record.parent] : record)),
      [
        [1, 100, undefined],
        [2, 101, 1],
      ],
    );
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('the memory of a written batch, sent back, holds a later batch, whose records still read back whole, and a writer told its records were copied out writes over them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-forwarded-log-'));
  // Kept as posted, not cloned: so that the memory sent back is seen to be the very memory reused.
  const batches: LogRecords[] = [];
  const forwarded = new ForwardedLog('worker:n1.w1', (batch) => batches.push(batch));
  const events = Array.from({ length: 3000 }, (_, index) => ({ type: index % 2 === 0 ? 'task/pushed' : 'task/executed', taskId: `n1.d1.t${index}`, data: new Uint8Array([index % 256]), long: 'x'.repeat(index % 7 === 0 ? 300 : 3) }));
  let given: ArrayBuffer | undefined;
  let reused = 0;
  const log = EventLog.open(join(dir, 'log'), { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging', syncWrites: true });
  try {
    for (let start = 0; start < events.length; start += 500) {
      events.slice(start, start + 500).forEach((event, index) => forwarded.append(start + index, event));
      forwarded.flushNow();
      const batch = batches[batches.length - 1] as LogRecords;
      // Laid out in the memory the log thread sent back after the batch before, when it is large enough.
      if (batch.bytes.buffer === given) reused += 1;
      assert.equal(batch.bytes.byteOffset, 0);
      // As the log thread does: put, then send the memory back to the thread that made it.
      log.appendStoredBatch(batch.firstSeq, batch.bytes, batch.count);
      const back = memoryOf(batch);
      assert.ok(back !== undefined);
      given = back.memory;
      assert.ok(keepBatchMemory(back));
    }
    assert.ok(reused >= 4, `only ${reused} of 5 later batches were laid out in memory sent back`);
    assert.equal(keepBatchMemory({ kind: 'done', id: 1 }), false);
    await log.flush();
    assert.deepEqual(
      [...log.read()].map((record) => ('event' in record ? record.event : record)),
      events,
    );
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
  // Records copied out, the writer writes the next ones where the first were, and they are whole.
  const writer = new PlainRecordWriter();
  assert.ok(writer.writeInPlace(2, 1, 0, undefined, { type: 'a', long: 'y'.repeat(70_000) }));
  assert.ok(writer.writeInPlace(2, 2, 0, undefined, { type: 'b' }));
  const memory = writer.lastRecordBuffer;
  writer.recycle();
  assert.ok(writer.writeInPlace(2, 3, 0, undefined, { type: 'c' }));
  assert.equal(writer.lastRecordBuffer, memory);
  assert.equal(writer.lastRecordStart, new Uint8Array(memory).byteOffset);
  const written = writer.write(2, 4, 0, undefined, { type: 'd', n: 1 });
  assert.deepEqual(new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true }).unpack(written as Buffer), [2, 4, 0, null, { type: 'd', n: 1 }]);
});

void test('the memory of a full batch sent back is kept for the next full batch even when small memory filled the spares first', () => {
  const batches: LogRecords[] = [];
  const forwarded = new ForwardedLog('worker:n1.w1', (batch) => batches.push(batch));
  const post = (count: number, size: number): LogRecords => {
    for (let index = 0; index < count; index += 1) forwarded.append(index, { type: 'task/pushed', taskId: `n1.d1.t${index}`, pad: String(index).padStart(size, 'p') });
    forwarded.flushNow();
    return batches[batches.length - 1] as LogRecords;
  };
  // A burst's first batches (flushed by the timer) are small: their memory, sent back, fills the spares.
  // Six posted before any comes back, so that each is laid out in memory of its own.
  const small = Array.from({ length: 6 }, () => post(1, 10));
  for (const batch of small) {
    const back = memoryOf(batch);
    assert.ok(back !== undefined && keepBatchMemory(back));
  }
  // Then full batches, each larger than any memory kept so far (1 MiB and more).
  const full = post(4000, 300);
  const back = memoryOf(full);
  assert.ok(back !== undefined);
  const memory = back.memory;
  assert.ok(memory.byteLength >= 1024 * 1024);
  assert.ok(keepBatchMemory(back));
  // The next full batch is laid out in it, not in fresh memory.
  assert.equal(post(4000, 300).bytes.buffer, memory);
});

void test('a writer whose records were copied out writes a full batch again (six chunks) in the chunks it filled before', () => {
  const writer = new PlainRecordWriter();
  const fill = (): Set<ArrayBuffer> => {
    const used = new Set<ArrayBuffer>();
    // 4096 records of about 90 bytes, a forwarded log's full batch of a tiny task's records.
    for (let seq = 1; seq <= 4096; seq += 1) {
      assert.ok(writer.writeInPlace(2, seq, 0, undefined, { type: 'task/pushed', taskId: `n1.d1.t${seq}`, pad: 'p'.repeat(60) }));
      used.add(writer.lastRecordBuffer);
    }
    return used;
  };
  writer.recycle();
  const first = fill();
  assert.ok(first.size >= 6, `a full batch took ${first.size} chunks`);
  writer.recycle();
  const second = fill();
  assert.deepEqual([...second].filter((buffer) => !first.has(buffer)), []);
});

void test('records wait the lag (50 ms) before they are posted, so a batch holds what its thread logged over that time', async () => {
  const postedAfterMs: number[] = [];
  let appendedAtMs = 0;
  const forwarded = new ForwardedLog('worker:n1.w1', () => postedAfterMs.push(performance.now() - appendedAtMs));
  appendedAtMs = performance.now();
  forwarded.append(10, { type: 'task/pushed', n: 1 });
  forwarded.append(11, { type: 'task/executed' });
  for (let waited = 0; postedAfterMs.length === 0 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(forwardedLogLagMs, 50);
  assert.equal(postedAfterMs.length, 1, 'both records in one batch');
  // A timer never fires early (Node rounds its start to the ms, hence the 1 ms of slack); it may fire late.
  assert.ok((postedAfterMs[0] as number) >= forwardedLogLagMs - 1, `posted ${String(postedAfterMs[0])} ms after the first record, not at least ${forwardedLogLagMs}`);
});

void test("a thread's optimised append is kept through its first burst: a full buffer, a chunk outgrown and lists emptied in place throw none of it away", () => {
  // V8 compiles a hot function for what it has seen run: a call it never saw made (the flush of a full
  // buffer, the move to a new chunk) or a list it only saw hold small integers ends the compiled code
  // where it is first met, which was the first burst of tasks, and every function that inlined it was
  // compiled again. Only V8's own status of the function tells; so a child with its natives syntax.
  const forwardedLog = new URL('../../../node/store/forwarded-log.js', import.meta.url).href;
  const script = `
    const { ForwardedLog } = await import(${JSON.stringify(forwardedLog)});
    const posted = [];
    const log = new ForwardedLog('worker:n1.w1', (batch) => posted.push(batch.count));
    const event = (index) => ({ type: 'task/executed', taskId: 'n1.d1.t' + index, attempt: 0, result: { kind: 'returned', data: new Uint8Array([index & 255]) } });
    let seq = 1;
    // As a thread's log starts: a few batches of records, each posted by the lag's timer.
    for (let batch = 0; batch < 3; batch += 1) {
      for (let index = 0; index < 200; index += 1) log.append(seq, event(seq++));
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    const append = ForwardedLog.prototype.append;
    %PrepareFunctionForOptimization(append);
    for (let index = 0; index < 3; index += 1) log.append(seq, event(seq++));
    %OptimizeFunctionOnNextCall(append);
    log.append(seq, event(seq++));
    const before = %GetOptimizationStatus(append);
    // A burst: more records than a batch holds (4096), and than a 64 KiB chunk, in one turn.
    for (let index = 0; index < 5000; index += 1) log.append(seq, event(seq++));
    const after = %GetOptimizationStatus(append);
    log.flushNow();
    console.log(JSON.stringify({ before, after, posted }));
  `;
  const result = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const { before, after, posted } = JSON.parse(result.stdout) as { before: number; after: number; posted: number[] };
  // V8's status bits: 16 is optimised, 64 compiled by TurboFan.
  const turbofanned = 16 | 64;
  assert.equal(before & turbofanned, turbofanned, `append was not optimised (status ${before})`);
  assert.equal(after & turbofanned, turbofanned, `append was thrown away in the burst (status ${after})`);
  // The burst did fill a batch: its first 4096 records were posted without waiting for the timer.
  assert.ok(posted.includes(4096), `batches posted: ${posted.join(', ')}`);
  // Every record was posted, once: 600 before, 4 around the optimising and 5000 in the burst.
  assert.equal(posted.reduce((sum, count) => sum + count, 0), 5604);
});
