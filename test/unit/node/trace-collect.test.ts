/**
 * Live traces: a real driver script (tasks, a task retried after its worker exits mid-body, an
 * actor, a put passed to a task, nested tasks) runs in a child process; `tsray trace collect` merges
 * its session's logs into a trace that `tsray replay --verify` accepts, in which every delivered
 * message follows the event that sent it and every component's replay reproduces the hash of its
 * live state (the crashed worker's too); `tsray timeline` draws it for Perfetto.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { open } from 'lmdb';
import * as E from 'fp-ts/lib/Either.js';
import { decodeTrace } from '../../../core/trace/decode.js';
import { indexTrace } from '../../../core/trace/entities.js';
import { whyChain } from '../../../core/trace/why.js';
import type { Trace, TraceEntry } from '../../../core/trace/format.js';
import type { AnyEvent } from '../../../core/component.js';
import { mergeLogs, mergeLogsInto, OpenedSources, readSessionLogs } from '../../../node/trace/collect.js';
import { packedRecordFormatVersion, RecordCodec, StoredBatch } from '../../../node/store/event-log-codec.js';
import { EventLog } from '../../../node/store/event-log.js';
import { eventText, TraceWriter } from '../../../core/trace/format.js';
import { gcsCore } from '../../../core/gcs/index.js';
import { ownerCore } from '../../../core/owner/index.js';
import { rayletCore } from '../../../core/raylet/index.js';
import { applyDirect } from '../../../core/step.js';
import { hashStateSized } from '../../../core/hash.js';
import type { CollectedEvent, CollectedLog } from '../../../node/trace/collect.js';
import { writeTraceLines } from '../../../node/trace/write.js';
import type { ChromeTrace, ChromeTraceEvent } from '../../../node/trace/timeline.js';
import { packageRoot, writeDriverScript } from '../../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');

const script = writeDriverScript(
  'trace-collect-check',
  `import * as tsray from 'tsray';
import { existsSync, writeFileSync } from 'node:fs';
const sessionDir = process.argv[2];
await tsray.init({ numCpus: 2, sessionDir });
const add = tsray.remote(function add(a, b) { return a + b; });
// The first attempt ends its worker's thread mid-body; the retry finds the marker and returns.
const crashy = tsray.remote(async function crashy(marker) {
  const fs = await import('node:fs');
  if (!fs.existsSync(marker)) { fs.writeFileSync(marker, 'crashed once'); process.exit(1); }
  return 'survived';
}, { maxRetries: 2 });
const outer = tsray.remote(async function outer(x) {
  const inner = tsray.remote(function inner(y) { return y * 2; });
  return await tsray.get(inner.remote(x));
});
class Counter { constructor() { this.n = 0; } incr(k) { this.n += k; return this.n; } }
const counter = tsray.remote(Counter).remote();
const shared = tsray.put({ words: ['a', 'b', 'c'] });
const count = tsray.remote(function count(value) { return value.words.length; });
const results = await tsray.get([add.remote(1, 2), crashy.remote(sessionDir + '/crash-marker'), outer.remote(21), counter.incr.remote(5), count.remote(shared)]);
// A burst of tasks and actor calls: their pushes and replies cross threads packed, and are logged as packed fields.
const burst = await tsray.get([...Array.from({ length: 400 }, (_, i) => add.remote(i, 1)), ...Array.from({ length: 40 }, () => counter.incr.remote(0))]);
if (burst.some((value, i) => value !== (i < 400 ? i + 1 : 5))) throw new Error('the burst came back wrong: ' + JSON.stringify(burst));
// An actor killed while idle: its thread is terminated, which runs no exit handler.
const victim = tsray.remote(Counter).remote();
await tsray.get(victim.incr.remote(1));
tsray.kill(victim);
await new Promise((resolve) => setTimeout(resolve, 300));
console.log(JSON.stringify({ results, put: await tsray.get(shared), putId: shared.id, victimId: victim.actorId }));
await tsray.shutdown();
`,
);
const sessionDir = join(script.sessionDir, 'session');
const tracePath = join(script.sessionDir, 'run.trace.jsonl');
const timelinePath = join(script.sessionDir, 'run.timeline.json');
let putId = '';
let victimId = '';

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

before(() => {
  const result = spawnSync(process.execPath, [script.path, sessionDir], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const printed = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { results: unknown[]; put: unknown; putId: string; victimId: string };
  assert.deepEqual(printed.results, [3, 'survived', 42, 5, 3]);
  putId = printed.putId;
  victimId = printed.victimId;
});
after(() => script.remove());

/** How many records of the log in `dir` are a message's packed fields (version 5). */
function packedRecords(dir: string): number {
  const codec = new RecordCodec(dir);
  const env = open<unknown, number>({ path: join(dir, 'events.mdb'), noSubdir: true, readOnly: true, encoder: codec.lmdbEncoder, maxDbs: 4 });
  let packed = 0;
  try {
    for (const { value } of env.openDB<unknown, number>('events', { encoder: codec.lmdbEncoder } as never).getRange()) {
      if (!(value instanceof StoredBatch)) continue;
      for (let index = 0; index < value.length; index += 1) if (value.record(index)[1] === packedRecordFormatVersion) packed += 1;
    }
  } finally {
    void env.close();
  }
  return packed;
}

