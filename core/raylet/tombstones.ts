/**
 * What the raylet remembers of things that are over: finished leases, dead local workers, dead
 * owners and dead nodes. Messages arrive late and out of order, so these memories let a handler see
 * that a message is stale; each is bounded, forgetting the oldest first.
 */
import type { Address, LeaseId, NodeId, WorkerId } from '../ids.js';
import { nodeOfWorker, workerAddress } from '../ids.js';
import { forgetSender } from '../inbox.js';
import { rememberBounded } from '../remembered.js';
import type { RayletState } from './state.js';

const workerPrefix = 'worker:';

/** Records that `leaseId` is finished, so later messages about it are ignored. */
export function tombstoneLease(state: RayletState, leaseId: LeaseId): void {
  if (state.tombstones[leaseId] === true) return;
  rememberBounded(state.tombstones, state.tombstoneOrder, leaseId, state.config.maxLeaseTombstones);
}

/** Records a local worker's death; the oldest dead record is dropped past the bound. */
export function rememberDeadWorker(state: RayletState, workerId: WorkerId): void {
  state.deadWorkerOrder.push(workerId);
  while (state.deadWorkerOrder.length > state.config.maxDeadWorkers) {
    const oldest = state.deadWorkerOrder.shift();
    if (oldest !== undefined && state.workers[oldest]?.state === 'dead') delete state.workers[oldest];
  }
}

/** Records that an owner is dead. Returns false if it was already known. */
export function rememberDeadOwner(state: RayletState, workerId: WorkerId): boolean {
  if (state.deadOwners[workerId] === true) return false;
  // A forgotten owner's window goes with it (see forgetSender): every owner that ever asked this raylet for a lease left one.
  rememberBounded(state.deadOwners, state.deadOwnerOrder, workerId, state.config.maxDeadOwners, (oldest) => forgetSender(state.inbox, workerAddress(oldest)));
  return true;
}

/** Records that another node is dead. Returns false if it was already known. */
export function rememberDeadNode(state: RayletState, nodeId: NodeId): boolean {
  if (state.deadNodes.includes(nodeId)) return false;
  state.deadNodes.push(nodeId);
  // Dead nodes are few; the bound only guards a long-lived cluster against endless churn.
  while (state.deadNodes.length > state.config.maxDeadOwners) state.deadNodes.shift();
  const view = state.cluster[nodeId];
  if (view !== undefined) view.alive = false;
  return true;
}

/** True when this raylet knows `nodeId` to be dead. */
export function isNodeDead(state: RayletState, nodeId: NodeId): boolean {
  return state.deadNodes.includes(nodeId);
}

/** True when `workerId`, an owner anywhere in the cluster, is known to be dead (itself or its node). */
export function isOwnerDead(state: RayletState, workerId: WorkerId): boolean {
  return state.deadOwners[workerId] === true || isNodeDead(state, nodeOfWorker(workerId));
}

/** True when the requester at `address` is a worker or driver known to be dead; the GCS never is. */
export function isRequesterDead(state: RayletState, address: Address): boolean {
  if (!address.startsWith(workerPrefix)) return false;
  return isOwnerDead(state, address.slice(workerPrefix.length));
}
