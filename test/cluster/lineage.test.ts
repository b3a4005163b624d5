/**
 * Objects lost with their node, across real processes (issue 10, item 4): a head and a second node
 * started with the CLI on 127.0.0.1 (health checks every 100 ms, dead after 20 missed: the death is
 * seen within about two seconds, and a raylet starved beside other test files on a busy 2-core
 * machine is not mistaken for dead, as it was with 50 ms and 4, and at load 9 with 100 ms and 8,
 * when the test's own kill -9 then found no process), and a driver connected over TCP that makes large objects on the second node, keeps
 * their refs, and kills the node with `kill -9`. Then, as Ray's owners do:
 *
 * - a task's result is rebuilt by running the task again on the head (lineage reconstruction), and a
 *   chain B(A) whose A only lineage keeps is rebuilt A first, then B, and an object the driver
 *   borrowed from a task's worker on the head is rebuilt by that owner;
 * - a result whose task had maxRetries 0 fails with ObjectReconstructionFailedError;
 * - an actor call's result (no lineage) fails with ObjectLostError, and an object put by the actor
 *   (its owner died with the node) fails with OwnerDiedError, which is an ObjectLostError; but an
 *   actor call's result that a task on the head read is read from the head's copy (the raylet told
 *   the owner of that copy, object/copy-added);
 * - a get that is pulling a 128 MiB object from the node when it dies gets the rebuilt value (the
 *   pull from the dead node ends when the death is known, rather than after its chunk timeouts).
 *
 * Then `tsray trace collect --address` and `tsray timeline --address` take the dead node's logs from
 * its session dir on this machine, and the ended driver's log from its own session here, and `tsray
 * replay --verify` passes on the trace.
 *
 * Each task appends a line to a file when it runs, so the test counts the runs and sees where.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { logDirName } from '../../node/store/event-log-dir.js';
import { killPids, nodeRecord, printedLines, recordedNodePids, runnerIn } from '../support/cluster.js';
import type { ProcessRun } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-lineage-'));
const clusterDir = join(root, 'cluster');

const run = runnerIn(root);

/** The lines a script printed as `KEY value`, by key. */
function printed(output: ProcessRun): Map<string, string> {
  return printedLines(output.stdout);
}

/** The pid of a node's process, from the record `tsray start` wrote. */
function pidOf(nodeId: string): number {
  return nodeRecord(clusterDir, nodeId).pid;
}

