/**
 * The component event log: seqs, group commit, what survives a process that dies, corrupt records,
 * snapshots, and where logs live in a session. Every test works on real LMDB files in a fresh folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { open } from 'lmdb';
import { pack } from 'msgpackr';
import { EventLog, logDirFor, logDirName, openSessionLogs, type CorruptRecord, type LoggedEvent } from '../../../node/store/event-log.js';

const root = mkdtempSync(join(tmpdir(), 'tsray-event-log-'));
let sessions = 0;
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh session folder for one test. */
function freshSession(): string {
  sessions += 1;
  const dir = join(root, `session-${sessions}`);
  mkdirSync(dir);
  return dir;
}

/** The GCS log of a fresh session. */
function openGcs(options: { durable?: boolean; batching?: 'microtask' | 'immediate'; maxBufferedEvents?: number } = {}): EventLog {
  return EventLog.open(logDirFor(freshSession(), 'gcs'), { component: 'gcs', address: 'gcs', ...options });
}

/** Every record of a log, in order. */
function readAll(log: EventLog, fromSeq?: number): (LoggedEvent | CorruptRecord)[] {
  return [...log.read(fromSeq)];
}

void test('events come back in seq order from 1, with parents, Maps, Sets, typed arrays and undefined intact', async () => {
  const log = openGcs();
  const event = { type: 'node/registered', at: new Map([['n1', new Set([1, 2])]]), bytes: new Uint8Array([7, 8]), floats: new Float64Array([0.5]), gone: undefined, big: 2n ** 70n };
  assert.equal(log.append(10, event), 1);
  assert.equal(log.append(11, { type: 'node/seen' }, 1), 2);
  assert.equal(log.append(12, 'plain', 0), 3);
  await log.committed(3);
  const records = readAll(log);
  assert.deepEqual(records, [
    { seq: 1, atMs: 10, event },
    { seq: 2, atMs: 11, parent: 1, event: { type: 'node/seen' } },
    { seq: 3, atMs: 12, parent: 0, event: 'plain' },
  ]);
  assert.ok(!('parent' in (records[0] as LoggedEvent)));
  assert.deepEqual(readAll(log, 2).map((record) => record.seq), [2, 3]);
  await log.close();
});

void test('plain events take the map layout (version 2) and read back equal; events with Maps or cycles keep the structured-clone layout', async () => {
  const log = openGcs();
  const plain = { type: 'task/submitted', args: [{ kind: 'value', payload: { data: { body: new Uint8Array([1, 2]), blobs: [new Float64Array([0.5])] }, gone: undefined } }], nested: [[{ deep: [] }]], name: 'é' };
  const shared = { taskId: 't1' };
  const twice = { type: 'task/pushed', spec: shared, again: shared };
  const cyclic: { type: string; self?: unknown } = { type: 'cyclic' };
  cyclic.self = cyclic;
  const withMap = { type: 'node/registered', at: new Map([['n1', { CPU: 1 }]]) };
  for (const event of [plain, twice, cyclic, withMap]) log.append(1, event);
  await log.flush();
  const raw = open<Uint8Array, number>({ path: join(log.dir, 'events.mdb'), noSubdir: true, encoding: 'binary', readOnly: true, maxDbs: 4 }).openDB<Uint8Array, number>('events', { encoding: 'binary' });
  // A MessagePack array of 5 fields (0x95), then the format version.
  assert.deepEqual([1, 2, 3, 4].map((seq) => [...(raw.getBinary(seq) ?? new Uint8Array()).subarray(0, 2)]), [[0x95, 2], [0x95, 2], [0x95, 1], [0x95, 1]]);
  const [readPlain, readTwice, readCyclic, readMap] = readAll(log).map((record) => (record as LoggedEvent).event as Record<string, unknown>);
  assert.deepEqual(readPlain, plain);
  assert.deepEqual(readTwice, twice);
  assert.equal((readCyclic as { self?: unknown }).self, readCyclic);
  assert.deepEqual(readMap, withMap);
  await log.close();
});

