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
import { applyDirect, checkInvariants } from '../../../core/step.js';
import { emptyFifo, fifoItems, fifoSize } from '../../../core/fifo.js';
import { explainTask, maxRememberedAliases, ownerCore } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent } from '../../../core/owner/index.js';
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

const borrowedId = 'n1.d7.a1';

/** A call of `add` on the borrowed actor, submitted by this process. */
const borrowedCall: OwnerEvent = { type: 'actor-task/submitted', actorId: borrowedId, method: 'add', name: 'add', args: [], numReturns: 1 };

void test("a dead actor that another process created is forgotten here once no call on it is left, and a later call fails as before", () => {
  const run = new ThreeWays();
  let seq = 0;
  const fromGcs = (event: Record<string, unknown>): OwnerEffect[] => run.step(delivered(event, 'gcs', seq++));
  run.step(driverStarted);
  const subscribed = (effects: OwnerEffect[]): boolean => effects.some((effect) => effect.type === 'message/sent' && effect.message.type === 'actor/subscribed');
  assert.ok(subscribed(run.step({ type: 'actor/handle-acquired', actorId: borrowedId })), 'a handle seen here subscribes');
  fromGcs({ type: 'actor/state-changed', actorId: borrowedId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w4', nodeId: 'n1' });
  run.step(borrowedCall);
  assert.equal(run.live.actors[borrowedId]?.inflight.length, 1);
  fromGcs({ type: 'actor/state-changed', actorId: borrowedId, state: 'DEAD', restartCount: 0, deathCause: 'killed' });
  for (const state of [run.live, run.own, run.patched]) assert.equal(state.actors[borrowedId], undefined, 'dead, with its call failed: the view is gone');
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1')?.state, 'FAILED');
  // A late notice of the actor alive brings nothing back.
  assert.deepEqual(fromGcs({ type: 'actor/state-changed', actorId: borrowedId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w4', nodeId: 'n1' }), []);
  assert.equal(run.live.actors[borrowedId], undefined);
  // A call on a handle still held makes the view again, and the GCS's answer fails it as before.
  assert.ok(subscribed(run.step(borrowedCall)));
  // Read through a function: the assertions above narrowed the expression itself to undefined.
  const viewState = (): string | undefined => run.live.actors[borrowedId]?.state;
  assert.equal(viewState(), 'PENDING');
  fromGcs({ type: 'actor/state-changed', actorId: borrowedId, state: 'DEAD', restartCount: 0, deathCause: 'killed' });
  const failed = tableGet(run.live.tasks, 'n1.d1.t2');
  assert.equal(failed?.state, 'FAILED');
  assert.equal(failed.error?.errorClass, 'ActorDiedError');
  assert.equal(run.live.actors[borrowedId], undefined);
});

void test('a getIfExists handle keeps the view it stands for while it lives, and both go once its handles are gone', () => {
  const run = new ThreeWays();
  let seq = 0;
  run.step(driverStarted);
  run.step(counterActorCreation({ name: 'shared', getIfExists: true }));
  run.step(delivered({ type: 'actor/registration-replied', requestedActorId: actorId, actorId: borrowedId }, 'gcs', seq++));
  assert.equal(run.live.actors[actorId]?.aliasOf, borrowedId);
  run.step(delivered({ type: 'actor/state-changed', actorId: borrowedId, state: 'DEAD', restartCount: 0, deathCause: 'killed' }, 'gcs', seq++));
  for (const state of [run.live, run.own, run.patched]) {
    assert.equal(state.actors[borrowedId]?.state, 'DEAD', 'the alias finds its actor, dead, through the view');
    assert.equal(state.actors[actorId]?.aliasOf, borrowedId);
  }
  run.step({ type: 'refs/released', objectIds: [handleObjectId] });
  for (const state of [run.live, run.own, run.patched]) {
    assert.equal(state.actors[actorId], undefined, 'its handles gone, the alias is forgotten');
    assert.equal(tableGet(state.tasks, creationTaskId), undefined, 'with its finished creation task');
    assert.equal(state.actors[borrowedId], undefined, 'and the dead actor it stood for, which nothing else holds here');
  }
});

void test('an alias of an actor that lives goes once its handles are gone, giving back its hold on that actor', () => {
  const run = new ThreeWays();
  let seq = 0;
  run.step(driverStarted);
  run.step(counterActorCreation({ name: 'shared', getIfExists: true }));
  const replied = run.step(delivered({ type: 'actor/registration-replied', requestedActorId: actorId, actorId: borrowedId }, 'gcs', seq++));
  const added = replied.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'borrow/added' ? [effect.message] : []));
  assert.equal(added.length, 1, "the alias holds the existing actor's handle object, borrowed from its owner");
  run.step(delivered({ type: 'actor/state-changed', actorId: borrowedId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w4', nodeId: 'n1' }, 'gcs', seq++));
  const released = run.step({ type: 'refs/released', objectIds: [handleObjectId] });
  assert.equal(run.live.actors[actorId], undefined);
  assert.equal(tableGet(run.live.tasks, creationTaskId), undefined);
  assert.equal(run.live.actors[borrowedId]?.state, 'ALIVE', 'the actor itself lives on, and its view stays');
  // Its owner's acknowledgement of the borrow comes in, and the hold is given back.
  const acked = run.step(delivered({ type: 'borrow/add-acked', ackId: added[0]?.ackId }, 'worker:n1.d7', 0));
  assert.equal(tableGet(run.live.borrowed, `${borrowedId}.h`), undefined, "the hold on the actor's handle object is given back");
  assert.ok(acked.some((effect) => effect.type === 'message/sent' && effect.message.type === 'borrow/released'));
  const outOfScope = released.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'actor/out-of-scope' ? [effect.message.actorId] : []));
  assert.deepEqual(outOfScope, [actorId], 'the GCS may let go of its answer for the alias, and is never told to end the actor it stands for');
});

/** The `actor/out-of-scope` messages among `effects`, by actor id. */
function outOfScopeIds(effects: readonly OwnerEffect[]): string[] {
  return effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'actor/out-of-scope' ? [effect.message.actorId] : []));
}

void test('a creation the GCS turned away tells it when its handles are gone, so that the GCS stops answering for them', () => {
  const run = new ThreeWays();
  let seq = 0;
  run.step(driverStarted);
  run.step(counterActorCreation({ name: 'shared' }));
  const replied = run.step(delivered({ type: 'actor/registration-replied', requestedActorId: actorId, actorId, error: "actor name 'shared' is already taken" }, 'gcs', seq++));
  assert.deepEqual(outOfScopeIds(replied), [], 'a handle of it may still reach another process, which asks the GCS');
  assert.equal(run.live.actors[actorId]?.state, 'DEAD');
  assert.deepEqual(outOfScopeIds(run.step({ type: 'refs/released', objectIds: [handleObjectId] })), [actorId]);
  assert.deepEqual(kept(run), Array(6).fill(false));
});

void test('a getIfExists creation whose handles went while the GCS answered tells it at the answer; a detached one never does', () => {
  for (const detached of [false, true]) {
    const run = new ThreeWays();
    run.step(driverStarted);
    run.step(counterActorCreation({ name: 'shared', getIfExists: true, detached }));
    assert.deepEqual(outOfScopeIds(run.step({ type: 'refs/released', objectIds: [handleObjectId] })), [], 'not registered yet');
    const replied = run.step(delivered({ type: 'actor/registration-replied', requestedActorId: actorId, actorId: borrowedId }, 'gcs', 0));
    assert.deepEqual(outOfScopeIds(replied), detached ? [] : [actorId], detached ? 'the GCS keeps a detached answer among its latest' : 'told at the answer');
    assert.equal(run.live.actors[actorId], undefined, 'the alias is forgotten');
  }
});

const aliasId = 'n1.d7.a2';
const aliasHandleObjectId = `${aliasId}.h`;

/**
 * This process did not create the getIfExists handle `aliasId` (`n1.d7` did) but holds it: a value
 * it puts (`data`) holds the handle's object, borrowed from its creator (acknowledged as the
 * creator's message `ackSeq`). Returns the put's id.
 */
function putHoldingAlias(run: ThreeWays, data: number, ackSeq: number): string {
  const put = run.step({ type: 'object/put', value: { data: { handle: data }, sizeBytes: 16, refs: [{ objectId: aliasHandleObjectId, owner: 'n1.d7' }] } });
  const minted = put.find((effect) => effect.type === 'ids/minted');
  const putId = minted?.type === 'ids/minted' ? minted.objectIds[0] : undefined;
  assert.ok(putId !== undefined);
  const added = put.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'borrow/added' ? [effect.message] : []));
  assert.equal(added.length, 1, "the put borrows the handle's object from its creator");
  run.step(delivered({ type: 'borrow/add-acked', ackId: added[0]?.ackId }, 'worker:n1.d7', ackSeq));
  run.step({ type: 'actor/handle-acquired', actorId: aliasId });
  return putId;
}

