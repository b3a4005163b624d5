/**
 * Any number of actors: each has a worker thread of its own, outside the pool that tasks lease from,
 * so 200 actors on a 2-CPU node all answer while tasks keep running (before, the pool's bound of
 * 2 x CPU + 4 workers counted actors: the 9th actor and every later task waited for ever).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';

class Echo {
  constructor(readonly index: number) {}
  whoami(): number {
    return this.index;
  }
}

const spin = tsray.remote((ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
  return ms;
});

const square = tsray.remote((x: number) => x * x);

const actorCount = 200;
useEmbeddedCluster('many-actors');

void test('200 actors on a 2-CPU node each answer, and tasks run before, among and after them', async () => {
  const running = [spin.remote(200), spin.remote(200)];
  const EchoActor = tsray.remote(Echo);
  const actors = Array.from({ length: actorCount }, (_, index) => EchoActor.remote(index));
  const during = Array.from({ length: 10 }, (_, index) => square.remote(index));
  const answers = await tsray.get(actors.map((actor) => actor.whoami.remote()), { timeout: 240_000 });
  assert.deepEqual(answers, Array.from({ length: actorCount }, (_, index) => index));
  assert.deepEqual(await tsray.get(running, { timeout: 30_000 }), [200, 200]);
  assert.deepEqual(await tsray.get(during, { timeout: 30_000 }), Array.from({ length: 10 }, (_, index) => index * index));
  // With every actor alive, a plain task still gets a worker and the node's CPUs are its to use.
  assert.equal(await tsray.get(square.remote(12), { timeout: 30_000 }), 144);
  const alive = await tsray.state.listActors({ state: 'ALIVE' });
  assert.equal(alive.length, actorCount);
});
