/**
 * Ownership on the real runtime: an object lives while a ref to it is reachable (the driver's ObjectRef
 * instances, refs held by pending tasks and other objects) and is freed, with its store memory, once
 * none is; refs kept by an actor borrow the object; an object whose owner process died fails with
 * OwnerDiedError.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

const script = writeDriverScript('ownership-check', `import * as tsray from 'tsray';
await tsray.init({ numCpus: 1, sessionDir: process.argv[2] });
const settle = async () => { for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 30)); } };
const count = async () => (await tsray.state.listObjects()).filter((o) => o.owner === 'n1.d1').length;
let big = tsray.put(new Float64Array(1 << 18));
let outer = tsray.put({ inner: big });
const before = await count();
big = undefined;
await settle();
const heldByOuter = await count();
outer = undefined;
await settle();
const after = await count();
// One CPU means one worker at a time, so the same worker runs both tasks.
const makesOwned = tsray.remote(() => ({ inner: tsray.put('owned by a worker') }));
const dies = tsray.remote(() => process.exit(0));
const got = await tsray.get(makesOwned.remote());
let ownerDied = 'no error';
try {
  await tsray.get(dies.options({ maxRetries: 0 }).remote());
} catch {}
try {
  await tsray.get(got.inner, { timeout: 5000 });
  ownerDied = 'got the value';
} catch (error) { ownerDied = error.name; }
// Refs passed to a pending get stay held even if the caller's array is collected meanwhile.
const work = tsray.remote((n) => n * 2);
const collector = setInterval(() => globalThis.gc(), 2);
let gets = 0;
for (let i = 0; i < 20; i++) gets += (await tsray.get([work.remote(1), work.remote(2), work.remote(3)])).length;
clearInterval(collector);
// A get that fails on one ref still lets go of the refs inside the values that did arrive.
await settle();
const baseline = await count();
let outerOfFailed = tsray.put({ inner: tsray.put('kept only by its outer object') });
let failing = tsray.remote(() => { throw new Error('on purpose'); }).remote();
let failedGet = 'resolved';
try { await tsray.get([outerOfFailed, failing]); } catch (error) { failedGet = error.name; }
outerOfFailed = undefined;
failing = undefined;
await settle();
const afterFailedGet = (await count()) - baseline;
// A ref kept in an actor's state keeps its object alive after the driver drops its own, until the
// actor drops it too (the worker's collection then releases its borrow).
const Keeper = tsray.remote(class Keeper {
  keep(box) { this.box = box; return 'kept'; }
  async read() { return (await tsray.get(this.box.ref)).length; }
  async drop() { this.box = undefined; for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 30)); } }
});
const keeper = Keeper.remote();
let kept = tsray.put(new Float64Array(1 << 18));
await tsray.get(keeper.keep.remote({ ref: kept }));
kept = undefined;
await settle();
const keptByActor = await count();
const keptLength = await tsray.get(keeper.read.remote());
await tsray.get(keeper.drop.remote());
await settle();
const afterDrop = await count();
console.log(JSON.stringify({ before, heldByOuter, after, ownerDied, gets, failedGet, afterFailedGet, keptByActor, keptLength, afterDrop }));
await tsray.shutdown();
`);
after(() => script.remove());

void test('objects are freed once no ref to them is reachable; a dead owner gives OwnerDiedError', () => {
  const result = spawnSync(process.execPath, ['--expose-gc', script.path, script.sessionDir], { cwd: packageRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const outcome = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { before: number; heldByOuter: number; after: number; ownerDied: string; gets: number; failedGet: string; afterFailedGet: number; keptByActor: number; keptLength: number; afterDrop: number };
  assert.equal(outcome.before, 2, 'the put and the object holding it');
  assert.equal(outcome.heldByOuter, 2, 'the inner object lives while the outer one holds its ref');
  assert.equal(outcome.after, 0, 'both are freed once nothing holds them');
  // One CPU: the worker that owns the inner object is the one that then exits.
  assert.equal(outcome.ownerDied, 'OwnerDiedError');
  assert.equal(outcome.gets, 60, 'gets settle while collection runs');
  assert.equal(outcome.failedGet, 'RayTaskError');
  assert.equal(outcome.afterFailedGet, 0, 'nothing is kept by a get that failed');
  assert.equal(outcome.keptByActor, 1, 'the actor borrows the object it keeps');
  assert.equal(outcome.keptLength, 1 << 18, 'the actor still reads it after the driver dropped its ref');
  assert.equal(outcome.afterDrop, 0, 'it is freed once the actor drops it too');
});
