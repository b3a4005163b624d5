/**
 * Handlers of the raylets' answers to the GCS's lease requests for actors, and the retry timer.
 */
import { send } from '../effects.js';
import type { ActorId, LeaseId } from '../ids.js';
import { rayletAddress, workerAddress } from '../ids.js';
import type { MessageOf } from '../protocol.js';
import { destroyActor, failActor, isWaitingForPlacement, isWorkerDead, requestLease, scheduleActor } from './actors.js';
import { cloneData } from './clone.js';
import type { GcsEffect } from './events.js';
import { actorRetryTimerPrefix } from './events.js';
import type { ActorRecord, GcsState } from './state.js';

/** The actor whose lease request in flight is `leaseId`, if it still waits for it. */
function requestingActor(state: GcsState, leaseId: LeaseId): ActorRecord | undefined {
  const actorId = state.leaseOwners[leaseId];
  const actor = actorId === undefined ? undefined : state.actors[actorId];
  return actor?.pendingLease?.leaseId === leaseId ? actor : undefined;
}

/**
 * A raylet granted a worker. For the lease an actor waits for, the GCS pushes the creation task to
 * the worker; any other grant (stale, for a dead actor, from a dead node, of a dead or taken worker)
 * goes back to the raylet, and an actor that could not use its grant asks again. A worker given back
 * unused goes back to the node's pool: it may be an idle task worker that owns what its tasks made,
 * which ending would lose (a lease the GCS asked for again after a restart, while the node had just
 * spilled the first request to another node, was granted on both; ending the second's worker failed
 * a ref it owned with OwnerDiedError). Only a worker the GCS knows to host an actor is ended.
 */
export function onLeaseGranted(state: GcsState, message: MessageOf<'lease/granted'>, effects: GcsEffect[]): void {
  const { leaseId, workerId, nodeId } = message;
  const holderId = state.leaseOwners[leaseId];
  // A repeated grant of a lease already taken must not hand back the worker the actor now uses.
  if (holderId !== undefined && state.actors[holderId]?.leaseId === leaseId) return;
  const actor = requestingActor(state, leaseId);
  const usable = state.nodes[nodeId]?.alive === true && !isWorkerDead(state, workerId) && state.actorOfWorker[workerId] === undefined;
  if (actor === undefined || !usable) {
    effects.push(send(rayletAddress(nodeId), { type: 'lease/returned', leaseId, workerId, disconnectWorker: state.actorOfWorker[workerId] !== undefined }));
    if (actor !== undefined) {
      delete state.leaseOwners[leaseId];
      delete actor.pendingLease;
      scheduleActor(state, actor, effects);
    }
    return;
  }
  delete actor.pendingLease;
  actor.leaseId = leaseId;
  actor.workerId = workerId;
  actor.nodeId = nodeId;
  state.actorOfWorker[workerId] = actor.actorId;
  effects.push(
    send(workerAddress(workerId), { type: 'actor/creation-pushed', spec: cloneData(actor.spec), restartCount: actor.restartCount, leaseId }),
  );
}

/** The raylet sent the request on to another node: ask that node's raylet, counting the hop. */
export function onLeaseSpilled(state: GcsState, message: MessageOf<'lease/spilled'>, effects: GcsEffect[]): void {
  const actor = requestingActor(state, message.leaseId);
  const pending = actor?.pendingLease;
  if (actor === undefined || pending === undefined) return;
  delete state.leaseOwners[pending.leaseId];
  delete actor.pendingLease;
  if (state.nodes[message.toNodeId]?.alive === true) requestLease(state, actor, message.toNodeId, pending.spillbackCount + 1, effects);
  else scheduleActor(state, actor, effects);
}

/** The raylet turned the request down: for good (the actor is unschedulable), or for now (retry later). */
export function onLeaseRejected(state: GcsState, message: MessageOf<'lease/rejected'>, effects: GcsEffect[]): void {
  const actor = requestingActor(state, message.leaseId);
  if (actor === undefined) return;
  delete state.leaseOwners[message.leaseId];
  delete actor.pendingLease;
  if (message.permanent) {
    destroyActor(state, actor, `unschedulable: ${message.reason}`, { kind: 'none' }, effects);
    return;
  }
  effects.push({ type: 'timer/armed', timerId: `${actorRetryTimerPrefix}${actor.actorId}`, delayMs: state.config.actorRetryDelayMs });
}

/**
 * `lease/infeasible` for an actor's lease: the actor keeps waiting there (a node that fits may join),
 * and its owner hears why, so that its pending calls and its driver can say so instead of waiting
 * without a word.
 */
export function onLeaseInfeasible(state: GcsState, message: MessageOf<'lease/infeasible'>, effects: GcsEffect[]): void {
  const actor = requestingActor(state, message.leaseId);
  if (actor === undefined) return;
  effects.push(send(workerAddress(actor.spec.owner), { type: 'actor/infeasible', actorId: actor.actorId, restartCount: actor.restartCount, reason: message.reason }));
}

/** The worker holding an actor's lease ended: the actor fails, unless the report is about an older worker. */
export function onLeaseWorkerDied(state: GcsState, message: MessageOf<'lease/worker-died'>, effects: GcsEffect[]): void {
  const actorId = state.leaseOwners[message.leaseId];
  const actor = actorId === undefined ? undefined : state.actors[actorId];
  if (actor === undefined || actor.leaseId !== message.leaseId || actor.workerId !== message.workerId) return;
  failActor(state, actor, `worker ${message.workerId} died (${message.reason})`, effects);
}

/** A retry timer fired: the actor asks for a lease again if it still waits for one. */
export function onActorRetryTimer(state: GcsState, actorId: ActorId, effects: GcsEffect[]): void {
  const actor = state.actors[actorId];
  if (actor !== undefined && isWaitingForPlacement(actor)) scheduleActor(state, actor, effects);
}