/** The driver, started, holding the alias's handle through a put (`putHoldingAlias`). */
function holdBorrowedAlias(run: ThreeWays): string {
  run.step(driverStarted);
  return putHoldingAlias(run, 1, 0);
}

/** Whether each of the three states still has a view of `id`. */
function hasView(run: ThreeWays, id: string): boolean[] {
  return [run.live, run.own, run.patched].map((state) => state.actors[id] !== undefined);
}

void test("another process's getIfExists handle is forgotten here once this process gives back its borrow of it", () => {
  const run = new ThreeWays();
  let seq = 0;
  const putId = holdBorrowedAlias(run);
  run.step(delivered({ type: 'actor/registration-replied', requestedActorId: aliasId, actorId: borrowedId }, 'gcs', seq++));
  run.step(delivered({ type: 'actor/state-changed', actorId: borrowedId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w4', nodeId: 'n1' }, 'gcs', seq++));
  assert.equal(run.live.actors[aliasId]?.aliasOf, borrowedId, 'the handle stands for the existing actor');
  const call = run.step({ type: 'actor-task/submitted', actorId: aliasId, method: 'add', name: 'add', args: [], numReturns: 1, handle: { objectId: aliasHandleObjectId, owner: 'n1.d7' } });
  assert.ok(call.some((effect) => effect.type === 'message/sent' && effect.message.type === 'actor-task/pushed'), 'a call on it goes to that actor');
  const released = run.step({ type: 'refs/released', objectIds: [putId] });
  assert.deepEqual(hasView(run, aliasId), [true, true, true], 'the call in flight still holds the handle');
  assert.ok(released.every((effect) => effect.type !== 'message/sent' || effect.message.type !== 'borrow/released'));
  const replied = run.step(delivered({ type: 'task/replied', taskId: 'n1.d1.t1', attempt: 1, workerId: 'n1.w4', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 1, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] }, 'worker:n1.w4', 0));
  assert.ok(replied.some((effect) => effect.type === 'message/sent' && effect.message.type === 'borrow/released' && effect.message.objectId === aliasHandleObjectId), 'the borrow is given back to the creator');
  assert.deepEqual(hasView(run, aliasId), [false, false, false], 'no handle left here: the alias is forgotten');
  assert.deepEqual(hasView(run, borrowedId), [true, true, true], 'the actor it stood for lives on, and its view stays');
});

void test('a borrowed getIfExists handle given back before the GCS says what it stands for is forgotten at the answer, and calls by its id still reach the actor', () => {
  const run = new ThreeWays();
  let seq = 0;
  const putId = holdBorrowedAlias(run);
  run.step({ type: 'refs/released', objectIds: [putId] });
  assert.deepEqual(hasView(run, aliasId), [true, true, true], 'not answered yet: kept until the GCS says which actor it is');
  run.step(delivered({ type: 'actor/registration-replied', requestedActorId: aliasId, actorId: borrowedId }, 'gcs', seq++));
  assert.deepEqual(hasView(run, aliasId), [false, false, false], 'answered, with no handle held: forgotten');
  run.step(delivered({ type: 'actor/state-changed', actorId: borrowedId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w4', nodeId: 'n1' }, 'gcs', seq++));
  // Held again (a later value brings the handle back): its calls go to the actor without asking the GCS again.
  putHoldingAlias(run, 2, 1);
  const call = run.step({ type: 'actor-task/submitted', actorId: aliasId, method: 'add', name: 'add', args: [], numReturns: 1, handle: { objectId: aliasHandleObjectId, owner: 'n1.d7' } });
  const sent = call.flatMap((effect) => (effect.type === 'message/sent' ? [effect.message] : []));
  assert.deepEqual(
    sent.map((message) => message.type),
    ['actor-task/pushed'],
    'pushed to the actor at once, with no subscription',
  );
  assert.equal(sent[0]?.type === 'actor-task/pushed' ? sent[0].spec.actor?.actorId : undefined, borrowedId);
  assert.deepEqual(hasView(run, aliasId), [false, false, false], 'no view of the alias is made again');
});

void test('a detached getIfExists handle is forgotten as soon as the GCS says what it stands for, here and where it was handed', () => {
  for (const creator of [true, false]) {
    const run = new ThreeWays();
    let seq = 0;
    run.step(driverStarted);
    const id = creator ? actorId : aliasId;
    if (creator) run.step(counterActorCreation({ name: 'shared', getIfExists: true, detached: true }));
    else run.step({ type: 'actor/handle-acquired', actorId: aliasId });
    // A call made before the answer waits in the alias's queue, and goes to the actor with it.
    run.step({ type: 'actor-task/submitted', actorId: id, method: 'add', name: 'add', args: [], numReturns: 1 });
    run.step(delivered({ type: 'actor/state-changed', actorId: borrowedId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w4', nodeId: 'n1' }, 'gcs', seq++));
    const answered = run.step(delivered({ type: 'actor/registration-replied', requestedActorId: id, actorId: borrowedId }, 'gcs', seq++));
    const subscribedToActor = answered.some((effect) => effect.type === 'message/sent' && effect.message.type === 'actor/subscribed');
    assert.ok(subscribedToActor, 'the actor it stands for is subscribed to');
    assert.deepEqual(hasView(run, id), [false, false, false], `${creator ? 'the creator' : 'another process'}: no counted handle, so no view of the alias is kept`);
    if (creator) assert.equal(tableGet(run.live.tasks, creationTaskId), undefined, 'nor its finished creation task');
    assert.equal(run.live.aliases[id], borrowedId, 'its id is remembered as standing for the actor');
    run.step(delivered({ type: 'actor/state-changed', actorId: borrowedId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w4', nodeId: 'n1' }, 'gcs', seq++));
    const later = run.step({ type: 'actor-task/submitted', actorId: id, method: 'add', name: 'add', args: [], numReturns: 1 });
    const pushed = later.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'actor-task/pushed' ? [effect.message] : []));
    assert.equal(pushed.length, 1, 'a later call by its id is pushed to the actor at once');
    const killed = run.step({ type: 'kill/requested', actorId: id, noRestart: true });
    assert.ok(killed.some((effect) => effect.type === 'message/sent' && effect.message.type === 'actor/kill-requested' && effect.message.actorId === borrowedId), 'a kill by its id names the actor');
  }
});

void test('the resolved aliases an owner remembers are bounded, and a call by a forgotten one asks the GCS again', () => {
  const state = ownerCore.initial();
  applyDirect(ownerCore, state, driverStarted);
  let seq = 0;
  const handedIds: string[] = [];
  for (let index = 0; index <= maxRememberedAliases; index += 1) {
    // Handles other processes made, each handed here once: detached, so no counted handle holds them.
    const id = `n1.d7.a${index + 2}`;
    handedIds.push(id);
    applyDirect(ownerCore, state, { type: 'actor/handle-acquired', actorId: id });
    applyDirect(ownerCore, state, delivered({ type: 'actor/registration-replied', requestedActorId: id, actorId: borrowedId }, 'gcs', seq++));
  }
  assert.equal(Object.keys(state.aliases).length, maxRememberedAliases);
  assert.equal(state.aliasOrder.length, maxRememberedAliases);
  assert.equal(state.aliases[handedIds[0] as string], undefined, 'the oldest is forgotten first');
  assert.equal(state.aliases[handedIds[1] as string], borrowedId);
  assert.deepEqual(Object.keys(state.actors), [borrowedId], 'no view of any alias is kept, only of the actor');
  checkInvariants(ownerCore, state, 'after the aliases');
  // A call by the forgotten alias subscribes to it again; the GCS still knows what it stands for.
  const call = applyDirect(ownerCore, state, { type: 'actor-task/submitted', actorId: handedIds[0] as string, method: 'add', name: 'add', args: [], numReturns: 1 });
  assert.ok(call.some((effect) => effect.type === 'message/sent' && effect.message.type === 'actor/subscribed' && effect.message.actorId === handedIds[0]));
});

void test('a call made on a detached getIfExists handle before the answer waits with the actor, says so, and can be cancelled there', () => {
  const run = new ThreeWays();
  let seq = 0;
  run.step(driverStarted);
  run.step({ type: 'actor/handle-acquired', actorId: aliasId });
  const call = run.step({ type: 'actor-task/submitted', actorId: aliasId, method: 'add', name: 'add', args: [], numReturns: 1 });
  const minted = call.find((effect) => effect.type === 'ids/minted');
  const returnId = minted?.type === 'ids/minted' ? minted.objectIds[0] : undefined;
  assert.ok(returnId !== undefined);
  // The actor it stands for is not created yet: the call waits in that actor's queue once the alias is forgotten.
  run.step(delivered({ type: 'actor/registration-replied', requestedActorId: aliasId, actorId: borrowedId }, 'gcs', seq++));
  assert.deepEqual(hasView(run, aliasId), [false, false, false]);
  assert.deepEqual(fifoItems(run.live.actors[borrowedId]?.queue ?? emptyFifo()), ['n1.d1.t1']);
  const task = tableGet(run.live.tasks, 'n1.d1.t1');
  assert.ok(task !== undefined);
  assert.match(explainTask({ s: run.live, out: [] }, task), /actor n1\.d7\.a2 is not created yet/, 'why it waits: the actor it stands for is pending');
  run.step({ type: 'cancel/requested', ref: { objectId: returnId, owner: 'n1.d1' }, force: false, recursive: false });
  for (const state of [run.live, run.own, run.patched]) {
    assert.equal(tableGet(state.tasks, 'n1.d1.t1')?.state, 'CANCELLED');
    assert.equal(fifoSize(state.actors[borrowedId]?.queue ?? emptyFifo()), 0, 'taken out of the queue of the actor it stood for');
  }
});

/** What an owner answered the GCS's `actor/status-requested` about `id`: its `actor/status-replied`, or undefined when it said nothing. */
function statusReply(run: ThreeWays, id: string, seq: number): unknown {
  const effects = run.step(delivered({ type: 'actor/status-requested', actorId: id }, 'gcs', seq));
  const replies = effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'actor/status-replied' ? [{ to: effect.to, ...effect.message }] : []));
  assert.ok(replies.length <= 1, 'one answer at most');
  return replies[0];
}

void test('asked about an actor it created that the GCS does not know, an owner answers what it knows, unless the registration is still to come', () => {
  // Its creation is pending (its registration not answered yet): the registration will answer the GCS.
  const pending = new ThreeWays();
  pending.step(driverStarted);
  pending.step(counterActorCreation({ detached: true }));
  assert.equal(statusReply(pending, actorId, 0), undefined);
  // Dead, with its view kept (a handle to it is held here): the owner says why it died.
  const { run, gcsSeq } = aliveActor();
  run.step({ type: 'kill/requested', actorId, noRestart: true });
  assert.deepEqual(statusReply(run, actorId, gcsSeq()), { to: 'gcs', type: 'actor/status-replied', actorId, deathCause: 'killed via tsray.kill' });
  // Forgotten here too once no handle is left: the owner no longer knows it.
  run.step({ type: 'refs/released', objectIds: [handleObjectId] });
  assert.deepEqual(statusReply(run, actorId, gcsSeq()), { to: 'gcs', type: 'actor/status-replied', actorId });
  // Alive and registered: the GCS knows it, and a request is not answered.
  assert.equal(statusReply(aliveActor().run, actorId, 100), undefined);
});

void test('asked about a getIfExists creation the GCS forgot, an owner that remembers it names the actor it stands for', () => {
  const run = new ThreeWays();
  let seq = 0;
  run.step(driverStarted);
  run.step(counterActorCreation({ name: 'shared', getIfExists: true, detached: true }));
  run.step(delivered({ type: 'actor/registration-replied', requestedActorId: actorId, actorId: borrowedId }, 'gcs', seq++));
  assert.equal(run.live.actors[actorId], undefined, 'no view of the detached alias is kept');
  assert.deepEqual(statusReply(run, actorId, seq++), { to: 'gcs', type: 'actor/status-replied', actorId, aliasOf: borrowedId });
});
