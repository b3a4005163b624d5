/**
 * The node's shared-memory object store, as bookkeeping: which objects it holds, whose they are and
 * how many bytes they take. The shell holds the memory itself and releases it on `objects/deleted`.
 */
import { send } from '../effects.js';
import { workerAddress } from '../ids.js';
import type { ObjectId } from '../ids.js';
import type { Delivered, MessageOf } from '../protocol.js';
import { copyData, copyRefs } from './copy.js';
import type { CopyStored, RayletEffect } from './events.js';
import type { RayletState } from './state.js';
import { isOwnerDead } from './tombstones.js';

/** `object/put-requested`: store the object if it fits, and tell the sender either way. */
export function onPutRequested(state: RayletState, message: Delivered<MessageOf<'object/put-requested'>>, effects: RayletEffect[]): void {
  const replyTo = message.via.from;
  const objectId = message.objectId;
  if (state.objects[objectId] !== undefined) {
    effects.push(send(replyTo, { type: 'object/put-acked', objectId }));
    return;
  }
  const sizeBytes = message.sizeBytes;
  if (!Number.isFinite(sizeBytes) || sizeBytes < 0) {
    effects.push(send(replyTo, { type: 'object/put-rejected', objectId, reason: `invalid object size ${sizeBytes} bytes` }));
    return;
  }
  if (isOwnerDead(state, message.owner)) {
    // Nobody could ever free it.
    effects.push(send(replyTo, { type: 'object/put-rejected', objectId, reason: `owner ${message.owner} is dead` }));
    return;
  }
  const capacity = state.config.objectStoreCapacityBytes;
  if (state.usedBytes + sizeBytes > capacity) {
    const reason = `object store full: need ${sizeBytes} bytes, ${state.usedBytes} of ${capacity} in use; free objects or raise objectStoreMemory`;
    effects.push(send(replyTo, { type: 'object/put-rejected', objectId, reason }));
    return;
  }
  state.objects[objectId] = { owner: message.owner, data: copyData(message.data), sizeBytes, refs: copyRefs(message.refs) };
  state.usedBytes += sizeBytes;
  effects.push(send(replyTo, { type: 'object/put-acked', objectId }));
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
    state.usedBytes -= stored.sizeBytes;
    delete state.objects[objectId];
    deleted.push(objectId);
  }
  if (deleted.length > 0) effects.push({ type: 'objects/deleted', objectIds: deleted });
}