const lineageScript = `
import * as tsray from 'tsray';
import { readFileSync } from 'node:fs';
const info = await tsray.init();
const runs = process.env.RUNS_FILE;
const node2 = process.env.OTHER_NODE;
const onOther = { schedulingStrategy: { nodeId: node2, soft: true } };
// Each run appends 'TAG NODE' to the runs file; the value is a ramp, which the test checks whole.
const ramp = tsray.remote((n, runs, tag) => {
  process.getBuiltinModule('node:fs').appendFileSync(runs, tag + ' ' + tsray.getRuntimeContext().nodeId + '\\n');
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 1) out[i] = i * 0.5 + 1;
  return out;
});
const doubled = tsray.remote((array, runs, tag) => {
  process.getBuiltinModule('node:fs').appendFileSync(runs, tag + ' ' + tsray.getRuntimeContext().nodeId + '\\n');
  return array.map((x) => x * 2);
});
const Holder = tsray.remote(class {
  make(n) { return new Float64Array(n).fill(5); }
  putOne(n) { return [tsray.put(new Float64Array(n).fill(7))]; }
});
// A task on the head that owns a result made on the other node and hands the driver a ref to it.
const parent = tsray.remote(async (ramp, node2, n, runs) => {
  const child = ramp.options({ schedulingStrategy: { nodeId: node2, soft: true } }).remote(n, runs, 'CHILD');
  await tsray.wait([child]);
  return [child];
});
const wrongIn = (array, n, at) => {
  if (array.length !== n) return 'length ' + array.length;
  let wrong = 0;
  for (let i = 0; i < n; i += 1) if (array[i] !== at(i)) wrong += 1;
  return String(wrong);
};
const n = 256 * 1024; // 2 MiB of float64: stored in the node's store, not inline.
const pulledLength = 16 * 1024 * 1024; // 128 MiB: long enough to be mid-pull when the node dies.
let a = ramp.options(onOther).remote(n, runs, 'A');
const b = doubled.options(onOther).remote(a, runs, 'B');
const c = ramp.options(onOther).remote(n, runs, 'C');
const once = ramp.options({ ...onOther, maxRetries: 0 }).remote(n, runs, 'ONCE');
const pulled = ramp.options(onOther).remote(pulledLength, runs, 'PULLED');
const actor = Holder.options(onOther).remote();
const fromActor = actor.make.remote(n);
// Another actor result, read by a task on the head first: the head keeps a copy, which outlives the actor's node.
const copiedFromActor = actor.make.remote(n);
const lengthOf = tsray.remote((array) => array.length);
console.log('READ_ON_HEAD', await tsray.get(lengthOf.options({ schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote(copiedFromActor)));
const [putByActor] = await tsray.get(actor.putOne.remote(n));
const [borrowed] = await tsray.get(parent.options({ schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote(ramp, node2, n, runs));
console.log('BORROWED_OWNER', borrowed.owner);
await tsray.wait([b, c, once, pulled, fromActor, putByActor, borrowed], { numReturns: 7, timeout: 30000 });
// Only lineage keeps A now (B's task holds it): the driver drops its ref.
a = undefined;
for (let round = 0; round < 3; round += 1) { globalThis.gc(); await new Promise((resolve) => setTimeout(resolve, 20)); }
console.log('BEFORE', JSON.stringify(readFileSync(runs, 'utf8').trim().split('\\n').sort()));
// The get of the 128 MiB object starts pulling it from the other node, which is killed once the pull
// is under way: the driver has allocated the object's bytes (its array buffers grew by them) and asked
// for the first chunks. This loop looks at every turn of the event loop, and the pull needs at least
// 8 turns (16 chunks of 8 MiB, 2 in flight), so the kill lands mid-copy, however loaded the machine.
const buffersBefore = process.memoryUsage().arrayBuffers;
let pulledSettled = false;
const pulledGet = tsray.get(pulled, { timeout: 30000 }).finally(() => { pulledSettled = true; });
const waitFrom = Date.now();
while (!pulledSettled && process.memoryUsage().arrayBuffers - buffersBefore < pulledLength * 8 * 0.9 && Date.now() - waitFrom < 20000) await new Promise((resolve) => setImmediate(resolve));
console.log('KILLED_MID_PULL', !pulledSettled && process.memoryUsage().arrayBuffers - buffersBefore >= pulledLength * 8 * 0.9 ? 'yes' : 'no');
const killedMs = Date.now();
process.kill(Number(process.env.OTHER_PID), 'SIGKILL');
console.log('C', wrongIn(await tsray.get(c, { timeout: 30000 }), n, (i) => i * 0.5 + 1), Date.now() - killedMs);
console.log('B', wrongIn(await tsray.get(b, { timeout: 30000 }), n, (i) => i + 2), Date.now() - killedMs);
console.log('COPIED', wrongIn(await tsray.get(copiedFromActor, { timeout: 30000 }), n, () => 5));
console.log('BORROWED', wrongIn(await tsray.get(borrowed, { timeout: 30000 }), n, (i) => i * 0.5 + 1), Date.now() - killedMs);
console.log('PULLED', wrongIn(await pulledGet, pulledLength, (i) => i * 0.5 + 1), Date.now() - killedMs);
for (const [name, ref] of [['ONCE', once], ['FROM_ACTOR', fromActor], ['PUT_BY_ACTOR', putByActor]]) {
  try {
    await tsray.get(ref, { timeout: 30000 });
    console.log(name, 'no error');
  } catch (error) {
    console.log(name, JSON.stringify({ name: error.name, lost: error instanceof tsray.ObjectLostError, sameObject: error.objectId === ref.id, message: error.message }));
  }
}
console.log('AFTER', JSON.stringify(readFileSync(runs, 'utf8').trim().split('\\n').sort()));
await tsray.shutdown();
console.log('DONE yes');
`;

