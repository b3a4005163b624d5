/**
 * Batches of tasks that each wait in a get for a task of their own, from one driver attached to a
 * cluster of two real processes (2 CPUs each): every batch completes with the right values. The
 * driver pipelines such tasks onto its leases, and a worker hands back those queued behind a task
 * that blocked. When a blocked task's reply overtook the hand-back of the task behind it, the owner
 * reopened the lease for more tasks behind one that never ran, and they came back in turn without
 * end (116k hand-backs in 10 s; core/owner/leasing.ts, `releaseLease`). Blocked tasks that go on at
 * once made the overtaking common: a second batch of 400 timed out in 3 of 9 runs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { ScriptProcess, startTestCluster } from '../support/cluster.js';
import type { TestCluster } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');

const nestedScript = `
import * as tsray from 'tsray';
await tsray.init();
const leaf = tsray.remote(function leaf(x) { return x * 2; });
const parent = tsray.remote(async function parent(leaf, i) { return (await tsray.get(leaf.remote(i))) + 1; });
for (const [index, n] of [50, 200, 400, 400].entries()) {
  try {
    const out = await tsray.get(Array.from({ length: n }, (_, i) => parent.remote(leaf, i)), { timeout: 40000 });
    console.log('BATCH' + index, JSON.stringify({ wrong: out.filter((v, i) => v !== i * 2 + 1).length }));
  } catch (error) {
    console.log('BATCH' + index, JSON.stringify({ error: error.name + ': ' + error.message }));
  }
}
await tsray.shutdown();
console.log('DONE yes');
`;

void describe('nested tasks on a cluster of processes', () => {
  const scripts: DriverScript[] = [];
  const children: ScriptProcess[] = [];
  let cluster: TestCluster;

  before(async () => {
    cluster = await startTestCluster(cli, 'tsray-nested-', ['--num-cpus', '2'], [['--num-cpus', '2']]);
  });

  afterEach((t) => cluster?.noteOutcome(t));

  after(() => {
    for (const child of children) child.kill();
    for (const script of scripts) script.remove();
    cluster?.stop();
  });

  void test('batches of tasks that each wait for a task of their own all complete, from one driver (50, 200, 400, 400)', async () => {
    const written = writeDriverScript('cluster-nested', nestedScript);
    scripts.push(written);
    const driver = new ScriptProcess(written.path, { TSRAY_SESSIONS_ROOT: cluster.root, TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: '' });
    children.push(driver);
    await driver.waitFor('DONE', 200_000);
    assert.equal(await driver.exited, 0, driver.errors);
    for (const [index, n] of [50, 200, 400, 400].entries()) assert.deepEqual(JSON.parse(driver.lines.get(`BATCH${index}`) ?? 'null'), { wrong: 0 }, `batch ${index + 1}, of ${n}`);
  });
});
