/**
 * Values between user code and the core: encoding a value into the core's ValueData (inline msgpack
 * plus out-of-band blobs) and decoding it back. Whether decoded refs count as held by this process
 * depends on where the value is decoded, so the caller passes the ref maker.
 */
import type { RefMarker } from '../../core/values.js';
import type { ValueData } from '../../core/owner/index.js';
import { decodeValue, encodeValue } from '../codec/index.js';
import type { CodecHooks } from '../codec/index.js';
import { ObjectStoreFullError } from '../errors.js';
import { canPin, pinWhileReachable, readerName } from '../store/reader-pins.js';
import { taskContext } from './context.js';
import { captureData, flatLayout, isForeignStoredData, isMappedData, isPulledData, isSpilledData, isStoredData, layoutRanges, partsOf, storedParts, storedSizeBytes } from './stored-values.js';
import { readSpilled, spillBytesVariable } from '../store/spill-space.js';
import type { MappedData } from './stored-values.js';

/** The data of a value as the core carries it: msgpack body and blobs. */
export interface EncodedData {
  readonly body: Uint8Array;
  readonly blobs: readonly ArrayBufferView[];
}

/**
 * Whether a small argument is kept in the core's data as itself rather than as its encoded bytes: a
 * finite number (but -0, which the event log's plain writer records as 0; NaN and the infinities
 * have no JSON form, and a collected trace would hold null for them) or a boolean. Its encoded body
 * would cost a byte view and its wrapper, about 136 bytes, which a driver holding a million queued
 * tiny tasks (P5 in bench/) keeps for each; no other data is a bare number or boolean, so
 * `fromValueData` tells it apart by its type.
 */
export function isBareValue(value: unknown): value is number | boolean {
  return typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0));
}

/**
 * The size of a bare value's encoding, as the codec (msgpackr) writes it: what `toValueData` would
 * count, without encoding it. A positive integer below 64 or a negative one from -32 is one byte,
 * then 1 to 4 bytes of integer after a type byte; any other number is a float64 after its type byte.
 */
export function bareSizeBytes(value: number | boolean): number {
  if (typeof value === 'boolean') return 1;
  if (value >>> 0 === value) return value < 0x40 ? 1 : value <= 0xff ? 2 : value <= 0xffff ? 3 : 5;
  if (value >> 0 === value) return value >= -0x20 ? 1 : value >= -0x80 ? 2 : value >= -0x8000 ? 3 : 5;
  return 9;
}

/** The refs of a value that holds none, shared by every bare value. */
export const noRefs: readonly RefMarker[] = Object.freeze([]);

/**
 * A bare value (see isBareValue) as the core's data, kept as itself: a small argument or return value
 * then costs no encoding, no byte view to copy to another thread and no decoding at its get.
 */
export function bareValueData(value: number | boolean): ValueData {
  return { data: value, sizeBytes: bareSizeBytes(value), refs: noRefs };
}

/** Encodes `value`; TypeErrors name the path (`rootPath`) of anything that cannot travel. */
export function toValueData(value: unknown, hooks: CodecHooks, rootPath: string): ValueData {
  const encoded = encodeValue(value, hooks, { rootPath });
  const data: EncodedData = { body: encoded.body, blobs: encoded.blobs };
  return { data, sizeBytes: encoded.sizeBytes, refs: encoded.refs };
}

/**
 * Encodes `value` and copies its out-of-band blobs, so that writes to the caller's arrays after the
 * call do not change it (what a put, an argument or a return value must be: captured at the call).
 */
export function capturedValueData(value: unknown, hooks: CodecHooks, rootPath: string): ValueData {
  const encoded = toValueData(value, hooks, rootPath);
  return { ...encoded, data: captureData(encoded.data as EncodedData) };
}

let storeBuffer: SharedArrayBuffer | undefined;
/** The capacity of this node's spill space, where a value too large for the store may still go. */
let spillCapacityBytes = 0;

/**
 * Throws ObjectStoreFullError when an encoded value could never fit in this node's store nor in its
 * spill space, however much were freed: a put that can never succeed fails at the call.
 */
export function checkFitsStore(data: EncodedData, sizeBytes: number): void {
  if (storeBuffer === undefined) return;
  const neededBytes = storedSizeBytes(data);
  if (neededBytes <= storeBuffer.byteLength) return;
  const spillBytes = flatLayout(data).sizeBytes;
  if (spillBytes <= spillCapacityBytes) return;
  throw new ObjectStoreFullError(
    `a value of ${sizeBytes} bytes (${neededBytes} in the store) can never fit in the object store of ${storeBuffer.byteLength} bytes (objectStoreMemory) ` +
      `nor in its spill space on disk of ${spillCapacityBytes} bytes (${spillBytesVariable}); raise objectStoreMemory in init(), give the spill space more room, or split the value`,
  );
}

