/**
 * The node's shared-memory object store and its spill space, as bookkeeping: which objects they hold,
 * whose they are and how many bytes they take. The shell holds the memory and the spill files itself
 * and releases them on `objects/deleted`. An object is in memory or spilled, never both.
 */
import { send } from '../effects.js';
import { workerAddress } from '../ids.js';
import type { Address, ObjectId, WorkerId } from '../ids.js';
import type { Delivered, MessageOf } from '../protocol.js';
import { copyData, copyRefs } from './copy.js';
import type { CopyStored, ObjectSpilled, RayletEffect } from './events.js';
import type { RayletState, StoredObject } from './state.js';
import { isOwnerDead } from './tombstones.js';
import type { RefMarker } from '../values.js';

/** A put as the two recipes that keep one take it: into memory, or into the spill space. */
interface PutToKeep {
  readonly objectId: ObjectId;
  readonly owner: WorkerId;
  readonly data: unknown;
  readonly sizeBytes: number;
  readonly refs: readonly RefMarker[];
}

/**
 * Keeps a put in memory or (`spilled`) in the spill space if it fits there and its owner lives, and
 * tells `replyTo` either way. A put already known (in memory or spilled) is only acknowledged.
 */
function keepPut(state: RayletState, put: PutToKeep, replyTo: Address, spilled: boolean, effects: RayletEffect[]): void {
  const { objectId, sizeBytes } = put;
  const reject = (reason: string): void => {
    effects.push(send(replyTo, { type: 'object/put-rejected', objectId, reason }));
  };
  if (state.objects[objectId] !== undefined) {
    effects.push(send(replyTo, { type: 'object/put-acked', objectId }));
    return;
  }
  if (!Number.isFinite(sizeBytes) || sizeBytes < 0) {
    reject(`invalid object size ${sizeBytes} bytes`);
    return;
  }
  if (isOwnerDead(state, put.owner)) {
    // Nobody could ever free it.
    reject(`owner ${put.owner} is dead`);
    return;
  }
  const full = spilled ? spillFullReason(state, sizeBytes) : memoryFullReason(state, sizeBytes);
  if (full !== undefined) {
    reject(full);
    return;
  }
  state.objects[objectId] = { owner: put.owner, data: copyData(put.data), sizeBytes, refs: copyRefs(put.refs), ...(spilled ? { spilled: true as const } : {}) };
  if (spilled) state.spilledBytes += sizeBytes;
  else state.usedBytes += sizeBytes;
  effects.push(send(replyTo, { type: 'object/put-acked', objectId }));
}

/** Why `sizeBytes` more do not fit in the shared-memory store; undefined when they do. */
function memoryFullReason(state: RayletState, sizeBytes: number): string | undefined {
  const capacity = state.config.objectStoreCapacityBytes;
  if (state.usedBytes + sizeBytes <= capacity) return undefined;
  return `object store full: need ${sizeBytes} bytes, ${state.usedBytes} of ${capacity} in use; free objects or raise objectStoreMemory`;
}

/** Why `sizeBytes` more do not fit in the spill space (naming both limits); undefined when they do. */
function spillFullReason(state: RayletState, sizeBytes: number): string | undefined {
  if (state.spilledBytes + sizeBytes <= state.config.spillCapacityBytes) return undefined;
  return storeFullReason({ sizeBytes, usedBytes: state.usedBytes, capacityBytes: state.config.objectStoreCapacityBytes, spilledBytes: state.spilledBytes, spillCapacityBytes: state.config.spillCapacityBytes });
}

/** `object/put-requested`: store the object if it fits, and tell the sender either way. */
export function onPutRequested(state: RayletState, message: Delivered<MessageOf<'object/put-requested'>>, effects: RayletEffect[]): void {
  keepPut(state, message, message.via.from, false, effects);
}

/**
 * The one-line reason a put fits neither in the store nor in its spill space: both limits, what is in
 * use of each, and what the user can do about it.
 */
