/**
 * A driver on its head's host moves large objects through the head's shared mapping in /dev/shm,
 * not over its TCP connection (issue 10, item 2; node/store/shm-handoff.ts). A head started with
 * the CLI, bounded to 40 MiB of mapping (TSRAY_SHM_STORE_BYTES), and driver scripts in child processes:
 *
 * - a driver's get, put (captured at the call, though it zeroes its array after), put read back and
 *   large argument all go through the mapping: the head's node.log counts them when the driver
 *   leaves, and the driver never says it fell back to TCP; the staged copy of an object goes once
 *   the driver lets go of it, and a put's file once the head took it;
 * - past the bound, a put fails naming TSRAY_SHM_STORE_BYTES, and a get goes over TCP, said once;
 * - a driver that finds no mapping (TSRAY_SHM_DIR elsewhere) says so once and uses TCP, intact;
 * - `tsray stop` removes the head's folder, and a head killed with SIGKILL leaves one that the
 *   next `tsray stop` sweeps.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { handoffDir } from '../../node/store/shm-handoff.js';
import { directoryBytes, killPids, nodeRecord, printedLines, recordedNodePids, runnerIn } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-shm-objects-'));
const clusterDir = join(root, 'cluster');
const run = runnerIn(root);
/** The head's mapping bound: room for the values below, not for a 48 MiB one. */
const limitEnv = { TSRAY_SHM_STORE_BYTES: String(40 * 1024 * 1024) };

const mappedScript = `
import * as tsray from 'tsray';
import { readdirSync } from 'node:fs';
const info = await tsray.init();
const folder = process.env.HANDOFF_DIR;
const files = (prefix) => readdirSync(folder).filter((name) => name.startsWith(prefix)).length;
const ramp = tsray.remote((n) => Float64Array.from({ length: n }, (_, i) => i * 0.5 + 1));
// 8 MiB made on the head, read by this driver.
let ref = ramp.remote(1024 * 1024);
const big = await tsray.get(ref);
let wrong = 0;
for (let i = 0; i < big.length; i += 1) if (big[i] !== i * 0.5 + 1) wrong += 1;
big[0] = -7;
const again = await tsray.get(ref);
console.log('BIG', big.constructor.name, big.length, wrong, again[0]);
console.log('STAGED', files('g-'));
// A put captured at the call, though the array is zeroed just after.
const values = Float64Array.from({ length: 2 * 1024 * 1024 }, (_, i) => i % 1000);
const put = tsray.put(values);
values.fill(0);
const sum = tsray.remote((array) => array.reduce((total, x) => total + x, 0));
console.log('SUM', await tsray.get(sum.remote(put)), Float64Array.from({ length: 2 * 1024 * 1024 }, (_, i) => i % 1000).reduce((total, x) => total + x, 0));
console.log('PUT_FILES', files('p-'));
console.log('PUT_BACK', (await tsray.get(put))[999], await tsray.get(sum.remote(new Float64Array(300_000).fill(2))));
// Once the driver lets go of the head's object, its staged copy goes.
const bigId = ref.id;
ref = undefined;
let released = false;
for (let round = 0; round < 100 && !released; round += 1) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  // The driver removes the files of what its owner let go of as messages pass.
  await tsray.get(sum.remote(new Float64Array(4).fill(1)));
  released = !readdirSync(folder).some((name) => name.startsWith('g-') && name.includes('-' + bigId + '-'));
}
console.log('RELEASED', released);
// Past the bound: a put fails naming it; a get goes over TCP, intact.
try {
  tsray.put(new Float64Array(6 * 1024 * 1024).fill(1));
  console.log('FULL_PUT none');
} catch (error) {
  console.log('FULL_PUT', error.name, error.message.includes('TSRAY_SHM_STORE_BYTES'));
}
const large = await tsray.get(ramp.remote(6 * 1024 * 1024));
console.log('FULL_GET', large.length, large[6 * 1024 * 1024 - 1] === (6 * 1024 * 1024 - 1) * 0.5 + 1);
console.log('WORKER', tsray.getRuntimeContext().workerId);
console.log('SESSION', info.sessionDir);
await tsray.shutdown();
console.log('DONE yes');
`;

const fallbackScript = `
import * as tsray from 'tsray';
await tsray.init();
const ramp = tsray.remote((n) => Float64Array.from({ length: n }, (_, i) => i * 0.5 + 1));
const big = await tsray.get(ramp.remote(1024 * 1024));
console.log('BIG', big.length, big[1024 * 1024 - 1] === (1024 * 1024 - 1) * 0.5 + 1);
const values = new Float64Array(1024 * 1024).fill(3);
const put = tsray.put(values);
values.fill(0);
const sum = tsray.remote((array) => array.reduce((total, x) => total + x, 0));
console.log('SUM', await tsray.get(sum.remote(put)));
console.log('WORKER', tsray.getRuntimeContext().workerId);
await tsray.shutdown();
`;

/** The head's node.log (its session dir is in its record). */
function headLog(nodeId: string): string {
  return readFileSync(join(nodeRecord(clusterDir, nodeId).sessionDir, 'node.log'), 'utf8');
}