/** The node's shared store buffer, for decoding stored values in this thread, and the capacity of its spill space. */
export function setStoreBuffer(buffer: SharedArrayBuffer | undefined, spillBytes = 0): void {
  storeBuffer = buffer;
  spillCapacityBytes = buffer === undefined ? 0 : spillBytes;
}

/** The bytes of values this process pulled into its own memory, by object (see PulledData). */
const pulledBytes = new Map<string, Uint8Array>();

/** Keeps the bytes of a pulled value in this process, for `fromValueData` to decode. */
export function holdPulledBytes(objectId: string, bytes: Uint8Array): void {
  pulledBytes.set(objectId, bytes);
}

/** Drops the pulled values whose object `stillHeld` no longer names; returns how many remain. */
export function releasePulledBytes(stillHeld: (objectId: string) => boolean): number {
  for (const objectId of [...pulledBytes.keys()]) if (!stillHeld(objectId)) pulledBytes.delete(objectId);
  return pulledBytes.size;
}

/** Reads a value staged in the node's handoff folder into new memory of this process (a driver sets it). */
let mappedReader: ((data: MappedData) => Uint8Array) | undefined;

/** Sets how this process reads values staged in its node's handoff folder (undefined: it reads none). */
export function setMappedReader(reader: ((data: MappedData) => Uint8Array) | undefined): void {
  mappedReader = reader;
}

/** Who is reading here, as write reports name it: the running task, and this thread. */
function readerLabel(): string {
  const task = taskContext.getStore();
  return task === undefined ? readerName() : `task ${task.taskId} in ${readerName()}`;
}

/**
 * Decodes a value the core handed back: inline bytes, or a descriptor of its place in the store.
 * Large binary data is viewed in place (shared, read-only by contract) unless `copy` asks for
 * private, writable copies.
 */
export function fromValueData(value: ValueData, hooks: CodecHooks, copy = false): unknown {
  if (isBareValue(value.data)) return value.data;
  if (isForeignStoredData(value.data)) {
    throw new ObjectStoreFullError(
      value.data.reason ?? `object ${value.data.foreignObjectId} (${value.sizeBytes} bytes) is in the shared store of node ${value.data.nodeId} and could not be copied here; read it on that node`,
    );
  }
  if (isPulledData(value.data)) {
    const bytes = pulledBytes.get(value.data.pulledObjectId);
    if (bytes === undefined) throw new Error(`object ${value.data.pulledObjectId} was pulled into this process and then released; get it again from its ref`);
    // The pulled bytes are shared by every get of the object here, so each get decodes its own copy of the blobs.
    const parts = partsOf(bytes, value.data.layout);
    return decodeValue(parts.body, captureData(parts).blobs, hooks);
  }
  if (isMappedData(value.data)) {
    if (mappedReader === undefined) throw new Error(`object ${value.data.mappedObjectId} was staged in a node's shared mapping that this process does not read`);
    // Each get reads its own copy out of the mapping, so its arrays are private and writable.
    const parts = partsOf(mappedReader(value.data), value.data.layout);
    return decodeValue(parts.body, parts.blobs, hooks);
  }
  if (isSpilledData(value.data)) {
    // Each get reads its own copy out of the spill file, so its arrays are private and writable.
    const parts = partsOf(readSpilled(value.data), value.data.layout);
    return decodeValue(parts.body, parts.blobs, hooks);
  }
  if (isStoredData(value.data)) {
    if (storeBuffer === undefined) throw new Error(`object ${value.data.storedObjectId} is in a node store this thread cannot see`);
    const parts = storedParts(storeBuffer, value.data, copy || !canPin());
    const buffer = storeBuffer;
    const dataOffset = value.data.layout.offset;
    const watch = { objectId: value.data.storedObjectId, ranges: layoutRanges(value.data.layout), reader: readerLabel() };
    // Each view over the store pins the object until it is collected, so its memory is not reused
    // under it; when the pin ends, the object is checked for writes through the view.
    const pinning: CodecHooks = { ...hooks, blobDecoded: (binary) => (ArrayBuffer.isView(binary) && binary.buffer === buffer ? pinWhileReachable(binary, buffer, dataOffset, watch) : undefined) };
    return decodeValue(parts.body, parts.blobs, pinning);
  }
  const data = value.data as EncodedData;
  // Inline values stay in the owner's state and are decoded at every get: each get gets its own
  // copy of any blob (there are blobs only when inlineThresholdBytes is raised above 1 MiB).
  return decodeValue(data.body, captureData(data).blobs, hooks);
}

/** Whether two markers name the same object. */
export function sameRef(a: RefMarker, b: RefMarker): boolean {
  return a.objectId === b.objectId;
}
