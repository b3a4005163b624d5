/**
 * The node's object store: object id -> sealed allocation in the node's arena, with pin counts so
 * that memory a reader is still viewing is never handed out again. It lives in the main thread
 * (the raylet) next to the arena; worker threads reach it through object-store-rpc.ts.
 *
 * Life of an object: `create` reserves memory (the writer then fills it), `seal` makes it readable
 * and immutable, `pin`/`unpin` bracket each reader, `delete` (when the owner's count reaches zero)
 * frees it as soon as no reader holds a pin.
 */
import { ObjectStoreFullError } from '../errors.js';
import type { ObjectArena } from './arena.js';

/** Where a sealed object lives in the shared buffer, and what its writer said about it. */
export interface ObjectEntry {
  /** Where the object's bytes start in the shared buffer; a multiple of 64. */
  readonly offset: number;
  /** How many bytes the object has. */
  readonly sizeBytes: number;
  /** What the writer passed to `seal`, e.g. the typed array class and length to rebuild the view. */
  readonly metadata: unknown;
}

/**
 * The store cannot take an object: even with every deletable object freed, no free range is long
 * enough. An `ObjectStoreFullError` (so `instanceof tsray.ObjectStoreFullError` holds), with sizes.
 */
export class ObjectStoreFull extends ObjectStoreFullError {
  /** The size of the object that did not fit. */
  readonly sizeBytes: number;
  /** Bytes the store had in use. */
  readonly usedBytes: number;
  /** The objectStoreMemory limit. */
  readonly capacityBytes: number;

  /** Says how much was needed, how much is in use of how much, and what to do. */
  constructor(sizeBytes: number, usedBytes: number, capacityBytes: number, largestFreeBytes: number) {
    const fragmented = capacityBytes - usedBytes >= sizeBytes ? ` (enough in total, but the largest free range is ${largestFreeBytes} bytes)` : '';
    super(`need ${sizeBytes} bytes, ${usedBytes} of ${capacityBytes} in use${fragmented}; free objects or raise objectStoreMemory`);
    this.sizeBytes = sizeBytes;
    this.usedBytes = usedBytes;
    this.capacityBytes = capacityBytes;
  }
}

interface StoredObject {
  readonly objectId: string;
  readonly offset: number;
  readonly sizeBytes: number;
  metadata: unknown;
  sealed: boolean;
  pins: number;
  deleted: boolean;
}

/** Object id -> allocation, for one node; main thread only. */
export class ObjectStore {
  private readonly byId = new Map<string, StoredObject>();
  // Keyed by offset, not id: a deleted object still pinned by a reader may share its id with a
  // rebuilt copy (lineage reconstruction), while offsets of live allocations never collide.
  private readonly byOffset = new Map<number, StoredObject>();

  /** The store keeps its objects in `arena`. */
  constructor(readonly arena: ObjectArena) {}

  /** The shared buffer to hand to worker threads. */
  get buffer(): SharedArrayBuffer {
    return this.arena.buffer;
  }

  /** Bytes in use, including deleted objects that readers still pin. */
  get usedBytes(): number {
    return this.arena.usedBytes;
  }

  /** The objectStoreMemory limit. */
  get capacityBytes(): number {
    return this.arena.capacityBytes;
  }

  /** How many objects are visible (created and not deleted), sealed or not. */
  get objectCount(): number {
    return this.byId.size;
  }

  /**
   * Reserves `sizeBytes` for a new object and returns where its writer must put the bytes; it is
   * not readable until `seal`. Throws ObjectStoreFull when it cannot fit, and an Error when the id
   * is already present.
   */
  create(objectId: string, sizeBytes: number): { offset: number } {
    if (this.byId.has(objectId)) throw new Error(`object ${objectId} already exists in the object store`);
    const allocation = this.arena.allocate(sizeBytes);
    if (allocation === undefined) throw new ObjectStoreFull(sizeBytes, this.arena.usedBytes, this.arena.capacityBytes, this.arena.largestFreeBytes);
    const stored: StoredObject = { objectId, offset: allocation.offset, sizeBytes, metadata: undefined, sealed: false, pins: 0, deleted: false };
    this.byId.set(objectId, stored);
    this.byOffset.set(allocation.offset, stored);
    return { offset: allocation.offset };
  }

  /** Makes a created object readable; its bytes must not change afterwards. */
  seal(objectId: string, metadata: unknown): void {
    const stored = this.byId.get(objectId);
    if (stored === undefined) throw new Error(`cannot seal object ${objectId}: it was not created (or was deleted)`);
    if (stored.sealed) throw new Error(`object ${objectId} is already sealed`);
    stored.metadata = metadata;
    stored.sealed = true;
  }

  /** Whether the object is sealed and not deleted. */
  contains(objectId: string): boolean {
    return this.byId.get(objectId)?.sealed === true;
  }

  /** The sealed object's place and metadata, or undefined if it is absent, unsealed or deleted. */
  get(objectId: string): ObjectEntry | undefined {
    const stored = this.byId.get(objectId);
    return stored?.sealed === true ? entryOf(stored) : undefined;
  }

  /**
   * Gets the sealed object and keeps its memory alive for a reader until `unpin`; undefined (and
   * nothing pinned) if it is absent, unsealed or deleted. Pins count: each needs its own unpin.
   */
  pin(objectId: string): ObjectEntry | undefined {
    const stored = this.byId.get(objectId);
    if (stored?.sealed !== true) return undefined;
    stored.pins += 1;
    return entryOf(stored);
  }

  /**
   * Ends one reader's pin of the object at `offset` (from the entry `pin` returned); frees it if
   * it was deleted and this was its last pin.
   */
  unpin(objectId: string, offset: number): void {
    const stored = this.byOffset.get(offset);
    if (stored?.objectId !== objectId || stored.pins === 0) throw new Error(`object ${objectId} at offset ${offset} is not pinned`);
    stored.pins -= 1;
    if (stored.deleted && stored.pins === 0) this.release(stored);
  }

  /**
   * Removes the object, sealed or not (an unsealed one is a write abandoned, e.g. by a dead
   * worker): at once invisible to get and pin, and its memory is freed when its last pin ends.
   * Returns false if there was no such object.
   */
  delete(objectId: string): boolean {
    const stored = this.byId.get(objectId);
    if (stored === undefined) return false;
    this.byId.delete(objectId);
    stored.deleted = true;
    if (stored.pins === 0) this.release(stored);
    return true;
  }

  /**
   * Deletes the object only if it is still the unsealed one at `offset`: for a writer that died
   * mid-write, without touching a later object of the same id. Returns whether it deleted.
   */
  abort(objectId: string, offset: number): boolean {
    const stored = this.byId.get(objectId);
    if (stored === undefined || stored.sealed || stored.offset !== offset) return false;
    return this.delete(objectId);
  }

  private release(stored: StoredObject): void {
    this.byOffset.delete(stored.offset);
    this.arena.free(stored.offset);
  }
}

function entryOf(stored: StoredObject): ObjectEntry {
  return { offset: stored.offset, sizeBytes: stored.sizeBytes, metadata: stored.metadata };
}
