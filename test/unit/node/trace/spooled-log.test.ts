/**
 * `tsray trace collect --address` keeps the logs it fetches from a cluster's live processes in files
 * as they arrive, and the merge reads them back event by event (node/trace/spooled-log.ts): a log
 * reads back as the events that were fetched, in order and in trace form, across the blocks it is
 * read in (characters of several bytes included); text that is no JSON fails the merge with one line
 * naming the sender, the event and the log, as a full disk fails the fetch; and 200,000 fetched events (80 MB of text) are merged in
 * a 64 MB heap, where held whole they need several times that.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { LogEventRecord, LogIndexEntry } from '../../../../core/protocol.js';
import { collectedEvent, type CollectedEvent, type LogSource } from '../../../../node/trace/collect.js';
import { LogSpool } from '../../../../node/trace/spooled-log.js';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

const spools: LogSpool[] = [];
after(() => {
  for (const spool of spools) spool.remove();
});

/** A raylet's heartbeat as a node sends it: its event in trace form (JSON text), with a padding of `padChars`. */
function heartbeat(seq: number, pad: string): LogEventRecord {
  const record: LogEventRecord = { seq, atMs: 1000 + seq, json: JSON.stringify({ available: { CPU: seq % 3 }, nodeId: 'n1', pad, type: 'node/heartbeat' }) };
  return seq % 5 === 0 ? { ...record, parent: seq - 1 } : record;
}

const entry: LogIndexEntry = { address: 'raylet:n1', component: 'raylet', lastSeq: 0, liveHashes: [[3, 'abcd']] };

/** Every event of `source`, as the merge takes them. */
function drained(source: LogSource): CollectedEvent[] {
  const events: CollectedEvent[] = [];
  for (let event = source.peek(); event !== undefined; event = source.peek()) {
    events.push(event);
    source.take();
  }
  return events;
}

void test('a spooled log reads back as the events fetched, in order and in trace form, across read blocks and characters of several bytes', () => {
  const spool = new LogSpool();
  spools.push(spool);
  const writer = spool.writer('node n1', entry);
  // About 3 MB: the file is read in blocks of 1 MiB, and the two- and four-byte characters fall across their edges.
  const records = Array.from({ length: 12_000 }, (_, index) => heartbeat(index + 1, `é😀${'x'.repeat(index % 400)}`));
  for (const record of records) writer.add(record);
  const source = writer.finish(spool);
  assert.equal(source.address, 'raylet:n1');
  assert.equal(source.component, 'raylet');
  assert.equal(source.lastSeq, 12_000);
  assert.deepEqual([...source.liveHashes], [[3, 'abcd']]);
  const expected = records.map((record) => collectedEvent(record.seq, record.atMs, JSON.parse(record.json), 'raylet:n1', record.parent));
  assert.deepEqual(source.firstEvents, expected.slice(0, 4));
  assert.deepEqual(drained(source), expected);
  // The event with a parent keeps it as its cause.
  assert.deepEqual(expected[4]?.cause, { address: 'raylet:n1', seq: 4 });
  assert.equal(source.peek(), undefined, 'a source at its end stays there');
  spool.remove();
  assert.equal(existsSync(spool.dir), false, 'the spool folder is deleted');
});

void test('text that is no JSON fails the merge when it reaches it, with one line naming the sender, the event and the log; among the first events, at once', () => {
  const spool = new LogSpool();
  spools.push(spool);
  const writer = spool.writer('node n1', entry);
  for (let seq = 1; seq <= 10; seq += 1) writer.add(heartbeat(seq, ''));
  writer.add({ seq: 11, atMs: 1011, json: '{"type":"node/heartbeat"' });
  writer.add(heartbeat(12, ''));
  const source = writer.finish(spool);
  for (let seq = 1; seq <= 10; seq += 1) {
    assert.equal(source.peek()?.seq, seq);
    source.take();
  }
  assert.throws(() => source.peek(), { name: 'CollectError', message: 'node n1 sent event 11 of raylet:n1 as text that is no JSON' });

  const early = spool.writer('driver n1.d1 (job j1)', { address: 'worker:n1.d1', component: 'owner', lastSeq: 0, liveHashes: [] });
  assert.throws(() => early.add({ seq: 1, atMs: 1, json: 'not json' }), { message: 'driver n1.d1 (job j1) sent event 1 of worker:n1.d1 as text that is no JSON' });
});