function readTrace(path: string): Trace {
  const decoded = decodeTrace(readFileSync(path, 'utf8'));
  assert.ok(E.isRight(decoded), 'the trace decodes');
  assert.deepEqual(decoded.right.rejected, []);
  return decoded.right;
}

void test('trace collect merges the session into a trace that replay --verify accepts', () => {
  const collected = run(['trace', 'collect', '--session', sessionDir, '-o', tracePath]);
  assert.equal(collected.status, 0, collected.stderr);
  assert.equal(collected.stdout.trim(), tracePath);
  const verified = run(['replay', tracePath, '--verify']);
  assert.equal(verified.status, 0, verified.stderr);
  assert.match(verified.stdout, /replayed \d+ events; \d+ recorded state hashes reproduced/);

  const trace = readTrace(tracePath);
  assert.equal(trace.header.createdBy, 'live');
  const addresses = new Set(trace.entries.map((entry) => entry.address));
  for (const address of ['gcs', 'raylet:n1', 'worker:n1.d1']) assert.ok(addresses.has(address), `${address} is in the trace`);
  assert.ok([...addresses].filter((address) => /^worker:n1\.w\d+$/.test(address)).length >= 3, 'the workers are in the trace');

  // Happens-before: a delivered message comes after the event that sent it, which is its parent.
  const bySeq = new Map(trace.entries.map((entry) => [entry.seq, entry]));
  let delivered = 0;
  for (const entry of trace.entries) {
    const via = (entry.event as { via?: { from: string; cause?: number } }).via;
    if (via === undefined) continue;
    delivered++;
    assert.notEqual(via.cause, undefined, `seq ${entry.seq} ${entry.event.type} names the event that sent it`);
    const parent = bySeq.get(entry.parent ?? 0);
    assert.ok(parent !== undefined && parent.seq < entry.seq, `seq ${entry.seq} ${entry.event.type} follows its cause`);
    assert.equal(parent.address, via.from);
  }
  assert.ok(delivered > 20, 'messages between components are in the trace');
});

