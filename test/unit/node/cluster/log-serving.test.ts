/**
 * How a node serves its event logs to `tsray trace collect --address`: chunks stay within their byte
 * bound (one event at least, so the tool always moves on), stop at the asked end, carry the events in
 * the trace form the merge replays, and a damaged record fails the chunk with a line naming the log.
 * A log served chunk by chunk is opened once and each of its records read once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { open } from 'lmdb';
import { stableStringify } from '../../../../core/hash.js';
import type { LogEventRecord } from '../../../../core/protocol.js';
import { indexEntry, LogServer, maxLogChunkBytes, readEvents, type ServedLog } from '../../../../node/cluster/log-serving.js';
import { EventLog, logDirFor } from '../../../../node/store/event-log.js';

const root = mkdtempSync(join(tmpdir(), 'tsray-log-serving-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A committed raylet log of `count` heartbeats, each with a padding of `padBytes`. */
async function heartbeats(name: string, count: number, padBytes: number): Promise<EventLog> {
  const log = EventLog.open(logDirFor(join(root, name), 'raylet:n1'), { component: 'raylet', address: 'raylet:n1' });
  for (let index = 0; index < count; index += 1) log.append(1000 + index, { type: 'node/heartbeat', nodeId: 'n1', available: { CPU: index }, pad: 'x'.repeat(padBytes) });
  await log.flush();
  return log;
}

void test('chunks stay within their byte bound and together give every event once, in order, in trace form', async () => {
  const log = await heartbeats('chunks', 50, 100);
  try {
    const budget = 1000;
    const chunks: LogEventRecord[][] = [];
    for (let fromSeq = 1; fromSeq <= log.lastSeq; ) {
      const chunk = readEvents(log, fromSeq, log.lastSeq, budget);
      assert.ok(chunk.length > 0);
      assert.ok(chunk.reduce((sum, record) => sum + record.json.length, 0) <= budget, 'a chunk passed its bound');
      chunks.push(chunk);
      fromSeq = (chunk[chunk.length - 1]?.seq ?? fromSeq) + 1;
    }
    assert.ok(chunks.length > 5, `50 events of ~150 bytes in chunks of ${budget} bytes came in ${chunks.length} chunks`);
    const all = chunks.flat();
    assert.deepEqual(
      all.map((record) => record.seq),
      Array.from({ length: 50 }, (_, index) => index + 1),
    );
    assert.equal(all[7]?.atMs, 1007);
    assert.equal(all[7]?.json, stableStringify({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 7 }, pad: 'x'.repeat(100) }));
    // The asked end is kept, and an event larger than the bound still comes, alone.
    assert.deepEqual(
      readEvents(log, 10, 12, 1_000_000).map((record) => record.seq),
      [10, 11, 12],
    );
    assert.deepEqual(
      readEvents(log, 3, 50, 1).map((record) => record.seq),
      [3],
    );
    assert.equal(indexEntry(log).lastSeq, 50);
    assert.equal(indexEntry(log).component, 'raylet');
  } finally {
    await log.close();
  }
});

void test('no chunk carries more than maxLogChunkBytes, whatever the tool asks', async () => {
  const log = await heartbeats('clamped', 12, 1024 * 1024);
  try {
    const chunk = readEvents(log, 1, log.lastSeq, Number.MAX_SAFE_INTEGER);
    assert.ok(chunk.length < 12);
    assert.ok(chunk.reduce((sum, record) => sum + record.json.length, 0) <= maxLogChunkBytes);
  } finally {
    await log.close();
  }
});

void test('the index lists a log through its last committed event: one appended after the flush is left for a later index', async () => {
  const log = await heartbeats('uncommitted', 5, 10);
  try {
    log.recordStateHash(5, '0123456789abcdef');
    // A message handled between the node's flush and its index appends an event that is not committed yet.
    log.append(2000, { type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 5 } });
    log.recordStateHash(6, 'fedcba9876543210');
    assert.equal(log.lastSeq, 6);
    const entry = indexEntry(log);
    assert.equal(entry.lastSeq, 5);
    assert.deepEqual(entry.liveHashes, [[5, '0123456789abcdef']]);
    assert.deepEqual(
      readEvents(log, 1, entry.lastSeq, 1_000_000).map((record) => record.seq),
      [1, 2, 3, 4, 5],
      'every event the index lists is there to send',
    );
  } finally {
    await log.close();
  }
});

void test("a record's parent (the event of its log that its shell recorded as its cause) travels with it", async () => {
  const log = EventLog.open(logDirFor(join(root, 'parents'), 'raylet:n1'), { component: 'raylet', address: 'raylet:n1' });
  try {
    log.append(1, { type: 'worker/kill-requested', workerId: 'n1.w1', reason: 'killed' });
    log.append(2, { type: 'worker/exited', workerId: 'n1.w1', reason: 'killed' }, 1);
    await log.flush();
    const [asked, exited] = readEvents(log, 1, 2, 1_000_000);
    assert.equal(asked?.parent, undefined);
    assert.equal(exited?.parent, 1);
    assert.ok(asked !== undefined && !('parent' in asked), 'a record with no parent carries no parent field');
  } finally {
    await log.close();
  }
});

