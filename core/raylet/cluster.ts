/**
 * What the raylet learns of the rest of the cluster from the GCS: the published view of other nodes,
 * and deaths of nodes and workers. Deaths are forwarded to every local process that listens, so that
 * owners here learn that their objects, borrowers or actors elsewhere are gone.
 */
import { send } from '../effects.js';
import { nodeOfWorker, workerAddress } from '../ids.js';
import type { WorkerId } from '../ids.js';
import type { MessageOf } from '../protocol.js';
import { take } from '../resources.js';
import { copyResources } from './copy.js';
import { dispatch, removeId } from './dispatch.js';
import type { RayletEffect } from './events.js';
import { carryOutPlacement, tellInfeasible } from './leases.js';
import { sweepDeadOwners } from './owner-death.js';
import { decidePlacement, spillWaitingTarget } from './placement.js';
import type { ClusterNodeView, RayletState } from './state.js';
import { isNodeDead, rememberDeadNode, rememberDeadOwner } from './tombstones.js';
import { listeningWorkerIds } from './worker-pool.js';

/**
 * Places every infeasible lease again: a node that fits may have joined (spill there), or a hard
 * affinity target may have died (reject); the rest keep waiting, in order (their requesters told
 * they are infeasible, once).
 */
export function reexamineInfeasible(state: RayletState, effects: RayletEffect[]): void {
  for (const leaseId of [...state.infeasible]) {
    const lease = state.leases[leaseId];
    if (lease === undefined) {
      removeId(state.infeasible, leaseId);
      continue;
    }
    const placement = decidePlacement(state, lease);
    if (placement.kind === 'wait') {
      // A lease that waited for the first view may turn out infeasible now that the view is here.
      tellInfeasible(state, lease, effects);
      continue;
    }
    removeId(state.infeasible, leaseId);
    if (placement.kind === 'here' && state.queue.length < state.config.maxLeaseQueue) {
      lease.state = 'queued';
      state.queue.push(leaseId);
      continue;
    }
    // The lease leaves this raylet; the placement only reads its ids from here on.
    delete state.leases[leaseId];
    carryOutPlacement(state, lease, placement, effects);
  }
  dispatch(state, effects);
}

/** `cluster/view-published`: replace the view of other nodes (this node's own numbers stay its own). */
export function onClusterViewPublished(state: RayletState, message: MessageOf<'cluster/view-published'>, effects: RayletEffect[]): void {
  const view: Record<string, ClusterNodeView> = {};
  for (const node of message.nodes) {
    if (node.nodeId === state.nodeId) continue;
    view[node.nodeId] = {
      total: copyResources(node.total),
      available: copyResources(node.available),
      alive: !isNodeDead(state, node.nodeId),
      ...(typeof node.transferAddress === 'string' ? { transferAddress: node.transferAddress } : {}),
    };
  }
  state.cluster = view;
  state.viewReceived = true;
  spillWaitingLeases(state, effects);
  reexamineInfeasible(state, effects);
}

/**
 * Spills on the leases queued here for resources this node does not have free, each to another node
 * the new view shows able to run it now (`spillWaitingTarget`). What each spilled lease needs is
 * taken from this raylet's view of its target, so that one view does not send that node more than it
 * has free.
 */
function spillWaitingLeases(state: RayletState, effects: RayletEffect[]): void {
  for (const leaseId of [...state.queue]) {
    const lease = state.leases[leaseId];
    if (lease === undefined || lease.state !== 'queued') continue;
    const target = spillWaitingTarget(state, lease);
    const targetView = target === null ? undefined : state.cluster[target];
    if (target === null || targetView === undefined) continue;
    take(targetView.available, lease.resources);
    removeId(state.queue, leaseId);
    delete state.leases[leaseId];
    effects.push(send(lease.requester, { type: 'lease/spilled', leaseId, toNodeId: target }));
  }
}

/**
 * Tells a process that just joined this node of the deaths this raylet knows, so that it never waits
 * on an owner or a node that died before it started (such a wait would never end).
 */
export function briefNewProcess(state: RayletState, workerId: WorkerId, effects: RayletEffect[]): void {
  const to = workerAddress(workerId);
  for (const nodeId of state.deadNodes) effects.push(send(to, { type: 'node/died', nodeId }));
  for (const deadId of Object.keys(state.deadOwners)) {
    if (deadId !== workerId) effects.push(send(to, { type: 'worker/died', workerId: deadId, nodeId: nodeOfWorker(deadId), reason: 'exited' }));
  }
}

/** Forwards a death notice to every local worker and driver that listens. */
export function forwardToLocal(state: RayletState, message: MessageOf<'node/died' | 'worker/died'>, effects: RayletEffect[]): void {
  for (const workerId of listeningWorkerIds(state)) effects.push(send(workerAddress(workerId), { ...message }));
}

/**
 * `node/died`: about this node, shut down for good; about another, mark it dead, drop what its
 * workers asked for, and tell local owners.
 */
export function onNodeDied(state: RayletState, message: MessageOf<'node/died'>, effects: RayletEffect[]): void {
  if (message.nodeId === state.nodeId) {
    state.phase = 'shut-down';
    effects.push({ type: 'node/shutdown' });
    return;
  }
  rememberDeadNode(state, message.nodeId);
  sweepDeadOwners(state, effects);
  forwardToLocal(state, { type: 'node/died', nodeId: message.nodeId }, effects);
  reexamineInfeasible(state, effects);
}

/** `worker/died` from the GCS: an owner anywhere died; drop what it asked for and tell local owners. */
export function onWorkerDied(state: RayletState, message: MessageOf<'worker/died'>, effects: RayletEffect[]): void {
  rememberDeadOwner(state, message.workerId);
  sweepDeadOwners(state, effects);
  forwardToLocal(state, { type: 'worker/died', workerId: message.workerId, nodeId: message.nodeId, reason: message.reason }, effects);
  dispatch(state, effects);
}
