/**
 * Placement across a cluster of real processes (issue 10): a head and two nodes on 127.0.0.1, one of
 * them with a custom resource. A driver attached to the head runs tasks and actors with SPREAD, a
 * custom resource, hard and soft node affinity, and the default strategy while the head is full
 * (spillback, also of tasks that queued at the head while every other node looked busy); each task
 * reports the node it ran on. A request no node can ever fit waits: a get of it with a timeout says
 * why, and `tsray status` shows it as infeasible demand until its driver ends.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { ScriptProcess, startTestCluster } from '../support/cluster.js';
import type { TestCluster } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';
import { eventually } from '../support/eventually.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');

const placementScript = `
import * as tsray from 'tsray';
import { createInterface } from 'node:readline';
const lines = createInterface({ input: process.stdin });
const info = await tsray.init();
const plain = process.env.PLAIN_NODE;
const where = tsray.remote(async (ms) => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return tsray.getRuntimeContext().nodeId;
});
const show = async (key, call) => {
  try { console.log(key, JSON.stringify(await call())); } catch (error) { console.log(key, JSON.stringify({ name: error.name, message: error.message })); }
};
await show('SPREAD', () => tsray.get(Array.from({ length: 9 }, () => where.options({ schedulingStrategy: 'SPREAD' }).remote(100))));
await show('GPU', () => tsray.get(Array.from({ length: 3 }, () => where.options({ resources: { gpu: 1 } }).remote(0))));
class Probe { where() { return tsray.getRuntimeContext().nodeId; } }
const Probes = tsray.remote(Probe);
await show('GPU_ACTOR', () => tsray.get(Probes.options({ resources: { gpu: 1 } }).remote().where.remote()));
await show('HARD', () => tsray.get(Array.from({ length: 3 }, () => where.options({ schedulingStrategy: { nodeId: plain, soft: false } }).remote(0))));
await show('SOFT', () => tsray.get(where.options({ schedulingStrategy: { nodeId: plain, soft: true } }).remote(0)));
await show('SOFT_UNKNOWN', () => tsray.get(where.options({ schedulingStrategy: { nodeId: 'n00000000', soft: true } }).remote(0)));
await show('HARD_UNKNOWN', () => tsray.get(where.options({ schedulingStrategy: { nodeId: 'n00000000', soft: false } }).remote(0)));
// The head (the driver's node) is made full: two actors hold its two CPUs while they live.
const holders = [0, 1].map(() => Probes.options({ numCpus: 1, schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote());
await show('HOLDERS', () => tsray.get(holders.map((holder) => holder.where.remote())));
// The other nodes are made busy too, until the head has seen them busy: the tasks below then queue
// at the full head, and must move on as soon as a node frees up (a view that was stale when they
// arrived must not keep them behind actors that never end). A bounded get: were they ever to wait,
// its GetTimeoutError says for what.
const busy = [plain, plain, process.env.GPU_NODE].map((nodeId) => where.options({ schedulingStrategy: { nodeId, soft: false } }).remote(2500));
await new Promise((resolve) => setTimeout(resolve, 1000));
await show('SPILLED', () => tsray.get(Array.from({ length: 6 }, () => where.remote(50)), { timeout: 30000 }));
await tsray.get(busy);
for (const holder of holders) tsray.kill(holder);
await show('INFEASIBLE', () => tsray.get(where.options({ resources: { tpu: 1 } }).remote(0), { timeout: 1000 }));
// An actor no node can host waits too; both stay pending until the test has seen them in tsray status.
const unplaceable = Probes.options({ resources: { tpu: 2 } }).remote();
await show('INFEASIBLE_ACTOR', () => tsray.get(unplaceable.where.remote(), { timeout: 3000 }));
console.log('WAITING yes');
await new Promise((resolve) => lines.once('line', resolve));
lines.close();
await tsray.shutdown();
console.log('DONE yes');
`;

void describe('placement across a cluster of processes', () => {
  const scripts: DriverScript[] = [];
  const children: ScriptProcess[] = [];
  let cluster: TestCluster;

  before(async () => {
    cluster = await startTestCluster(cli, 'tsray-placement-', ['--num-cpus', '2'], [['--num-cpus', '2'], ['--num-cpus', '1', '--resources', '{"gpu":1}']]);
  });

  afterEach((t) => cluster?.noteOutcome(t));

  after(() => {
    for (const child of children) child.kill();
    for (const script of scripts) script.remove();
    cluster?.stop();
  });

  void test('SPREAD, a custom resource, node affinity, spillback from a full head, and an infeasible request', async () => {
    const [plain = '', gpu = ''] = cluster.nodeIds;
    const head = cluster.headNodeId;
    const written = writeDriverScript('cluster-placement', placementScript);
    scripts.push(written);
    const driver = new ScriptProcess(written.path, { TSRAY_SESSIONS_ROOT: cluster.root, TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: '', PLAIN_NODE: plain, GPU_NODE: gpu });
    children.push(driver);
    await driver.waitFor('WAITING', 90_000);
    const status = (): Promise<string> => cluster.run([cli, 'status', '--address', cluster.address, '--token', cluster.token]).then((run) => run.stdout + run.stderr);
    // Pending demand reaches the GCS with the raylets' next heartbeats.
    const pending = await eventually(status, (text) => (text.match(/infeasible/g) ?? []).length === 2, 40);
    assert.match(pending, /\npending demand \(tasks and actors waiting for resources\):\n {2}\{CPU: 1, tpu: 1\}: 1 infeasible [^\n]*\n {2}\{tpu: 2\}: 1 infeasible [^\n]*\n$/);
    driver.say('END');
    await driver.waitFor('DONE');
    assert.equal(await driver.exited, 0, driver.errors);
    // The driver's leases ended with it, and so did its actor.
    assert.match(await eventually(status, (text) => text.includes('pending demand: none'), 40), /\npending demand: none\n$/);
    const lines = driver.lines;
    const value = <T>(key: string): T => JSON.parse(lines.get(key) ?? 'null') as T;

    assert.deepEqual([...new Set(value<string[]>('SPREAD'))].sort(), [head, plain, gpu].sort(), 'SPREAD should use every node');
    assert.deepEqual(value<string[]>('GPU'), [gpu, gpu, gpu], 'tasks needing gpu run on the node that has it');
    assert.equal(value<string>('GPU_ACTOR'), gpu);
    assert.deepEqual(value<string[]>('HARD'), [plain, plain, plain]);
    assert.equal(value<string>('SOFT'), plain);
    assert.ok([head, plain, gpu].includes(value<string>('SOFT_UNKNOWN')), 'soft affinity to an unknown node falls back to any node');
    const hardUnknown = value<{ name: string; message: string }>('HARD_UNKNOWN');
    assert.equal(hardUnknown.name, 'TaskUnschedulableError');
    assert.match(hardUnknown.message, /n00000000.*not in the cluster/);

    assert.deepEqual(value<string[]>('HOLDERS'), [head, head]);
    const spilled = value<string[]>('SPILLED');
    assert.ok(Array.isArray(spilled) && spilled.length === 6, `the spilled tasks should all return: ${lines.get('SPILLED')}`);
    assert.ok(spilled.every((nodeId) => nodeId === plain || nodeId === gpu), `with the head full, tasks should spill to the other nodes: ${spilled.join(', ')}`);

    const infeasible = value<{ name: string; message: string }>('INFEASIBLE');
    assert.equal(infeasible.name, 'GetTimeoutError');
    assert.match(infeasible.message, /lease request is infeasible: no alive node can ever fit \{CPU: 1, tpu: 1\}: node n[0-9a-f]+ lacks tpu \(needs 1, has 0\)/);
    // The driver said so itself, once for the class, as Ray's driver warns of infeasible tasks.
    const warnings = driver.errors.split('\n').filter((line) => line.startsWith('tsray: warning: a task of this driver is infeasible: no alive node can ever fit {CPU: 1, tpu: 1}'));
    assert.equal(warnings.length, 1, driver.errors);
    // An actor no node can host: its pending call says why, and so does the driver, once.
    const infeasibleActor = value<{ name: string; message: string }>('INFEASIBLE_ACTOR');
    assert.equal(infeasibleActor.name, 'GetTimeoutError');
    assert.match(infeasibleActor.message, /is not created yet, and its creation is infeasible: no alive node can ever fit \{tpu: 2\}/);
    const actorWarnings = driver.errors.split('\n').filter((line) => /^tsray: warning: actor \S+ of this driver is infeasible: no alive node can ever fit \{tpu: 2\}/.test(line));
    assert.equal(actorWarnings.length, 1, driver.errors);
  });
});
