/**
 * The actor life cycle: publishing state changes, asking for leases, failures with restarts, and
 * death. Handlers of the individual messages build on these.
 */
import { send } from '../effects.js';
import type { JobId, NodeId, WorkerId } from '../ids.js';
import { gcsAddress, nodeOfWorker, rayletAddress, workerAddress } from '../ids.js';
import type { MessageOf, WorkerExitReason } from '../protocol.js';
import type { ThrownInfo } from '../values.js';
import { assertNever } from '../assert.js';
import { cloneData } from './clone.js';
import type { GcsEffect } from './events.js';
import { placeActor } from './placement.js';
import type { ActorRecord, GcsState } from './state.js';
import { aliveNodeIds, maxDeadActors, nameKey } from './state.js';
import { transitionActor } from './transition.js';

/** Why a non-detached actor ended once no handle to it was reachable (ActorDiedError's cause says so). */
export const outOfScopeCause = 'all handles to the actor went out of scope';

/** What to do with an actor's worker when the actor lets go of it. */
export type WorkerRelease =
  /** The worker is already gone: nothing to tell anyone. */
  | { readonly kind: 'none' }
  /** Ask its raylet to kill the worker, which may be running user code. */
  | { readonly kind: 'kill'; readonly reason: WorkerExitReason }
  /** Hand the lease back and have the raylet drop the worker, whose constructor already ended. */
  | { readonly kind: 'return' };

/** True when the GCS knows the worker is gone: reported dead, on a dead node, or a driver whose job ended. */
export function isWorkerDead(state: GcsState, workerId: WorkerId): boolean {
  if (state.deadWorkers[workerId] === true) return true;
  if (state.nodes[nodeOfWorker(workerId)]?.alive === false) return true;
  const jobId = state.jobOfDriver[workerId];
  return jobId !== undefined && state.jobs[jobId]?.alive === false;
}

/** True when the job is known to have ended. */
export function isJobFinished(state: GcsState, jobId: JobId): boolean {
  return state.jobs[jobId]?.alive === false;
}

/** True when the actor needs a node and has neither a lease request in flight nor a worker. */
export function isWaitingForPlacement(actor: ActorRecord): boolean {
  return (actor.state === 'PENDING' || actor.state === 'RESTARTING') && actor.pendingLease === undefined && actor.workerId === undefined;
}

/** The `actor/state-changed` message for the actor as it is now; it shares nothing with the state. */
export function actorStateMessage(actor: ActorRecord): MessageOf<'actor/state-changed'> {
  return {
    type: 'actor/state-changed',
    actorId: actor.actorId,
    state: actor.state,
    restartCount: actor.restartCount,
    ...(actor.workerId !== undefined ? { workerId: actor.workerId } : {}),
    ...(actor.nodeId !== undefined ? { nodeId: actor.nodeId } : {}),
    ...(actor.deathCause !== undefined ? { deathCause: actor.deathCause } : {}),
    ...(actor.deathError !== undefined ? { deathError: cloneData(actor.deathError) } : {}),
    spec: cloneData(actor.spec),
  };
}

/** Sends the actor's current state to its owner and then to every subscriber, each once. */
export function publishActor(actor: ActorRecord, effects: GcsEffect[]): void {
  const message = actorStateMessage(actor);
  const recipients = [actor.spec.owner, ...actor.subscribers];
  recipients.forEach((workerId, index) => {
    if (recipients.indexOf(workerId) === index) effects.push(send(workerAddress(workerId), message));
  });
}

/** Asks the raylet of `nodeId` for a worker lease for the actor, under a fresh lease id. */
export function requestLease(state: GcsState, actor: ActorRecord, nodeId: NodeId, spillbackCount: number, effects: GcsEffect[]): void {
  state.leaseCounter += 1;
  const leaseId = `gcs.l${state.leaseCounter}`;
  actor.pendingLease = { leaseId, nodeId, spillbackCount };
  state.leaseOwners[leaseId] = actor.actorId;
  effects.push(send(rayletAddress(nodeId), leaseRequestMessage(actor, leaseId, spillbackCount)));
}

/** The `lease/requested` message for one of the actor's lease requests. */
export function leaseRequestMessage(actor: ActorRecord, leaseId: string, spillbackCount: number): MessageOf<'lease/requested'> {
  return {
    type: 'lease/requested',
    leaseId,
    requester: gcsAddress,
    resources: { ...actor.spec.resources },
    placementResources: { ...actor.spec.placementResources },
    strategy: cloneData(actor.spec.strategy),
    spillbackCount,
    actorId: actor.actorId,
  };
}

/** Drops the actor's lease request in flight, if any, telling the raylet when it can still hear it. */
export function cancelPendingLease(state: GcsState, actor: ActorRecord, effects: GcsEffect[]): void {
  const pending = actor.pendingLease;
  if (pending === undefined) return;
  delete state.leaseOwners[pending.leaseId];
  delete actor.pendingLease;
  if (state.nodes[pending.nodeId]?.alive === true) {
    effects.push(send(rayletAddress(pending.nodeId), { type: 'lease/cancelled', leaseId: pending.leaseId }));
  }
}

