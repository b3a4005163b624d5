/**
 * Ending leases: every way a lease leaves the raylet (returned, cancelled, its worker or its owner
 * died) frees the same things, and tombstones the id so that late messages about it are ignored.
 */
import { assertNever } from '../assert.js';
import type { LeaseId } from '../ids.js';
import { removeId, unbindWorker } from './dispatch.js';
import type { RayletEffect } from './events.js';
import type { RayletLease, RayletState } from './state.js';
import { tombstoneLease } from './tombstones.js';

/** Forgets `leaseId` and tombstones it. */
export function finishLease(state: RayletState, leaseId: LeaseId): void {
  delete state.leases[leaseId];
  tombstoneLease(state, leaseId);
}

/**
 * Drops a lease that is not granted: out of its queue, or untied from the worker starting for it
 * (which becomes idle when it starts), with its resources given back.
 */
export function dropPendingLease(state: RayletState, lease: RayletLease): void {
  switch (lease.state) {
    case 'queued':
      removeId(state.queue, lease.leaseId);
      break;
    case 'infeasible':
      removeId(state.infeasible, lease.leaseId);
      break;
    case 'spawning': {
      const worker = lease.workerId === null ? undefined : state.workers[lease.workerId];
      if (worker !== undefined) unbindWorker(state, worker);
      break;
    }
    case 'granted':
      return;
    default:
      assertNever(lease.state, 'lease state');
  }
  finishLease(state, lease.leaseId);
}

/**
 * Drops any lease because its requester is dead. A granted lease's worker runs the dead owner's work,
 * which nobody will collect, so it is killed rather than reused (Ray does the same).
 */
export function dropLeaseOfDeadOwner(state: RayletState, lease: RayletLease, effects: RayletEffect[]): void {
  if (lease.state !== 'granted') {
    dropPendingLease(state, lease);
    return;
  }
  const worker = lease.workerId === null ? undefined : state.workers[lease.workerId];
  if (worker !== undefined) {
    unbindWorker(state, worker);
    if (worker.state === 'leased') {
      worker.state = 'dying';
      effects.push({ type: 'worker/kill', workerId: worker.workerId, reason: 'owner-died' });
    }
  }
  finishLease(state, lease.leaseId);
}
