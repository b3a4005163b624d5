/**
 * Granting: binding leases to workers and resources, and dispatching the queue whenever resources or
 * workers free up.
 */
import { assert } from '../assert.js';
import { send } from '../effects.js';
import { workerAddress } from '../ids.js';
import { fits, give, take } from '../resources.js';
import { copyResources } from './copy.js';
import type { RayletEffect } from './events.js';
import type { RayletLease, RayletState, RayletWorker } from './state.js';
import { canSpawn, pickIdleWorker, pickUnboundStartingWorker, prestartWorkers, spawnWorker } from './worker-pool.js';

/** True when this node's available resources fit the lease now (held and placement needs alike). */
export function fitsHere(state: RayletState, lease: RayletLease): boolean {
  return fits(state.available, lease.resources) && fits(state.available, lease.placementResources);
}

/** The CPU a lease holds while its worker runs. */
export function leaseCpu(lease: RayletLease): number {
  return lease.resources['CPU'] ?? 0;
}

/** Sends `lease/granted` for a lease whose worker is ready. */
export function grantedMessage(state: RayletState, lease: RayletLease): RayletEffect {
  assert(lease.workerId !== null, `lease ${lease.leaseId} has no worker to grant`);
  return send(lease.requester, { type: 'lease/granted', leaseId: lease.leaseId, workerId: lease.workerId, nodeId: state.nodeId });
}

/** Binds `worker` to `lease` and takes the lease's resources from the node. */
function bind(state: RayletState, lease: RayletLease, worker: RayletWorker): void {
  take(state.available, lease.resources);
  worker.leaseId = lease.leaseId;
  worker.heldResources = copyResources(lease.resources);
  lease.workerId = worker.workerId;
}

/**
 * Gives `lease` a worker: an idle one (granted at once), an unbound starting one, or a new one
 * (spawning until it starts). The caller has checked that the resources fit. Returns false, with
 * nothing changed, when the pool has no worker to offer.
 */
export function bindWorker(state: RayletState, lease: RayletLease, effects: RayletEffect[]): boolean {
  const idleId = pickIdleWorker(state);
  if (idleId !== null) {
    const worker = state.workers[idleId];
    if (worker === undefined) return false;
    bind(state, lease, worker);
    worker.state = 'leased';
    lease.state = 'granted';
    effects.push(grantedMessage(state, lease));
    return true;
  }
  const startingId = pickUnboundStartingWorker(state);
  if (startingId !== null) {
    const worker = state.workers[startingId];
    if (worker === undefined) return false;
    bind(state, lease, worker);
    lease.state = 'spawning';
    return true;
  }
  if (!canSpawn(state, lease)) return false;
  const spawn = spawnWorker(state);
  const worker = state.workers[spawn.workerId];
  if (worker === undefined) return false;
  bind(state, lease, worker);
  lease.state = 'spawning';
  effects.push(spawn);
  return true;
}

/** Frees what `worker` holds and unties it from its lease; its own state is left to the caller. */
export function unbindWorker(state: RayletState, worker: RayletWorker): void {
  give(state.available, worker.heldResources);
  worker.heldResources = {};
  worker.leaseId = null;
  worker.blocked = false;
  worker.earlyUnblocks = 0;
}

/** `worker/resumed` for `worker`, naming the blocking spell it ends (none for a worker whose reports name none). */
export function resumedMessage(worker: RayletWorker): RayletEffect {
  const address = workerAddress(worker.workerId);
  return worker.blockSpell === 0 ? send(address, { type: 'worker/resumed', workerId: worker.workerId }) : send(address, { type: 'worker/resumed', workerId: worker.workerId, spell: worker.blockSpell });
}

/** Removes the first occurrence of `id` from `list` in place. */
export function removeId(list: string[], id: string): void {
  const index = list.indexOf(id);
  if (index >= 0) list.splice(index, 1);
}

/**
 * Walks the lease queue twice, granting every lease that fits now (a later lease may pass an earlier
 * one that does not): first the leases of requesters that hold no lease here, then every other, each
 * walk first come first served. So a burst of one owner's leases does not keep the tasks it waits for
 * off the node: 400 tasks that each awaited a task of their own, submitted at once on 2 CPUs, had
 * every one of the 400 granted, blocked in its get and given a thread of its own before the first of
 * the tasks they waited for ran (Ray shares a node's CPUs between scheduling classes likewise).
 */
export function dispatch(state: RayletState, effects: RayletEffect[]): void {
  if (state.queue.length === 0) {
    prestartWorkers(state, effects);
    return;
  }
  // Once the pool has no worker for one task lease it has none for any other; actor leases still get one.
  let poolExhausted = false;
  // The resources that queued leases wait for here, if any.
  let wanted: Set<string> | undefined;
  const holders = requestersHolding(state);
  for (const newcomersOnly of [true, false]) {
    let index = 0;
    while (index < state.queue.length) {
      const lease = state.leases[state.queue[index] ?? ''];
      if (lease === undefined || lease.state !== 'queued') {
        state.queue.splice(index, 1);
        continue;
      }
      if (newcomersOnly && holders.has(lease.requester)) {
        index += 1;
        continue;
      }
      if (!fitsHere(state, lease)) {
        if (!newcomersOnly) wanted = shortfallOf(state, lease, wanted);
        index += 1;
        continue;
      }
      if (poolExhausted && lease.actorId === null) {
        index += 1;
        continue;
      }
      if (!bindWorker(state, lease, effects)) {
        poolExhausted = true;
        index += 1;
        continue;
      }
      holders.add(lease.requester);
      state.queue.splice(index, 1);
    }
  }
  if (wanted !== undefined) askIdleReturns(state, wanted, effects);
  // Whatever was taken is replaced ahead of the next demand.
  prestartWorkers(state, effects);
}

/** The requesters of the leases granted here, or waiting for the worker they were given. */
function requestersHolding(state: RayletState): Set<string> {
  const holders = new Set<string>();
  for (const lease of Object.values(state.leases)) if (lease.state === 'granted' || lease.state === 'spawning') holders.add(lease.requester);
  return holders;
}

/**
 * Adds to `wanted` the resources `lease` waits for here: those this node has enough of in all, but
 * not free now.
 */
function shortfallOf(state: RayletState, lease: RayletLease, wanted: Set<string> | undefined): Set<string> | undefined {
  for (const [name, quantity] of Object.entries(lease.resources)) {
    if (quantity > 0 && (state.available[name] ?? 0) < quantity && (state.total[name] ?? 0) >= quantity) (wanted ??= new Set()).add(name);
  }
  return wanted;
}

/**
 * Asks the requesters of granted task leases that hold any of `wanted` to return them as soon as
 * they are idle. An owner keeps an idle lease for a while for its next task, which saves a lease
 * round trip per task awaited one at a time; while other leases wait for what it holds, that
 * stalled them by as long each time: 20 actors' calls that each ran two tasks took 1.2 s on 2 CPUs,
 * and 0.1 s once owners gave their leases back when asked. Each grant is asked once.
 */
function askIdleReturns(state: RayletState, wanted: ReadonlySet<string>, effects: RayletEffect[]): void {
  for (const lease of Object.values(state.leases)) {
    if (lease.state !== 'granted' || lease.actorId !== null || lease.returnAsked === true) continue;
    let holds = false;
    for (const name of wanted) if ((lease.resources[name] ?? 0) > 0) holds = true;
    if (!holds) continue;
    lease.returnAsked = true;
    effects.push(send(lease.requester, { type: 'lease/return-requested', leaseId: lease.leaseId }));
  }
}
