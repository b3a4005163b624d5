/**
 * Large values in the node's shared-memory store. The raylet's shell writes a value's body and blobs
 * into one allocation (blobs 64-byte aligned, so typed arrays are views in place) and hands the core
 * a small descriptor instead of the bytes; every thread of the node decodes from the shared buffer
 * with no copy of the blobs.
 */
import type { ObjectStore } from '../store/object-store.js';
import { ObjectStoreFull } from '../store/object-store.js';
import { pinHeaderBytes } from '../store/reader-pins.js';
import { reservedBytes } from '../store/arena.js';
import { sealFingerprint, type ByteRanges } from '../store/write-guard.js';
import { copyBytes, copyOf } from '../store/shared-copy.js';
import type { EncodedData } from './values.js';

/** Where a stored value's parts are, relative to its allocation. */
export interface StoredLayout {
  readonly offset: number;
  readonly body: readonly [number, number];
  readonly blobs: readonly (readonly [number, number])[];
}

/** The descriptor that stands for a stored value in the core's state and messages. */
export interface StoredData {
  readonly storedObjectId: string;
  readonly layout: StoredLayout;
}

/**
 * What stands for a stored value that could not be brought to the reader's process (its node's store
 * had no room for a copy, or the transfer failed): reading it fails with `reason`.
 */
export interface ForeignStoredData {
  readonly foreignObjectId: string;
  /** The node whose store holds it. */
  readonly nodeId: string;
  /** Why it could not be read here, one line. */
  readonly reason?: string;
}

/**
 * What stands for a stored value once it leaves the process that holds it (node-routing.ts): where
 * to ask for its bytes, how many there are, and where its parts are within them. The reader's
 * process pulls the bytes in chunks (object-transfer.ts) before any reader decodes it.
 */
export interface RemoteStoredData {
  readonly remoteObjectId: string;
  /** The node whose store (or the driver process whose memory) holds the bytes. */
  readonly nodeId: string;
  /** The address that answers `object/chunk-requested` for them. */
  readonly holder: string;
  /** The size of the bytes, which every chunk's `totalBytes` must match. */
  readonly totalBytes: number;
  /** Where the body and blobs are within the bytes (offset 0). */
  readonly layout: StoredLayout;
}

/**
 * What stands for a stored value that this process pulled into its own memory (a driver connected
 * over TCP has no node store): the core's state and log keep this small descriptor, and the bytes
 * stay in this process (values.ts `holdPulledBytes`) while the owner keeps the value.
 */
export interface PulledData {
  readonly pulledObjectId: string;
  /** Where the body and blobs are within the pulled bytes (offset 0). */
  readonly layout: StoredLayout;
}

/**
 * What stands for a large value in a file of a node's handoff folder (node/store/shm-handoff.ts), on
 * its way between the node and a driver on the same host: a driver's put for the node to take into
 * its store, or an object of the node's store staged for a driver to read (each get reads one copy).
 */
export interface MappedData {
  readonly mappedObjectId: string;
  /** The file's name in the node's handoff folder. */
  readonly file: string;
  /** The file's size. */
  readonly totalBytes: number;
  /** Where the body and blobs are within the file (offset 0). */
  readonly layout: StoredLayout;
}

/**
 * What stands for a value in its node's spill space (node/store/spill-space.ts): the put did not fit
 * in the shared-memory store, so the node wrote it to a file of its own, which every get reads into
 * private memory. The raylet's state and log keep this descriptor, never the bytes.
 */
export interface SpilledData {
  readonly spilledObjectId: string;
  /** The file's absolute path. */
  readonly file: string;
  /** The file's size. */
  readonly totalBytes: number;
  /** Where the body and blobs are within the file (offset 0). */
  readonly layout: StoredLayout;
}

/** Whether core data is a value in a node's spill space. */
export function isSpilledData(data: unknown): data is SpilledData {
  return typeof data === 'object' && data !== null && typeof (data as { spilledObjectId?: unknown }).spilledObjectId === 'string';
}

/** Whether core data is a value in a node's handoff folder. */
export function isMappedData(data: unknown): data is MappedData {
  return typeof data === 'object' && data !== null && typeof (data as { mappedObjectId?: unknown }).mappedObjectId === 'string';
}

/** Whether core data is a value pulled into this process's memory. */
export function isPulledData(data: unknown): data is PulledData {
  return typeof data === 'object' && data !== null && typeof (data as { pulledObjectId?: unknown }).pulledObjectId === 'string';
}

/** Whether core data is a value held in another process, to be pulled. */
export function isRemoteStoredData(data: unknown): data is RemoteStoredData {
  return typeof data === 'object' && data !== null && typeof (data as { remoteObjectId?: unknown }).remoteObjectId === 'string';
}

/** Whether core data is a value held in another process's store. */
export function isForeignStoredData(data: unknown): data is ForeignStoredData {
  return typeof data === 'object' && data !== null && typeof (data as { foreignObjectId?: unknown }).foreignObjectId === 'string';
}

/** Whether core data is a stored descriptor. */
export function isStoredData(data: unknown): data is StoredData {
  return typeof data === 'object' && data !== null && typeof (data as { storedObjectId?: unknown }).storedObjectId === 'string';
}

const alignBytes = 64;

function align(value: number): number {
  return Math.ceil(value / alignBytes) * alignBytes;
}

/** Where the body and each blob go, relative to the object's start, and how many bytes that takes. */
function placeParts(data: EncodedData): { sizeBytes: number; blobs: [number, number][] } {
  let cursor = data.body.byteLength;
  const blobs: [number, number][] = [];
  for (const blob of data.blobs) {
    cursor = align(cursor);
    blobs.push([cursor, blob.byteLength]);
    cursor += blob.byteLength;
  }
  return { sizeBytes: Math.max(cursor, 1), blobs };
}