void test('every component replays to the hash of its live state, the worker that exited mid-task too', () => {
  const logs = readSessionLogs(sessionDir);
  const merged = mergeLogs(logs);
  assert.deepEqual(merged.divergences, []);
  const crashyIn = (log: (typeof logs)[number]): string | undefined =>
    log.events.map((event) => event.event as unknown as { type: string; spec?: { name: string; taskId: string } }).find((event) => event.type === 'task/pushed' && event.spec?.name === 'crashy')?.spec?.taskId;
  const crashed = logs.find((log) => {
    const taskId = crashyIn(log);
    return taskId !== undefined && !log.events.some((event) => event.event.type === 'task/executed' && (event.event as unknown as { taskId: string }).taskId === taskId);
  });
  assert.ok(crashed !== undefined, 'the log of the worker that exited mid-task was collected');
  const lastOfCrashed = crashed.events[crashed.events.length - 1];
  assert.ok(lastOfCrashed !== undefined && crashed.liveHashes.get(lastOfCrashed.seq) !== undefined, 'the exiting worker recorded the hash of its live state');
  const withLiveHash = logs.filter((log) => log.liveHashes.size > 0).map((log) => log.address);
  for (const address of ['gcs', 'raylet:n1', 'worker:n1.d1', crashed.address]) assert.ok(withLiveHash.includes(address), `${address} recorded its live state hash`);
  assert.ok(merged.checkedLiveHashes >= withLiveHash.length);
  // The burst's replies in the driver's log, and its pushes and calls in its workers', are mostly packed records.
  const driverPacked = packedRecords(join(sessionDir, 'logs', 'worker-n1.d1'));
  assert.ok(driverPacked > 300, `the driver logged ${driverPacked} replies as packed fields`);
  const workerPacked = readdirSync(join(sessionDir, 'logs'))
    .filter((name) => /^worker-n1\.w\d+$/.test(name))
    .reduce((sum, name) => sum + packedRecords(join(sessionDir, 'logs', name)), 0);
  assert.ok(workerPacked > 300, `the workers logged ${workerPacked} pushes and calls as packed fields`);
  // The nested owner: a worker submitted a task of its own, and its log replays to its live state.
  const nestedOwner = logs.find((log) => log.address !== 'worker:n1.d1' && log.events.some((event) => event.event.type === 'task/submitted'));
  assert.ok(nestedOwner !== undefined, 'a worker owned a task of its own');
  assert.ok(nestedOwner.liveHashes.size > 0, 'and its replay was checked against its live state');
});

void test("a killed actor's worker sends its last records and the hash of its live state before its thread ends", () => {
  const logs = readSessionLogs(sessionDir);
  const victim = logs.find((log) => /^worker:n1\.w/.test(log.address) && log.events.some((event) => event.event.type === 'actor/constructed' && JSON.stringify(event.event).includes(victimId)));
  assert.ok(victim !== undefined, `the killed actor ${victimId}'s worker log was collected`);
  // Its last event is the reply to the call before the kill, and its live state was checked against replay.
  assert.ok(victim.events.some((event) => event.event.type === 'task/executed'));
  const last = victim.events[victim.events.length - 1];
  assert.ok(last !== undefined && victim.liveHashes.get(last.seq) !== undefined, 'the killed worker recorded the hash of its live state');
  assert.deepEqual(mergeLogs(logs).divergences, []);
});

void test("why follows a killed actor's death back to the driver's kill, and its worker's exit to the raylet event that ended it", () => {
  const trace = readTrace(tracePath);
  const index = indexTrace(trace);
  const dead = trace.entries.find((entry) => entry.event.type === 'actor/state-changed' && (entry.event as unknown as { actorId: string; state: string }).actorId === victimId && (entry.event as unknown as { state: string }).state === 'DEAD');
  assert.ok(dead !== undefined, `the trace records ${victimId} as DEAD`);
  const chain = whyChain(trace, index, dead.seq);
  assert.ok(chain !== undefined);
  // Killed for good, the actor dies at the GCS at once, as Ray destroys it: its death is the kill's.
  assert.deepEqual(
    chain.steps.map((step) => step.type),
    ['actor/state-changed', 'actor/kill-requested', 'kill/requested'],
  );
  assert.deepEqual(chain.root, { kind: 'call', summary: 'the driver n1.d1 called kill', seq: chain.steps[chain.steps.length - 1]?.seq });
  // Its worker's exit names the raylet event that ended it: without that recorded parent the chain
  // stopped at the raylet's worker/exited, with no cause.
  const exits = trace.entries.filter((entry) => entry.event.type === 'worker/exited').map((entry) => whyChain(trace, index, entry.seq));
  const killedExit = exits.find((exitChain) => exitChain?.steps.some((step) => step.type === 'kill/requested') === true);
  assert.ok(killedExit !== undefined, 'a worker exit leads back to the kill');
  const types = killedExit.steps.map((step) => step.type);
  for (const type of ['worker/exited', 'worker/kill-requested', 'actor/kill-requested', 'kill/requested']) assert.ok(types.includes(type), `${type} is in the chain: ${types.join(' <- ')}`);
  const exited = killedExit.steps.find((step) => step.type === 'worker/exited');
  const asked = killedExit.steps.find((step) => step.type === 'worker/kill-requested');
  assert.ok(exited !== undefined && asked !== undefined && asked.address === exited.address && asked.seq < exited.seq);
  assert.match(asked.summary, /^asked to end worker n1\.w\d+ \(killed\)$/);
});

