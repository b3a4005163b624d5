/**
 * Nodes: registration, heartbeats, the periodic health check that declares silent nodes dead, and
 * the cluster view published to every raylet (which spillback decisions read).
 */
import { send } from '../effects.js';
import type { NodeId, WorkerId } from '../ids.js';
import { nodeOfWorker, rayletAddress } from '../ids.js';
import type { MessageOf, ResourceDemand } from '../protocol.js';
import type { Resources } from '../resources.js';
import { shapeKey } from '../resources.js';
import { isWaitingForPlacement, scheduleActor } from './actors.js';
import type { GcsEffect } from './events.js';
import { healthTimerId } from './events.js';
import type { GcsState } from './state.js';
import { aliveNodeIds } from './state.js';
import { applyWorkerDeath, recordWorkerDeath } from './workers.js';

/** Tells a node the GCS declared it dead, so that a raylet that was only slow shuts itself down. */
function fence(nodeId: NodeId, effects: GcsEffect[]): void {
  effects.push(send(rayletAddress(nodeId), { type: 'node/died', nodeId }));
}

/** Asks for a lease for every actor that waits for a node, e.g. because a new node may fit it. */
export function scheduleWaitingActors(state: GcsState, effects: GcsEffect[]): void {
  for (const actorId of Object.keys(state.actors)) {
    const actor = state.actors[actorId];
    if (actor !== undefined && isWaitingForPlacement(actor)) scheduleActor(state, actor, effects);
  }
}

/** A raylet joined (or repeated its registration); a node already declared dead is fenced instead. */
export function onNodeRegistered(state: GcsState, nodeId: NodeId, resources: Resources, effects: GcsEffect[], transferAddress?: string): void {
  const node = state.nodes[nodeId];
  if (node === undefined) {
    state.nodes[nodeId] = {
      nodeId,
      total: { ...resources },
      available: { ...resources },
      alive: true,
      missedChecks: 0,
      heartbeatsSinceCheck: 0,
      ...(transferAddress === undefined ? {} : { transferAddress }),
    };
    tellNewNodeOfDeaths(state, nodeId, effects);
    scheduleWaitingActors(state, effects);
    return;
  }
  if (!node.alive) {
    fence(nodeId, effects);
    return;
  }
  node.heartbeatsSinceCheck += 1;
}

/** Deaths announced to the newest of the dead workers; a node that joins later hears of at most these. */
const deathsToldToNewNodes = 1024;

/**
 * A node that registers after deaths were broadcast would otherwise never hear of them, and its
 * processes would wait forever on a dead owner or node: tell it of dead nodes and recent dead workers.
 */
function tellNewNodeOfDeaths(state: GcsState, nodeId: NodeId, effects: GcsEffect[]): void {
  const to = rayletAddress(nodeId);
  for (const node of Object.values(state.nodes)) if (!node.alive) effects.push(send(to, { type: 'node/died', nodeId: node.nodeId }));
  for (const workerId of state.deadWorkerOrder.slice(-deathsToldToNewNodes)) {
    effects.push(send(to, { type: 'worker/died', workerId, nodeId: nodeOfWorker(workerId), reason: 'exited' }));
  }
}

/** A raylet's heartbeat: it lives, with this much available and this demand waiting. Unknown nodes must register first. */
export function onNodeHeartbeat(state: GcsState, nodeId: NodeId, available: Resources, demand: readonly ResourceDemand[] | undefined, effects: GcsEffect[]): void {
  const node = state.nodes[nodeId];
  if (node === undefined) return;
  if (!node.alive) {
    fence(nodeId, effects);
    return;
  }
  node.available = { ...available };
  if (demand === undefined) delete node.demand;
  else node.demand = demand.map((shape) => ({ resources: { ...shape.resources }, count: shape.count, infeasible: shape.infeasible }));
  node.heartbeatsSinceCheck += 1;
}

