/**
 * The node's object store: object id -> sealed allocation in the node's arena, with reader pins so
 * that memory a reader is still viewing is never handed out again. It lives in the main thread (the
 * raylet's shell) next to the arena; worker threads read the shared buffer directly.
 *
 * Life of an object: `create` reserves memory (the writer then fills it), `seal` makes it readable
 * and immutable, views decoded in any thread pin it through the shared count in its header
 * (reader-pins.ts), and `delete` (when the owner's count reaches zero) frees it as soon as no
 * reader pins it.
 */
import { ObjectStoreFullError } from '../errors.js';
import type { ObjectArena } from './arena.js';
import { clearReaderSlot, pinHeaderBytes, readerPins, resetReaderPins } from './reader-pins.js';
import { clearFingerprint } from './write-guard.js';

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
  /** Where the data starts; the allocation (with the pin header) starts pinHeaderBytes earlier. */
  readonly offset: number;
  readonly sizeBytes: number;
  metadata: unknown;
  sealed: boolean;
}

/** How often deleted objects that readers still view are looked at again. */
const sweepIntervalMs = 50;

/** Object id -> allocation, for one node; main thread only. */
export class ObjectStore {
  // A deleted object still pinned by a reader may share its id with a rebuilt copy (lineage
  // reconstruction): lingering objects are kept by reference, never looked up by id.
  private readonly byId = new Map<string, StoredObject>();
  /** Deleted objects whose memory views in some thread still pin. */
  private readonly lingering = new Set<StoredObject>();
  private sweepTimer: NodeJS.Timeout | undefined;

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

  /**
   * Reserves `sizeBytes` for a new object and returns where its writer must put the bytes; it is
   * not readable until `seal`. Throws ObjectStoreFull when it cannot fit, and an Error when the id
   * is already present.
   */
  create(objectId: string, sizeBytes: number): { offset: number } {
    if (this.byId.has(objectId)) throw new Error(`object ${objectId} already exists in the object store`);
    // Deleted objects whose views were collected since the last sweep are freed first, so that their
    // warm memory is reused rather than fresh pages (the sweep timer may not have run yet: a put+get
    // loop can go from one put to the next without reaching the event loop's timers).
    if (this.lingering.size > 0) this.sweep();
    const allocation = this.arena.allocate(sizeBytes + pinHeaderBytes);
    if (allocation === undefined) throw new ObjectStoreFull(sizeBytes, this.arena.usedBytes, this.arena.capacityBytes, this.arena.largestFreeBytes);
    const offset = allocation.offset + pinHeaderBytes;
    resetReaderPins(this.arena.buffer, offset);
    clearFingerprint(this.arena.buffer, offset);
    const stored: StoredObject = { objectId, offset, sizeBytes, metadata: undefined, sealed: false };
    this.byId.set(objectId, stored);
    return { offset };
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
   * Removes the object, sealed or not (an unsealed one is a write abandoned, e.g. by a dead
   * worker): at once invisible to get, and its memory is freed when its last reader pin ends.
   * Returns false if there was no such object.
   */
  delete(objectId: string): boolean {
    const stored = this.byId.get(objectId);
    if (stored === undefined) return false;
    this.byId.delete(objectId);
    this.releaseIfUnpinned(stored);
    return true;
  }

  /** The bytes of deleted objects that wait for their readers' views to be collected. */
  get lingeringBytes(): number {
    let bytes = 0;
    for (const stored of this.lingering) bytes += stored.sizeBytes + pinHeaderBytes;
    return bytes;
  }

  /** How many deleted objects wait for their readers' views to be collected. */
  get lingeringCount(): number {
    return this.lingering.size;
  }

  /**
   * A reader thread is gone, and its views with it: its pins on every object end, and the slot may
   * be handed to another thread.
   */
  dropReaderSlot(slot: number): void {
    for (const stored of [...this.byId.values(), ...this.lingering]) clearReaderSlot(this.arena.buffer, stored.offset, slot);
    this.sweep();
  }

  /** Frees the deleted objects no reader pins any more; returns how many. */
  sweep(): number {
    let freed = 0;
    for (const stored of this.lingering) if (this.releaseIfUnpinned(stored)) freed += 1;
    return freed;
  }

  /** Stops the sweep timer (the store is no longer used). */
  close(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private releaseIfUnpinned(stored: StoredObject): boolean {
    if (readerPins(this.arena.buffer, stored.offset) > 0) {
      this.lingering.add(stored);
      // Views are collected whenever the garbage collector gets to them: look again now and then.
      this.sweepTimer ??= setInterval(() => this.sweep(), sweepIntervalMs).unref();
      return false;
    }
    this.lingering.delete(stored);
    this.release(stored);
    if (this.lingering.size === 0) this.close();
    return true;
  }

  private release(stored: StoredObject): void {
    this.arena.free(stored.offset - pinHeaderBytes);
  }
}

function entryOf(stored: StoredObject): ObjectEntry {
  return { offset: stored.offset, sizeBytes: stored.sizeBytes, metadata: stored.metadata };
}