void test('a live hash the replay does not reproduce is reported and fails replay --verify', () => {
  const logs = readSessionLogs(sessionDir);
  const driver = logs.find((log) => log.address === 'worker:n1.d1');
  assert.ok(driver !== undefined);
  const [seq] = [...driver.liveHashes.keys()];
  assert.ok(seq !== undefined);
  const tampered = logs.map((log) => (log === driver ? { ...log, liveHashes: new Map([[seq, '0123456789abcdef']]) } : log));
  const merged = mergeLogs(tampered);
  assert.equal(merged.divergences.length, 1);
  assert.match(merged.divergences[0] ?? '', /^replaying the log of worker:n1\.d1 does not reproduce its live state after worker:n1\.d1 event \d+/);
  // The trace keeps the live hash, so replay fails where the live run and the replay part.
  const tamperedPath = join(script.sessionDir, 'tampered.trace.jsonl');
  writeTraceLines(tamperedPath, [merged.header, ...merged.entries, ...merged.notes]);
  const replayed = run(['replay', tamperedPath, '--verify']);
  assert.equal(replayed.status, 1);
  assert.match(replayed.stderr, /diverged at seq \d+ \(worker:n1\.d1\).*differs from the recorded 0123456789abcdef/);
});

void test('timeline draws a track per worker, spans named after tasks, the retry and an object transfer', () => {
  const result = run(['timeline', '--session', sessionDir, '-o', timelinePath]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), timelinePath);
  const timeline = JSON.parse(readFileSync(timelinePath, 'utf8')) as ChromeTrace;
  const events = timeline.traceEvents;
  const trace = readTrace(tracePath);
  const workers = [...new Set(trace.entries.map((entry: TraceEntry) => entry.address))].filter((address) => address.startsWith('worker:'));
  const trackNames = events.filter((event) => event.ph === 'M' && event.name === 'thread_name').map((event) => (event.args as { name: string }).name);
  for (const worker of workers) assert.ok(trackNames.some((name) => name.endsWith(worker.slice('worker:'.length))), `a track for ${worker}`);
  assert.equal(new Set(events.filter((event) => event.ph === 'M' && event.name === 'thread_name').map((event) => event.tid)).size, trackNames.length, 'one track each');

  const spans = events.filter((event): event is ChromeTraceEvent & { args: Record<string, unknown> } => event.ph === 'X' && event.cat?.startsWith('task') === true);
  for (const name of ['add', 'crashy', 'outer', 'inner', 'incr', 'count', 'Counter constructor']) assert.ok(spans.some((span) => span.name === name), `a span named ${name}`);
  const crashy = spans.filter((span) => span.name === 'crashy').sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));
  assert.deepEqual(crashy.map((span) => span.args['outcome']), ['crashed', 'returned']);
  assert.equal(crashy[0]?.cname, 'terrible');
  assert.equal(crashy[1]?.cat, 'task,retry');
  assert.notEqual(crashy[0]?.tid, crashy[1]?.tid, 'the retry ran on another worker');
  assert.ok(events.some((event) => event.ph === 'i' && event.name === 'retry crashy (attempt 2)'));
  assert.ok(events.some((event) => event.ph === 'i' && event.cat === 'failure'));

  // The put reaches the task that reads it: a flow from the driver's track to the worker's.
  const starts = events.filter((event) => event.ph === 's' && (event.args?.['objectIds'] as string[] | undefined)?.includes(putId));
  assert.equal(starts.length, 1, `one flow carries ${putId}`);
  const finish = events.find((event) => event.ph === 'f' && event.id === starts[0]?.id);
  assert.ok(finish !== undefined);
  assert.notEqual(finish.tid, starts[0]?.tid);
  assert.ok((finish.ts ?? 0) > (starts[0]?.ts ?? 0));
});

