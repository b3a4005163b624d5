/**
 * A driver on the machine of a node other than the head attaches to that node (issue 10, item 7: "a
 * driver on the second node reading a 256 MiB object made on the first"). A head and a second node
 * started with the CLI on 127.0.0.1, and driver scripts in child processes that name the second
 * node with TSRAY_NODE_ID (the head's address stays their address):
 *
 * - the driver is attached to the second node (its node id and worker id say so, and a task it
 *   submits with no placement runs there), and a 256 MiB
 *   array made by a task pinned to the head reaches it intact: the second node copied the object into
 *   its store from the head and staged it for the driver in its /dev/shm folder (its node.log says
 *   both), the driver never fell back to TCP, and the head never saw the driver's connection;
 * - the cluster's listings reach such a driver (its node passes the query on to the head);
 * - with no TSRAY_NODE_ID, a driver attaches to the head when the head was started on its machine,
 *   else to the one node of the cluster started there (a sessions root that records only it);
 * - such a driver rides out a `kill -9` of the head (its supervisor starts it again): the driver's
 *   connection to its node never breaks, and its actor there keeps its state;
 * - a TSRAY_NODE_ID that names no node of the machine fails with one line naming it;
 * - when its node dies, a driver waiting in `get` fails at once with an error naming the node, and
 *   does not hang or move to the head.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { killPids, nodeRecord, printedLines, recordedNodePids, runNode, ScriptProcess, startTestCluster } from '../support/cluster.js';
import type { TestCluster } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';
import { eventually } from '../support/eventually.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const sizeBytes = 256 * 1024 * 1024;

const readScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
const context = tsray.getRuntimeContext();
console.log('ATTACHED', info.nodeId, context.nodeId, context.workerId);
// With no placement asked for, a task leases from the driver's node first.
const where = tsray.remote(() => tsray.getRuntimeContext().nodeId);
console.log('RAN_ON', await tsray.get(where.remote()));
const make = tsray.remote((n) => {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 4093) bytes[i] = (i / 4093) % 251;
  bytes[n - 1] = 7;
  return bytes;
});
const ref = make.options({ schedulingStrategy: { nodeId: process.env.HEAD_NODE, soft: false } }).remote(${sizeBytes});
console.log('OBJECT', ref.id);
const value = await tsray.get(ref);
let wrong = 0;
for (let i = 0; i < ${sizeBytes} - 1; i += 4093) if (value[i] !== (i / 4093) % 251) wrong += 1;
console.log('GOT', value.constructor.name, value.length, wrong, value[${sizeBytes} - 1]);
const listed = (await tsray.state.listObjects()).find((object) => object.objectId === ref.id);
console.log('LISTED', listed === undefined ? 'none' : listed.size);
await tsray.shutdown();
console.log('DONE yes');
`;

const defaultScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
const where = tsray.remote(() => tsray.getRuntimeContext().nodeId);
console.log('ATTACHED', info.nodeId, await tsray.get(where.remote()));
await tsray.shutdown();
`;

const restartScript = `
import * as tsray from 'tsray';
import { createInterface } from 'node:readline';
const info = await tsray.init();
class Counter { n = 0; add(k) { this.n += k; return this.n; } }
const counter = tsray.remote(Counter).options({ name: 'counter', schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote();
console.log('BEFORE', await tsray.get(counter.add.remote(5)));
const input = createInterface({ input: process.stdin });
await input[Symbol.asyncIterator]().next();
// Open, stdin would keep the script from exiting.
input.close();
process.stdin.destroy();
// The head was killed: these wait until its supervisor started it again and the node reconnected.
console.log('AFTER', await tsray.get(counter.add.remote(1)));
let head;
for (let round = 0; round < 200 && head === undefined; round += 1) {
  head = (await tsray.nodes()).find((node) => node.alive && node.nodeId !== info.nodeId && node.nodeId !== process.env.HEAD_NODE)?.nodeId;
  if (head === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
}
const where = tsray.remote(() => tsray.getRuntimeContext().nodeId);
let ranOn;
// The GCS knows the new head a little before the cluster view that names it reaches this node's raylet.
for (let round = 0; round < 200 && ranOn === undefined; round += 1) {
  try {
    ranOn = await tsray.get(where.options({ schedulingStrategy: { nodeId: head, soft: false } }).remote());
  } catch (error) {
    if (error.name !== 'TaskUnschedulableError') throw error;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
console.log('NEW_HEAD', head, ranOn);
console.log('STILL', tsray.getRuntimeContext().nodeId);
await tsray.shutdown();
`;

const waitScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
console.log('ATTACHED', info.nodeId);
const slow = tsray.remote(() => new Promise((resolve) => setTimeout(() => resolve(1), 120_000)));
const ref = slow.remote();
console.log('WAITING yes');
try {
  console.log('GOT', await tsray.get(ref));
} catch (error) {
  console.log('FAILED', JSON.stringify(error.message));
}
try {
  tsray.put(1);
  console.log('LATER put');
} catch (error) {
  console.log('LATER', JSON.stringify(error.message));
}
`;

/** The script's exit code, or a failure if it still runs after `timeoutMs` (a driver that hangs). */
async function exitedWithin(script: ScriptProcess, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      script.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the driver script did not exit within ${timeoutMs} ms; stderr: ${script.errors}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

void describe('a driver attached to the second node', () => {
  let cluster: TestCluster;
  let second: string;
  const scripts: DriverScript[] = [];
  const processes: ScriptProcess[] = [];
  const roots: string[] = [];

  before(async () => {
    cluster = await startTestCluster(cli, 'tsray-nonhead-driver-', ['--num-cpus', '1'], [['--num-cpus', '1']]);
    second = cluster.nodeIds[0] ?? '';
  });

  after(() => {
    for (const script of processes) script.kill();
    killPids(recordedNodePids(join(cluster.root, 'cluster')));
    cluster.stop();
    for (const script of scripts) script.remove();
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  /** A node's node.log (its session dir is in its record). */
  const nodeLog = (nodeId: string): string => readFileSync(join(nodeRecord(join(cluster.root, 'cluster'), nodeId).sessionDir, 'node.log'), 'utf8');

  void test('reads a 256 MiB object made on the head through its node and its /dev/shm folder', async () => {
    const written = writeDriverScript('cluster-nonhead-read', readScript);
    scripts.push(written);
    const output = await cluster.run([written.path], { TSRAY_ADDRESS: cluster.address, TSRAY_NODE_ID: second, HEAD_NODE: cluster.headNodeId });
    assert.equal(output.code, 0, output.stderr);
    const lines = printedLines(output.stdout);
    const [infoNode, contextNode, workerId = ''] = (lines.get('ATTACHED') ?? '').split(' ');
    assert.equal(infoNode, second, 'init() reports the node the driver attached to, not the head');
    assert.equal(contextNode, second);
    assert.ok(workerId.startsWith(`${second}.d`), `the driver is a worker of the second node, not ${workerId}`);
    assert.equal(lines.get('RAN_ON'), second, "the driver's task leased from its node's raylet");
    assert.equal(lines.get('GOT'), `Uint8Array ${sizeBytes} 0 7`, 'the array arrived whole, with its pattern');
    assert.ok(Number(lines.get('LISTED')) >= sizeBytes, `the cluster's listing reached the driver through its node: ${lines.get('LISTED')}`);
    assert.equal(lines.get('DONE'), 'yes');
    assert.doesNotMatch(output.stderr, /move over TCP/, "the driver found its node's folder in /dev/shm");
    const objectId = lines.get('OBJECT') ?? '';
    // The node writes what moved through its folder when it sees the driver's connection close.
    const secondLog = await eventually(() => Promise.resolve(nodeLog(second)), (text) => text.includes(`driver ${workerId} left`));
    assert.match(secondLog, new RegExp(`node ${second} copied object ${objectId.replace(/\./g, '\\.')} \\(256\\.0 MiB\\) from node ${cluster.headNodeId}`), "the object came into the second node's store from the head");
    const mapped = new RegExp(`driver ${workerId.replace(/\./g, '\\.')} left; 1 objects \\((\\d+) bytes\\) moved between it and node ${second} through the shared mapping`).exec(secondLog);
    assert.ok(mapped !== null && Number(mapped[1]) >= sizeBytes, `the driver read it from the second node's folder in /dev/shm: ${secondLog}`);
    assert.doesNotMatch(nodeLog(cluster.headNodeId), new RegExp(`driver ${workerId.replace(/\./g, '\\.')} left|\\(driver\\) at`), 'the head never had the driver attached');
  });

  void test('with no TSRAY_NODE_ID, a driver on a machine that runs a node of the cluster but not its head attaches to that node', async () => {
    // A machine that started only the second node: its sessions root records that node and no head.
    const elsewhere = mkdtempSync(join(tmpdir(), 'tsray-nonhead-machine-'));
    roots.push(elsewhere);
    const clusterDir = join(cluster.root, 'cluster');
    mkdirSync(join(elsewhere, 'cluster', 'nodes'), { recursive: true });
    const { pid } = nodeRecord(clusterDir, second);
    copyFileSync(join(clusterDir, 'nodes', `${pid}.json`), join(elsewhere, 'cluster', 'nodes', `${pid}.json`));
    const written = writeDriverScript('cluster-nonhead-default', defaultScript);
    scripts.push(written);
    const output = await runNode([written.path], { TSRAY_SESSIONS_ROOT: elsewhere, TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: cluster.token, TSRAY_NODE_ID: '' });
    assert.equal(output.code, 0, output.stderr);
    assert.equal(printedLines(output.stdout).get('ATTACHED'), `${second} ${second}`, 'the driver attached to the node of its machine, and its task ran there');
    // The head named as localhost is the head recorded at 127.0.0.1: the same node is found.
    const byName = await runNode([written.path], { TSRAY_SESSIONS_ROOT: elsewhere, TSRAY_ADDRESS: cluster.address.replace('127.0.0.1', 'localhost'), TSRAY_TOKEN: cluster.token, TSRAY_NODE_ID: '' });
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(printedLines(byName.stdout).get('ATTACHED'), `${second} ${second}`, 'a driver given localhost:PORT attached to the node recorded for 127.0.0.1:PORT');
    // Where the head was started on the machine too, the head stays the default.
    const here = await cluster.run([written.path], { TSRAY_ADDRESS: cluster.address, TSRAY_NODE_ID: '' });
    assert.equal(here.code, 0, here.stderr);
    assert.match(printedLines(here.stdout).get('ATTACHED') ?? '', new RegExp(`^${cluster.headNodeId} `));
  });

  void test("rides out a kill -9 of the head: its node reconnects to the restarted head, and the driver's actor and calls go on", async () => {
    const written = writeDriverScript('cluster-nonhead-restart', restartScript);
    scripts.push(written);
    const script = new ScriptProcess(written.path, { TSRAY_SESSIONS_ROOT: cluster.root, TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: '', TSRAY_NODE_ID: second, HEAD_NODE: cluster.headNodeId });
    processes.push(script);
    assert.equal(await script.waitFor('BEFORE'), '5');
    // The head's node process dies; its supervisor starts it again under a new node id.
    process.kill(cluster.pidOf(cluster.headNodeId), 'SIGKILL');
    script.say('go');
    assert.equal(await script.waitFor('AFTER', 60_000), '6', "the actor on the driver's node kept its state");
    const [newHead, ranOn] = (await script.waitFor('NEW_HEAD')).split(' ');
    assert.ok(newHead !== undefined && newHead !== 'undefined' && newHead !== second && newHead !== cluster.headNodeId, `a new head node: ${newHead}`);
    assert.equal(ranOn, newHead, 'a task pinned to the restarted head ran there');
    assert.equal(await script.waitFor('STILL'), second, 'the driver stayed attached to its node');
    assert.equal(await exitedWithin(script, 20_000), 0, script.errors);
  });

  void test('a TSRAY_NODE_ID that names no node here fails with one line naming it', async () => {
    const written = writeDriverScript('cluster-nonhead-bad', readScript);
    scripts.push(written);
    const output = await cluster.run([written.path], { TSRAY_ADDRESS: cluster.address, TSRAY_NODE_ID: 'n00000000', HEAD_NODE: cluster.headNodeId });
    assert.notEqual(output.code, 0);
    assert.match(output.stderr, /TSRAY_NODE_ID=n00000000 names no node running on this machine \(it runs .*\(head\)/);
    assert.equal(printedLines(output.stdout).get('ATTACHED'), undefined);
  });

  void test('when its node dies, a waiting get fails at once naming the node, and later calls say tsray is not initialized', async () => {
    const written = writeDriverScript('cluster-nonhead-death', waitScript);
    scripts.push(written);
    const script = new ScriptProcess(written.path, { TSRAY_SESSIONS_ROOT: cluster.root, TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: '', TSRAY_NODE_ID: second, HEAD_NODE: cluster.headNodeId });
    processes.push(script);
    assert.equal(await script.waitFor('ATTACHED'), second);
    await script.waitFor('WAITING');
    killPids([cluster.pidOf(second)]);
    // The bound is far below the driver's reconnect window (60 s): the driver does not wait for its node.
    const failed = await script.waitFor('FAILED', 15_000);
    assert.match(failed, new RegExp(`its node ${second} is gone`), failed);
    assert.match(await script.waitFor('LATER'), /tsray is not initialized/);
    assert.equal(await exitedWithin(script, 20_000), 0, script.errors);
  });
});