/** Lets go of the actor's worker and granted lease, telling its raylet what `release` says. */
function releaseWorker(state: GcsState, actor: ActorRecord, release: WorkerRelease, effects: GcsEffect[]): void {
  const { workerId, nodeId, leaseId } = actor;
  if (leaseId !== undefined) delete state.leaseOwners[leaseId];
  if (workerId !== undefined) delete state.actorOfWorker[workerId];
  delete actor.workerId;
  delete actor.nodeId;
  delete actor.leaseId;
  if (workerId === undefined || nodeId === undefined || state.nodes[nodeId]?.alive !== true) return;
  switch (release.kind) {
    case 'none':
      return;
    case 'kill':
      effects.push(send(rayletAddress(nodeId), { type: 'worker/kill-requested', workerId, reason: release.reason }));
      return;
    case 'return':
      if (leaseId !== undefined) {
        effects.push(send(rayletAddress(nodeId), { type: 'lease/returned', leaseId, workerId, disconnectWorker: true }));
      }
      return;
    default:
      assertNever(release, 'worker release');
  }
}

/** Remembers a DEAD actor, forgetting the oldest dead ones beyond the bound. */
function rememberDeadActor(state: GcsState, actor: ActorRecord): void {
  state.deadActorOrder.push(actor.actorId);
  while (state.deadActorOrder.length > maxDeadActors) {
    const oldest = state.deadActorOrder.shift();
    if (oldest !== undefined) delete state.actors[oldest];
  }
}

/**
 * Kills the actor for good: frees its lease, worker and name, publishes DEAD with `cause` (and with
 * `error`, what its constructor threw, when that is the cause).
 */
export function destroyActor(state: GcsState, actor: ActorRecord, cause: string, release: WorkerRelease, effects: GcsEffect[], error?: ThrownInfo): void {
  cancelPendingLease(state, actor, effects);
  releaseWorker(state, actor, release, effects);
  if (actor.spec.name !== undefined) {
    const key = nameKey(actor.spec.namespace, actor.spec.name);
    if (state.names[key] === actor.actorId) delete state.names[key];
  }
  transitionActor(actor, 'DEAD');
  actor.deathCause = cause;
  if (error !== undefined) actor.deathError = cloneData(error);
  delete actor.disposing;
  publishActor(actor, effects);
  // A dead actor never changes again, so its subscribers have nothing more to hear.
  actor.subscribers = [];
  // Nor is it constructed again: its constructor's arguments (inline values of up to the inline
  // threshold each) are dropped, where every dead actor remembered (up to maxDeadActors) kept them.
  if (actor.spec.args.length > 0) actor.spec = { ...actor.spec, args: [] };
  rememberDeadActor(state, actor);
}

/** Places the actor: asks a raylet for a lease, leaves it waiting for a node, or kills it as unschedulable. */
export function scheduleActor(state: GcsState, actor: ActorRecord, effects: GcsEffect[]): void {
  if (!isWaitingForPlacement(actor)) return;
  const placement = placeActor(state, actor.spec);
  switch (placement.kind) {
    case 'node':
      requestLease(state, actor, placement.nodeId, 0, effects);
      return;
    case 'wait':
      tellOwnerInfeasible(state, actor, effects);
      return;
    case 'unschedulable':
      destroyActor(state, actor, `unschedulable: ${placement.reason}`, { kind: 'none' }, effects);
      return;
    default:
      assertNever(placement, 'placement');
  }
}

/**
 * The actor waits because no alive node can ever hold it: its owner hears so once per incarnation,
 * so that its calls and its driver can say why they wait (it is still placed once such a node joins).
 */
function tellOwnerInfeasible(state: GcsState, actor: ActorRecord, effects: GcsEffect[]): void {
  if (aliveNodeIds(state).length === 0 || actor.toldInfeasible === actor.restartCount) return;
  actor.toldInfeasible = actor.restartCount;
  const needs: Record<string, number> = { ...actor.spec.placementResources };
  for (const [name, amount] of Object.entries(actor.spec.resources)) needs[name] = Math.max(needs[name] ?? 0, amount);
  const shape = Object.keys(needs)
    .sort()
    .map((name) => `${name}: ${needs[name] ?? 0}`)
    .join(', ');
  const reason = `no alive node can ever fit {${shape}}; it waits until a node that has them joins`;
  effects.push(send(workerAddress(actor.spec.owner), { type: 'actor/infeasible', actorId: actor.actorId, restartCount: actor.restartCount, reason }));
}

/** Why a failed actor may not come back, or undefined when it restarts. */
function reasonToStayDead(state: GcsState, actor: ActorRecord, cause: string): string | undefined {
  const { spec } = actor;
  if (actor.disposing === true) return outOfScopeCause;
  if (!spec.detached && isWorkerDead(state, spec.owner)) return 'owner died';
  if (!spec.detached && isJobFinished(state, spec.jobId)) return 'job finished';
  if (spec.maxRestarts !== -1 && actor.numRestarts >= spec.maxRestarts) {
    return spec.maxRestarts === 0 ? cause : `${cause}; restarts spent after ${actor.numRestarts}`;
  }
  return undefined;
}

/**
 * The actor's worker is gone (it died, its node died, or its lease ended). It restarts, re-running
 * its constructor, unless it was killed for good, its owner or job is gone, or its restarts are spent.
 */
export function failActor(state: GcsState, actor: ActorRecord, cause: string, effects: GcsEffect[]): void {
  releaseWorker(state, actor, { kind: 'none' }, effects);
  cancelPendingLease(state, actor, effects);
  const deathCause = reasonToStayDead(state, actor, cause);
  if (deathCause !== undefined) {
    destroyActor(state, actor, deathCause, { kind: 'none' }, effects);
    return;
  }
  actor.numRestarts += 1;
  actor.restartCount += 1;
  if (actor.state === 'ALIVE') transitionActor(actor, 'RESTARTING');
  publishActor(actor, effects);
  scheduleActor(state, actor, effects);
}
