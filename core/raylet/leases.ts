/**
 * The lease protocol as the raylet serves it: requests, cancellations and returns. Each handler first
 * checks what the state says about the lease, because messages arrive late, twice, out of order, or
 * from requesters that have since died.
 */
import { assertNever } from '../assert.js';
import { send } from '../effects.js';
import type { MessageOf } from '../protocol.js';
import { copyResources, copyStrategy } from './copy.js';
import { dispatch, grantedMessage, unbindWorker } from './dispatch.js';
import type { RayletEffect } from './events.js';
import { dropPendingLease, finishLease } from './lease-end.js';
import type { Placement } from './placement.js';
import { decidePlacement, infeasibleReason } from './placement.js';
import type { RayletLease, RayletState } from './state.js';
import { isRequesterDead, tombstoneLease } from './tombstones.js';
import { actorLeaseCount } from './worker-pool.js';
import { makeIdle } from './idle-exit.js';

/** A `lease/rejected` to the lease's requester. */
function rejection(lease: RayletLease, reason: string, permanent: boolean): RayletEffect {
  return send(lease.requester, { type: 'lease/rejected', leaseId: lease.leaseId, reason, permanent });
}

/**
 * Tells the requester, once, that its waiting lease is infeasible (no alive node can ever fit it), so
 * that a get of its result can say why it waits instead of hanging silently.
 */
export function tellInfeasible(state: RayletState, lease: RayletLease, effects: RayletEffect[]): void {
  if (lease.toldInfeasible === true) return;
  const reason = infeasibleReason(state, lease);
  if (reason === undefined) return;
  lease.toldInfeasible = true;
  effects.push(send(lease.requester, { type: 'lease/infeasible', leaseId: lease.leaseId, reason }));
}

/**
 * Carries out a placement for a lease that is not (or no longer) in the raylet's tables: queue it
 * here, spill it, reject it, or keep it pending as infeasible. Bounded lists that are full turn the
 * lease away for now (the requester may ask again later).
 */
export function carryOutPlacement(state: RayletState, lease: RayletLease, placement: Placement, effects: RayletEffect[]): void {
  switch (placement.kind) {
    case 'here':
      if (state.queue.length >= state.config.maxLeaseQueue) {
        effects.push(rejection(lease, 'lease queue full', false));
        return;
      }
      lease.state = 'queued';
      state.leases[lease.leaseId] = lease;
      state.queue.push(lease.leaseId);
      return;
    case 'spill':
      effects.push(send(lease.requester, { type: 'lease/spilled', leaseId: lease.leaseId, toNodeId: placement.nodeId }));
      return;
    case 'reject':
      effects.push(rejection(lease, placement.reason, true));
      return;
    case 'wait':
      if (state.infeasible.length >= state.config.maxInfeasible) {
        effects.push(rejection(lease, `infeasible lease list full (${state.config.maxInfeasible} leases wait for the cluster to grow)`, false));
        return;
      }
      lease.state = 'infeasible';
      state.leases[lease.leaseId] = lease;
      state.infeasible.push(lease.leaseId);
      tellInfeasible(state, lease, effects);
      return;
    default:
      assertNever(placement, 'placement');
  }
}

/** `lease/requested`: place a new lease; re-send the grant of a known granted one; ignore the rest. */
export function onLeaseRequested(state: RayletState, message: MessageOf<'lease/requested'>, effects: RayletEffect[]): void {
  if (state.tombstones[message.leaseId] === true || isRequesterDead(state, message.requester)) return;
  const known = state.leases[message.leaseId];
  if (known !== undefined) {
    // The requester may have missed the grant; anything else is still in progress here.
    if (known.state === 'granted') effects.push(grantedMessage(state, known));
    return;
  }
  const maxActorWorkers = state.config.maxActorWorkers;
  if (message.actorId !== undefined && maxActorWorkers > 0 && actorLeaseCount(state) >= maxActorWorkers) {
    const reason = `node ${state.nodeId} already runs ${maxActorWorkers} actors, its limit maxActorWorkers (TSRAY_MAX_ACTOR_WORKERS); raise it, or let actors end first`;
    effects.push(send(message.requester, { type: 'lease/rejected', leaseId: message.leaseId, reason, permanent: true }));
    return;
  }
  const lease: RayletLease = {
    leaseId: message.leaseId,
    requester: message.requester,
    resources: copyResources(message.resources),
    placementResources: copyResources(message.placementResources),
    strategy: copyStrategy(message.strategy),
    spillbackCount: message.spillbackCount,
    actorId: message.actorId ?? null,
    state: 'queued',
    workerId: null,
    failedSpawns: 0,
  };
  carryOutPlacement(state, lease, decidePlacement(state, lease), effects);
  dispatch(state, effects);
}

/**
 * `lease/cancelled`: drop a lease that has no running worker yet. A granted lease is left alone: the
 * requester will return it. A cancel that overtook its request tombstones the id so the request is
 * ignored when it arrives.
 */
export function onLeaseCancelled(state: RayletState, message: MessageOf<'lease/cancelled'>, effects: RayletEffect[]): void {
  const lease = state.leases[message.leaseId];
  if (lease === undefined) {
    tombstoneLease(state, message.leaseId);
    return;
  }
  if (lease.state === 'granted') return;
  dropPendingLease(state, lease);
  dispatch(state, effects);
}

/** `lease/returned`: the requester is done with the worker; free it (or end it, if asked) and dispatch. */
export function onLeaseReturned(state: RayletState, message: MessageOf<'lease/returned'>, effects: RayletEffect[]): void {
  const lease = state.leases[message.leaseId];
  if (lease === undefined || lease.state !== 'granted' || lease.workerId !== message.workerId) return;
  const worker = state.workers[message.workerId];
  if (worker !== undefined) {
    unbindWorker(state, worker);
    if (worker.state === 'leased') {
      if (message.disconnectWorker) {
        worker.state = 'dying';
        effects.push({ type: 'worker/kill', workerId: worker.workerId, reason: 'exited' });
      } else {
        makeIdle(state, worker, effects);
      }
    }
  }
  finishLease(state, lease.leaseId);
  dispatch(state, effects);
}
