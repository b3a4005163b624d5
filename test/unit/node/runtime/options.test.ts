/**
 * Wrong option values fail where they are given: `.options()` checks them as `tsray.remote` does (not
 * only at a later `.remote()`), `init` rejects a non-object and unreadable CPU counts, and messages
 * show values as they are (NaN, Infinity, '2') rather than as JSON would print them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { makeActorHandle } from '../../../../node/runtime/handles.js';

class Counter {
  count = 0;
  bump(): number {
    return ++this.count;
  }
}

void test('RemoteFunction.options checks its values at once', () => {
  const f = tsray.remote((x: number) => x);
  assert.throws(() => f.options({ maxRetries: 'x' as unknown as number }), (error: unknown) => error instanceof TypeError && /maxRetries must be a whole number ≥ -1 .*, not 'x'/.test(error.message));
  assert.throws(() => f.options({ numReturns: 0 }), (error: unknown) => error instanceof RangeError && /numReturns must be a whole number ≥ 1, not 0/.test(error.message));
  assert.throws(() => f.options({ numCpus: NaN }), (error: unknown) => error instanceof RangeError && /numCpus must be a number ≥ 0, not NaN/.test(error.message));
  assert.throws(() => f.options({ resources: { GPU: Infinity } }), /resources\.GPU must be a number ≥ 0, not Infinity/);
  assert.throws(() => f.options({ schedulingStrategy: 'NEAR' as 'SPREAD' }), /schedulingStrategy must be .*, not 'NEAR'/);
  assert.throws(() => f.options({ retries: 2 } as never), /unknown task option 'retries'/);
  assert.throws(() => f.options(3 as never), (error: unknown) => error instanceof TypeError && /options takes an object of task options .*, not 3/.test(error.message));
  const good = f.options({ maxRetries: 0 }).options({ numReturns: 2 });
  assert.deepEqual(good.taskOptions, { maxRetries: 0, numReturns: 2 });
});

void test('get, wait, cancel, kill and getActor refuse an option they do not take, before anything waits', async () => {
  // No cluster is needed: the options are checked first. A misspelt timeout used to be ignored, and
  // a get of a task that could never run then waited for ever.
  const ref = { objectId: 'x' } as never;
  await assert.rejects(tsray.get(ref, { timeoutMs: 500 } as never), (error: unknown) => error instanceof TypeError && /unknown get option 'timeoutMs'; allowed: timeout, copy/.test(error.message));
  await assert.rejects(tsray.get(ref, 500 as never), (error: unknown) => error instanceof TypeError && /get takes an options object .*, not 500/.test(error.message));
  await assert.rejects(tsray.get(ref, null as never), (error: unknown) => error instanceof TypeError && /get takes an options object .*, not null/.test(error.message));
  await assert.rejects(tsray.wait([ref], { num_returns: 1 } as never), /unknown wait option 'num_returns'; allowed: numReturns, timeout, fetchLocal/);
  assert.throws(() => tsray.cancel(ref, { forced: true } as never), /unknown cancel option 'forced'; allowed: force, recursive/);
  assert.throws(() => tsray.kill({ actorId: 'a' }, { no_restart: false } as never), /unknown kill option 'no_restart'; allowed: noRestart/);
  await assert.rejects(tsray.getActor('a', { ns: 'x' } as never), /unknown getActor option 'ns'; allowed: namespace/);
});

void test('ActorClass.options checks its values at once', () => {
  const A = tsray.remote(Counter);
  assert.throws(() => A.options({ maxRestarts: 1.5 }), (error: unknown) => error instanceof RangeError && /maxRestarts must be a whole number ≥ -1 .*, not 1\.5/.test(error.message));
  assert.throws(() => A.options({ maxConcurrency: '4' as unknown as number }), (error: unknown) => error instanceof TypeError && /maxConcurrency .*, not '4'/.test(error.message));
  assert.throws(() => A.options({ lifetime: 'forever' as 'detached' }), /lifetime must be 'detached' or 'non_detached', not 'forever'/);
  assert.throws(() => A.options({ name: '' }), /name must be a non-empty string, not ''/);
  assert.throws(() => A.options({ getIfExists: true }), /getIfExists needs a name/);
  assert.throws(() => A.options({ getIfExists: 'yes' as unknown as boolean, name: 'a' }), /getIfExists must be true or false, not 'yes'/);
  assert.throws(() => A.options(null as never), (error: unknown) => error instanceof TypeError && /not null/.test(error.message));
  assert.deepEqual(A.options({ name: 'a' }).options({ getIfExists: true }).actorOptions, { name: 'a', getIfExists: true });
});

void test('an actor method .options checks numReturns at once', () => {
  const handle = makeActorHandle<Counter>({ actorId: 'a-not-created' });
  assert.throws(() => handle.bump.options({ numReturns: 0 }), (error: unknown) => error instanceof RangeError && /numReturns must be a whole number ≥ 1, not 0/.test(error.message));
  assert.throws(() => handle.bump.options({ numReturns: NaN }), /not NaN/);
  assert.throws(() => handle.bump.options({ numRetruns: 2 } as never), /unknown actor method option 'numRetruns'/);
  assert.equal(typeof handle.bump.options({ numReturns: 2 }).remote, 'function');
});

void test('init takes an options object and readable CPU counts', async () => {
  await assert.rejects(tsray.init(5 as never), (error: unknown) => error instanceof TypeError && /init takes an options object such as init\(\{ numCpus: 4 \}\), not 5/.test(error.message));
  await assert.rejects(tsray.init(null as never), /init takes an options object .*, not null/);
  await assert.rejects(tsray.init({ numCpus: NaN }), (error: unknown) => error instanceof RangeError && /numCpus must be a whole number ≥ 1, not NaN/.test(error.message));
  await assert.rejects(tsray.init({ numCpus: Infinity }), (error: unknown) => error instanceof RangeError && /not Infinity/.test(error.message));
  await assert.rejects(tsray.init({ numCpus: '2' as unknown as number }), (error: unknown) => error instanceof TypeError && /numCpus must be a whole number ≥ 1, not '2'/.test(error.message));
  await assert.rejects(tsray.init({ objectStoreMemory: NaN }), /objectStoreMemory must be .*, not NaN/);
  assert.equal(tsray.isInitialized(), false);
});

void test('get checks its refs with or without options: one ref as item 0 of a list, each item of a list by its index', async () => {
  await tsray.init({ numCpus: 1 });
  try {
    const ref = tsray.put(3);
    assert.equal(await tsray.get(ref), 3);
    assert.equal(await tsray.get(ref, undefined), 3);
    assert.equal(await tsray.get(ref, {}), 3);
    assert.deepEqual(await tsray.get([ref, ref]), [3, 3]);
    await assert.rejects(tsray.get(5 as never), (error: unknown) => error instanceof TypeError && /get takes ObjectRefs; item 0 is number/.test(error.message));
    await assert.rejects(tsray.get(null as never, { timeout: 5 }), /get takes ObjectRefs; item 0 is null/);
    await assert.rejects(tsray.get([ref, 'x'] as never), /get takes ObjectRefs; item 1 is string/);
  } finally {
    await tsray.shutdown();
  }
});