void test('appends are encoded when made, so later changes to the object do not reach the log', async () => {
  const log = openGcs();
  const event = { type: 'task/submitted', count: 1 };
  log.append(0, event);
  event.count = 2;
  await log.flush();
  assert.deepEqual((readAll(log)[0] as LoggedEvent).event, { type: 'task/submitted', count: 1 });
  await log.close();
});

for (const batching of ['microtask', 'immediate'] as const) {
  void test(`appends of one turn commit as one batch (${batching})`, async () => {
    const log = openGcs({ batching });
    for (let i = 0; i < 100; i += 1) log.append(i, { type: 'tick', i });
    assert.equal(log.lastSeq, 100);
    assert.equal(log.committedSeq, 0);
    assert.equal(log.committed(1), log.committed(100));
    await log.committed(1);
    assert.equal(log.committedSeq, 100);
    log.append(200, { type: 'tick', i: 100 });
    assert.equal(log.committedSeq, 100);
    await log.committed(101);
    assert.equal(log.committedSeq, 101);
    await log.close();
  });
}

void test('committed resolves at once for what is on disk and rejects for what was never appended', async () => {
  const log = openGcs();
  await log.committed(0);
  log.append(0, 'a');
  await log.flush();
  await log.committed(1);
  await assert.rejects(log.committed(2), RangeError);
  await assert.rejects(log.committed(1.5), RangeError);
  await log.close();
});

void test('a buffer over its bound is handed to LMDB at once, in a batch of its own', async () => {
  const log = openGcs({ maxBufferedEvents: 10 });
  for (let i = 0; i < 35; i += 1) log.append(i, { type: 'tick', i });
  assert.notEqual(log.committed(10), log.committed(11));
  assert.equal(log.committed(11), log.committed(20));
  await log.committed(35);
  assert.equal(log.committedSeq, 35);
  assert.deepEqual(readAll(log).map((record) => record.seq), Array.from({ length: 35 }, (_, i) => i + 1));
  await log.close();
});

void test('an event that cannot be encoded throws and uses up no seq; bad stamps are refused', async () => {
  const log = openGcs();
  assert.throws(() => log.append(0, { type: 'bad', id: Symbol('x') }));
  assert.throws(() => log.append(Number.NaN, 'x'), TypeError);
  assert.throws(() => log.append(0, 'x', -1), TypeError);
  assert.equal(log.append(0, 'ok'), 1);
  await log.close();
});

void test('a log reopened after close continues its seq', async () => {
  const log = openGcs({ durable: false });
  const dir = log.dir;
  log.append(1, 'a');
  log.append(2, 'b');
  await log.close();
  const again = EventLog.open(dir, { component: 'gcs', address: 'gcs' });
  assert.equal(again.lastSeq, 2);
  assert.equal(again.committedSeq, 2);
  assert.equal(again.append(3, 'c'), 3);
  await again.close();
  const reader = EventLog.open(dir);
  assert.equal(reader.address, 'gcs');
  assert.deepEqual(readAll(reader).map((record) => (record as LoggedEvent).event), ['a', 'b', 'c']);
  await reader.close();
});

/** The compiled event-log module, for child processes. */
const eventLogModule = new URL('../../../node/store/event-log.js', import.meta.url).href;

/** The child that appends, waits for its commit, appends a few more and dies without closing. */
const crashingChild = `
const { EventLog } = await import(process.env.TSRAY_EVENT_LOG_MODULE);
const { dir, durable, death } = JSON.parse(process.env.TSRAY_CRASH_TEST);
const log = EventLog.open(dir, { component: 'raylet', address: 'raylet:n1', durable });
for (let turn = 0; turn < 10; turn += 1) {
  for (let i = 0; i < 25; i += 1) log.append(turn, { type: 'worker/started', turn, i, ids: new Map([['w', turn * 25 + i]]) }, i === 0 ? undefined : log.lastSeq);
  await new Promise((resolve) => setImmediate(resolve));
}
const committed = log.lastSeq;
await log.committed(committed);
for (let i = 0; i < 5; i += 1) log.append(99, { type: 'never/committed', i });
process.stdout.write(JSON.stringify({ committed, appended: log.lastSeq }));
if (death === 'kill') process.kill(process.pid, 'SIGKILL');
else process.exit(1);
`;

