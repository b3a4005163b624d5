/**
 * Granting: binding leases to workers and resources, and dispatching the queue whenever resources or
 * workers free up. Unblocked workers are served before new leases, so that a task that already runs
 * is never starved of its CPU by work that has not started.
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
  removeId(state.resumeQueue, worker.workerId);
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
 * Gives unblocked workers their CPU back, in the order they asked, each as soon as it fits. Returns
 * true when some still wait for CPU.
 */
function resumeWorkers(state: RayletState, effects: RayletEffect[]): boolean {
  let waiting = false;
  let index = 0;
  while (index < state.resumeQueue.length) {
    const workerId = state.resumeQueue[index] ?? '';
    const worker = state.workers[workerId];
    const lease = worker?.leaseId === null || worker === undefined ? undefined : state.leases[worker.leaseId];
    if (worker === undefined || lease === undefined || worker.state !== 'leased' || !worker.blocked) {
      state.resumeQueue.splice(index, 1);
      continue;
    }
    const cpu = leaseCpu(lease);
    if (cpu > 0 && !fits(state.available, { CPU: cpu })) {
      waiting = true;
      index += 1;
      continue;
    }
    if (cpu > 0) {
      take(state.available, { CPU: cpu });
      worker.heldResources['CPU'] = cpu;
    }
    worker.blocked = false;
    state.resumeQueue.splice(index, 1);
    effects.push(resumedMessage(worker));
  }
  return waiting;
}

/**
 * Serves the resume queue, then walks the lease queue first come first served, granting every lease
 * that fits now (a later lease may pass an earlier one that does not). While unblocked workers wait
 * for CPU, leases that need CPU wait behind them.
 */
export function dispatch(state: RayletState, effects: RayletEffect[]): void {
  const resumesWaiting = resumeWorkers(state, effects);
  // Once the pool has no worker for one task lease it has none for any other; actor leases still get one.
  let poolExhausted = false;
  let index = 0;
  while (index < state.queue.length) {
    const lease = state.leases[state.queue[index] ?? ''];
    if (lease === undefined || lease.state !== 'queued') {
      state.queue.splice(index, 1);
      continue;
    }
    if ((resumesWaiting && leaseCpu(lease) > 0) || !fitsHere(state, lease) || (poolExhausted && lease.actorId === null)) {
      index += 1;
      continue;
    }
    if (!bindWorker(state, lease, effects)) {
      poolExhausted = true;
      index += 1;
      continue;
    }
    state.queue.splice(index, 1);
  }
  // Whatever was taken is replaced ahead of the next demand.
  prestartWorkers(state, effects);
}
