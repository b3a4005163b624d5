/**
 * An owner forgets an actor it created once the actor is dead for good and its handle object is
 * freed, in either order: its view and its creation task go, so that a driver that creates and kills
 * actors as it goes does not keep every one of them. Late news of the actor changes nothing then.
 * Every step is applied in place and under immer both ways, with the invariants checked and the
 * states' hashes compared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tableGet } from '../../../core/table.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { counterActorCreation, driverStarted } from '../../support/owner-events.js';

const actorId = 'n1.d1.a1';
const creationTaskId = 'n1.d1.t1';
const handleObjectId = `${actorId}.h`;

/** The driver's actor `Counter`, registered and ALIVE on n1.w1; `detached` as given. */
function aliveActor(detached = false): { run: ThreeWays; gcsSeq: () => number } {
  const run = new ThreeWays();
  let seq = 0;
  run.step(driverStarted);
  run.step(counterActorCreation({ detached }));
  run.step(delivered({ type: 'actor/registration-replied', requestedActorId: actorId, actorId }, 'gcs', seq++));
  run.step(delivered({ type: 'actor/state-changed', actorId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w1', nodeId: 'n1' }, 'gcs', seq++));
  assert.equal(run.live.actors[actorId]?.state, 'ALIVE');
  return { run, gcsSeq: () => seq++ };
}

/** Whether each of the three states still has the actor's view and its creation task. */
function kept(run: ThreeWays): boolean[] {
  return [run.live, run.own, run.patched].flatMap((state) => [state.actors[actorId] !== undefined, tableGet(state.tasks, creationTaskId) !== undefined]);
}

void test('an actor killed for good is forgotten once its handle object is freed', () => {
  const { run, gcsSeq } = aliveActor();
  run.step({ type: 'kill/requested', actorId, noRestart: true });
  assert.equal(run.live.actors[actorId]?.state, 'DEAD');
  assert.deepEqual(kept(run), Array(6).fill(true), 'a dead actor whose handle is still held here is kept: a call on it fails at once');
  run.step({ type: 'refs/released', objectIds: [handleObjectId] });
  assert.deepEqual(kept(run), Array(6).fill(false), 'dead, with no handle left: view and creation task are gone');
  // The GCS's own word of the death, arriving late, brings nothing back.
  assert.deepEqual(run.step(delivered({ type: 'actor/state-changed', actorId, state: 'DEAD', restartCount: 0, deathCause: 'killed' }, 'gcs', gcsSeq())), []);
  assert.equal(run.live.actors[actorId], undefined);
});

void test('an actor whose handles went out of scope is forgotten once the GCS says it died', () => {
  const { run, gcsSeq } = aliveActor();
  const released = run.step({ type: 'refs/released', objectIds: [handleObjectId] });
  assert.ok(released.some((effect) => effect.type === 'message/sent' && effect.message.type === 'actor/out-of-scope'), 'the GCS is told to end it');
  assert.deepEqual(kept(run), Array(6).fill(true), 'alive, it is kept until the GCS says it died');
  run.step(delivered({ type: 'actor/state-changed', actorId, state: 'DEAD', restartCount: 0, deathCause: 'out of scope' }, 'gcs', gcsSeq()));
  assert.deepEqual(kept(run), Array(6).fill(false));
});

void test('a dead actor is kept while a handle to it is held, and a detached one while it lives', () => {
  const { run, gcsSeq } = aliveActor();
  run.step(delivered({ type: 'actor/state-changed', actorId, state: 'DEAD', restartCount: 0, deathCause: 'its worker died' }, 'gcs', gcsSeq()));
  assert.deepEqual(kept(run), Array(6).fill(true), 'its handle is still held: a call on it must fail with ActorDiedError, not hang');
  const detached = aliveActor(true);
  assert.equal(tableGet(detached.run.live.objects, handleObjectId), undefined, 'a detached actor has no handle object');
  assert.deepEqual(kept(detached.run), Array(6).fill(true));
});
