/**
 * Node death in a cluster of real processes (issue 10): a head and two nodes on 127.0.0.1 with health
 * checks of a 2 s window. A node killed with SIGKILL in the middle of a 2,000-task job is declared dead by the
 * head's health checks; every get of the job returns its value, the tasks whose worker died run again
 * elsewhere (at least once), an actor on the dead node with restarts left comes back on another node,
 * one without fails with ActorDiedError naming the node's death, affinity to the dead node falls back
 * (soft) or fails (hard), and `tsray status` counts only the nodes that live. Then a driver killed
 * while an actor borrows its object: another driver's read of it through that actor gets
 * OwnerDiedError. Last, an idle node killed shows in `tsray status` as dead with nothing available.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { NodeReport } from '../../core/protocol.js';
import { queryNodes } from '../../node/cluster/query.js';
import { ScriptProcess, printedLines, startTestCluster } from '../support/cluster.js';
import type { TestCluster } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';
import { eventually } from '../support/eventually.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');

/** How many tasks the job runs, as issue 10 asks. */
const taskCount = 2000;

const jobScript = `
import * as tsray from 'tsray';
import { createInterface } from 'node:readline';
const lines = createInterface({ input: process.stdin });
const told = (word) => new Promise((resolve) => lines.on('line', (line) => { if (line === word) resolve(); }));
const info = await tsray.init();
const victim = process.env.VICTIM;
class Counter { n = 0; add(k) { this.n += k; return [this.n, tsray.getRuntimeContext().nodeId]; } }
const Counters = tsray.remote(Counter);
const restarting = Counters.options({ maxRestarts: 1, schedulingStrategy: { nodeId: victim, soft: true } }).remote();
const mortal = Counters.options({ maxRestarts: 0, schedulingStrategy: { nodeId: victim, soft: true } }).remote();
console.log('ACTORS', JSON.stringify([await tsray.get(restarting.add.remote(1)), await tsray.get(mortal.add.remote(1))]));
// Each run of a task appends a line to the runs file as it starts, so the test sees which ran more than once.
const work = tsray.remote(async (i, runs, stayOn) => {
  const nodeId = tsray.getRuntimeContext().nodeId;
  (await import('node:fs')).appendFileSync(runs, i + ' ' + nodeId + '\\n');
  await new Promise((resolve) => setTimeout(resolve, nodeId === stayOn ? 600_000 : 4));
  return [i, nodeId];
});
// Two tasks that stay running on the victim until it dies: they must run again elsewhere (soft affinity falls back).
const held = Array.from({ length: 2 }, (_, i) => work.options({ schedulingStrategy: { nodeId: victim, soft: true }, maxRetries: 1 }).remote(${taskCount} + i, process.env.RUNS, victim));
const refs = Array.from({ length: ${taskCount} }, (_, i) => work.options({ schedulingStrategy: 'SPREAD', maxRetries: 3 }).remote(i, process.env.RUNS));
let got = 0;
const results = await Promise.all(refs.map(async (ref) => {
  const value = await tsray.get(ref);
  got += 1;
  if (got === 300) console.log('STARTED yes');
  return value;
}));
console.log('RESULTS', JSON.stringify([...results, ...(await tsray.get(held))]));
await told('DEAD');
const where = tsray.remote(() => tsray.getRuntimeContext().nodeId);
const attempt = async (key, call) => {
  try { console.log(key, JSON.stringify(await call())); } catch (error) { console.log(key, JSON.stringify({ name: error.name, message: error.message })); }
};
await attempt('RESTARTED', () => tsray.get(restarting.add.remote(10)));
await attempt('MORTAL', () => tsray.get(mortal.add.remote(10)));
await attempt('SOFT', () => tsray.get(where.options({ schedulingStrategy: { nodeId: victim, soft: true } }).remote()));
await attempt('HARD', () => tsray.get(where.options({ schedulingStrategy: { nodeId: victim, soft: false } }).remote()));
await tsray.shutdown();
lines.close();
console.log('DONE yes');
`;

const ownerScript = `
import * as tsray from 'tsray';
await tsray.init();
// A detached actor outlives this driver; it borrows an object this driver owns.
class Holder { held; hold(refs) { this.held = refs[0]; return true; } async read() { try { return { value: await tsray.get(this.held, { timeout: 10_000 }) }; } catch (error) { return { name: error.name, message: error.message }; } } }
const holder = tsray.remote(Holder).options({ name: 'holder', lifetime: 'detached' }).remote();
const ref = tsray.put({ answer: 42 });
await tsray.get(holder.hold.remote([ref]));
console.log('HOLDING', ref.id);
await new Promise(() => {});
`;

/** The runs file's lines as [task index, node id], in the order the runs started; none before the first. */
function readRuns(path: string): [number, string][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.includes(' '))
    .map((line) => {
      const [index = '', nodeId = ''] = line.split(' ');
      return [Number(index), nodeId];
    });
}

