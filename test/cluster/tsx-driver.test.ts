/**
 * A driver run with tsx against a cluster of processes (API.md: a function from another module is
 * shipped by reference, "TypeScript modules too, when the driver runs under tsx"): the head started
 * with `tsray start` runs without tsx, so its workers register tsx's hooks themselves before they
 * first import a TypeScript module. Without that, the task failed with "Unknown file extension .ts".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { killPids, recordedNodePids, runnerIn } from '../support/cluster.js';
import { packageRoot } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-tsx-cluster-'));
const clusterDir = join(root, 'cluster');
const run = runnerIn(root);
let head: { address: string; nodeId: string };

before(async () => {
  const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '2']);
  assert.equal(started.code, 0, started.stderr);
  head = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as typeof head;
});

after(() => {
  killPids(recordedNodePids(clusterDir));
  rmSync(root, { recursive: true, force: true });
});

void test('a tsx driver connected to a cluster runs a function and an actor class from a .ts module on a node not run under tsx', async () => {
  const output = await run(['--import', 'tsx', join(packageRoot, 'test/fixtures/tsx-cluster-driver.ts')], { TSRAY_ADDRESS: head.address });
  assert.equal(output.code, 0, `${output.stdout}\n${output.stderr}`);
  const results = JSON.parse(output.stdout.trim().split('\n').pop() ?? '{}') as { module: unknown; actor: unknown; node: string };
  assert.deepEqual(results.module, { text: 'hello world' });
  assert.deepEqual(results.actor, [2, 5]);
  assert.equal(results.node, head.nodeId);
});