/** Where an encoded value's parts go when laid out as one run of bytes (layout at offset 0), and how long the run is. */
export function flatLayout(data: EncodedData): { sizeBytes: number; layout: StoredLayout } {
  const { sizeBytes, blobs } = placeParts(data);
  return { sizeBytes, layout: { offset: 0, body: [0, data.body.byteLength], blobs } };
}

/**
 * An encoded value laid out as one run of bytes, as the store lays it out (blobs 64-byte aligned),
 * with its layout at offset 0: what a process without a store serves to a node that pulls it.
 */
export function flattenValue(data: EncodedData): { bytes: Uint8Array; layout: StoredLayout } {
  const { sizeBytes, blobs } = placeParts(data);
  const bytes = new Uint8Array(sizeBytes);
  bytes.set(data.body, 0);
  data.blobs.forEach((blob, index) => {
    const [at] = blobs[index] ?? [0];
    bytes.set(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength), at);
  });
  return { bytes, layout: { offset: 0, body: [0, data.body.byteLength], blobs } };
}

/** The parts of a value laid out in `bytes` by `layout` (offset 0), as views of `bytes`. */
export function partsOf(bytes: Uint8Array, layout: StoredLayout): EncodedData {
  const view = (at: number, length: number): Uint8Array => new Uint8Array(bytes.buffer, bytes.byteOffset + at, length);
  return { body: view(layout.body[0], layout.body[1]), blobs: layout.blobs.map(([at, length]) => view(at, length)) };
}

/** The bytes of the store an encoded value takes, its header included: more than this never fits. */
export function storedSizeBytes(data: EncodedData): number {
  return reservedBytes(placeParts(data).sizeBytes + pinHeaderBytes);
}

/** The byte ranges of a stored value (body, then blobs), which its fingerprint covers. */
export function layoutRanges(layout: StoredLayout): ByteRanges {
  return [layout.body, ...layout.blobs];
}

/**
 * A private copy of the out-of-band blobs of an encoded value (its body is already private), so that
 * the caller's later writes to its arrays do not change the value: one copy per blob, taken at the
 * call that captures the value.
 */
export function captureData(data: EncodedData): EncodedData {
  if (data.blobs.length === 0) return data;
  return { body: data.body, blobs: data.blobs.map((blob) => new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength).slice()) };
}

/** A body of at most this many bytes, of a value with no blobs, is kept in a shared slab by `compactedData`. */
const slabBodyMaxBytes = 64;
/**
 * The size of a slab. Small, because a slab lives as long as any body in it, and a message to
 * another thread that carries one of its bodies copies the whole slab (structured clone copies the
 * whole ArrayBuffer under a view).
 */
const slabBytes = 4096;
let slab = new Uint8Array(0);
let slabUsedBytes = 0;

/**
 * A private copy of an encoded value, as `captureData`, where a small body (a tiny task's argument)
 * is copied into a slab shared with other small bodies: a Uint8Array of its own also costs an
 * ArrayBuffer object and a backing store, about 110 bytes besides the bytes, which a driver holding
 * a million queued tiny tasks (P5 in bench/) would keep for each.
 */
export function compactedData(data: EncodedData): EncodedData {
  const length = data.body.byteLength;
  if (data.blobs.length > 0 || length > slabBodyMaxBytes) return captureData(data);
  if (slabUsedBytes + length > slab.byteLength) {
    slab = new Uint8Array(slabBytes);
    slabUsedBytes = 0;
  }
  const body = slab.subarray(slabUsedBytes, slabUsedBytes + length);
  body.set(data.body);
  slabUsedBytes += length;
  return { body, blobs: data.blobs };
}

/**
 * Copies an encoded value into the store under `objectId` (one copy of each part, straight from
 * the caller's memory) and fingerprints it; returns its descriptor, or undefined if the store cannot
 * take it (then the caller turns the put away or waits).
 */
export function storeValue(store: ObjectStore, objectId: string, data: EncodedData): StoredData | undefined {
  const { sizeBytes, blobs } = placeParts(data);
  let offset: number;
  try {
    offset = store.create(objectId, sizeBytes).offset;
  } catch (error) {
    if (error instanceof ObjectStoreFull) return undefined;
    throw error;
  }
  const target = new Uint8Array(store.buffer);
  copyBytes(target, offset, data.body);
  data.blobs.forEach((blob, index) => {
    const [at] = blobs[index] ?? [0];
    copyBytes(target, offset + at, blob);
  });
  const layout: StoredLayout = { offset, body: [0, data.body.byteLength], blobs };
  sealFingerprint(store.buffer, offset, layoutRanges(layout));
  store.seal(objectId, layout);
  return { storedObjectId: objectId, layout };
}

/**
 * The encoded parts of a stored value: blobs as views over the shared buffer (no copy), or copies
 * when `copyBlobs` (a thread that cannot pin); the body as a private copy, because the TextDecoder
 * that msgpack's strings go through refuses shared memory (the body is the small part: large binary
 * data travels as blobs).
 */
export function storedParts(buffer: SharedArrayBuffer, data: StoredData, copyBlobs: boolean): EncodedData {
  const { offset, body, blobs } = data.layout;
  return {
    body: copyOf(new Uint8Array(buffer, offset + body[0], body[1])),
    blobs: blobs.map(([at, length]) => {
      const view = new Uint8Array(buffer, offset + at, length);
      return copyBlobs ? copyOf(view) : view;
    }),
  };
}
