/**
 * Record format 4: the log thread stores each batch of records it is handed as one LMDB value under
 * the seq of its first record. Reading from any seq (inside a batch too), records stored as changes
 * from a record in another batch, a log that holds single records and batches, a repeated or partly
 * repeated batch, a reopen, and a damaged batch value (reported at its seq, reading going on) all
 * work; serving such a log chunk by chunk decodes each batch once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { open } from 'lmdb';
import { LogServer } from '../../../node/cluster/log-serving.js';
import { StoredBatch } from '../../../node/store/event-log-codec.js';
import { EventLog, logDirFor, type CorruptRecord, type LoggedEvent } from '../../../node/store/event-log.js';
import { ForwardedLog, recordsOf, type LogRecords } from '../../../node/store/forwarded-log.js';

const root = mkdtempSync(join(tmpdir(), 'tsray-batched-records-'));
after(() => rmSync(root, { recursive: true, force: true }));
let logs = 0;

/** The event of the `index`th record: a task of one of three types, so records are deltas of records in earlier batches. */
function eventOf(index: number): unknown {
  const types = ['task/submitted', 'task/pushed', 'task/finished'];
  return { type: types[index % 3], taskId: `t${index}`, args: [index, 'x'], options: { cpus: 1 } };
}

/** `count` events forwarded in batches of `perBatch` records, as a worker posts them. */
async function forwardedBatches(count: number, perBatch: number): Promise<LogRecords[]> {
  const batches: LogRecords[] = [];
  const forwarded = new ForwardedLog('worker:n1.w1', (batch, transfer) => batches.push(structuredClone(batch, { transfer })));
  for (let index = 0; index < count; index += 1) {
    forwarded.append(1000 + index, eventOf(index), index === 0 ? undefined : index);
    if ((index + 1) % perBatch === 0) forwarded.flushNow();
  }
  forwarded.flushNow();
  await forwarded.committed(count);
  return batches;
}

