/**
 * The node store's collection policy: a store kept full of objects in use does not collect garbage
 * on every put, but backs off while collections free nothing, and comes back to its pace once
 * something is freed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeStore, type PutRequest } from '../../../../node/runtime/node-store.js';

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

void test('a large put that leaves no written memory free for another of its size collects at once, if something was freed since the last collection', async () => {
  const mib = 1024 * 1024;
  let nowMs = 0;
  const node = new NodeStore(128 * mib, () => Promise.resolve(), () => nowMs);
  // The background pre-faulting has got nowhere yet (it runs in idle turns): only what puts wrote is warm.
  Object.defineProperty(node.store.arena, 'prefaultedBytes', { get: () => 0 });
  const put = (objectId: string): void => node.put(putRequest(objectId, 20 * mib), () => undefined, (reason) => assert.fail(reason));
  // 20 of 128 MiB in use, far below the 3/4 that collects otherwise; but the next 20 MiB would be fresh pages.
  put('a');
  await node.collected();
  assert.equal(node.collections, 1, 'the first large put into fresh memory collects at once');
  put('b');
  await node.collected();
  assert.equal(node.collections, 1, 'nothing was freed since: the next waits its turn, 100 ms on');
  node.delete(['a']);
  put('c');
  await node.collected();
  assert.equal(node.collections, 2, 'something was freed since: at once again');
  nowMs = 100;
  put('d');
  await node.collected();
  assert.equal(node.collections, 3, 'its turn came');
  node.close();
});

void test('a collection asks the workers only when the main thread collecting alone deleted nothing, or left the store crowded', async () => {
  let nowMs = 0;
  let workerRounds = 0;
  const node = new NodeStore(1024 * 1024, () => Promise.resolve((workerRounds += 1)), () => nowMs);
  const put = (objectId: string): void => node.put(putRequest(objectId, 800 * 1024), () => undefined, (reason) => assert.fail(reason));
  // Past 3/4 of the store: a round begins. The driver's dropped ref, collected by the main thread, releases the object soon after.
  put('a');
  setTimeout(() => node.delete(['a']), 0);
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