/** Every worker on the node that the GCS knows of: actors' workers, actors' owners and job drivers. */
function knownWorkersOn(state: GcsState, nodeId: NodeId): WorkerId[] {
  const prefix = `${nodeId}.`;
  const found: Record<WorkerId, true> = {};
  for (const [workerId, actorId] of Object.entries(state.actorOfWorker)) {
    if (workerId.startsWith(prefix) || state.actors[actorId]?.nodeId === nodeId) found[workerId] = true;
  }
  for (const actorId of Object.keys(state.actors)) {
    const actor = state.actors[actorId];
    if (actor !== undefined && actor.state !== 'DEAD' && actor.spec.owner.startsWith(prefix)) found[actor.spec.owner] = true;
  }
  for (const jobId of Object.keys(state.jobs)) {
    const job = state.jobs[jobId];
    if (job !== undefined && job.alive && job.driverId.startsWith(prefix)) found[job.driverId] = true;
  }
  return Object.keys(found).sort();
}

/**
 * Declares the node dead: fences it, tells every other raylet, and treats every worker on it that
 * the GCS knows of as dead. Actors whose lease request went to it ask elsewhere.
 */
export function declareNodeDead(state: GcsState, nodeId: NodeId, effects: GcsEffect[]): void {
  const node = state.nodes[nodeId];
  if (node === undefined || !node.alive) return;
  const wereAlive = aliveNodeIds(state);
  node.alive = false;
  // What waited there is gone with it (its owners ask again elsewhere).
  delete node.demand;
  for (const aliveNodeId of wereAlive) effects.push(send(rayletAddress(aliveNodeId), { type: 'node/died', nodeId }));
  // Every death is recorded before any consequence runs, so an actor whose owner died on the same
  // node ends as 'owner died' whatever order the workers are visited in.
  const workers = knownWorkersOn(state, nodeId).filter((workerId) => recordWorkerDeath(state, workerId, nodeId, 'node-died', effects));
  for (const workerId of workers) applyWorkerDeath(state, workerId, `node ${nodeId} died`, effects);
  for (const actorId of Object.keys(state.actors)) {
    const actor = state.actors[actorId];
    const pending = actor?.pendingLease;
    if (actor === undefined || pending === undefined || pending.nodeId !== nodeId) continue;
    delete state.leaseOwners[pending.leaseId];
    delete actor.pendingLease;
    scheduleActor(state, actor, effects);
  }
}

/** The cluster view: every alive node with its total and available resources, sorted by id. */
function clusterView(state: GcsState): MessageOf<'cluster/view-published'> {
  const nodes = aliveNodeIds(state).flatMap((nodeId) => {
    const node = state.nodes[nodeId];
    if (node === undefined) return [];
    return [{ nodeId, total: { ...node.total }, available: { ...node.available }, ...(node.transferAddress === undefined ? {} : { transferAddress: node.transferAddress }) }];
  });
  return { type: 'cluster/view-published', nodes };
}

/** Publishes the cluster view to every alive raylet when it changed since the last time, or when `force`. */
export function publishClusterView(state: GcsState, force: boolean, effects: GcsEffect[]): void {
  const view = clusterView(state);
  const key = view.nodes.map((node) => `${node.nodeId}|${shapeKey(node.total)}|${shapeKey(node.available)}`).join(';');
  if (!force && key === state.publishedViewKey) return;
  state.publishedViewKey = key;
  for (const node of view.nodes) effects.push(send(rayletAddress(node.nodeId), view));
}

/** Arms the next health check. */
export function armHealthCheck(state: GcsState, effects: GcsEffect[]): void {
  effects.push({ type: 'timer/armed', timerId: healthTimerId, delayMs: state.config.healthCheckPeriodMs });
}

/**
 * The periodic health check: a node silent since the last check misses one more; at the threshold
 * it is declared dead. Then the cluster view goes out if it changed, and the next check is armed.
 */
export function runHealthCheck(state: GcsState, effects: GcsEffect[]): void {
  const failed: NodeId[] = [];
  for (const nodeId of aliveNodeIds(state)) {
    const node = state.nodes[nodeId];
    if (node === undefined) continue;
    node.missedChecks = node.heartbeatsSinceCheck === 0 ? node.missedChecks + 1 : 0;
    node.heartbeatsSinceCheck = 0;
    if (node.missedChecks >= state.config.healthCheckFailureThreshold) failed.push(nodeId);
  }
  for (const nodeId of failed) declareNodeDead(state, nodeId, effects);
  publishClusterView(state, false, effects);
  armHealthCheck(state, effects);
}