for (const [durable, death] of [[true, 'exit'], [false, 'exit'], [true, 'kill'], [false, 'kill']] as const) {
  void test(`a process that dies (${death}, durable ${durable}) leaves exactly its committed events, and the seq continues`, async () => {
    const dir = logDirFor(freshSession(), 'raylet:n1');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', crashingChild], {
      env: {
        ...process.env,
        TSRAY_EVENT_LOG_MODULE: eventLogModule,
        TSRAY_CRASH_TEST: JSON.stringify({ dir, durable, death }),
      },
      encoding: 'utf8',
    });
    if (death === 'kill') assert.equal(child.signal, 'SIGKILL', child.stderr);
    else assert.equal(child.status, 1, child.stderr);
    const reported = JSON.parse(child.stdout) as { committed: number; appended: number };
    assert.deepEqual(reported, { committed: 250, appended: 255 });
    const log = EventLog.open(dir, { component: 'raylet', address: 'raylet:n1', durable });
    assert.equal(log.lastSeq, 250);
    const records = readAll(log);
    assert.equal(records.length, 250);
    records.forEach((record, index) => {
      assert.ok(!('corrupt' in record), JSON.stringify(record));
      assert.equal(record.seq, index + 1);
      const turn = Math.floor(index / 25);
      assert.deepEqual(record.event, { type: 'worker/started', turn, i: index % 25, ids: new Map([['w', index]]) });
      assert.equal(record.parent, index % 25 === 0 ? undefined : index);
    });
    assert.equal(log.append(300, 'after restart'), 251);
    await log.close();
  });
}

