/**
 * What an owner does when it learns that a node or a worker died (from its raylet, which forwards the
 * GCS's notices, or from a lease that lost its worker): leases there are lost, copies stored there are
 * gone (rebuilt from lineage if still needed), borrowers there hold nothing, and what this process
 * borrowed from an owner there fails with OwnerDiedError.
 */
import type { NodeId, WorkerId } from '../ids.js';
import { nodeOfWorker, workerAddress } from '../ids.js';
import { forgetSender } from '../inbox.js';
import { rememberBounded } from '../remembered.js';
import type { WorkerExitReason } from '../protocol.js';
import type { Ctx } from './context.js';
import { maxDeadWorkers } from './state.js';
import { settleAck } from './execution.js';
import { dropLeasesWhere, leaseWorkerNode } from './leasing.js';
import { recoverObject } from './lineage.js';
import { dropDeadBorrowers, evictValue, isReferenced, markOwnerDied, maybeRelease } from './refs.js';
import { checkRetrievals, onFetchFailed, wakeBorrowDependents } from './retrieval.js';
import { tableValues } from '../table.js';

/** A node died: everything of this process that lived or depended on it is handled. */
export function onNodeDied(ctx: Ctx, nodeId: NodeId): void {
  if (ctx.s.deadNodes[nodeId] === true) return;
  ctx.s.deadNodes[nodeId] = true;
  dropLeasesWhere(ctx, (lease) => lease.nodeId === nodeId || leaseWorkerNode(lease) === nodeId, 'node-died');
  loseCopiesOn(ctx, nodeId);
  for (const fetch of Object.values(ctx.s.fetches)) {
    if (fetch.nodeId === nodeId) onFetchFailed(ctx, fetch.objectId, fetch.objectId.split('.').slice(0, 2).join('.'));
  }
  ownersDied(ctx, (workerId) => nodeOfWorker(workerId) === nodeId);
}

/** A worker died: leases on it are lost; if it owned or borrowed objects of this process, see above. */
export function onWorkerDied(ctx: Ctx, workerId: WorkerId, reason: WorkerExitReason): void {
  if (ctx.s.deadWorkers[workerId] === true) return;
  rememberDeadWorker(ctx, workerId);
  dropLeasesWhere(ctx, (lease) => lease.workerId === workerId, reason);
  ownersDied(ctx, (id) => id === workerId);
}

/**
 * Records the worker as dead; past `maxDeadWorkers` the oldest death is forgotten, with its window
 * in the inbox (see forgetSender).
 */
function rememberDeadWorker(ctx: Ctx, workerId: WorkerId): void {
  rememberBounded(ctx.s.deadWorkers, ctx.s.deadWorkerOrder, workerId, maxDeadWorkers, (oldest) => forgetSender(ctx.s.inbox, workerAddress(oldest)));
}

function ownersDied(ctx: Ctx, isDead: (workerId: WorkerId) => boolean): void {
  for (const entry of tableValues(ctx.s.borrowed)) {
    if (!isDead(entry.owner) || entry.error?.errorClass === 'OwnerDiedError') continue;
    markOwnerDied(entry);
    wakeBorrowDependents(ctx, entry);
    maybeRelease(ctx, entry.objectId);
  }
  for (const ack of Object.values(ctx.s.acks)) if (isDead(ack.owner)) settleAck(ctx, ack.ackId);
  dropDeadBorrowers(ctx, isDead);
  checkRetrievals(ctx);
}

/** Copies of owned objects stored on a dead node are gone; still-needed values are rebuilt. */
function loseCopiesOn(ctx: Ctx, nodeId: NodeId): void {
  for (const object of tableValues(ctx.s.objects)) {
    const payload = object.payload;
    if (payload?.kind !== 'stored' || !payload.nodeIds.includes(nodeId)) continue;
    const remaining = payload.nodeIds.filter((id) => id !== nodeId);
    if (remaining.length > 0) {
      object.payload = { ...payload, nodeIds: remaining };
      continue;
    }
    if (isReferenced(object)) recoverObject(ctx, object.objectId);
    else {
      object.payload = { ...payload, nodeIds: [] };
      evictValue(ctx, object);
    }
  }
}