void test('--help on both commands, and bad input gives one line and exit 1', async () => {
  for (const args of [['trace', 'collect', '--help'], ['timeline', '--help']]) {
    const result = run(args);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^usage: tsray (trace collect|timeline) \[--session DIR \| --address HOST:PORT\|auto \[--token T\]\] \[-o FILE\]/);
  }
  const missing = run(['trace', 'collect', '--session', join(script.sessionDir, 'no-such-session')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^tsray: no session folder .*no-such-session; pass the folder init\(\) returned, or see tsray sessions\n$/);

  // An output path that cannot be written: one line naming it, and nothing left beside it.
  const blocked = join(script.sessionDir, 'a-file');
  writeFileSync(blocked, 'not a folder');
  for (const [command, what] of [[['trace', 'collect'], 'trace'], [['timeline'], 'timeline']] as const) {
    const unwritable = run([...command, '--session', sessionDir, '-o', join(blocked, 'out.json')]);
    assert.equal(unwritable.status, 1);
    assert.equal(unwritable.stderr, `tsray: cannot write the ${what} to ${join(blocked, 'out.json')}: ENOTDIR; pass -o with a writable path\n`);
  }

  const empty = join(script.sessionDir, 'empty-session');
  mkdirSync(empty);
  const none = run(['timeline', '--session', empty]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^tsray: .*holds no tsray event logs.*\n$/);

  const rootless = spawnSync(process.execPath, [cli, 'trace', 'collect'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SESSIONS_ROOT: empty } });
  assert.equal(rootless.status, 1);
  assert.match(rootless.stderr, /^tsray: no sessions under .*; pass --session DIR.*\n$/);

  // A damaged record in one log.
  const damaged = join(script.sessionDir, 'damaged');
  cpSync(sessionDir, damaged, { recursive: true });
  const gcsDir = join(damaged, 'logs', 'gcs');
  assert.ok(readdirSync(gcsDir).includes('events.mdb'));
  const env = open<Buffer, number>({ path: join(gcsDir, 'events.mdb'), noSubdir: true });
  env.openDB<Buffer, number>('events', { encoding: 'binary' }).putSync(2, Buffer.from([0xc1, 0xff, 0x00]));
  void env.close();
  const corrupt = run(['trace', 'collect', '--session', damaged]);
  assert.equal(corrupt.status, 1);
  assert.match(corrupt.stderr, /^tsray: record 2 of logs\/gcs is not a tsray event \(.*\); .*collect cannot merge a damaged log\n$/);

  // A log a dead process left is checked when it is opened (so a damaged one can be left out), not midway through the merge.
  const damagedLate = join(script.sessionDir, 'damaged-late');
  cpSync(sessionDir, damagedLate, { recursive: true });
  const lateDir = join(damagedLate, 'logs', 'gcs');
  const gcsLog = EventLog.open(lateDir);
  const nextSeq = gcsLog.lastSeq + 1;
  await gcsLog.close();
  assert.ok(nextSeq > 5, 'the damaged record comes after the first events a source reads when opened');
  const late = open<Buffer, number>({ path: join(lateDir, 'events.mdb'), noSubdir: true });
  late.openDB<Buffer, number>('events', { encoding: 'binary' }).putSync(nextSeq, Buffer.from([0xc1, 0xff, 0x00]));
  void late.close();
  const opened = new OpenedSources();
  try {
    const found = { address: 'gcs', component: 'gcs' as const, dir: lateDir };
    assert.equal(opened.open(found).address, 'gcs', 'opened alone, the log is read no further than its first events');
    assert.throws(() => opened.openChecked(found), { name: 'CollectError', message: new RegExp(`^record ${nextSeq} of logs/gcs is not a tsray event`) });
    assert.equal(opened.openChecked({ address: 'gcs', component: 'gcs', dir: join(sessionDir, 'logs', 'gcs') }).address, 'gcs', 'an undamaged log opens checked');
  } finally {
    opened.close();
  }
});

