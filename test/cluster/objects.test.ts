/**
 * Large objects between the processes of a cluster (issue 10, items 2 and 5): a head and a second
 * node started with the CLI on 127.0.0.1, and a driver connected over TCP (it has no node store).
 * A big result made on the second node reaches the driver whole; a big array the driver puts is
 * summed by a task on the second node; an object of the head read three times on the second node
 * crosses once (the second node keeps a copy, node-objects.ts, and says so in its node.log), and
 * the copy is freed once the driver lets go of the object.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { directoryBytes, killPids, nodeRecord, printedLines, recordedNodePids, runnerIn } from '../support/cluster.js';
import type { ProcessRun } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-objects-'));
const clusterDir = join(root, 'cluster');

const run = runnerIn(root);

/** The lines a script printed as `KEY value`, by key. */
function printed(output: ProcessRun): Map<string, string> {
  return printedLines(output.stdout);
}

const objectsScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
const onOther = { schedulingStrategy: { nodeId: process.env.OTHER_NODE, soft: false } };
const onHead = { schedulingStrategy: { nodeId: info.nodeId, soft: false } };
const ramp = tsray.remote((n) => Float64Array.from({ length: n }, (_, i) => i * 0.5 + 1));
// 16 MiB made on the other node, read by this driver (which has no store of its own).
const big = await tsray.get(ramp.options(onOther).remote(2 * 1024 * 1024));
let wrong = 0;
for (let i = 0; i < big.length; i += 1) if (big[i] !== i * 0.5 + 1) wrong += 1;
console.log('BIG', big.constructor.name, big.length, wrong);
// A big array put by this driver, summed on the other node.
const values = Float64Array.from({ length: 1024 * 1024 }, (_, i) => i % 1000);
const put = tsray.put(values);
values.fill(0);
const sum = tsray.remote((array) => array.reduce((total, x) => total + x, 0));
console.log('SUM', await tsray.get(sum.options(onOther).remote(put)), Float64Array.from({ length: 1024 * 1024 }, (_, i) => i % 1000).reduce((total, x) => total + x, 0));
// The driver's put read back by the driver, and passed as a large argument (put implicitly).
console.log('PUT_BACK', (await tsray.get(put))[999], (await tsray.get(sum.options(onOther).remote(new Float64Array(300_000).fill(2)))));
// An object of the head read on the other node three times: twice at once, then once more.
let shared = ramp.options(onHead).remote(1024 * 1024);
await tsray.wait([shared]);
const probe = tsray.remote(async (array) => { await new Promise((resolve) => setTimeout(resolve, 200)); return array.length + array[7]; });
console.log('TWICE', JSON.stringify(await tsray.get([probe.options(onOther).remote(shared), probe.options(onOther).remote(shared)])));
console.log('THIRD', await tsray.get(probe.options(onOther).remote(shared)));
console.log('SHARED_ID', shared.id);
// Once this driver lets go of it, the head frees it and tells the other node to free its copy.
const sharedId = shared.id;
shared = undefined;
const { readFileSync } = await import('node:fs');
let freed = false;
for (let round = 0; round < 100 && !freed; round += 1) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  freed = readFileSync(process.env.OTHER_NODE_LOG, 'utf8').includes('freed its copy of object ' + sharedId + '\\n');
}
console.log('FREED', freed);
console.log('SESSION', info.sessionDir);
await tsray.shutdown();
console.log('DONE yes');
`;

void describe('large objects between the processes of a cluster', () => {
  const scripts: DriverScript[] = [];
  let head: { address: string; token: string; nodeId: string };
  let otherNode = '';

  before(async () => {
    const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '2']);
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

  void test('a big result, a big put and a shared object cross between nodes and the driver, each copied once per node', async () => {
    const written = writeDriverScript('cluster-objects', objectsScript);
    scripts.push(written);
    const otherLog = join(nodeRecord(clusterDir, otherNode).sessionDir, 'node.log');
    const output = await run(['--expose-gc', written.path], { TSRAY_ADDRESS: head.address, OTHER_NODE: otherNode, OTHER_NODE_LOG: otherLog });
    assert.equal(output.code, 0, output.stderr);
    const lines = printed(output);
    assert.equal(lines.get('BIG'), `Float64Array ${2 * 1024 * 1024} 0`);
    const [sum, expected] = (lines.get('SUM') ?? '').split(' ');
    assert.equal(sum, expected);
    assert.notEqual(sum, '0', 'the put captured the array before the driver zeroed it');
    assert.equal(lines.get('PUT_BACK'), '999 600000');
    assert.equal(lines.get('TWICE'), JSON.stringify([1024 * 1024 + 4.5, 1024 * 1024 + 4.5]));
    assert.equal(lines.get('THIRD'), String(1024 * 1024 + 4.5));
    assert.equal(lines.get('FREED'), 'true', 'the other node frees its copy once the driver released the object, while the driver still runs');
    assert.equal(lines.get('DONE'), 'yes');
    const sharedId = lines.get('SHARED_ID') ?? '';
    assert.notEqual(sharedId, '');
    // The driver pulled 16 MiB and more, but its event log keeps descriptors of pulled values, never their bytes.
    const driverLogBytes = directoryBytes(join(lines.get('SESSION') ?? '', 'logs'));
    assert.ok(driverLogBytes > 0 && driverLogBytes < 4 * 1024 * 1024, `the driver's logs take ${driverLogBytes} bytes: the pulled values' bytes went into its event log`);
    const log = readFileSync(otherLog, 'utf8');
    const copies = log.split('\n').filter((line) => line.includes(`copied object ${sharedId} `));
    assert.equal(copies.length, 1, `node ${otherNode} should copy ${sharedId} once for its three readers:\n${log}`);
  });
});
