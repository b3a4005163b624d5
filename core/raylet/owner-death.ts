/**
 * Owner death, as Ray handles it: when a worker or driver dies (or its whole node), nothing it asked
 * for is wanted any more. Its leases go at once (workers running its tasks are killed, not reused) and
 * the objects it owns in this node's store are deleted, since no one can ever free them.
 */
import type { ObjectId } from '../ids.js';
import type { RayletEffect } from './events.js';
import { dropLeaseOfDeadOwner } from './lease-end.js';
import type { RayletState } from './state.js';
import { releaseBytes } from './object-store.js';
import { isOwnerDead, isRequesterDead } from './tombstones.js';

/** Drops every lease whose requester is known dead and deletes every stored object whose owner is. */
export function sweepDeadOwners(state: RayletState, effects: RayletEffect[]): void {
  for (const leaseId of Object.keys(state.leases)) {
    const lease = state.leases[leaseId];
    if (lease !== undefined && isRequesterDead(state, lease.requester)) dropLeaseOfDeadOwner(state, lease, effects);
  }
  const deleted: ObjectId[] = [];
  for (const objectId of Object.keys(state.objects)) {
    const stored = state.objects[objectId];
    if (stored === undefined || !isOwnerDead(state, stored.owner)) continue;
    releaseBytes(state, stored);
    delete state.objects[objectId];
    deleted.push(objectId);
  }
  if (deleted.length > 0) effects.push({ type: 'objects/deleted', objectIds: deleted });
}
