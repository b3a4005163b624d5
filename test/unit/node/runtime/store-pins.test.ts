/**
 * Views over the shared store pin their object: a typed array read in place (by the driver, or kept
 * in an actor's state) stays intact after its object is freed and other objects come and go, and
 * the memory is reused once the view is collected or its thread ends.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

const script = writeDriverScript('store-pins-check', `import * as tsray from 'tsray';
await tsray.init({ numCpus: 1, sessionDir: process.argv[2], objectStoreMemory: 24 << 20 });
const settle = async () => { for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 30)); } };
const pattern = (n, seed) => Float64Array.from({ length: n }, (_, i) => i + seed);
const n = 1 << 20; // 8 MiB of doubles
const churn = async () => {
  for (let round = 1; round <= 4; round++) {
    let other = tsray.put(pattern(n, round * 1000));
    await tsray.get(other);
    other = undefined;
    await settle();
  }
};
let ref = tsray.put(pattern(n, 0));
let view = await tsray.get(ref);
ref = undefined;
await settle();
await churn();
const driverIntact = view.every((x, i) => x === i);
// With 8 of 24 MiB held by the view, 20 MiB cannot fit until the view is collected.
const putBig = async () => { try { await tsray.get(tsray.put(new Float64Array(20 << 17))); return 'fit'; } catch (error) { return error.name; } };
const whilePinned = await putBig();
view = undefined;
await settle();
const afterCollect = await putBig();
await settle();
// An actor keeps only the view it read; the object is freed behind it.
const Holder = tsray.remote(class Holder {
  async hold(box) { this.view = await tsray.get(box.ref); return this.view.length; }
  async collect() { for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 30)); } }
  intact() { return this.view.every((x, i) => x === i + 7); }
});
const holder = Holder.remote();
let held = tsray.put(pattern(n, 7));
const heldLength = await tsray.get(holder.hold.remote({ ref: held }));
await tsray.get(holder.collect.remote());
held = undefined;
await settle();
const freedBehindActor = (await tsray.state.listObjects()).filter((o) => o.sizeBytes >= n).length === 0;
await churn();
const actorIntact = await tsray.get(holder.intact.remote());
const whileActorPins = await putBig();
// When the actor's thread ends, its views end with it, and so do their pins.
tsray.kill(holder);
let afterKill = 'never fit';
for (let attempt = 0; attempt < 50 && afterKill !== 'fit'; attempt += 1) {
  await settle();
  afterKill = await putBig();
}
console.log(JSON.stringify({ driverIntact, whilePinned, afterCollect, heldLength, freedBehindActor, actorIntact, whileActorPins, afterKill }));
await tsray.shutdown();
`);
after(() => script.remove());

// No --expose-gc here: the node must get pinned memory back by itself.
const churnScript = writeDriverScript('store-churn-check', `import * as tsray from 'tsray';
await tsray.init({ numCpus: 1, sessionDir: process.argv[2], objectStoreMemory: 24 << 20 });
const n = 1 << 20; // 8 MiB of doubles: two fit, a third does not
const reader = tsray.remote((array) => array[array.length - 1]);
let sum = 0;
for (let round = 0; round < 30; round += 1) {
  const ref = tsray.put(new Float64Array(n).fill(round));
  sum += (await tsray.get(ref))[n - 1];
  sum += await tsray.get(reader.remote(ref));
}
console.log(JSON.stringify({ sum }));
await tsray.shutdown();
`);
after(() => churnScript.remove());

void test('objects read in place and dropped in a loop never fill the store: the node collects the views that pin it', () => {
  const result = spawnSync(process.execPath, [churnScript.path, churnScript.sessionDir], { cwd: packageRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const outcome = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { sum: number };
  assert.equal(outcome.sum, 2 * ((29 * 30) / 2), 'every round read its own value, in the driver and in a worker');
});

void test('a view read in place keeps its memory after the object is freed, until it is collected', () => {
  // No spill space: what is asked here is whether pinned memory of the store is handed out.
  const result = spawnSync(process.execPath, ['--expose-gc', script.path, script.sessionDir], { cwd: packageRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SPILL_BYTES: '0' } });
  assert.equal(result.status, 0, result.stderr);
  const outcome = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  assert.equal(outcome.driverIntact, true, "the driver's view still shows its own data after other objects came and went");
  assert.equal(outcome.whilePinned, 'ObjectStoreFullError', 'pinned memory is not handed out');
  assert.equal(outcome.afterCollect, 'fit', 'it is reused once the view is collected');
  assert.equal(outcome.heldLength, 1 << 20);
  assert.equal(outcome.freedBehindActor, true, 'the object itself is freed');
  assert.equal(outcome.actorIntact, true, "the actor's view still shows its own data");
  assert.equal(outcome.whileActorPins, 'ObjectStoreFullError');
  assert.equal(outcome.afterKill, 'fit', "a dead thread's pins end with it");
});
