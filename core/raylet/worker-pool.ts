/**
 * The worker pool: which worker serves the next lease, and minting new ones. As in Ray, a lease
 * prefers an idle worker, then a worker already starting with no lease, and only then spawns a new
 * one, within the pool's bound.
 */
import type { WorkerId } from '../ids.js';
import type { RayletEffect, WorkerSpawn } from './events.js';
import type { RayletLease, RayletState, RayletWorker } from './state.js';

/** Orders worker ids numerically by their counter: shorter minted ids come first, then by text. */
export function compareWorkerIds(a: WorkerId, b: WorkerId): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The smallest-id spawned worker that satisfies `wanted`, or null. */
function pickWorker(state: RayletState, wanted: (worker: RayletWorker) => boolean): WorkerId | null {
  let best: WorkerId | null = null;
  for (const worker of Object.values(state.workers)) {
    if (worker.kind !== 'worker' || !wanted(worker)) continue;
    if (best === null || compareWorkerIds(worker.workerId, best) < 0) best = worker.workerId;
  }
  return best;
}

/** The idle worker with the smallest id, or null. */
export function pickIdleWorker(state: RayletState): WorkerId | null {
  return pickWorker(state, (worker) => worker.state === 'idle');
}

/** A starting worker that no lease waits for (its lease was cancelled), or null. */
export function pickUnboundStartingWorker(state: RayletState): WorkerId | null {
  return pickWorker(state, (worker) => worker.state === 'starting' && worker.leaseId === null);
}

/**
 * How many spawned worker processes count against the pool's bound: those alive or still ending,
 * except workers blocked in `get`. As in Ray, a blocked worker must not stop the pool from starting
 * the worker that produces what it waits for, or nested tasks would deadlock a full pool; the CPU a
 * blocked worker lends out still bounds how many run at once. Drivers do not count.
 */
export function pooledWorkerCount(state: RayletState): number {
  let count = 0;
  for (const worker of Object.values(state.workers)) {
    if (worker.kind === 'worker' && worker.state !== 'dead' && !worker.blocked && !servesActor(state, worker)) count += 1;
  }
  return count;
}

/**
 * Whether the worker is bound to an actor's lease. As in Ray, an actor has a worker of its own
 * outside the pool's bound (it holds no CPU while it runs), so actors never keep tasks, or each
 * other, from getting a worker.
 */
export function servesActor(state: RayletState, worker: RayletWorker): boolean {
  const lease = worker.leaseId === null ? undefined : state.leases[worker.leaseId];
  return lease !== undefined && lease.actorId !== null;
}

/** True when the pool may start another worker for `lease`: always for an actor's, else within the bound. */
export function canSpawn(state: RayletState, lease: RayletLease): boolean {
  return lease.actorId !== null || pooledWorkerCount(state) < state.config.maxWorkers;
}

/** Mints a worker id, records the worker as starting, and returns the effect that spawns it. */
export function spawnWorker(state: RayletState): WorkerSpawn {
  const workerId = `${state.nodeId}.w${state.nextWorkerOrdinal}`;
  state.nextWorkerOrdinal += 1;
  state.workers[workerId] = { workerId, kind: 'worker', state: 'starting', leaseId: null, blocked: false, earlyUnblocks: 0, blockSpell: 0, heldResources: {}, idleTurn: 0 };
  return { type: 'worker/spawn', workerId };
}

/** The workers a broadcast is forwarded to: those whose process runs and listens (not starting or ending). */
export function listeningWorkerIds(state: RayletState): WorkerId[] {
  return Object.values(state.workers)
    .filter((worker) => worker.state === 'idle' || worker.state === 'leased' || worker.state === 'connected')
    .map((worker) => worker.workerId)
    .sort(compareWorkerIds);
}

/** How many leases serve actors or wait for a worker to serve one (what `maxActorWorkers` bounds). */
export function actorLeaseCount(state: RayletState): number {
  let count = 0;
  for (const lease of Object.values(state.leases)) if (lease.actorId !== null) count += 1;
  return count;
}

/**
 * Keeps `prestartWorkers` idle (or starting, unclaimed) workers ahead of demand, within the pool's
 * bound. Workers started ahead that die before starting count as failures; after `maxSpawnRetries`
 * of them in a row (a broken worker entry, say) no more are started ahead of demand.
 */
export function prestartWorkers(state: RayletState, effects: RayletEffect[]): void {
  if (state.config.prestartWorkers <= 0 || state.prestartFailures > state.config.maxSpawnRetries) return;
  let ready = 0;
  for (const worker of Object.values(state.workers)) {
    if (worker.kind === 'worker' && (worker.state === 'idle' || (worker.state === 'starting' && worker.leaseId === null))) ready += 1;
  }
  while (ready < state.config.prestartWorkers && pooledWorkerCount(state) < state.config.maxWorkers) {
    effects.push(spawnWorker(state));
    ready += 1;
  }
}
