/**
 * The actor life cycle, as Ray's GCS actor manager runs it. Every change of an actor's state goes
 * through `transitionActor`, so that an illegal step stops the reducer at once instead of corrupting
 * later state.
 */
import { assert } from '../assert.js';
import type { ActorState } from '../protocol.js';
import type { ActorRecord } from './state.js';

/**
 * The states each state may move to. A creation that fails before the actor was ever alive keeps it
 * PENDING (and a failed restart keeps it RESTARTING), so those are not transitions; nothing leaves DEAD.
 */
export const legalActorTransitions: Readonly<Record<ActorState, readonly ActorState[]>> = {
  PENDING: ['ALIVE', 'DEAD'],
  ALIVE: ['RESTARTING', 'DEAD'],
  RESTARTING: ['ALIVE', 'DEAD'],
  DEAD: [],
};

/** Moves `actor` to state `to`, asserting that the step is legal. */
export function transitionActor(actor: ActorRecord, to: ActorState): void {
  assert(
    legalActorTransitions[actor.state].includes(to),
    `actor ${actor.actorId} cannot go from ${actor.state} to ${to}`,
  );
  actor.state = to;
}