void describe('objects lost with a node that died, across real processes', () => {
  const scripts: DriverScript[] = [];
  let head: { address: string; nodeId: string };
  let otherNode = '';

  before(async () => {
    const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '2', '--health-check-period-ms', '100', '--health-check-failure-threshold', '20']);
    assert.equal(started.code, 0, started.stderr);
    head = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as typeof head;
    const joined = await run([cli, 'start', '--address', head.address, '--num-cpus', '2']);
    assert.equal(joined.code, 0, joined.stderr);
    otherNode = /node (n[0-9a-f]+) joined/.exec(joined.stdout)?.[1] ?? '';
    assert.notEqual(otherNode, '');
  });

  after(() => {
    // Every node process this test started ends, whatever happened: the daemons are detached.
    killPids(recordedNodePids(clusterDir));
    for (const script of scripts) script.remove();
    rmSync(root, { recursive: true, force: true });
  });

  void test('kill -9 of a node: task results are rebuilt by lineage on the head, what cannot be rebuilt fails with the documented error', async (t) => {
    const written = writeDriverScript('cluster-lineage', lineageScript);
    scripts.push(written);
    const runsFile = join(root, 'runs.txt');
    const output = await run(['--expose-gc', written.path], { TSRAY_ADDRESS: head.address, OTHER_NODE: otherNode, OTHER_PID: String(pidOf(otherNode)), RUNS_FILE: runsFile });
    assert.equal(output.code, 0, `${output.stdout}\n${output.stderr}`);
    const lines = printed(output);
    const on = (nodeId: string, ...tags: string[]): string[] => tags.map((tag) => `${tag} ${nodeId}`);
    assert.equal(lines.get('BEFORE'), JSON.stringify(on(otherNode, 'A', 'B', 'C', 'CHILD', 'ONCE', 'PULLED').sort()), 'every task ran once, on the other node');
    assert.match(lines.get('BORROWED_OWNER') ?? '', new RegExp(`^${head.nodeId}\\.w`), 'the borrowed object is owned by a worker of the head');
    // The values are whole and right (no wrong element), rebuilt after the node died.
    assert.equal(lines.get('KILLED_MID_PULL'), 'yes', 'the node was killed while the driver pulled the 128 MiB object from it');
    const [pulledWrong, pulledMs] = (lines.get('PULLED') ?? '').split(' ');
    assert.equal(pulledWrong, '0', 'the 128 MiB object being pulled when its node died was rebuilt');
    assert.equal(lines.get('C')?.split(' ')[0], '0', 'a result the driver kept was rebuilt');
    assert.equal(lines.get('B')?.split(' ')[0], '0', 'B was rebuilt from a rebuilt A');
    assert.equal(lines.get('BORROWED')?.split(' ')[0], '0', 'the owner on the head rebuilt the object the driver borrowed');
    assert.equal(lines.get('READ_ON_HEAD'), String(256 * 1024));
    assert.equal(lines.get('COPIED'), '0', 'an actor result whose copy on the head outlived its node is read from that copy');
    // Each lost result's task ran once more, on the head; A too, which only lineage kept; ONCE did not.
    assert.equal(lines.get('AFTER'), JSON.stringify([...on(otherNode, 'A', 'B', 'C', 'CHILD', 'ONCE', 'PULLED'), ...on(head.nodeId, 'A', 'B', 'C', 'CHILD', 'PULLED')].sort()));
    const once = JSON.parse(lines.get('ONCE') ?? '{}') as { name?: string; lost?: boolean; sameObject?: boolean; message?: string };
    assert.deepEqual({ name: once.name, lost: once.lost, sameObject: once.sameObject }, { name: 'ObjectReconstructionFailedError', lost: true, sameObject: true }, once.message);
    assert.match(once.message ?? '', /maxRetries/);
    const fromActor = JSON.parse(lines.get('FROM_ACTOR') ?? '{}') as { name?: string; lost?: boolean; sameObject?: boolean; message?: string };
    assert.deepEqual({ name: fromActor.name, lost: fromActor.lost, sameObject: fromActor.sameObject }, { name: 'ObjectLostError', lost: true, sameObject: true }, fromActor.message);
    const putByActor = JSON.parse(lines.get('PUT_BY_ACTOR') ?? '{}') as { name?: string; lost?: boolean; sameObject?: boolean; message?: string };
    assert.deepEqual({ name: putByActor.name, lost: putByActor.lost, sameObject: putByActor.sameObject }, { name: 'OwnerDiedError', lost: true, sameObject: true }, putByActor.message);
    assert.equal(lines.get('DONE'), 'yes');
    t.diagnostic(`from kill -9 to the rebuilt values in the driver: 128 MiB object ${pulledMs} ms, 2 MiB object ${lines.get('C')?.split(' ')[1]} ms, chain ${lines.get('B')?.split(' ')[1]} ms`);
  });

  void test('trace collect and timeline --address read the killed node\'s logs from this machine\'s disk, and replay --verify passes', async () => {
    const output = join(root, 'trace.jsonl');
    const collected = await run([cli, 'trace', 'collect', '--address', head.address, '-o', output]);
    assert.equal(collected.code, 0, collected.stderr);
    assert.match(collected.stderr, /components of 1 node, 1 dead node \(the logs it left on disk\), 0 live drivers and 1 ended driver \(read from this machine's sessions\) of /);
    assert.doesNotMatch(collected.stderr, /left out/);
    const header = JSON.parse(readFileSync(output, 'utf8').split('\n')[0] ?? '{}') as { cluster?: { components?: string[] } };
    const components = header.cluster?.components ?? [];
    // The driver owned the tasks that lineage ran again: its log says why they ran twice.
    const driverLog = components.find((address) => address.startsWith('worker:driver-'));
    assert.ok(driverLog !== undefined, `the ended driver's log is missing from ${components.join(', ')}`);
    assert.match(readFileSync(output, 'utf8'), new RegExp(`"address":"${driverLog}"[^\n]*"type":"task/submitted"`));
    assert.ok(components.includes(`raylet:${otherNode}`), `the dead node's raylet is missing from ${components.join(', ')}`);
    assert.ok(components.some((address) => address.startsWith(`worker:${otherNode}.`)), `the dead node's workers are missing from ${components.join(', ')}`);
    const replay = await run([cli, 'replay', output, '--verify']);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);

    // The actor lived and died on the killed node: only that node's worker logs hold its calls.
    const timelineFile = join(root, 'timeline.json');
    const timeline = await run([cli, 'timeline', '--address', head.address, '-o', timelineFile]);
    assert.equal(timeline.code, 0, timeline.stderr);
    const names = new Set((JSON.parse(readFileSync(timelineFile, 'utf8')) as { traceEvents: { name?: string }[] }).traceEvents.map((event) => event.name));
    assert.ok([...names].some((name) => name?.includes('putOne') === true), `no span of the actor's putOne in ${[...names].join(', ')}`);

    // A dead node whose logs are not on this machine (here: its record is gone) is named on stderr,
    // and so is an ended driver whose session is gone.
    rmSync(join(clusterDir, 'nodes', `${pidOf(otherNode)}.json`));
    for (const entry of readdirSync(root)) if (/^session_/.test(entry) && existsSync(join(root, entry, 'logs', logDirName(driverLog)))) rmSync(join(root, entry), { recursive: true, force: true });
    const again = await run([cli, 'trace', 'collect', '--address', head.address, '-o', join(root, 'trace-without.jsonl')]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`the logs of dead node ${otherNode} are left out: [^\\n]*not on this machine`));
    assert.match(again.stderr, new RegExp(`the logs of 1 ended driver are left out \\(${driverLog.slice('worker:'.length).replace(/\./g, '\\.')}\\): its session is not under `));
  });
});
