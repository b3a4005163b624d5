/**
 * The node store's collection policy: a store kept full of objects in use does not collect garbage
 * on every put, but backs off while collections free nothing, and comes back to its pace once
 * something is freed; a large put headed for fresh memory has the main thread collect at once, so
 * that the warm memory of dropped objects is reused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeStore, type PutRequest } from '../../../../node/runtime/node-store.js';
import { pinHeaderBytes } from '../../../../node/store/reader-pins.js';

function putRequest(objectId: string, sizeBytes: number): PutRequest {
  return {
    type: 'object/put-requested',
    objectId,
    owner: 'n1.d1',
    data: { body: new Uint8Array(sizeBytes), blobs: [] },
    sizeBytes,
    refs: [],
    via: { from: 'worker:n1.d1', incarnation: 0, seq: 0 },
  };
}

void test('collections back off while they free nothing and return to their pace when something is freed', async () => {
  let nowMs = 0;
  const node = new NodeStore(1024 * 1024, () => Promise.resolve(), () => nowMs);
  const stored: string[] = [];
  const keep = (objectId: string, sizeBytes: number): void => node.put(putRequest(objectId, sizeBytes), () => stored.push(objectId), (reason) => assert.fail(reason));
  const roundsAt: number[] = [];
  let seen = 0;
  for (nowMs = 0; nowMs <= 800; nowMs += 50) {
    if (nowMs === 350) node.delete(['small-50']);
    keep(nowMs === 0 ? 'big' : `small-${nowMs}`, nowMs === 0 ? 800 * 1024 : 1024);
    // Let the round (if one began) finish before the clock moves on.
    await node.collected();
    if (node.collections > seen) roundsAt.push(nowMs);
    seen = node.collections;
  }
  // Store 3/4 full: a round at once, then 100, 200, 400 ms apart while nothing is freed; a delete resets it.
  assert.deepEqual(roundsAt, [0, 100, 300, 700, 800]);
  assert.equal(stored.length, 17);
  node.close();
});

void test('every large put that leaves no written memory free for another of its size has the main thread collect at once, and never the workers while the store is not crowded', async () => {
  const mib = 1024 * 1024;
  let workerRounds = 0;
  // The clock never moves: the collections come at once, not by any spacing.
  const node = new NodeStore(128 * mib, () => Promise.resolve((workerRounds += 1)), () => 0);
  // The background pre-faulting has got nowhere yet (it runs in idle turns): only what puts wrote is warm.
  Object.defineProperty(node.store.arena, 'prefaultedBytes', { get: () => 0 });
  const put = (objectId: string, sizeBytes = 20 * mib): void => node.put(putRequest(objectId, sizeBytes), () => undefined, (reason) => assert.fail(reason));
  // 20 of 128 MiB in use, far below the 3/4 that collects otherwise; but the next 20 MiB would be fresh pages.
  put('a');
  await node.collected();
  assert.equal(node.collections, 1, 'the first large put into fresh memory collects at once');
  // Nothing was freed since, and the clock has not moved: still at once, since 'a' was referenced
  // while the last collection ran and its ref may have been dropped since (a put+get loop's object).
  put('b');
  assert.equal(node.collections, 2, 'the next one collects at once too, at the put');
  put('small', 1024);
  assert.equal(node.collections, 2, 'a small put does not collect');
  node.delete(['a']);
  // 'a' is freed, so 'c' takes its warm range rather than fresh memory.
  put('c');
  assert.equal(node.store.get('c')?.offset, pinHeaderBytes, "'c' reuses the range 'a' had, at the start of the store");
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(workerRounds, 0, 'the store is not crowded: only the main thread collected');
  node.close();
});

void test('a large put that collected counts as the last collection: a linger it causes at once does not collect again', async () => {
  const mib = 1024 * 1024;
  let nowMs = 0;
  const node = new NodeStore(128 * mib, () => Promise.resolve(), () => nowMs);
  Object.defineProperty(node.store.arena, 'prefaultedBytes', { get: () => 0 });
  const put = (objectId: string): void => node.put(putRequest(objectId, 20 * mib), () => undefined, (reason) => assert.fail(reason));
  put('a');
  await node.collected();
  nowMs = 1000;
  put('b');
  assert.equal(node.collections, 2);
  // What that collection released: 'a', whose ref reached the store before its view's pin ended.
  const offset = node.store.get('a')?.offset ?? assert.fail('a is stored');
  Atomics.add(new Int32Array(node.store.buffer), (offset - pinHeaderBytes) / 4, 1);
  node.delete(['a']);
  assert.ok(node.store.lingeringBytes > node.store.capacityBytes / 8, 'the linger alone would ask for a round');
  await node.collected();
  assert.equal(node.collections, 2, 'no round right after the collection that released it');
  node.close();
});

/**
 * A clock for one store whose readings move on by the steps given, in order: each put reads it
 * before and after its copy, and a collection before and after it runs.
 */
function scriptedClock(): { clock: () => number; then: (...stepsMs: number[]) => void } {
  let nowMs = 0;
  const steps: number[] = [];
  return {
    clock: () => {
      const step = steps.shift();
      if (step === undefined) assert.fail('the store read the clock more often than the test expected');
      return (nowMs += step);
    },
    then: (...stepsMs) => steps.push(...stepsMs),
  };
}