/** A log written as the log thread writes it. */
function logThreadLog(dir: string): EventLog {
  return EventLog.open(dir, { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging', syncWrites: true });
}

/** The keys of the log's stored values, straight from LMDB. */
async function storedKeys(dir: string): Promise<number[]> {
  const env = open<Buffer, number>({ path: join(dir, 'events.mdb'), noSubdir: true, readOnly: true });
  try {
    return [...env.openDB<Buffer, number>('events', { encoding: 'binary' }).getKeys({})];
  } finally {
    await env.close();
  }
}

function expected(fromSeq: number, count: number): LoggedEvent[] {
  return Array.from({ length: count - fromSeq + 1 }, (_, offset) => {
    const index = fromSeq - 1 + offset;
    return index === 0 ? { seq: 1, atMs: 1000, event: eventOf(0) } : { seq: index + 1, atMs: 1000 + index, parent: index, event: eventOf(index) };
  });
}

void test('the log thread stores each batch as one value under its first seq, and every seq reads back from there', async () => {
  const dir = logDirFor(join(root, `log-${++logs}`), 'worker:n1.w1');
  const batches = await forwardedBatches(100, 16);
  const log = logThreadLog(dir);
  try {
    for (const batch of batches) log.appendEncoded(batch.firstSeq, recordsOf(batch));
    // A repeated batch, and one that repeats part of itself, change nothing.
    const second = batches[1] as LogRecords;
    log.appendEncoded(second.firstSeq, recordsOf(second));
    assert.equal(log.committedSeq, 100);
    assert.deepEqual([...log.read()], expected(1, 100));
    for (const fromSeq of [1, 2, 16, 17, 18, 50, 95, 96, 99, 100]) assert.deepEqual([...log.read(fromSeq)], expected(fromSeq, 100), `reading from ${fromSeq}`);
    assert.deepEqual([...log.read(101)], []);
  } finally {
    await log.close();
  }
  assert.deepEqual(
    await storedKeys(dir),
    batches.map((batch) => batch.firstSeq),
    'one stored value a batch',
  );
  const again = logThreadLog(dir);
  try {
    assert.equal(again.lastSeq, 100, 'a reopened log continues after its last batch');
    // A batch that repeats records the log has and brings new ones keeps only the new ones.
    const more = await forwardedBatches(110, 110);
    const batch = more[0] as LogRecords;
    again.appendEncoded(batch.firstSeq, recordsOf(batch));
    assert.equal(again.lastSeq, 110);
    assert.deepEqual([...again.read(95)], expected(95, 110));
    assert.equal(again.append(5000, { type: 'node/heartbeat' }), 111, 'single records follow batches');
    await again.flush();
    const read = [...again.read(110)];
    assert.equal(read.length, 2);
    assert.deepEqual(read[1], { seq: 111, atMs: 5000, event: { type: 'node/heartbeat' } });
  } finally {
    await again.close();
  }
});

void test('a log of single records (formats 1 to 3) followed by batches reads whole and from any seq', async () => {
  const dir = logDirFor(join(root, `log-${++logs}`), 'worker:n1.w1');
  const batches = await forwardedBatches(40, 10);
  // The first two batches stored record by record, as a log written before format 4 holds them.
  const old = EventLog.open(dir, { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging' });
  for (const batch of batches.slice(0, 2)) old.appendEncoded(batch.firstSeq, recordsOf(batch));
  await old.close();
  const log = logThreadLog(dir);
  try {
    for (const batch of batches.slice(2)) log.appendEncoded(batch.firstSeq, recordsOf(batch));
    for (const fromSeq of [1, 15, 20, 21, 25, 40]) assert.deepEqual([...log.read(fromSeq)], expected(fromSeq, 40), `reading from ${fromSeq}`);
  } finally {
    await log.close();
  }
  assert.equal((await storedKeys(dir)).length, 20 + 2);
});

void test('a damaged batch value is reported once, naming its seq, and reading goes on after it', async () => {
  const dir = logDirFor(join(root, `log-${++logs}`), 'worker:n1.w1');
  const batches = await forwardedBatches(30, 10);
  const log = logThreadLog(dir);
  for (const batch of batches) log.appendEncoded(batch.firstSeq, recordsOf(batch));
  await log.close();
  const env = open<Buffer, number>({ path: join(dir, 'events.mdb'), noSubdir: true });
  const events = env.openDB<Buffer, number>('events', { encoding: 'binary' });
  const stored = events.get(11) as Buffer;
  // Cut short: its header promises more bytes than it holds.
  events.putSync(11, stored.subarray(0, stored.byteLength - 3));
  await env.close();
  const damaged = EventLog.open(dir);
  try {
    assert.equal(damaged.lastSeq, 30);
    const read = [...damaged.read()];
    const corrupt = read.filter((record): record is CorruptRecord => 'corrupt' in record);
    assert.equal(corrupt.length, 1);
    assert.equal(corrupt[0]?.seq, 11);
    assert.match(corrupt[0]?.corrupt ?? '', /^record 11 of logs\/worker-n1\.w1 is not a tsray event \(it is a batch of records whose size is \d+ bytes, not the \d+ its header gives\)/);
    assert.deepEqual(
      read.filter((record) => !('corrupt' in record)).map((record) => record.seq),
      [...Array.from({ length: 10 }, (_, index) => index + 1), ...Array.from({ length: 10 }, (_, index) => index + 21)],
    );
  } finally {
    await damaged.close();
  }
});

void test('a batch value decodes as MessagePack [4, firstSeq, lengths, records], and a short one is refused', () => {
  const records = [new Uint8Array([1, 2, 3]), new Uint8Array([4]), new Uint8Array([5, 6])];
  const value = StoredBatch.encode(7, records);
  const batch = StoredBatch.decode(value);
  assert.ok(batch instanceof StoredBatch);
  assert.equal(batch.firstSeq, 7);
  assert.equal(batch.length, 3);
  assert.deepEqual([0, 1, 2].map((index) => [...batch.record(index)]), [[1, 2, 3], [4], [5, 6]]);
  assert.ok(!(StoredBatch.decode(value.subarray(0, 10)) instanceof StoredBatch));
  assert.ok(!(StoredBatch.decode(value.subarray(0, value.length - 1)) instanceof StoredBatch));
});

void test('serving a batched log chunk by chunk decodes each batch once', async () => {
  const dir = logDirFor(join(root, `log-${++logs}`), 'worker:n1.w1');
  const batches = await forwardedBatches(2000, 1000);
  const log = logThreadLog(dir);
  for (const batch of batches) log.appendEncoded(batch.firstSeq, recordsOf(batch));
  await log.close();
  const decode = StoredBatch.decode.bind(StoredBatch);
  let decoded = 0;
  StoredBatch.decode = (bytes) => {
    decoded += 1;
    return decode(bytes);
  };
  const server = new LogServer();
  const disk = EventLog.open(dir);
  try {
    const seqs: number[] = [];
    for (let fromSeq = 1; fromSeq <= 2000; ) {
      const chunk = server.events(disk.address, () => ({ log: disk, release: () => undefined }), fromSeq, 2000, 2000);
      seqs.push(...chunk.map((record) => record.seq));
      fromSeq = (chunk[chunk.length - 1]?.seq ?? fromSeq) + 1;
    }
    assert.equal(seqs.length, 2000);
    // Each batch once as it is read, and at most once more for the records its deltas are read against.
    assert.ok(decoded <= 2 * batches.length + 2, `${decoded} batches decoded`);
  } finally {
    StoredBatch.decode = decode;
    server.close();
    await disk.close();
  }
});
