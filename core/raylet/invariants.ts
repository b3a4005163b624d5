/**
 * What must hold of a raylet's state after every event. Each broken invariant is reported as a
 * sentence naming the ids involved, so that a failing simulation or replay says what went wrong where.
 */
import type { Resources } from '../resources.js';
import { give, roundQuantity } from '../resources.js';
import type { RayletLease, RayletState, RayletWorker } from './state.js';
import { isRequesterDead } from './tombstones.js';

/** What a worker bound to `lease` should hold: the lease's resources, less CPU while blocked. */
function expectedHeld(lease: RayletLease, worker: RayletWorker): Resources {
  const held: Resources = {};
  for (const [name, quantity] of Object.entries(lease.resources)) {
    if (quantity === 0 || (worker.blocked && name === 'CPU')) continue;
    held[name] = roundQuantity(quantity);
  }
  return held;
}

/** True when two shapes name the same nonzero quantities. */
function sameShape(a: Resources, b: Resources): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const name of names) if (roundQuantity(a[name] ?? 0) !== roundQuantity(b[name] ?? 0)) return false;
  return true;
}

/**
 * Resource accounting: available at most the total and at least zero, but for CPU, which workers
 * that took back the CPU they lent while blocked may take below zero (workers.ts,
 * `onWorkerUnblocked`); and available plus everything held equals the total.
 */
function checkResources(state: RayletState, broken: string[]): void {
  const names = new Set([...Object.keys(state.total), ...Object.keys(state.available)]);
  const accounted: Resources = { ...state.available };
  for (const worker of Object.values(state.workers)) give(accounted, worker.heldResources);
  for (const name of names) {
    const total = state.total[name] ?? 0;
    const available = state.available[name] ?? 0;
    if ((available < 0 && name !== 'CPU') || available > total) broken.push(`available ${name} ${available} is outside [0, ${total}] on node ${state.nodeId}`);
    const sum = roundQuantity(accounted[name] ?? 0);
    if (sum !== roundQuantity(total)) broken.push(`available plus held ${name} is ${sum}, not the total ${total}, on node ${state.nodeId}`);
  }
}

/** Leases and workers point at each other consistently, and hold what they should. */
function checkBindings(state: RayletState, broken: string[]): void {
  for (const lease of Object.values(state.leases)) {
    if (lease.state !== 'granted' && lease.state !== 'spawning') continue;
    const worker = lease.workerId === null ? undefined : state.workers[lease.workerId];
    const wanted = lease.state === 'granted' ? ['leased', 'dying'] : ['starting', 'dying'];
    if (worker === undefined || !wanted.includes(worker.state) || worker.leaseId !== lease.leaseId) {
      broken.push(`${lease.state} lease ${lease.leaseId} has worker ${lease.workerId ?? 'none'}, which is ${worker?.state ?? 'unknown'} and points to lease ${worker?.leaseId ?? 'none'}`);
    }
  }
  for (const worker of Object.values(state.workers)) {
    const lease = worker.leaseId === null ? undefined : state.leases[worker.leaseId];
    if (worker.state === 'leased' && (lease === undefined || lease.state !== 'granted' || lease.workerId !== worker.workerId)) {
      broken.push(`leased worker ${worker.workerId} has no granted lease pointing back (lease ${worker.leaseId ?? 'none'})`);
    }
    if (worker.leaseId !== null && lease === undefined) broken.push(`worker ${worker.workerId} points to unknown lease ${worker.leaseId}`);
    if (worker.blocked && worker.state !== 'leased' && worker.state !== 'dying') broken.push(`worker ${worker.workerId} is ${worker.state} and blocked`);
    const held = lease === undefined ? {} : expectedHeld(lease, worker);
    if (!sameShape(held, worker.heldResources)) {
      broken.push(`worker ${worker.workerId} holds ${JSON.stringify(worker.heldResources)} but its lease ${worker.leaseId ?? 'none'} calls for ${JSON.stringify(held)}`);
    }
  }
}