/** Waits (a few seconds at most) until `check` holds. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let round = 0; round < 100; round += 1) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

void describe("a driver on its head's host moves large objects through /dev/shm", () => {
  const scripts: DriverScript[] = [];
  let head: { address: string; nodeId: string };

  before(async () => {
    const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '2'], limitEnv);
    assert.equal(started.code, 0, started.stderr);
    head = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as typeof head;
  });

  after(() => {
    // Every node process this test started ends, whatever happened: the daemons are detached.
    killPids(recordedNodePids(clusterDir));
    for (const script of scripts) script.remove();
    rmSync(root, { recursive: true, force: true });
  });

  void test('gets, puts and large arguments go through the mapping, captured at the call, and their files go when done', async () => {
    const written = writeDriverScript('cluster-shm-objects', mappedScript);
    scripts.push(written);
    const folder = handoffDir(head.nodeId);
    assert.ok(existsSync(folder), `the head made no folder at ${folder}`);
    const output = await run(['--expose-gc', written.path], { TSRAY_ADDRESS: head.address, HANDOFF_DIR: folder });
    assert.equal(output.code, 0, output.stderr);
    const lines = printedLines(output.stdout);
    assert.equal(lines.get('BIG'), `Float64Array ${1024 * 1024} 0 1`, 'each get reads its own copy out of the mapping');
    assert.equal(lines.get('STAGED'), '1', 'the object the driver read is staged in the mapping while the driver holds it');
    const [sum, expected] = (lines.get('SUM') ?? '').split(' ');
    assert.equal(sum, expected);
    assert.notEqual(sum, '0', 'the put captured the array before the driver zeroed it');
    assert.equal(lines.get('PUT_FILES'), '0', "the head removed the put's file once it took it into its store");
    assert.equal(lines.get('PUT_BACK'), '999 600000');
    assert.equal(lines.get('RELEASED'), 'true', 'the staged copy goes once the driver lets go of the object');
    assert.equal(lines.get('FULL_PUT'), 'ObjectStoreFullError true', 'a put past the bound fails naming TSRAY_SHM_STORE_BYTES');
    assert.equal(lines.get('FULL_GET'), `${6 * 1024 * 1024} true`, 'a get past the bound goes over TCP, intact');
    assert.equal(lines.get('DONE'), 'yes');
    assert.doesNotMatch(output.stderr, /move over TCP/, 'the driver found the mapping');
    // The driver moved over 80 MiB, but its event log keeps descriptors of them, never their bytes.
    const driverLogBytes = directoryBytes(join(lines.get('SESSION') ?? '', 'logs'));
    assert.ok(driverLogBytes > 0 && driverLogBytes < 4 * 1024 * 1024, `the driver's logs take ${driverLogBytes} bytes: values' bytes went into its event log`);
    const workerId = lines.get('WORKER') ?? '';
    // The head says, when the driver leaves, what went through the mapping: the get, its second read
    // needs no new staging, the put, the put read back and the large argument (and no more).
    assert.ok(await eventually(() => headLog(head.nodeId).includes(`driver ${workerId} left; `)), headLog(head.nodeId));
    const log = headLog(head.nodeId);
    const left = log.split('\n').find((line) => line.includes(`driver ${workerId} left; `)) ?? '';
    const moved = Number(/left; (\d+) objects/.exec(left)?.[1]);
    assert.ok(moved >= 4, `at least the get, the put, the put read back and the argument went through the mapping: ${left}`);
    assert.match(log, new RegExp(`sends object \\S+ to driver ${workerId.split('.').pop() ?? ''} over TCP: the shared mapping .* is full`), 'the get past the bound said once that it went over TCP');
    assert.deepEqual(
      readdirSync(folder).filter((name) => name !== 'node.json'),
      [],
      "the driver's files went when it left",
    );
  });

  void test('a driver that finds no mapping says so once and moves its objects over TCP, intact', async () => {
    const written = writeDriverScript('cluster-shm-fallback', fallbackScript);
    scripts.push(written);
    const output = await run([written.path], { TSRAY_ADDRESS: head.address, TSRAY_SHM_DIR: join(root, 'no-such-dir') });
    assert.equal(output.code, 0, output.stderr);
    const lines = printedLines(output.stdout);
    assert.equal(lines.get('BIG'), `${1024 * 1024} true`);
    assert.equal(lines.get('SUM'), String(3 * 1024 * 1024), 'the put captured the array before the driver zeroed it');
    assert.equal(output.stderr.split('\n').filter((line) => line.includes('large objects of this driver move over TCP')).length, 1, output.stderr);
    const workerId = lines.get('WORKER') ?? '';
    assert.doesNotMatch(headLog(head.nodeId), new RegExp(`driver ${workerId} left; `), 'nothing of this driver went through the mapping');
  });

  void test('tsray stop removes the mapping; a killed head leaves one that the next tsray stop sweeps', async () => {
    const folder = handoffDir(head.nodeId);
    const stopped = await run([cli, 'stop']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(existsSync(folder), false, `tsray stop left ${folder}`);
    const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '1'], limitEnv);
    assert.equal(started.code, 0, started.stderr);
    const second = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { nodeId: string; pid: number };
    const secondFolder = handoffDir(second.nodeId);
    assert.ok(existsSync(secondFolder));
    process.kill(second.pid, 'SIGKILL');
    assert.ok(existsSync(secondFolder), 'a killed head cannot remove its folder');
    const swept = await run([cli, 'stop']);
    assert.equal(swept.code, 0, swept.stderr);
    assert.equal(existsSync(secondFolder), false, `the next tsray stop left ${secondFolder}`);
  });
});
