/**
 * Choosing a node for an actor, as Ray's GCS-based actor scheduling does before it asks that node's
 * raylet for a lease. The raylet may still spill the lease elsewhere; this only picks the first try.
 */
import type { NodeId } from '../ids.js';
import type { ActorSpec } from '../protocol.js';
import { fits, missingResources } from '../resources.js';
import type { GcsState, NodeRecord } from './state.js';
import { aliveNodeIds } from './state.js';

/** Where an actor goes: a node, nowhere yet (wait for a node to join), or nowhere ever. */
export type Placement =
  | { readonly kind: 'node'; readonly nodeId: NodeId }
  | { readonly kind: 'wait' }
  | { readonly kind: 'unschedulable'; readonly reason: string };

/** True when the node could ever hold the actor: its total fits both what it holds and what it needs to be placed. */
export function canEverHold(node: NodeRecord, spec: ActorSpec): boolean {
  return fits(node.total, spec.resources) && fits(node.total, spec.placementResources);
}

/** Alive nodes that could ever hold the actor, sorted by id. */
function feasibleNodes(state: GcsState, spec: ActorSpec): NodeId[] {
  return aliveNodeIds(state).filter((nodeId) => {
    const node = state.nodes[nodeId];
    return node !== undefined && canEverHold(node, spec);
  });
}

/** The feasible node with the most available CPU; the lowest id wins a tie. */
function leastLoaded(state: GcsState, spec: ActorSpec): Placement {
  let best: NodeId | undefined;
  let bestCpu = -Infinity;
  for (const nodeId of feasibleNodes(state, spec)) {
    const cpu = state.nodes[nodeId]?.available['CPU'] ?? 0;
    if (cpu > bestCpu) {
      best = nodeId;
      bestCpu = cpu;
    }
  }
  return best === undefined ? { kind: 'wait' } : { kind: 'node', nodeId: best };
}

/** The next feasible node in round-robin order; advances the cursor kept in state. */
function spread(state: GcsState, spec: ActorSpec): Placement {
  const candidates = feasibleNodes(state, spec);
  if (candidates.length === 0) return { kind: 'wait' };
  const nodeId = candidates[state.spreadCursor % candidates.length];
  state.spreadCursor += 1;
  return nodeId === undefined ? { kind: 'wait' } : { kind: 'node', nodeId };
}

/** Why a node named by a hard affinity cannot take the actor, or undefined when it can. */
function affinityProblem(state: GcsState, nodeId: NodeId, spec: ActorSpec): string | undefined {
  const node = state.nodes[nodeId];
  if (node === undefined) return `node ${nodeId} is not in the cluster`;
  if (!node.alive) return `node ${nodeId} is dead`;
  if (canEverHold(node, spec)) return undefined;
  const missing = [...missingResources(node.total, spec.resources), ...missingResources(node.total, spec.placementResources)];
  const names = missing.filter((name, index) => missing.indexOf(name) === index).sort();
  return `node ${nodeId} can never fit the actor (short of ${names.join(', ')})`;
}

/** Chooses where to ask for the actor's lease; SPREAD advances its cursor. */
export function placeActor(state: GcsState, spec: ActorSpec): Placement {
  const strategy = spec.strategy;
  if (strategy === 'DEFAULT') return leastLoaded(state, spec);
  if (strategy === 'SPREAD') return spread(state, spec);
  const problem = affinityProblem(state, strategy.nodeId, spec);
  if (problem === undefined) return { kind: 'node', nodeId: strategy.nodeId };
  return strategy.soft ? leastLoaded(state, spec) : { kind: 'unschedulable', reason: problem };
}