void test('the merge puts a delivery after its send even when the clocks say otherwise, and a lost cause does not stall it', () => {
  const heartbeat = (seq: number, cause: number): CollectedEvent => ({
    seq,
    atMs: 10 + seq,
    event: { type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 1 }, via: { from: 'raylet:n1', incarnation: 0, seq: seq - 1, cause } } as AnyEvent,
    cause: { address: 'raylet:n1', seq: cause },
  });
  const logs: CollectedLog[] = [
    {
      address: 'raylet:n1',
      component: 'raylet',
      events: [
        { seq: 1, atMs: 100, event: { type: 'timer/fired', timerId: 'a', nowMs: 100 } as AnyEvent },
        { seq: 2, atMs: 300, event: { type: 'timer/fired', timerId: 'b', nowMs: 300 } as AnyEvent },
      ],
      liveHashes: new Map(),
    },
    // The GCS's clock runs behind: by time alone its deliveries would come first. Its third names a
    // cause the raylet's log never kept (its thread was killed before posting it).
    { address: 'gcs', component: 'gcs', events: [heartbeat(1, 2), heartbeat(2, 2), heartbeat(3, 9)], liveHashes: new Map() },
  ];
  const merged = mergeLogs(logs);
  assert.deepEqual(
    merged.entries.map((entry) => `${entry.address}#${entry.seq}<-${entry.parent ?? '-'}`),
    ['raylet:n1#1<--', 'raylet:n1#2<--', 'gcs#3<-2', 'gcs#4<-2', 'gcs#5<--'],
  );
  assert.ok(merged.entries.every((entry, index) => entry.seq === index + 1));
  // Every component's last event carries a hash, so replay --verify has something to check.
  assert.ok(merged.entries.filter((entry) => entry.hash !== undefined).length >= 2);
});

void test('a trace written as the logs merge, with the event texts collect parsed its events from, has the lines of a writer that replays and writes every event itself', () => {
  const logs = readSessionLogs(sessionDir);
  const cores = { gcs: gcsCore, raylet: rayletCore, owner: ownerCore };
  // A snapshot every 3 events of a component whatever its size, so that this small session has many.
  const options = { cores, snapshotEvery: 3, snapshotBytesPerEvent: 1e9 };
  const streamed = new TraceWriter(options);
  const replaying = new TraceWriter(options);
  const streamedLines: string[] = [];
  let texts = 0;
  const merged = mergeLogsInto(logs, {}, (entry, applied, text) => {
    // The text handed over is the event's as a trace line writes it, and what the event was parsed from.
    assert.equal(text, eventText(entry.event));
    texts += 1;
    streamedLines.push(streamed.line(entry, applied, text));
  });
  assert.equal(texts, streamedLines.length);
  const replayedLines = mergeLogs(logs).entries.map((entry) => replaying.line(entry));
  assert.deepEqual(merged.divergences, []);
  assert.equal(streamedLines.length, replayedLines.length);
  assert.deepEqual(streamedLines, replayedLines);
  const text = streamedLines.join('\n');
  const snapshots = (text.match(/\{"snapshot":/g) ?? []).length;
  assert.ok(snapshots >= logs.length, `${snapshots} snapshots were taken from the merge`);
  assert.ok((text.match(/"minted":\{/g) ?? []).length >= 5, 'submissions carry the ids the merge replay minted');
});

void test("a component's periodic hashes are spaced by its state's size as well as its log's length", () => {
  const logs = readSessionLogs(sessionDir);
  const driver = logs.find((log) => log.address === 'worker:n1.d1');
  assert.ok(driver !== undefined);
  // Asked for a hash after every event, the driver gets one only as often as its state's size allows.
  const hashedSeqs = new Set(
    mergeLogs([driver], { hashEveryEvents: 1 })
      .entries.filter((entry) => entry.hash !== undefined)
      .map((entry) => entry.seq),
  );
  const state = ownerCore.initial();
  let lastHashed: { applied: number; chars: number } | undefined;
  let checkedGaps = 0;
  driver.events.forEach((event, index) => {
    applyDirect(ownerCore, state, event.event as never);
    const applied = index + 1;
    if (!hashedSeqs.has(applied) || driver.liveHashes.has(event.seq) || applied === driver.events.length) return;
    if (lastHashed !== undefined) {
      assert.ok(applied - lastHashed.applied >= Math.ceil(lastHashed.chars / 512), `hashes at events ${lastHashed.applied} and ${applied} of a state of ${lastHashed.chars} characters`);
      checkedGaps++;
    }
    lastHashed = { applied, chars: hashStateSized(state).chars };
  });
  assert.ok(checkedGaps >= 3, `${checkedGaps} gaps between periodic hashes checked`);
  assert.ok(hashedSeqs.size < driver.events.length / 4, `${hashedSeqs.size} hashes for ${driver.events.length} events`);
});
