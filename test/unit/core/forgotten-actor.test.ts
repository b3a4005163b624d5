/**
 * A handle to an actor the GCS has forgotten (a dead one past maxDeadActors, or a getIfExists answer
 * past maxRememberedRedirects) reaches a process that calls it: the process subscribes, the GCS,
 * which cannot tell a forgotten actor from one whose registration is still on its way, asks the
 * actor's owner, and the call fails with what the owner knows. Before, the subscriber was kept
 * waiting for a registration that never came, and the call waited for ever. The three components'
 * cores pass their real messages to one another here, applied in place with the invariants checked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageSent } from '../../../core/effects.js';
import { applyGcs, gcsInvariants, initialGcsState } from '../../../core/gcs/index.js';
import type { GcsEvent } from '../../../core/gcs/index.js';
import { defaultOwnerConfig, ownerCore } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import type { Message } from '../../../core/protocol.js';
import { applyDirect } from '../../../core/step.js';
import { tableGet } from '../../../core/table.js';
import { counterActorCreation, driverStarted } from '../../support/owner-events.js';

const actorId = 'n1.d1.a1';

/** The messages among `effects`, as sent. */
function messages(effects: readonly unknown[]): MessageSent[] {
  return effects.filter((effect): effect is MessageSent => (effect as { type?: string }).type === 'message/sent');
}

let seq = 0;

/** `message` as delivered from `from`. */
function stamped<E>(message: Message, from: string): E {
  seq += 1;
  return { ...message, via: { from, incarnation: 0, seq } } as E;
}

/** Applies `event` to an owner and checks its invariants. */
function stepOwner(state: OwnerState, event: OwnerEvent): OwnerEffect[] {
  const effects = applyDirect(ownerCore, state, event);
  assert.deepEqual(ownerCore.invariants(state), [], `owner invariants after ${event.type}`);
  return effects;
}

void test('a call on a handle to an actor the GCS forgot fails with what its owner knows, instead of waiting for ever', () => {
  // The driver created the actor, killed it, and let go of its handle: it forgot the actor too.
  const driver = ownerCore.initial();
  stepOwner(driver, driverStarted);
  stepOwner(driver, counterActorCreation());
  stepOwner(driver, stamped({ type: 'actor/registration-replied', requestedActorId: actorId, actorId }, 'gcs'));
  stepOwner(driver, stamped({ type: 'actor/state-changed', actorId, state: 'ALIVE', restartCount: 0, workerId: 'n1.w1', nodeId: 'n1' }, 'gcs'));
  stepOwner(driver, { type: 'kill/requested', actorId, noRestart: true });
  stepOwner(driver, { type: 'refs/released', objectIds: [`${actorId}.h`] });
  assert.equal(driver.actors[actorId], undefined);
  // A GCS that no longer knows the actor: as one that forgot it among the dead.
  const gcs = initialGcsState();
  applyGcs(gcs, { type: 'gcs/started', incarnation: 1, config: gcs.config });
  // A worker that got the handle long ago (in a stored object, say) calls it now.
  const worker = ownerCore.initial();
  stepOwner(worker, { ...driverStarted, workerId: 'n1.w5', isDriver: false, config: defaultOwnerConfig } as OwnerEvent);
  const acquired = stepOwner(worker, { type: 'actor/handle-acquired', actorId });
  stepOwner(worker, { type: 'actor-task/submitted', actorId, method: 'add', name: 'add', args: [], numReturns: 1 });
  const [subscription] = messages(acquired).filter((sent) => sent.message.type === 'actor/subscribed');
  assert.ok(subscription !== undefined && subscription.to === 'gcs', 'the worker subscribes to the actor');
  // The GCS asks the owner, which answers; the GCS passes that on to the worker.
  const asked = messages(applyGcs(gcs, stamped<GcsEvent>(subscription.message, 'worker:n1.w5')));
  assert.deepEqual(asked.map((sent) => [sent.to, sent.message.type]), [['worker:n1.d1', 'actor/status-requested']]);
  const answered = messages(stepOwner(driver, stamped(asked[0]?.message as Message, 'gcs')));
  assert.deepEqual(answered.map((sent) => [sent.to, sent.message]), [['gcs', { type: 'actor/status-replied', actorId }]]);
  const told = messages(applyGcs(gcs, stamped<GcsEvent>(answered[0]?.message as Message, 'worker:n1.d1')));
  assert.deepEqual(gcsInvariants(gcs), []);
  assert.deepEqual(told.map((sent) => [sent.to, sent.message.type]), [['worker:n1.w5', 'actor/registration-replied']]);
  stepOwner(worker, stamped(told[0]?.message as Message, 'gcs'));
  // The call failed, saying why.
  const callTaskId = 'n1.w5.t1';
  assert.equal(tableGet(worker.tasks, callTaskId)?.state, 'FAILED');
  const object = tableGet(worker.objects, `${callTaskId}.r0`);
  assert.equal(object?.error?.errorClass, 'ActorDiedError');
  assert.match(object?.error?.message ?? '', /actor n1\.d1\.a1 is not known to the GCS: it ended, and neither the GCS nor its owner remembers it/);
});