void test('a damaged record fails the chunk with one line naming the log', async () => {
  const dir = logDirFor(join(root, 'damaged'), 'raylet:n1');
  const written = EventLog.open(dir, { component: 'raylet', address: 'raylet:n1' });
  for (let index = 0; index < 3; index += 1) written.append(1, { type: 'node/heartbeat', nodeId: 'n1', available: {} });
  await written.close();
  const env = open<Buffer, number>({ path: join(dir, 'events.mdb'), noSubdir: true });
  env.openDB<Buffer, number>('events', { encoding: 'binary' }).putSync(2, Buffer.from([0xc1, 0xff, 0x00]));
  await env.close();
  const log = EventLog.open(dir);
  try {
    assert.deepEqual(
      readEvents(log, 1, 1, 1000).map((record) => record.seq),
      [1],
    );
    assert.throws(() => readEvents(log, 1, 3, 1000), /^Error: record 2 of logs\/raylet-n1 is not a tsray event [^\n]*damaged$/);
  } finally {
    await log.close();
  }
});

/** `log` as serving sees it, counting the records its reads yield. */
function counting(log: EventLog): { served: ServedLog; yielded: () => number } {
  let yielded = 0;
  const served: ServedLog = {
    address: log.address,
    *read(fromSeq?: number) {
      for (const record of log.read(fromSeq)) {
        yielded += 1;
        yield record;
      }
    },
  };
  return { served, yielded: () => yielded };
}

void test('a log served chunk by chunk is opened once, each record read once, and let go after its last chunk', async () => {
  const log = await heartbeats('served-once', 300, 20);
  const { served, yielded } = counting(log);
  let opens = 0;
  let releases = 0;
  const open = () => {
    opens += 1;
    return { log: served, release: () => (releases += 1) };
  };
  const server = new LogServer();
  try {
    const seqs: number[] = [];
    let chunks = 0;
    for (let fromSeq = 1; fromSeq <= log.lastSeq; chunks += 1) {
      const chunk = server.events(log.address, open, fromSeq, log.lastSeq, 200);
      assert.ok(chunk.length > 0 && chunk.length < 10, `a chunk of ${chunk.length} events`);
      seqs.push(...chunk.map((record) => record.seq));
      fromSeq = (chunk[chunk.length - 1]?.seq ?? fromSeq) + 1;
    }
    assert.ok(chunks > 30, `${chunks} chunks`);
    assert.deepEqual(
      seqs,
      Array.from({ length: 300 }, (_, index) => index + 1),
    );
    assert.equal(opens, 1, 'the log was opened for each chunk');
    assert.equal(yielded(), 300, 'records were read again for later chunks');
    assert.equal(releases, 1, 'the log was not let go after its last chunk');
    // A tool that asks again from elsewhere (it restarted) gets what it asks for, from a fresh read.
    assert.deepEqual(
      server.events(log.address, open, 150, 152, 1_000_000).map((record) => record.seq),
      [150, 151, 152],
    );
    assert.deepEqual(
      server.events(log.address, open, 7, 300, 1).map((record) => record.seq),
      [7],
    );
    assert.deepEqual(
      server.events(log.address, open, 3, 300, 1).map((record) => record.seq),
      [3],
      'a chunk that does not start where the last ended reads from where it is asked',
    );
    assert.equal(opens, 3);
  } finally {
    server.close();
    await log.close();
  }
  assert.equal(releases, 3, 'close let go of the log still being served');
});

void test('a live log that grew since its reading started is read on past the old end', async () => {
  const log = await heartbeats('served-live', 10, 10);
  const server = new LogServer();
  const open = () => ({ log: log as ServedLog, release: () => undefined });
  try {
    assert.deepEqual(
      server.events(log.address, open, 1, 20, 1).map((record) => record.seq),
      [1],
    );
    // The reading started at 10 events; the next chunks read what came after.
    for (let index = 0; index < 10; index += 1) log.append(3000 + index, { type: 'node/heartbeat', nodeId: 'n1', available: {} });
    await log.flush();
    const seqs: number[] = [];
    for (let fromSeq = 2; fromSeq <= 20; ) {
      const chunk = server.events(log.address, open, fromSeq, 20, 1_000_000);
      assert.ok(chunk.length > 0, `no events from ${fromSeq}`);
      seqs.push(...chunk.map((record) => record.seq));
      fromSeq = (chunk[chunk.length - 1]?.seq ?? fromSeq) + 1;
    }
    assert.deepEqual(
      seqs,
      Array.from({ length: 19 }, (_, index) => index + 2),
    );
  } finally {
    server.close();
    await log.close();
  }
});