/** Queues and memories are within their bounds and agree with the lease table. */
function checkQueues(state: RayletState, broken: string[]): void {
  const config = state.config;
  if (state.queue.length > config.maxLeaseQueue) broken.push(`lease queue holds ${state.queue.length} leases, over the bound ${config.maxLeaseQueue}`);
  if (state.infeasible.length > config.maxInfeasible) broken.push(`infeasible list holds ${state.infeasible.length} leases, over the bound ${config.maxInfeasible}`);
  if (state.tombstoneOrder.length > config.maxLeaseTombstones) broken.push(`${state.tombstoneOrder.length} lease tombstones, over the bound ${config.maxLeaseTombstones}`);
  if (state.tombstoneOrder.length !== Object.keys(state.tombstones).length) broken.push('lease tombstone order and tombstone record disagree');
  if (state.deadOwnerOrder.length > config.maxDeadOwners) broken.push(`${state.deadOwnerOrder.length} dead owners remembered, over the bound ${config.maxDeadOwners}`);
  if (state.deadNodes.length > config.maxDeadOwners) broken.push(`${state.deadNodes.length} dead nodes remembered, over the bound ${config.maxDeadOwners}`);
  if (state.deadWorkerOrder.length > config.maxDeadWorkers) broken.push(`${state.deadWorkerOrder.length} dead workers kept, over the bound ${config.maxDeadWorkers}`);
  for (const [list, wanted] of [
    [state.queue, 'queued'],
    [state.infeasible, 'infeasible'],
  ] as const) {
    if (new Set(list).size !== list.length) broken.push(`the ${wanted} list holds a lease twice`);
    for (const leaseId of list) {
      if (state.leases[leaseId]?.state !== wanted) broken.push(`lease ${leaseId} is in the ${wanted} list but is ${state.leases[leaseId]?.state ?? 'unknown'}`);
    }
  }
  for (const lease of Object.values(state.leases)) {
    if (lease.state === 'queued' && !state.queue.includes(lease.leaseId)) broken.push(`queued lease ${lease.leaseId} is not in the queue`);
    if (lease.state === 'infeasible' && !state.infeasible.includes(lease.leaseId)) broken.push(`infeasible lease ${lease.leaseId} is not in the infeasible list`);
    if (state.tombstones[lease.leaseId] === true) broken.push(`lease ${lease.leaseId} is both live and tombstoned`);
    if (isRequesterDead(state, lease.requester)) broken.push(`lease ${lease.leaseId} is ${lease.state} for dead requester ${lease.requester}`);
  }
}

/**
 * The store's and the spill space's byte counts match what they hold and stay within their bounds.
 * An object is in memory or spilled, never both: it has one record, counted by one of the two.
 */
function checkStore(state: RayletState, broken: string[]): void {
  let sum = 0;
  let spilledSum = 0;
  for (const stored of Object.values(state.objects)) {
    if (stored.spilled === true) spilledSum += stored.sizeBytes;
    else sum += stored.sizeBytes;
  }
  if (sum !== state.usedBytes) broken.push(`object store counts ${state.usedBytes} bytes used but holds ${sum}`);
  if (spilledSum !== state.spilledBytes) broken.push(`spill space counts ${state.spilledBytes} bytes used but holds ${spilledSum}`);
  if (state.spilledBytes > state.config.spillCapacityBytes) {
    broken.push(`spill space uses ${state.spilledBytes} bytes, over its capacity ${state.config.spillCapacityBytes}`);
  }
  if (state.usedBytes > state.config.objectStoreCapacityBytes) {
    broken.push(`object store uses ${state.usedBytes} bytes, over its capacity ${state.config.objectStoreCapacityBytes}`);
  }
}

/** Every broken invariant of a raylet's state, as sentences; empty when all hold. */
export function rayletInvariants(state: RayletState): string[] {
  const broken: string[] = [];
  checkResources(state, broken);
  checkBindings(state, broken);
  checkQueues(state, broken);
  checkStore(state, broken);
  return broken;
}
