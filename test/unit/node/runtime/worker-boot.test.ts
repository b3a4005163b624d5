/**
 * Worker threads start from one precompiled bundle with V8's code cache (worker-script.cts), and the
 * `tsray` that user modules import there must be the bundle's own copy: otherwise refs, handles and
 * errors that the runtime hands them would fail their `instanceof` checks, and their calls would
 * reach a runtime that was never started.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tsray from '../../../../node/index.js';
import { workerBundlePath, workerScriptBoot } from '../../../../node/runtime/worker-script.cjs';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';
import { bootIdentityRemote } from '../../../support/remote-module.js';

useEmbeddedCluster('worker-boot');

const fail = tsray.remote((): number => {
  throw new Error('planned failure');
});

void test('a module function in a worker sees the runtime through the tsray it imported', async () => {
  const result = await tsray.get(bootIdentityRemote.remote([tsray.put(41), fail.remote()]), { timeout: 30_000 });
  assert.deepEqual(result, { startedFromBundle: true, refIsObjectRef: true, value: 41, failureIsRayTaskError: true, taskIdKnown: true });
});

void test('by-source code in a worker can still import modules', async () => {
  const platform = tsray.remote(async () => (await import('node:os')).platform());
  assert.equal(await tsray.get(platform.remote(), { timeout: 30_000 }), process.platform);
});

void test('the build writes the bundle, and a worker thread accepts the code cache the main thread made', async () => {
  assert.ok(existsSync(workerBundlePath), `${workerBundlePath} should be written by npm run build`);
  const boot = workerScriptBoot();
  assert.ok(boot?.codeCache !== undefined && boot.codeCache.byteLength > 0);
  // The same compile a worker's boot does, in a thread of its own, reporting whether V8 took the cache.
  const rejected = await new Promise<unknown>((resolve, reject) => {
    const thread = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const script = require(workerData.module).compileWorkerScript(workerData.boot.path, workerData.boot.codeCache);
       parentPort.postMessage(script.cachedDataRejected);`,
      { eval: true, workerData: { boot, module: fileURLToPath(new URL('../../../../node/runtime/worker-script.cjs', import.meta.url)) } },
    );
    thread.once('message', (message: unknown) => {
      resolve(message);
      void thread.terminate();
    });
    thread.once('error', reject);
  });
  assert.equal(rejected, false);
});
