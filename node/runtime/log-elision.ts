/**
 * What an owner's event log keeps of large values: never their bytes. A put or a task's return value
 * of inlineThresholdBytes (100 KiB) or more is logged as a stand-in naming the object (or the task and
 * return index), its size and a SHA-1 of its bytes. Replay does not need the bytes: the owner's recipe
 * keeps such values out of its state (they go to the store, and only their size and refs stay), so
 * a log with stand-ins replays to the same state. Values below the threshold stay in the owner's
 * state, so they are logged whole.
 */
import { createHash } from 'node:crypto';
import type { ExecutionResult, OwnerEvent, ValueData } from '../../core/owner/index.js';
import { isOfType } from '../../core/type-of.js';
import { isMappedData, isRemoteStoredData, isSpilledData, isStoredData } from './stored-values.js';
import type { EncodedData } from './values.js';

/** What the log holds in place of a large value's data. */
export interface ElidedData {
  readonly elided: 'payload';
  /** The object the value became, when known at the time it was logged. */
  readonly objectId?: string;
  /** The task that returned it, and which of its returns it is. */
  readonly taskId?: string;
  readonly returnIndex?: number;
  readonly sizeBytes: number;
  /** SHA-1 of the body and then each blob, hex. */
  readonly sha1: string;
}

/** Whether core data is a logged stand-in for a large value. */
export function isElidedData(data: unknown): data is ElidedData {
  return typeof data === 'object' && data !== null && (data as { elided?: unknown }).elided === 'payload';
}

function sha1Of(data: EncodedData): string {
  const hash = createHash('sha1').update(data.body);
  for (const blob of data.blobs) hash.update(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength));
  return hash.digest('hex');
}

function elided(value: ValueData, thresholdBytes: number, names: { objectId?: string; taskId?: string; returnIndex?: number }): ValueData {
  if (value.sizeBytes < thresholdBytes || isStoredData(value.data) || isMappedData(value.data) || isRemoteStoredData(value.data) || isSpilledData(value.data) || isElidedData(value.data)) return value;
  const data: ElidedData = { elided: 'payload', ...names, sizeBytes: value.sizeBytes, sha1: sha1Of(value.data as EncodedData) };
  return { ...value, data };
}

/** Whether every value is smaller than `thresholdBytes`, so that `elided` keeps each as it is. */
function allBelow(values: readonly ValueData[], thresholdBytes: number): boolean {
  for (let index = 0; index < values.length; index += 1) if ((values[index] as ValueData).sizeBytes >= thresholdBytes) return false;
  return true;
}

/**
 * The form of an owner event its log keeps: `object/put` and `task/executed` with large values carry
 * stand-ins; every other event is logged as it is. `nextPutObjectId` names the object a put mints.
 */
export function loggedOwnerEvent(event: OwnerEvent, thresholdBytes: number, nextPutObjectId: () => string): OwnerEvent {
  // Every event comes here, of every kind: its type is read where a kind first met in a burst throws no code away.
  if (isOfType(event, 'object/put')) {
    const value = elided(event.value, thresholdBytes, { objectId: nextPutObjectId() });
    return value === event.value ? event : { ...event, value };
  }
  if (isOfType(event, 'task/executed') && event.result.kind === 'returned') {
    // Every task's values are looked at: when none is large (a tiny task's), no list is made.
    if (allBelow(event.result.values, thresholdBytes)) return event;
    const values = event.result.values.map((value, returnIndex) => elided(value, thresholdBytes, { taskId: event.taskId, returnIndex }));
    if (values.every((value, index) => value === (event.result as ExecutionResult & { kind: 'returned' }).values[index])) return event;
    return { ...event, result: { ...event.result, values } };
  }
  return event;
}
