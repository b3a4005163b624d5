/**
 * Worker deaths. The GCS remembers which workers died, tells every raylet (which tells its workers:
 * that is how owners and borrowers learn of each other's death), and applies the consequences to the
 * actors the worker ran or owned and to the job it drove.
 */
import { send } from '../effects.js';
import type { NodeId, WorkerId } from '../ids.js';
import { rayletAddress, workerAddress } from '../ids.js';
import { forgetSender } from '../inbox.js';
import { rememberBounded } from '../remembered.js';
import type { WorkerExitReason } from '../protocol.js';
import { destroyActor, failActor } from './actors.js';
import type { GcsEffect } from './events.js';
import { endJob } from './jobs.js';
import { answerEarlySubscribersOf } from './actor-messages.js';
import { releaseHeldRedirectsOf } from './redirects.js';
import type { GcsState } from './state.js';
import { aliveNodeIds } from './state.js';

/**
 * Records the worker as dead and broadcasts its death to every alive raylet. Returns false when the
 * death was already known, in which case nothing is sent.
 */
export function recordWorkerDeath(state: GcsState, workerId: WorkerId, nodeId: NodeId, reason: WorkerExitReason, effects: GcsEffect[]): boolean {
  if (state.deadWorkers[workerId] === true) return false;
  // A forgotten worker's window goes with it: the inbox would otherwise keep one per worker that ever sent here.
  rememberBounded(state.deadWorkers, state.deadWorkerOrder, workerId, state.config.maxDeadWorkers, (oldest) => forgetSender(state.inbox, workerAddress(oldest)));
  for (const aliveNodeId of aliveNodeIds(state)) {
    effects.push(send(rayletAddress(aliveNodeId), { type: 'worker/died', workerId, nodeId, reason }));
  }
  return true;
}

/**
 * Applies a recorded worker death: the actor it ran fails (with `cause`), the non-detached actors it
 * owned die, and the job it drove ends.
 */
export function applyWorkerDeath(state: GcsState, workerId: WorkerId, cause: string, effects: GcsEffect[]): void {
  const ranActorId = state.actorOfWorker[workerId];
  const ranActor = ranActorId === undefined ? undefined : state.actors[ranActorId];
  if (ranActor !== undefined) failActor(state, ranActor, cause, effects);
  for (const actorId of Object.keys(state.actors)) {
    const actor = state.actors[actorId];
    if (actor === undefined || actor.state === 'DEAD' || actor.spec.detached || actor.spec.owner !== workerId) continue;
    destroyActor(state, actor, 'owner died', { kind: 'kill', reason: 'owner-died' }, effects);
  }
  releaseHeldRedirectsOf(state, workerId);
  answerEarlySubscribersOf(state, workerId, effects);
  const jobId = state.jobOfDriver[workerId];
  if (jobId !== undefined) endJob(state, jobId, effects);
}

/** A raylet reported a worker's death. */
export function onWorkerDied(state: GcsState, workerId: WorkerId, nodeId: NodeId, reason: WorkerExitReason, effects: GcsEffect[]): void {
  if (!recordWorkerDeath(state, workerId, nodeId, reason, effects)) return;
  applyWorkerDeath(state, workerId, `worker ${workerId} died (${reason})`, effects);
}
