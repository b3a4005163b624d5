/**
 * Where a lease should run, after Ray's policies: hard and soft node affinity, SPREAD round robin,
 * and the hybrid DEFAULT (here if it fits now, else the other node with the most free CPU, else wait
 * here). Work that no known node can ever fit is kept pending, as Ray does, until the cluster grows.
 */
import type { NodeId } from '../ids.js';
import type { Resources } from '../resources.js';
import { fits, missingResources, shapeKey } from '../resources.js';
import type { ResourceDemand } from '../protocol.js';
import { fitsHere } from './dispatch.js';
import type { ClusterNodeView, RayletLease, RayletState } from './state.js';
import { isNodeDead } from './tombstones.js';

/** The outcome of placement: run here, spill to another node, reject for good, or wait for the cluster to grow. */
export type Placement =
  | { readonly kind: 'here' }
  | { readonly kind: 'spill'; readonly nodeId: NodeId }
  | { readonly kind: 'reject'; readonly reason: string }
  | { readonly kind: 'wait' };

/** True when a node with this total can ever fit the lease. */
function feasibleOn(total: Resources, lease: RayletLease): boolean {
  return fits(total, lease.resources) && fits(total, lease.placementResources);
}

/** True when a node with this much free can fit the lease now. */
function availableOn(available: Resources, lease: RayletLease): boolean {
  return fits(available, lease.resources) && fits(available, lease.placementResources);
}

/** The alive other node `nodeId` as last published, or undefined if unknown or dead. */
function aliveView(state: RayletState, nodeId: NodeId): ClusterNodeView | undefined {
  const view = state.cluster[nodeId];
  return view === undefined || !view.alive || isNodeDead(state, nodeId) ? undefined : view;
}

/** Alive other nodes that can ever fit the lease, sorted by id. */
function feasibleOthers(state: RayletState, lease: RayletLease): NodeId[] {
  return Object.keys(state.cluster)
    .filter((nodeId) => nodeId !== state.nodeId)
    .filter((nodeId) => {
      const view = aliveView(state, nodeId);
      return view !== undefined && feasibleOn(view.total, lease);
    })
    .sort();
}

/** The node with the most free CPU (ties by id) among `nodeIds`, or null if there are none. */
function mostFreeCpu(state: RayletState, nodeIds: NodeId[]): NodeId | null {
  let best: NodeId | null = null;
  let bestCpu = -Infinity;
  for (const nodeId of nodeIds) {
    const cpu = state.cluster[nodeId]?.available['CPU'] ?? 0;
    if (cpu > bestCpu) {
      best = nodeId;
      bestCpu = cpu;
    }
  }
  return best;
}

/** Names what a node of this total lacks for the lease, with the amounts, for a readable rejection. */
function lacking(total: Resources, lease: RayletLease): string {
  const names = [...new Set([...missingResources(total, lease.resources), ...missingResources(total, lease.placementResources)])].sort();
  return names
    .map((name) => {
      const needed = Math.max(lease.resources[name] ?? 0, lease.placementResources[name] ?? 0);
      return `${name} (needs ${needed}, has ${total[name] ?? 0})`;
    })
    .join(', ');
}

/** What a lease needs to be placed: the larger of what it holds and what it must find free, per resource. */
function placementShape(lease: RayletLease): Resources {
  const shape: Record<string, number> = { ...lease.placementResources };
  for (const [name, amount] of Object.entries(lease.resources)) shape[name] = Math.max(shape[name] ?? 0, amount);
  return shape;
}

/**
 * The leases waiting here (queued for resources, or infeasible), grouped by shape and whether no
 * alive node can ever fit them, in a stable order: the pending demand `tsray status` shows.
 */
export function pendingDemand(state: RayletState): ResourceDemand[] {
  const byKey = new Map<string, { resources: Resources; count: number; infeasible: boolean }>();
  for (const leaseId of [...state.queue, ...state.infeasible]) {
    const lease = state.leases[leaseId];
    if (lease === undefined) continue;
    const resources = placementShape(lease);
    const infeasible = lease.state === 'infeasible' && infeasibleReason(state, lease) !== undefined;
    const key = `${shapeKey(resources)}|${infeasible ? 'infeasible' : 'waiting'}`;
    const known = byKey.get(key);
    if (known === undefined) byKey.set(key, { resources, count: 1, infeasible });
    else known.count += 1;
  }
  return [...byKey.keys()].sort().flatMap((key) => {
    const demand = byKey.get(key);
    return demand === undefined ? [] : [demand];
  });
}

/**
 * Why a lease waits as infeasible, once this raylet has a cluster view: no alive node, this one
 * included, can ever fit it. Undefined while it cannot tell (no view yet) or when some node can.
 */
export function infeasibleReason(state: RayletState, lease: RayletLease): string | undefined {
  if (!state.viewReceived || feasibleOn(state.total, lease) || feasibleOthers(state, lease).length > 0) return undefined;
  const shape = (resources: Resources): string =>
    Object.keys(resources)
      .sort()
      .map((name) => `${name}: ${resources[name] ?? 0}`)
      .join(', ');
  const needs = shape(placementShape(lease));
  return `no alive node can ever fit {${needs}}: node ${state.nodeId} lacks ${lacking(state.total, lease)}, and no other node has enough in total; it waits until a node that has them joins`;
}

/**
 * Hard affinity: only the named node. As in Ray, it fails if that node is dead, not in the cluster, or
 * can never fit the lease. Until the first cluster view arrives this raylet cannot tell an unknown
 * node from one it has not heard of yet, so it waits for that view rather than reject.
 */
