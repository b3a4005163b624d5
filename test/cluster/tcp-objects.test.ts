/**
 * A driver's large puts over TCP: a head started with TSRAY_SHM_STORE_BYTES=0 gives its drivers no
 * shared mapping, so a driver on the same host moves its large values as a driver on another host
 * would. A put is captured at the call (the driver zeroes its array right after, and the task still
 * sums the original), read back by the driver, and logged as a descriptor, never as its bytes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { liveHealthCheckFailureThreshold } from '../../node/cluster/cluster-node.js';
import { readSessionLogs } from '../../node/trace/collect.js';
import { directoryBytes, killPids, nodeRecord, printedLines, recordedNodePids, runnerIn } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-tcp-objects-'));
const clusterDir = join(root, 'cluster');
const run = runnerIn(root);
const noMapping = { TSRAY_SHM_STORE_BYTES: '0' };

const putScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
const length = 2 * 1024 * 1024;
const values = Float64Array.from({ length }, (_, i) => i % 1000);
const expected = values.reduce((total, x) => total + x, 0);
const put = tsray.put(values);
values.fill(0);
const sum = tsray.remote((array) => array.reduce((total, x) => total + x, 0));
console.log('SUM', await tsray.get(sum.remote(put)), expected);
const back = await tsray.get(put);
let wrong = 0;
for (let i = 0; i < length; i += 1) if (back[i] !== i % 1000) wrong += 1;
console.log('BACK', back.constructor.name, back.length, wrong);
// Two more, one passed straight as a task's argument (put implicitly).
console.log('ARG', await tsray.get(sum.remote(new Float64Array(300_000).fill(2))));
console.log('SESSION', info.sessionDir);
await tsray.shutdown();
console.log('DONE yes');
`;

void describe('a driver without its node’s shared mapping puts large values over TCP', () => {
  const scripts: DriverScript[] = [];
  let head = { address: '', nodeId: '' };

  before(async () => {
    const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '1'], noMapping);
    assert.equal(started.code, 0, started.stderr);
    head = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as typeof head;
  });

  after(() => {
    killPids(recordedNodePids(clusterDir));
    for (const script of scripts) script.remove();
    rmSync(root, { recursive: true, force: true });
  });

  void test('a put is captured at the call, pulled by the node, read back whole, and logged as a descriptor', async () => {
    const written = writeDriverScript('cluster-tcp-objects', putScript);
    scripts.push(written);
    const output = await run([written.path], { TSRAY_ADDRESS: head.address });
    assert.equal(output.code, 0, output.stderr);
    assert.match(output.stderr, /move over TCP/, 'the driver found no shared mapping and said so');
    const lines = printedLines(output.stdout);
    const [sum, expected] = (lines.get('SUM') ?? '').split(' ');
    assert.equal(sum, expected, 'the put captured the array before the driver zeroed it');
    assert.notEqual(sum, '0');
    assert.equal(lines.get('BACK'), `Float64Array ${2 * 1024 * 1024} 0`);
    assert.equal(lines.get('ARG'), '600000');
    assert.equal(lines.get('DONE'), 'yes');
    // 16 MiB and more were put, but the driver's event log keeps descriptors of them, never their bytes.
    const driverLogBytes = directoryBytes(join(lines.get('SESSION') ?? '', 'logs'));
    assert.ok(driverLogBytes > 0 && driverLogBytes < 4 * 1024 * 1024, `the driver's logs take ${driverLogBytes} bytes: the put's bytes went into its event log`);
  });

  void test('a head started without health-check flags declares a node dead after 3 s of silence, not half a second', () => {
    const gcs = readSessionLogs(nodeRecord(clusterDir, head.nodeId).sessionDir).find((log) => log.component === 'gcs');
    const started = gcs?.events[0]?.event;
    assert.equal(started?.type, 'gcs/started');
    const config = (started as unknown as { config: { healthCheckPeriodMs: number; healthCheckFailureThreshold: number } }).config;
    assert.equal(config.healthCheckFailureThreshold, liveHealthCheckFailureThreshold);
    assert.equal(config.healthCheckPeriodMs * config.healthCheckFailureThreshold, 3000);
  });
});