void test('a log that writes its hand-offs synchronously has them committed at once, skips repeated records, and continues after a reopen', async () => {
  const dir = logDirFor(freshSession(), 'worker:n1.w1');
  const writer = EventLog.open(dir, { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging', syncWrites: true });
  const records = (events: unknown[]): Uint8Array[] => events.map((event, index) => pack([2, index + 1, 0, null, event]));
  const encoded = records(['a', 'b', 'c']);
  writer.appendEncoded(1, encoded.slice(0, 2));
  // A repeated delivery, then the rest.
  writer.appendEncoded(1, encoded);
  writer.append(4, 'd');
  await writer.flush();
  assert.equal(writer.committedSeq, 4);
  assert.deepEqual(readAll(writer).map((record) => (record as LoggedEvent).event), ['a', 'b', 'c', 'd']);
  assert.throws(() => writer.appendEncoded(7, records(['x'])), /got record 7 while it waits for 5/);
  await writer.close();
  const again = EventLog.open(dir, { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging', syncWrites: true });
  assert.equal(again.append(5, 'e'), 5);
  await again.flush();
  assert.deepEqual(readAll(again).map((record) => (record as LoggedEvent).event), ['a', 'b', 'c', 'd', 'e']);
  await again.close();
});

void test('a lagging log writes what it buffers when its process exits, if asked from an exit handler', async () => {
  const dir = logDirFor(freshSession(), 'worker:n1.w1');
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { EventLog } = await import(process.env.TSRAY_EVENT_LOG_MODULE);
const log = EventLog.open(process.env.TSRAY_LOG_DIR, { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging', lagMs: 60000 });
for (let i = 0; i < 30; i += 1) log.append(i, { type: 'task/executed', i });
await new Promise((resolve) => setImmediate(resolve));
process.on('exit', () => log.writeBufferedSync());
process.exit(3);`,
    ],
    { env: { ...process.env, TSRAY_EVENT_LOG_MODULE: eventLogModule, TSRAY_LOG_DIR: dir }, encoding: 'utf8' },
  );
  assert.equal(child.status, 3, child.stderr);
  const log = EventLog.open(dir);
  assert.deepEqual(
    readAll(log).map((record) => (record as LoggedEvent).event),
    Array.from({ length: 30 }, (_, i) => ({ type: 'task/executed', i })),
    'a minute of lag, and still every event is on disk',
  );
  await log.close();
});

/** Writes `value` under `seq` in a closed log's `db` database, as another program would. */
function rawPut(dir: string, db: 'events' | 'snapshots', seq: number, value: Uint8Array): void {
  const env = open<Buffer, number>({ path: join(dir, 'events.mdb'), noSubdir: true });
  env.openDB<Buffer, number>(db, { encoding: 'binary' }).putSync(seq, Buffer.from(value));
  void env.close();
}

/** The keys of a closed log's `db` database, read as another program would. */
function rawKeys(dir: string, db: 'events' | 'snapshots'): number[] {
  const env = open<Buffer, number>({ path: join(dir, 'events.mdb'), noSubdir: true });
  const keys = [...env.openDB<Buffer, number>(db, { encoding: 'binary' }).getKeys({})];
  void env.close();
  return keys;
}

void test('a record that is not a tsray event is reported with its seq and a reason, and reading goes on', async () => {
  const session = freshSession();
  const log = EventLog.open(logDirFor(session, 'gcs'), { component: 'gcs', address: 'gcs' });
  for (let i = 1; i <= 20; i += 1) log.append(i, { type: 'tick', i });
  await log.close();
  rawPut(log.dir, 'events', 12, Uint8Array.from([0xc1, 0xff, 0x00]));
  rawPut(log.dir, 'events', 13, pack('hello'));
  rawPut(log.dir, 'events', 14, pack([1, 99, 0, null, 'x']));
  rawPut(log.dir, 'events', 25, Uint8Array.from([0x95, 0x01]));
  const again = EventLog.open(log.dir);
  const records = readAll(again);
  assert.deepEqual(records.map((record) => record.seq), [...Array.from({ length: 20 }, (_, i) => i + 1), 25]);
  const corrupt = records.filter((record): record is CorruptRecord => 'corrupt' in record);
  assert.deepEqual(corrupt.map((record) => record.seq), [12, 13, 14, 25]);
  for (const record of corrupt) {
    assert.match(record.corrupt, new RegExp(`^record ${record.seq} of logs/gcs is not a tsray event \\(.+\\); the log was written by another program or damaged$`));
    assert.ok(!record.corrupt.includes('\n'));
  }
  assert.match(corrupt[0]?.corrupt ?? '', /does not decode as MessagePack/);
  assert.match(corrupt[1]?.corrupt ?? '', /the string "hello", not a record/);
  assert.match(corrupt[2]?.corrupt ?? '', /carries seq 99/);
  assert.deepEqual((records[10] as LoggedEvent).event, { type: 'tick', i: 11 });
  assert.deepEqual((records[14] as LoggedEvent).event, { type: 'tick', i: 15 });
  assert.equal(again.lastSeq, 25);
  assert.equal(again.append(26, 'next'), 26);
  await again.close();
});

void test('snapshots: the newest readable one is returned, and one before it is kept as a fallback', async () => {
  const log = openGcs();
  assert.equal(log.readSnapshot(), undefined);
  for (let i = 1; i <= 9; i += 1) log.append(i, { type: 'tick', i });
  await assert.rejects(log.writeSnapshot(10, {}), RangeError);
  await log.writeSnapshot(3, { nodes: new Map([['n1', 3]]) });
  await log.writeSnapshot(5, { nodes: new Map([['n1', 5]]) });
  await log.writeSnapshot(7, { nodes: new Map([['n1', 7]]) });
  assert.deepEqual(log.readSnapshot(), { seq: 7, state: { nodes: new Map([['n1', 7]]) } });
  assert.equal(log.committedSeq, 9);
  await log.close();
  assert.deepEqual(rawKeys(log.dir, 'snapshots'), [5, 7]);
  rawPut(log.dir, 'snapshots', 9, Uint8Array.from([0xc1]));
  const again = EventLog.open(log.dir);
  assert.deepEqual(again.readSnapshot(), { seq: 7, state: { nodes: new Map([['n1', 7]]) } });
  await again.close();
  rawPut(log.dir, 'snapshots', 7, pack([1, 8, {}]));
  const third = EventLog.open(log.dir);
  assert.deepEqual(third.readSnapshot(), { seq: 5, state: { nodes: new Map([['n1', 5]]) } });
  await third.close();
});

void test('log folders are named from addresses safely, one per address', () => {
  assert.equal(logDirName('gcs'), 'gcs');
  assert.equal(logDirName('raylet:n1'), 'raylet-n1');
  assert.equal(logDirName('worker:n1.w3'), 'worker-n1.w3');
  const awkward = ['..', '.', '../x', 'a/b', 'raylet:n-1', 'raylet-n:1', 'x%2D', 'wörker', 'a\\b', ' '];
  const names = awkward.map(logDirName);
  assert.equal(new Set(names).size, awkward.length);
  for (const name of names) {
    assert.match(name, /^[A-Za-z0-9_%-][A-Za-z0-9_.%-]*$/);
    assert.ok(!relative('/s/logs', join('/s/logs', name)).startsWith('..'));
  }
  assert.throws(() => logDirName(''), RangeError);
  assert.throws(() => logDirName(`worker:${'w'.repeat(300)}`), RangeError);
});

void test('openSessionLogs lists the component logs of a session', async () => {
  const session = freshSession();
  assert.deepEqual(openSessionLogs(session), []);
  const logs = [
    EventLog.open(logDirFor(session, 'worker:n1.w3'), { component: 'owner', address: 'worker:n1.w3', durable: false }),
    EventLog.open(logDirFor(session, 'gcs'), { component: 'gcs', address: 'gcs' }),
    EventLog.open(logDirFor(session, 'raylet:n1'), { component: 'raylet', address: 'raylet:n1', durable: false }),
  ];
  mkdirSync(join(session, 'logs', 'not-a-log'));
  assert.deepEqual(openSessionLogs(session), [
    { address: 'gcs', component: 'gcs', dir: join(session, 'logs', 'gcs') },
    { address: 'raylet:n1', component: 'raylet', dir: join(session, 'logs', 'raylet-n1') },
    { address: 'worker:n1.w3', component: 'owner', dir: join(session, 'logs', 'worker-n1.w3') },
  ]);
  await Promise.all(logs.map((log) => log.close()));
});

void test('a folder is opened only as the log of its own component', async () => {
  const session = freshSession();
  const log = EventLog.open(logDirFor(session, 'gcs'), { component: 'gcs', address: 'gcs' });
  await log.close();
  assert.throws(() => EventLog.open(log.dir, { component: 'raylet', address: 'raylet:n1' }), /holds the log of gcs/);
  assert.throws(() => EventLog.open(logDirFor(session, 'raylet:n2'), { component: 'owner', address: 'raylet:n2' }), RangeError);
  assert.throws(() => EventLog.open(join(session, 'logs', 'nothing')), /holds no tsray event log/);
});

/** A child that writes a log and closes it; it must then exit on its own, with no timer pending. */
const closingChild = `
const { EventLog } = await import(process.env.TSRAY_EVENT_LOG_MODULE);
const log = EventLog.open(process.env.TSRAY_LOG_DIR, { component: 'gcs', address: 'gcs', batching: 'immediate' });
log.append(1, 'committed');
await log.committed(1);
log.append(2, 'buffered');
await log.close();
process.stdout.write(JSON.stringify(process.getActiveResourcesInfo().filter((kind) => kind === 'Immediate' || kind === 'Timeout')));
`;

void test('close commits what is buffered and leaves no timer or handle behind', async () => {
  const dir = logDirFor(freshSession(), 'gcs');
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', closingChild], {
    env: { ...process.env, TSRAY_EVENT_LOG_MODULE: eventLogModule, TSRAY_LOG_DIR: dir },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(child.signal, null, 'the child did not exit on its own');
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout, '[]');
  const log = EventLog.open(dir);
  assert.deepEqual(readAll(log).map((record) => record.seq), [1, 2]);
  await log.close();
  await log.close();
  assert.throws(() => log.append(3, 'late'), /closed/);
  assert.throws(() => [...log.read()], /closed/);
});