function placeHardAffinity(state: RayletState, lease: RayletLease, target: NodeId): Placement {
  if (target === state.nodeId) {
    if (feasibleOn(state.total, lease)) return { kind: 'here' };
    return { kind: 'reject', reason: `hard node affinity to ${target}, which can never fit this lease: it lacks ${lacking(state.total, lease)}` };
  }
  if (isNodeDead(state, target)) return { kind: 'reject', reason: `hard node affinity to ${target}, which is dead` };
  const view = aliveView(state, target);
  if (view === undefined) {
    if (!state.viewReceived) return { kind: 'wait' };
    return { kind: 'reject', reason: `hard node affinity to ${target}, which is not in the cluster (no alive node has that id); use soft: true to allow another node` };
  }
  if (!feasibleOn(view.total, lease)) {
    return { kind: 'reject', reason: `hard node affinity to ${target}, which can never fit this lease: it lacks ${lacking(view.total, lease)}` };
  }
  return { kind: 'spill', nodeId: target };
}

/** Infeasible here: the soft target or the best other node that can ever fit it, else wait. */
function placeInfeasible(state: RayletState, lease: RayletLease): Placement {
  const candidates = feasibleOthers(state, lease);
  const strategy = lease.strategy;
  if (typeof strategy !== 'string' && candidates.includes(strategy.nodeId)) return { kind: 'spill', nodeId: strategy.nodeId };
  if (candidates.length === 0) return { kind: 'wait' };
  const freeNow = candidates.filter((nodeId) => availableOn(state.cluster[nodeId]?.available ?? {}, lease));
  const best = mostFreeCpu(state, freeNow.length > 0 ? freeNow : candidates);
  return best === null ? { kind: 'wait' } : { kind: 'spill', nodeId: best };
}

/** SPREAD: round robin over every alive node that can fit it, this one included. */
function placeSpread(state: RayletState, lease: RayletLease): Placement {
  const candidates = [state.nodeId, ...feasibleOthers(state, lease)].sort();
  const choice = candidates[state.spreadCursor % candidates.length] ?? state.nodeId;
  state.spreadCursor = (state.spreadCursor + 1) % candidates.length;
  return choice === state.nodeId ? placeDefault(state, lease) : { kind: 'spill', nodeId: choice };
}

/** DEFAULT (hybrid): here if it fits now; else, on a first request, another node that fits now; else here. */
function placeDefault(state: RayletState, lease: RayletLease): Placement {
  if (fitsHere(state, lease) || lease.spillbackCount > 0) return { kind: 'here' };
  const freeNow = feasibleOthers(state, lease).filter((nodeId) => availableOn(state.cluster[nodeId]?.available ?? {}, lease));
  const best = mostFreeCpu(state, freeNow);
  return best === null ? { kind: 'here' } : { kind: 'spill', nodeId: best };
}

/**
 * How often a lease may be spilled on from a queue where it waits for resources (see
 * `spillWaitingTarget`): a bound on leases moving between nodes whose views of each other lag.
 */
export const maxWaitingSpillbacks = 4;

/**
 * Where a lease queued here, waiting for resources this node does not have free, should go instead:
 * the alive node that, by the latest view, fits it now and has the most free CPU. As in Ray, placing a
 * lease in a node's queue is not final: a view that was stale when the lease arrived (the other
 * nodes looked busy) must not keep it behind work here that may never end, such as actors holding
 * every CPU. Only leases without node affinity move (soft affinity waits for its target, as Ray's
 * does by default), and only `maxWaitingSpillbacks` times. Null: it stays queued here.
 */
export function spillWaitingTarget(state: RayletState, lease: RayletLease): NodeId | null {
  if (typeof lease.strategy !== 'string' || lease.spillbackCount >= maxWaitingSpillbacks || fitsHere(state, lease)) return null;
  const freeNow = feasibleOthers(state, lease).filter((nodeId) => availableOn(state.cluster[nodeId]?.available ?? {}, lease));
  return mostFreeCpu(state, freeNow);
}

/**
 * Decides where `lease` runs. A lease that was spilled once (spillbackCount >= 1) is not spilled
 * again on arrival unless this node can never fit it, so that a lease cannot bounce between nodes;
 * once queued here, a later cluster view may still move it (`spillWaitingTarget`). Soft affinity
 * follows Ray: the target, if alive and able to ever fit the lease, is the only place (it waits there
 * when busy); otherwise (dead, not in the cluster, or infeasible) the lease is placed as DEFAULT. A
 * target this raylet does not know before its first cluster view may yet be in it, so it waits for
 * that view before falling back.
 */
export function decidePlacement(state: RayletState, lease: RayletLease): Placement {
  const strategy = lease.strategy;
  if (typeof strategy !== 'string' && !strategy.soft) return placeHardAffinity(state, lease, strategy.nodeId);
  if (!feasibleOn(state.total, lease)) return placeInfeasible(state, lease);
  if (typeof strategy !== 'string') {
    if (strategy.nodeId === state.nodeId) return { kind: 'here' };
    const target = aliveView(state, strategy.nodeId);
    if (target !== undefined && feasibleOn(target.total, lease)) {
      return lease.spillbackCount > 0 ? { kind: 'here' } : { kind: 'spill', nodeId: strategy.nodeId };
    }
    if (target === undefined && !state.viewReceived && !isNodeDead(state, strategy.nodeId)) return { kind: 'wait' };
    return placeDefault(state, lease);
  }
  if (strategy === 'SPREAD' && lease.spillbackCount === 0) return placeSpread(state, lease);
  return placeDefault(state, lease);
}