/** The last lines of the node.log of node `nodeId` under the sessions root `root` (each node's session dir holds its own). */
function nodeLogTail(root: string, nodeId: string): string {
  for (const name of readdirSync(root)) {
    const path = join(root, name, 'node.log');
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (text.includes(`node ${nodeId}`)) return text.split('\n').slice(-15).join('\n');
  }
  return '(no node.log names it)';
}

const readerScript = `
import * as tsray from 'tsray';
await tsray.init();
const holder = await tsray.getActor('holder');
console.log('READ', JSON.stringify(await tsray.get(holder.read.remote())));
tsray.kill(holder);
await tsray.shutdown();
`;

void describe('a node killed in a cluster of processes', () => {
  const scripts: DriverScript[] = [];
  const children: ScriptProcess[] = [];
  let cluster: TestCluster;
  let victim = '';
  let survivor = '';

  before(async () => {
    // Health checks every 100 ms, dead after 20 missed (2 s): with 50 ms and 6 (300 ms, three
    // heartbeats) a survivor whose main thread stalled under the job on a loaded 2-core machine was
    // declared dead now and then, its tasks ran again elsewhere, and the test failed on runs it
    // did not expect (the lineage test met the same at 50 ms and 4).
    cluster = await startTestCluster(cli, 'tsray-node-death-', ['--num-cpus', '2', '--health-check-period-ms', '100', '--health-check-failure-threshold', '20'], [['--num-cpus', '2'], ['--num-cpus', '3']]);
    [survivor = '', victim = ''] = cluster.nodeIds;
  });

  afterEach((t) => cluster?.noteOutcome(t));

  after(() => {
    for (const child of children) child.kill();
    for (const script of scripts) script.remove();
    cluster?.stop();
  });

  function script(name: string, source: string): DriverScript {
    const written = writeDriverScript(name, source);
    scripts.push(written);
    return written;
  }

  void test('SIGKILL of a node during a 2,000-task job: every get returns its value, its actors restart or die as configured, status counts the living', async (t) => {
    const job = script('cluster-node-death-job', jobScript);
    const runs = join(job.sessionDir, 'runs.txt');
    const driver = new ScriptProcess(job.path, { TSRAY_SESSIONS_ROOT: cluster.root, TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: '', VICTIM: victim, RUNS: runs });
    children.push(driver);
    const actors = JSON.parse(await driver.waitFor('ACTORS')) as [number, string][];
    assert.deepEqual(actors, [
      [1, victim],
      [1, victim],
    ]);
    await driver.waitFor('STARTED');
    // The kill waits until the victim runs both held tasks and has run some of the job, whatever the machine's load.
    const onVictim = await eventually(
      () => Promise.resolve(readRuns(runs).filter(([, nodeId]) => nodeId === victim).map(([index]) => index)),
      (indices) => indices.includes(taskCount) && indices.includes(taskCount + 1) && indices.some((index) => index < taskCount),
    );
    assert.ok(onVictim.includes(taskCount) && onVictim.includes(taskCount + 1), `the held tasks never started on the victim (it ran ${onVictim.length} tasks)`);
    process.kill(cluster.pidOf(victim), 'SIGKILL');

    const results = JSON.parse(await driver.waitFor('RESULTS', 50_000)) as [number, string][];
    // Only the victim died: a live node declared dead (its heartbeats stalled past the health window)
    // would have its tasks run again too, which the checks of the runs below would blame on the kill.
    const aliveAfterJob = await queryNodes(cluster.address, cluster.token);
    for (const nodeId of [cluster.headNodeId, survivor]) {
      assert.equal(aliveAfterJob.find((node) => node.nodeId === nodeId)?.alive, true, `node ${nodeId}, which was not killed, was declared dead (its heartbeats stalled past the health-check window, or it crashed); its node.log ends:\n${nodeLogTail(cluster.root, nodeId)}`);
    }
    // One result per task, each its own, and none from a process that had died before it ran.
    assert.equal(results.length, taskCount + 2);
    results.forEach(([index], position) => assert.equal(index, position));
    const resultNodes = new Set(results.map(([, nodeId]) => nodeId));
    assert.deepEqual([...resultNodes].sort(), [cluster.headNodeId, survivor, victim].sort(), 'SPREAD should have run tasks on every node, the victim before it died');
    // At least once: every task ran, and only tasks that had a run on the killed node ran again.
    const runsByTask = new Map<number, string[]>();
    for (const [index, nodeId] of readRuns(runs)) runsByTask.set(index, [...(runsByTask.get(index) ?? []), nodeId]);
    assert.equal(runsByTask.size, taskCount + 2);
    for (const index of [taskCount, taskCount + 1]) {
      const nodes = runsByTask.get(index) ?? [];
      assert.equal(nodes.length, 2, `task ${index}, held on the killed node, ran on ${nodes.join(', ')}`);
      assert.equal(nodes[0], victim);
      assert.notEqual(nodes[1], victim);
    }
    for (const [index, nodes] of runsByTask) {
      if (nodes.length > 1) assert.ok(nodes.includes(victim), `task ${index} ran ${nodes.length} times (${nodes.join(', ')}) though no run of it was on the killed node`);
    }
    const ranAgain = [...runsByTask.values()].filter((nodes) => nodes.length > 1).length;
    t.diagnostic(`${results.filter(([, nodeId]) => nodeId === victim).length} results came from the killed node; ${ranAgain} tasks ran again after it died`);
    for (const [index, nodeId] of results) assert.ok(runsByTask.get(index)?.includes(nodeId), `task ${index}'s result names ${nodeId}, where it never ran`);

    const nodes = await eventually(
      () => queryNodes(cluster.address, cluster.token),
      (all) => all.find((node) => node.nodeId === victim)?.alive === false,
    );
    assert.equal(nodes.find((node) => node.nodeId === victim)?.alive, false, 'the killed node is never declared dead');
    driver.say('DEAD');
    await driver.waitFor('DONE');
    const lines = driver.lines;
    // The actor with a restart left comes back on a living node with a new instance (its count starts again).
    const restarted = JSON.parse(lines.get('RESTARTED') ?? '[]') as [number, string];
    assert.equal(restarted[0], 10);
    assert.ok([cluster.headNodeId, survivor].includes(restarted[1]), `the actor restarted on ${restarted[1]}`);
    const mortal = JSON.parse(lines.get('MORTAL') ?? '{}') as { name?: string; message?: string };
    assert.equal(mortal.name, 'ActorDiedError');
    assert.match(mortal.message ?? '', new RegExp(`node ${victim} died`));
    assert.ok([cluster.headNodeId, survivor].includes(JSON.parse(lines.get('SOFT') ?? '""') as string), 'soft affinity to the dead node should fall back to a living one');
    const hard = JSON.parse(lines.get('HARD') ?? '{}') as { name?: string; message?: string };
    assert.equal(hard.name, 'TaskUnschedulableError');
    assert.match(hard.message ?? '', new RegExp(victim));
    assert.equal(await driver.exited, 0, driver.errors);

    // Status: the dead node has nothing available, and the living nodes have all of theirs back.
    const settled = await eventually(
      () => queryNodes(cluster.address, cluster.token),
      (all) => all.filter((node) => node.alive).every((node) => node.available['CPU'] === node.total['CPU']),
    );
    const byId = new Map<string, NodeReport>(settled.map((node) => [node.nodeId, node]));
    assert.deepEqual(byId.get(victim), { nodeId: victim, alive: false, total: { CPU: 3 }, available: { CPU: 0 } });
    for (const nodeId of [cluster.headNodeId, survivor]) assert.deepEqual(byId.get(nodeId), { nodeId, alive: true, total: { CPU: 2 }, available: { CPU: 2 } });
    const status = await cluster.run([cli, 'status', '--address', cluster.address, '--token', cluster.token]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /2 nodes alive, 1 dead/);
    assert.match(status.stdout, new RegExp(`${victim}\\s+DEAD\\s+0/3\\n`));
    assert.match(status.stdout, /\n {2}0\/4 CPU\n/);
  });

  void test('a driver killed while an actor borrows its object: a read through the actor gets OwnerDiedError', async () => {
    const env = { TSRAY_SESSIONS_ROOT: cluster.root, TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: '' };
    const owner = new ScriptProcess(script('cluster-owner-dies', ownerScript).path, env);
    children.push(owner);
    const objectId = await owner.waitFor('HOLDING');
    owner.kill();
    await owner.exited;
    const read = await cluster.run([script('cluster-owner-reader', readerScript).path], env);
    assert.equal(read.code, 0, read.stderr);
    const outcome = JSON.parse(printedLines(read.stdout).get('READ') ?? '{}') as { name?: string; message?: string };
    assert.equal(outcome.name, 'OwnerDiedError', JSON.stringify(outcome));
    assert.match(outcome.message ?? '', new RegExp(`${objectId.replace(/\./g, '\\.')}.*died`));
  });

  void test('an idle node killed: status shows it dead with nothing available, and counts only the head', async () => {
    process.kill(cluster.pidOf(survivor), 'SIGKILL');
    const nodes = await eventually(
      () => queryNodes(cluster.address, cluster.token),
      (all) => all.find((node) => node.nodeId === survivor)?.alive === false,
    );
    assert.deepEqual(
      nodes.find((node) => node.nodeId === survivor),
      { nodeId: survivor, alive: false, total: { CPU: 2 }, available: { CPU: 0 } },
      'a dead node reports nothing available, whatever its last heartbeat said',
    );
    const status = await cluster.run([cli, 'status', '--address', cluster.address, '--token', cluster.token]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /1 node alive, 2 dead/);
    assert.match(status.stdout, new RegExp(`${survivor}\\s+DEAD\\s+0/2\\n`));
    assert.match(status.stdout, new RegExp(`${cluster.headNodeId}\\s+ALIVE\\s+2/2\\n`));
    assert.match(status.stdout, /\n {2}0\/2 CPU\n/);
  });
});