export function storeFullReason(usage: { readonly sizeBytes: number; readonly usedBytes: number; readonly capacityBytes: number; readonly spilledBytes: number; readonly spillCapacityBytes: number }): string {
  return (
    `object store full: need ${usage.sizeBytes} bytes; the store holds ${usage.usedBytes} of ${usage.capacityBytes} bytes (objectStoreMemory) ` +
    `and its spill space on disk ${usage.spilledBytes} of ${usage.spillCapacityBytes} bytes; free objects (let go of their refs), raise objectStoreMemory, ` +
    `or give the spill space more room (TSRAY_SPILL_BYTES, bounded by the free disk of the session dir)`
  );
}

/**
 * `object/spilled`: a put that did not fit in memory, written to the spill space by the shell, is
 * kept there if the spill space has room and its owner lives; the sender is told either way, as for
 * a put. A put already known (in memory or spilled) is only acknowledged: the shell then deletes the
 * file it wrote, since the raylet's record is not that file.
 */
export function onObjectSpilled(state: RayletState, event: ObjectSpilled, effects: RayletEffect[]): void {
  keepPut(state, event, event.requester, true, effects);
}

/** Gives back the bytes a deleted object took, in memory or in the spill space. */
export function releaseBytes(state: RayletState, stored: StoredObject): void {
  if (stored.spilled === true) state.spilledBytes -= stored.sizeBytes;
  else state.usedBytes -= stored.sizeBytes;
}

/**
 * `object/copy-stored`: a copy pulled from another node is kept here if it fits and its owner lives;
 * otherwise the state does not change and the shell gives its memory back. A kept copy is reported
 * to the owner, as Ray's raylets report object locations: the owner then reads it if the primary
 * copy's node dies (an object without lineage survives), and frees it itself.
 */
export function onCopyStored(state: RayletState, event: CopyStored, effects: RayletEffect[]): void {
  if (state.objects[event.objectId] !== undefined || isOwnerDead(state, event.owner)) return;
  if (!Number.isFinite(event.sizeBytes) || event.sizeBytes < 0) return;
  if (state.usedBytes + event.sizeBytes > state.config.objectStoreCapacityBytes) return;
  state.objects[event.objectId] = { owner: event.owner, data: copyData(event.data), sizeBytes: event.sizeBytes, refs: copyRefs(event.refs), copiedFrom: event.fromNodeId };
  state.usedBytes += event.sizeBytes;
  effects.push(send(workerAddress(event.owner), { type: 'object/copy-added', objectId: event.objectId, nodeId: state.nodeId }));
}

/** `object/fetch-requested`: send the object to the requester, or say it is not here. */
export function onFetchRequested(state: RayletState, message: MessageOf<'object/fetch-requested'>, effects: RayletEffect[]): void {
  const stored = state.objects[message.objectId];
  if (stored === undefined) {
    effects.push(send(message.requester, { type: 'object/fetch-failed', objectId: message.objectId, nodeId: state.nodeId }));
    return;
  }
  effects.push(
    send(message.requester, {
      type: 'object/fetched',
      objectId: message.objectId,
      data: copyData(stored.data),
      sizeBytes: stored.sizeBytes,
      refs: copyRefs(stored.refs),
    }),
  );
}

/** `object/free-requested`: delete the objects that are here, in one `objects/deleted`. */
export function onFreeRequested(state: RayletState, message: MessageOf<'object/free-requested'>, effects: RayletEffect[]): void {
  const deleted: ObjectId[] = [];
  for (const objectId of message.objectIds) {
    const stored = state.objects[objectId];
    if (stored === undefined) continue;
    releaseBytes(state, stored);
    delete state.objects[objectId];
    deleted.push(objectId);
  }
  if (deleted.length > 0) effects.push({ type: 'objects/deleted', objectIds: deleted });
}