/**
 * A store of `capacityMiB` on a scripted clock (see `scriptedClock`), none of it faulted in ahead by
 * the background pre-faulting, and a put of a 20 MiB value into it.
 */
function scriptedStore(capacityMiB: number): { node: NodeStore; put: (objectId: string) => void; then: (...stepsMs: number[]) => void } {
  const mib = 1024 * 1024;
  const { clock, then } = scriptedClock();
  const node = new NodeStore(capacityMiB * mib, () => Promise.resolve(), clock);
  Object.defineProperty(node.store.arena, 'prefaultedBytes', { get: () => 0 });
  const put = (objectId: string): void => node.put(putRequest(objectId, 20 * mib), () => undefined, (reason) => assert.fail(reason));
  return { node, put, then };
}

void test('the collections large puts ask for stop once they have cost as much as a first write to the rest of the store would', () => {
  const { node, put, then } = scriptedStore(128);
  // Each copy into fresh memory takes 10.24 ms (2 us for each of its 5,120 pages); each collection 40 ms.
  // 108 MiB unwritten: 27,648 pages at 2 us, 55 ms of first writes.
  then(0, 10.24, 0, 40);
  put('a');
  assert.equal(node.collections, 1);
  then(0, 10.24, 0, 40);
  put('b');
  assert.equal(node.collections, 2, '40 ms spent, below the 45 ms that 88 MiB unwritten would cost');
  then(0, 10.24);
  put('c');
  assert.equal(node.collections, 2, '80 ms spent, above the 35 ms that 68 MiB unwritten would cost: the rest is written instead');
  node.close();
});

void test('what a first write costs is measured by the puts into fresh memory: where it costs more, collections go on longer', () => {
  const { node, put, then } = scriptedStore(160);
  // A loaded machine, or a process with a large heap: a copy into fresh memory takes 80 ms (16 us a
  // page) and a collection 70 ms. With a first write taken as 2 us a page, the second put would
  // already write fresh memory instead (120 MiB unwritten, 61 ms); measured, it costs 480 ms.
  for (const objectId of ['a', 'b', 'c', 'd']) {
    then(0, 80, 0, 70);
    put(objectId);
  }
  assert.equal(node.collections, 4, 'every put collected: 280 ms spent in all, below the 320 ms that 80 MiB unwritten would cost');
  then(0, 80);
  put('e');
  assert.equal(node.collections, 4, '280 ms spent, above the 240 ms that 60 MiB unwritten would cost');
  node.close();
});

void test('once the collections since warm memory last grew cost as much as a first write of one more value, the next value goes into fresh memory', () => {
  const { node, put, then } = scriptedStore(256);
  const mib = 1024 * 1024;
  // A first write of one value costs 10.24 ms (2 us for each of its 5,120 pages), a copy into warm memory 2 ms, a collection 4 ms.
  then(0, 10.24, 0, 4);
  put('a');
  then(0, 10.24, 0, 4);
  put('b');
  assert.equal(node.collections, 2, 'each put into fresh memory collects, for the next to reuse what the last dropped');
  // A put+get loop: each put reuses the range of a value dropped two puts before.
  node.delete(['a']);
  then(0, 2, 0, 4);
  put('c');
  node.delete(['b']);
  then(0, 2, 0, 4);
  put('d');
  assert.equal(node.collections, 4, "at 'd', 8 ms of collections since warm memory last grew (at 'b'), below the 10.24 ms of a first write");
  node.delete(['c']);
  then(0, 2);
  put('e');
  assert.equal(node.collections, 4, '12 ms of collections since: the next value is written into fresh memory instead');
  // 'd' was not collected, so 'f' finds no warm range free: it goes beyond the 40 MiB written so far.
  then(0, 10.24, 0, 4);
  put('f');
  assert.ok((node.store.get('f')?.offset ?? 0) >= 40 * mib, "'f' went into fresh memory");
  assert.equal(node.collections, 5, 'warm memory grew by a value: collections start over');
  node.close();
});

void test('a collection asks the workers only when the main thread collecting alone deleted nothing, or left the store crowded', async () => {
  let nowMs = 0;
  let workerRounds = 0;
  const node = new NodeStore(1024 * 1024, () => Promise.resolve((workerRounds += 1)), () => nowMs);
  const put = (objectId: string): void => node.put(putRequest(objectId, 800 * 1024), () => undefined, (reason) => assert.fail(reason));
  // Past 3/4 of the store: a round begins. The driver's dropped ref, collected by the main thread, releases the object soon after.
  // The release is queued as a microtask, not a timer: the put's own collection runs first and
  // synchronously, and on a loaded machine it took longer than the round's 20 ms wait, so a 0 ms
  // timer armed after it fired after the round had looked, and the round asked the workers.
  put('a');
  queueMicrotask(() => node.delete(['a']));
  await node.collected();
  assert.equal(node.collections, 1);
  assert.equal(workerRounds, 0, 'the main thread alone freed the store');
  nowMs = 100;
  put('b');
  await node.collected();
  assert.equal(node.collections, 2);
  assert.equal(workerRounds, 1, 'nothing was deleted: the workers collect too');
  node.close();
});
