/**
 * The cluster CLI's state and trace commands against real processes on 127.0.0.1 (issue 10): a head
 * and a node started with `tsray start`, and a driver script that leaves tasks (finished, failed,
 * running), a named actor that owns an object, and objects of its own. `tsray list
 * tasks|actors|objects` and `tsray memory` show them, gathered by the head from every node's owners;
 * `tsray trace collect --address` and `tsray timeline --address` fetch every node's and the
 * driver's logs over the cluster's connections and `tsray replay --verify` passes on the trace; a
 * frozen node and a frozen driver are named as not answering, and the listing and the trace of the
 * rest still come back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ActorReport, ObjectReport, TaskReport } from '../../core/protocol.js';
import { ClusterTool } from '../../node/cluster/cluster-tool.js';
import { maxLogChunkBytes } from '../../node/cluster/log-serving.js';
import type { CollectedEvent } from '../../node/trace/collect.js';
import { LogSpool } from '../../node/trace/spooled-log.js';
import { killPids, recordedNodePids, runNode } from '../support/cluster.js';
import type { ProcessRun } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';
import { eventually } from '../support/eventually.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-state-cli-'));
const clusterDir = join(root, 'cluster');

/** Runs the CLI with this test's sessions root, from the test's folder (where default outputs land). */
function tsray(args: string[]): Promise<ProcessRun> {
  return runNode([cli, ...args], { TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: '', TSRAY_TOKEN: '' });
}

const holdingScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
const other = process.env.OTHER_NODE;
const square = tsray.remote((x) => x * x, { name: 'square' });
const done = await tsray.get([square.remote(3), square.options({ schedulingStrategy: { nodeId: other, soft: false } }).remote(4)]);
const held = tsray.put({ kept: 'by the driver' });
// A value large enough for a node's store, made on the other node: it lives there.
const big = tsray.remote(() => new Uint8Array(2 * 1024 * 1024), { name: 'big', schedulingStrategy: { nodeId: other, soft: false } }).remote();
await tsray.wait([big]);
const boom = tsray.remote(() => { throw new Error('boom'); }, { name: 'boom', maxRetries: 0 });
try { await tsray.get(boom.remote()); } catch (error) { console.log('BOOM', error.name); }
class Keeper {
  constructor() { this.kept = tsray.put('kept by the actor'); }
  where() { return tsray.getRuntimeContext().workerId; }
}
const keeper = tsray.remote(Keeper, { name: 'keeper', schedulingStrategy: { nodeId: other, soft: false } }).remote();
const keeperWorker = await tsray.get(keeper.where.remote());
const sleep = tsray.remote(() => new Promise((resolve) => setTimeout(resolve, 600_000)), { name: 'sleeper' });
const sleeping = sleep.remote();
// The state API of a connected driver asks the head too (the driver answers for itself meanwhile).
const listed = {
  squares: (await tsray.state.listTasks({ name: 'square' })).map((task) => task.state),
  keeper: (await tsray.state.listActors({ name: 'keeper' })).map((actor) => [actor.className, actor.state, actor.nodeId]),
  held: (await tsray.state.listObjects({ objectId: held.id })).map((object) => [object.owner, object.refTypes]),
  keeperObjects: (await tsray.state.listObjects({ owner: keeperWorker })).length,
};
console.log('STATE', JSON.stringify(listed));
console.log('READY', JSON.stringify({ done, held: held.id, big: big.id, driver: tsray.getRuntimeContext().workerId, keeperWorker, driverNode: info.nodeId }));
// Holds its references until the test kills it.
setInterval(() => void [held, big, keeper, sleeping], 60_000);
`;

interface Ready {
  readonly done: number[];
  readonly held: string;
  readonly big: string;
  readonly driver: string;
  readonly keeperWorker: string;
  readonly driverNode: string;
}

void describe('tsray list, memory, trace collect and timeline against a cluster of processes', () => {
  const scripts: DriverScript[] = [];
  let driver: ChildProcess | undefined;
  let head: { address: string; token: string; nodeId: string };
  let otherNode = '';
  let ready: Ready;
  /** What the driver's own state API listed. */
  let state = '';

  before(async () => {
    // Health checks slow enough that a node frozen for the last test is not declared dead meanwhile.
    const started = await tsray(['start', '--head', '--port', '0', '--num-cpus', '2', '--health-check-period-ms', '1000', '--health-check-failure-threshold', '30']);
    assert.equal(started.code, 0, started.stderr);
    head = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as typeof head;
    const joined = await tsray(['start', '--address', head.address, '--num-cpus', '2']);
    assert.equal(joined.code, 0, joined.stderr);
    otherNode = /node (n[0-9a-f]+) joined/.exec(joined.stdout)?.[1] ?? '';
    assert.notEqual(otherNode, '');
    const script = writeDriverScript('cluster-state-holding', holdingScript);
    scripts.push(script);
    const child = spawn(process.execPath, [script.path], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: head.address, TSRAY_TOKEN: '', OTHER_NODE: otherNode } });
    driver = child;
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await eventually(() => Promise.resolve(stdout), (text) => text.includes('READY') || child.exitCode !== null, 1200);
    const line = stdout.split('\n').find((candidate) => candidate.startsWith('READY '));
    assert.ok(line !== undefined, `the driver did not get ready: ${stdout}${stderr}`);
    assert.match(stdout, /BOOM RayTaskError/);
    ready = JSON.parse(line.slice('READY '.length)) as Ready;
    state = stdout.split('\n').find((candidate) => candidate.startsWith('STATE '))?.slice('STATE '.length) ?? '';
  });

  after(() => {
    // Every process this test started ends, whatever happened: the daemons are detached, and a frozen one is woken first.
    const pids = [...(driver?.pid === undefined ? [] : [driver.pid]), ...recordedNodePids(clusterDir)];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Already gone.
      }
    }
    killPids(pids);
    for (const script of scripts) script.remove();
    rmSync(root, { recursive: true, force: true });
  });

  void test('list tasks shows every owner\'s tasks with state, name, node and attempt, gathered from both nodes', async () => {
    const run = await tsray(['list', 'tasks', '--json', '--address', head.address]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'every node and owner answered');
    const tasks = JSON.parse(run.stdout) as TaskReport[];
    const named = (name: string): TaskReport[] => tasks.filter((task) => task.name === name);
    assert.deepEqual(named('square').map((task) => [task.state, task.attempt]), [['FINISHED', 1], ['FINISHED', 1]]);
    assert.ok(named('square').some((task) => task.nodeId === otherNode), 'a square ran on the other node');
    assert.equal(named('boom')[0]?.state, 'FAILED');
    assert.match(named('boom')[0]?.error ?? '', /boom/);
    assert.equal(named('sleeper')[0]?.state, 'RUNNING');
    // Its code waits on a timer, in no get: its worker has nothing to add to where it runs.
    assert.match(named('sleeper')[0]?.waitingFor ?? '', /^waits for task sleeper \(attempt 1\), running on node \S+ \(worker \S+\)$/);
    assert.ok(tasks.every((task) => task.taskId.startsWith(ready.driver)), 'the driver owns these tasks');
    // The table, and a limit that cuts it says so.
    const table = await tsray(['list', 'tasks', '--address', 'auto', '--limit', '2']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^TASK +NAME +STATE +ATTEMPT +NODE +ERROR +WAITING FOR\n/);
    assert.equal(table.stdout.trimEnd().split('\n').length, 3);
    assert.match(table.stderr, new RegExp(`^showing 2 of ${tasks.length} tasks \\(--limit 2\\)\\n$`));
    // Filters are applied where the entries live, before the limit: the failed task comes whatever the limit.
    const failed = await tsray(['list', 'tasks', '--json', '-f', 'state=FAILED', '--limit', '1']);
    assert.equal(failed.code, 0, failed.stderr);
    assert.deepEqual(
      (JSON.parse(failed.stdout) as TaskReport[]).map((task) => task.name),
      ['boom'],
    );
    const both = await tsray(['list', 'tasks', '--json', '--filter', 'name=square', '--filter', `nodeId=${otherNode}`]);
    assert.deepEqual(
      (JSON.parse(both.stdout) as TaskReport[]).map((task) => [task.name, task.nodeId]),
      [['square', otherNode]],
    );
  });

  void test("a connected driver's state API lists the cluster's tasks, actors and objects, its own and a worker's on the other node", () => {
    assert.deepEqual(JSON.parse(state), {
      squares: ['FINISHED', 'FINISHED'],
      keeper: [['Keeper', 'ALIVE', otherNode]],
      held: [[ready.driver, ['LOCAL_REFERENCE']]],
      keeperObjects: 1,
    });
  });

  void test('list actors shows the named actor with its class, state, node and restarts', async () => {
    const run = await tsray(['list', 'actors', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const actors = JSON.parse(run.stdout) as ActorReport[];
    assert.equal(actors.length, 1);
    assert.deepEqual(
      { className: actors[0]?.className, name: actors[0]?.name, state: actors[0]?.state, nodeId: actors[0]?.nodeId, restarts: actors[0]?.restarts },
      { className: 'Keeper', name: 'keeper', state: 'ALIVE', nodeId: otherNode, restarts: 0 },
    );
    const none = await tsray(['list', 'actors', '--json', '-f', 'name=nobody']);
    assert.deepEqual(JSON.parse(none.stdout), []);
    const table = await tsray(['list', 'actors']);
    assert.match(table.stdout, new RegExp(`Keeper +keeper +ALIVE +${otherNode} +0`));
  });

  void test("list objects and memory show the driver's and the actor's objects, their owners and reference kinds", async () => {
    const run = await tsray(['list', 'objects', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const objects = JSON.parse(run.stdout) as ObjectReport[];
    const held = objects.find((object) => object.objectId === ready.held);
    assert.ok(held !== undefined, `the driver's put is not listed: ${run.stdout}`);
    assert.equal(held.owner, ready.driver);
    assert.deepEqual(held.refTypes, ['LOCAL_REFERENCE']);
    assert.ok((held.size ?? 0) > 0);
    // A large object says where it lives: in the store of the node that made it.
    const big = objects.find((object) => object.objectId === ready.big);
    assert.deepEqual(big?.nodeIds, [otherNode]);
    assert.ok((big?.size ?? 0) >= 2 * 1024 * 1024);
    // The actor's own put is owned by its worker on the other node: the head asked that node.
    const kept = objects.filter((object) => object.owner === ready.keeperWorker);
    assert.equal(kept.length, 1, `the actor's object is not listed: ${run.stdout}`);
    assert.deepEqual(kept[0]?.refTypes, ['LOCAL_REFERENCE']);

    const byOwner = await tsray(['list', 'objects', '--json', '-f', `owner=${ready.keeperWorker}`, '-f', 'refTypes=LOCAL_REFERENCE']);
    assert.deepEqual(
      (JSON.parse(byOwner.stdout) as ObjectReport[]).map((object) => object.objectId),
      kept.map((object) => object.objectId),
    );
    const memory = await tsray(['memory', '--json']);
    assert.equal(memory.code, 0, memory.stderr);
    const report = JSON.parse(memory.stdout) as { nodes: { nodeId: string; store: { capacityBytes: number; usedBytes: number; objectCount: number }; owners: { owner: string; references: { refType: string; count: number }[] }[] }[] };
    assert.deepEqual(report.nodes.map((node) => node.nodeId).sort(), [head.nodeId, otherNode].sort());
    assert.ok(report.nodes.every((node) => node.store.capacityBytes > 0));
    const otherStore = report.nodes.find((node) => node.nodeId === otherNode)?.store;
    assert.ok((otherStore?.usedBytes ?? 0) >= 2 * 1024 * 1024 && (otherStore?.objectCount ?? 0) >= 1, JSON.stringify(otherStore));
    const owners = report.nodes.flatMap((node) => node.owners.map((owner) => ({ node: node.nodeId, ...owner })));
    const driverRefs = owners.find((owner) => owner.owner === ready.driver);
    assert.equal(driverRefs?.node, head.nodeId, 'the driver reports through the node it is attached to');
    assert.ok((driverRefs?.references.find((summary) => summary.refType === 'LOCAL_REFERENCE')?.count ?? 0) >= 2);
    assert.equal(owners.find((owner) => owner.owner === ready.keeperWorker)?.node, otherNode);
    const text = await tsray(['memory']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^object store of 2 nodes: /);
    assert.match(text.stdout, new RegExp(`${ready.driver} +${head.nodeId} +LOCAL_REFERENCE`));
  });

  void test('trace collect --address gathers every node and the driver into one trace that replay --verify passes', async () => {
    const output = join(root, 'cluster-trace.jsonl');
    const run = await tsray(['trace', 'collect', '--address', head.address, '-o', output]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /components of 2 nodes and 1 driver of /);
    const header = JSON.parse(readFileSync(output, 'utf8').split('\n')[0] ?? '{}') as { cluster?: { components?: string[] } };
    const components = header.cluster?.components ?? [];
    for (const address of ['gcs', `raylet:${head.nodeId}`, `raylet:${otherNode}`, `worker:${ready.driver}`, `worker:${ready.keeperWorker}`]) assert.ok(components.includes(address), `${address} is missing from ${components.join(', ')}`);
    const replay = await tsray(['replay', output, '--verify']);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    // Every running component recorded the hash of its live state when asked for its logs, and the
    // replay reproduced each: no log goes unchecked (collect notes those that have none).
    const checked = /(\d+) live state hashes reproduced/.exec(run.stderr);
    assert.ok(Number(checked?.[1]) >= components.length, run.stderr);
    assert.doesNotMatch(readFileSync(output, 'utf8'), /has no hash of its live state/);

    // Fetched in small chunks, every log comes whole and the same as in the largest chunks.
    const tool = await ClusterTool.connect(head.address, head.token);
    try {
      const small = await tool.logs(4096);
      const large = await tool.logs(maxLogChunkBytes);
      assert.deepEqual(small.missing, []);
      const gcs = small.logs.find((log) => log.address === 'gcs');
      assert.ok(gcs !== undefined && JSON.stringify(gcs.events).length > 4 * 4096, 'the GCS log took several chunks');
      for (const log of small.logs) {
        // Both fetches see each log from event 1; the later one may hold more events (heartbeats go on).
        const again = large.logs.find((other) => other.address === log.address);
        assert.deepEqual(log.events.map((event) => event.seq), Array.from({ length: log.events.length }, (_, index) => index + 1), log.address);
        assert.deepEqual(log.events, again?.events.slice(0, log.events.length), log.address);
      }
      // Spooled to files as they come (as trace collect takes them), the logs read back the same.
      const spool = new LogSpool();
      try {
        const spooled = await tool.spooledLogs(spool, 4096);
        assert.deepEqual(spooled.missing, []);
        assert.deepEqual(spooled.logs.map((log) => log.address).sort(), large.logs.map((log) => log.address).sort());
        for (const source of spooled.logs) {
          const events: CollectedEvent[] = [];
          for (let event = source.peek(); event !== undefined; event = source.peek()) {
            events.push(event);
            source.take();
          }
          const earlier = large.logs.find((log) => log.address === source.address)?.events ?? [];
          assert.equal(source.lastSeq, events.length, source.address);
          assert.deepEqual(events.slice(0, earlier.length), earlier, source.address);
        }
      } finally {
        spool.remove();
      }
    } finally {
      await tool.close();
    }

    const timelineFile = join(root, 'cluster-timeline.json');
    const timeline = await tsray(['timeline', '--address', 'auto', '-o', timelineFile]);
    assert.equal(timeline.code, 0, timeline.stderr);
    const events = (JSON.parse(readFileSync(timelineFile, 'utf8')) as { traceEvents: { name?: string }[] }).traceEvents;
    assert.ok(events.some((event) => event.name === 'square'), 'the timeline shows the square tasks');
    assert.ok(events.some((event) => event.name === 'boom'));
  });

  void test('bad arguments get one line and exit 2; --help shows the usage', async () => {
    const cases = [
      ['list', 'tasks', '--limit', '0'],
      ['list', 'tasks', '--limit', '100001'],
      ['list', 'tasks', 'extra'],
      ['list', 'tasks', '--address', 'no-port'],
      ['memory', 'extra'],
      ['memory', '--bogus'],
      ['status', '--limit', '3'],
      ['list', 'tasks', '-f', 'bogus=1'],
      ['list', 'tasks', '-f', 'state'],
      ['list', 'nodes', '-f', 'state=ALIVE'],
      ['memory', '-f', 'owner=x'],
      ['trace', 'collect', '--session', root, '--address', head.address],
      ['trace', 'collect', '--token', head.token],
      ['timeline', '--session', root, '--address', head.address],
      ['timeline', '--bogus'],
    ];
    const runs = await Promise.all(cases.map((args) => tsray(args)));
    runs.forEach((run, index) => {
      const shown = (cases[index] ?? []).join(' ');
      assert.equal(run.code, 2, `tsray ${shown}: ${run.stderr}`);
      assert.match(run.stderr, /^tsray: [^\n]+\n$/, `tsray ${shown} should say one line, said: ${run.stderr}`);
    });
    for (const args of [['list', '--help'], ['memory', '--help'], ['trace', 'collect', '--help'], ['timeline', '--help']]) {
      const run = await tsray(args);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^usage: tsray /);
    }
  });

  // Last: it freezes a node and the driver.
  void test('a frozen node and a frozen driver are named as not answering, and the rest is listed or collected without waiting on them', async () => {
    const record = recordedNodePids(clusterDir)
      .map((pid) => ({ pid, ...(JSON.parse(readFileSync(join(clusterDir, 'nodes', `${pid}.json`), 'utf8')) as { nodeId: string }) }))
      .find((candidate) => candidate.nodeId === otherNode);
    assert.ok(record !== undefined && driver?.pid !== undefined);
    process.kill(record.pid, 'SIGSTOP');
    process.kill(driver.pid, 'SIGSTOP');
    try {
      const partial = join(root, 'partial-trace.jsonl');
      const [run, collected] = await Promise.all([tsray(['list', 'actors']), tsray(['trace', 'collect', '--address', head.address, '-o', partial])]);
      // The trace of what did answer is written, and the command fails naming what is left out.
      assert.equal(collected.code, 1, collected.stderr);
      assert.match(collected.stderr, new RegExp(`^tsray trace collect: the logs of node ${otherNode} are left out: [^\\n]*no answer within \\d+ ms\\n`, 'm'));
      assert.match(collected.stderr, new RegExp(`^tsray trace collect: the logs of driver ${ready.driver} [^\\n]* are left out: `, 'm'));
      assert.match(collected.stderr, /components of 1 node and 0 drivers of /);
      const replay = await tsray(['replay', partial, '--verify']);
      assert.equal(replay.code, 0, replay.stdout + replay.stderr);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Keeper +keeper +ALIVE/, 'the GCS still lists the actor');
      assert.match(run.stderr, new RegExp(`^node ${otherNode} did not answer \\(no answer within \\d+ ms \\(nodeAnswerTimeoutMs\\)\\)[^\\n]*\\n`, 'm'));
      assert.match(run.stderr, new RegExp(`^on node ${head.nodeId}, ${ready.driver} did not answer in time[^\\n]*\\n`, 'm'));
    } finally {
      process.kill(record.pid, 'SIGCONT');
      process.kill(driver.pid, 'SIGCONT');
    }
  });
});