void test('a line break between JSON tokens is read as JSON reads it; one inside a string fails at once, and no line of the file is split', () => {
  const spool = new LogSpool();
  spools.push(spool);
  const writer = spool.writer('node n1', entry);
  for (let seq = 1; seq <= 5; seq += 1) writer.add(heartbeat(seq, ''));
  writer.add({ seq: 6, atMs: 1006, json: '{"nodeId":\n"n1",\n"type":"node/heartbeat"}' });
  assert.throws(() => writer.add({ seq: 7, atMs: 1007, json: '{"type":"node/heart\nbeat"}' }), { name: 'CollectError', message: 'node n1 sent event 7 of raylet:n1 as text that is no JSON' });
  writer.add(heartbeat(7, ''));
  const events = drained(writer.finish(spool));
  assert.deepEqual(events.map((event) => event.seq), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(events[5]?.event, { nodeId: 'n1', type: 'node/heartbeat' });
});

void test('a spool removed while a source is part read closes its file and deletes every file', () => {
  const spool = new LogSpool();
  spools.push(spool);
  const writers = [spool.writer('node n1', entry), spool.writer('node n2', { ...entry, address: 'raylet:n2' })];
  for (const writer of writers) for (let seq = 1; seq <= 100; seq += 1) writer.add(heartbeat(seq, 'p'));
  const [first] = writers.map((writer) => writer.finish(spool));
  assert.equal(first?.peek()?.seq, 1);
  spool.remove();
  assert.equal(existsSync(spool.dir), false);
});

void test('a spool that cannot take a log (a full disk) fails with one line naming the log, the file and what to do', () => {
  const spool = new LogSpool();
  spools.push(spool);
  // The writer's file is the full device: every write fails as on a full disk.
  symlinkSync('/dev/full', join(spool.dir, '0.log'));
  const writer = spool.writer('node n1', entry);
  const fill = (): void => {
    for (let seq = 1; seq <= 5_000; seq += 1) writer.add(heartbeat(seq, 'x'.repeat(300)));
  };
  assert.throws(fill, { name: 'CollectError', message: `cannot write the fetched log of raylet:n1 to ${join(spool.dir, '0.log')}: ENOSPC; free room there or set TMPDIR to a folder with room` });
});

void test("a new spool deletes those whose collect was killed outright, and leaves a running collect's", () => {
  const ended = spawnSync(process.execPath, ['-e', ''], { encoding: 'utf8' });
  assert.equal(ended.status, 0);
  const abandoned = mkdtempSync(join(tmpdir(), `tsray-collect-${ended.pid}-`));
  writeFileSync(join(abandoned, '0.log'), '1\t1\t\t{}\n');
  const running = mkdtempSync(join(tmpdir(), `tsray-collect-${process.pid}-`));
  try {
    const spool = new LogSpool();
    spools.push(spool);
    assert.match(spool.dir, new RegExp(`tsray-collect-${process.pid}-[^/]+$`));
    assert.equal(existsSync(abandoned), false, 'the spool of an ended process is deleted');
    assert.equal(existsSync(running), true, "a running process's spool stays");
  } finally {
    rmSync(abandoned, { recursive: true, force: true });
    rmSync(running, { recursive: true, force: true });
  }
});

/** Spools and drains 200,000 events in a child process; prints how many it merged. */
const drainer = writeDriverScript(
  'spooled-log-drain',
  `import { LogSpool } from ${JSON.stringify(join(packageRoot, 'dist/node/trace/spooled-log.js'))};
const pad = 'x'.repeat(300);
const record = (seq) => ({ seq, atMs: seq, json: JSON.stringify({ available: { CPU: seq }, nodeId: 'n1', pad: pad + seq, type: 'node/heartbeat' }) });
if (process.argv[2] === 'whole') {
  // As the tool held a fetched log before: every event parsed and kept until the merge.
  const kept = [];
  for (let seq = 1; seq <= 200000; seq += 1) kept.push(JSON.parse(record(seq).json));
  console.log(kept.length);
} else {
  const spool = new LogSpool();
  const writer = spool.writer('node n1', { address: 'raylet:n1', component: 'raylet', lastSeq: 0, liveHashes: [] });
  for (let seq = 1; seq <= 200000; seq += 1) writer.add(record(seq));
  const source = writer.finish(spool);
  let events = 0;
  for (let event = source.peek(); event !== undefined; event = source.peek()) { events += 1; source.take(); }
  spool.remove();
  console.log(events);
}
`,
);
after(() => drainer.remove());

void test('200,000 fetched events (80 MB of text) are spooled and merged in a 64 MB heap, where held whole they run out of it', () => {
  const spooled = spawnSync(process.execPath, ['--max-old-space-size=64', drainer.path, 'spooled'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(spooled.status, 0, `spooling ran out of its heap or failed: ${spooled.stderr.slice(0, 400)}`);
  assert.equal(spooled.stdout.trim(), '200000');
  // The same events held whole, as the tool held a fetched log before: the heap is too small for them.
  const whole = spawnSync(process.execPath, ['--max-old-space-size=64', drainer.path, 'whole'], { encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(whole.status, 0, 'held whole, the events fit in the heap after all: the test proves nothing');
});
