/**
 * The node's object arena: one SharedArrayBuffer of `objectStoreMemory` bytes, faulted in once and
 * then reused, with an allocator that only the main thread (the raylet's shell) runs. Workers send
 * large values to the main thread, which writes them; every thread reads the shared buffer
 * directly, so the allocator needs no locks and its metadata never has to be shared.
 */
import { FreeList } from './arena-free-list.js';
import { BackgroundPrefault, touchPagesPrivate } from './arena-prefault.js';

/**
 * Every allocation starts and ends on a 64-byte boundary: any typed array (Float64Array,
 * BigInt64Array, ...) can view it, and no two objects share a cache line.
 */
export const ALIGNMENT_BYTES = 64;

/** Granule counts must fit the free list's 32-bit size classes. */
const maxCapacityBytes = 2 ** 32 * ALIGNMENT_BYTES;

/** A range of the arena handed out by `allocate`. */
export interface Allocation {
  /** Where it starts, in bytes from the start of the shared buffer; a multiple of ALIGNMENT_BYTES. */
  readonly offset: number;
  /** The size asked for; the arena reserves it rounded up to ALIGNMENT_BYTES. */
  readonly sizeBytes: number;
}

/**
 * When the arena's pages are faulted in. `eager`: all of them in the constructor (about 0.1 to
 * 0.8 s per 256 MiB here, so only for small arenas, tests and benchmarks). `background`: from the
 * event loop, a few milliseconds per turn, lowest addresses first. `none`: on first write.
 */
export type PrefaultMode = 'eager' | 'background' | 'none';

/** How to build an arena. */
export interface ObjectArenaOptions {
  /** The objectStoreMemory limit: the size of the shared buffer, rounded down to ALIGNMENT_BYTES. */
  capacityBytes: number;
  /** Default `background`: creating a node must not stall for seconds on a large store. */
  prefault?: PrefaultMode;
  /** How long one background turn may touch pages; default 2 ms, short enough not to delay messages. */
  prefaultSliceMs?: number;
  /** With `background`: fault in only this far beyond the highest allocation (default: the whole buffer). */
  prefaultAheadBytes?: number;
}

/** Rounds a size up to the allocation granule; every allocation takes at least one granule. */
export function reservedBytes(sizeBytes: number): number {
  return Math.max(ALIGNMENT_BYTES, Math.ceil(sizeBytes / ALIGNMENT_BYTES) * ALIGNMENT_BYTES);
}

/**
 * A zero-copy byte view of an allocation. Works in any thread that holds the shared buffer: the
 * view's `.buffer` is that very buffer, so writes by one thread are seen by all.
 */
export function viewOf(buffer: SharedArrayBuffer, offset: number, sizeBytes: number): Uint8Array {
  return new Uint8Array(buffer, offset, sizeBytes);
}

/** The shared buffer and its allocator; lives in the main thread. */
export class ObjectArena {
  /** The memory every thread of the node reads and writes objects in. */
  readonly buffer: SharedArrayBuffer;
  private readonly freeList = new FreeList(ALIGNMENT_BYTES);
  private readonly reservedByOffset = new Map<number, number>();
  private usedBytesTotal = 0;
  private readonly prefault: BackgroundPrefault | undefined;

  /** Creates the buffer and starts faulting it in as `options.prefault` says. */
  constructor(options: ObjectArenaOptions) {
    if (!Number.isSafeInteger(options.capacityBytes) || options.capacityBytes < ALIGNMENT_BYTES || options.capacityBytes >= maxCapacityBytes) {
      throw new RangeError(`objectStoreMemory must be an integer number of bytes from ${ALIGNMENT_BYTES} to below ${maxCapacityBytes}; got ${options.capacityBytes}`);
    }
    // A tail shorter than one granule could never be handed out, so the buffer leaves it off.
    const capacityBytes = Math.floor(options.capacityBytes / ALIGNMENT_BYTES) * ALIGNMENT_BYTES;
    this.buffer = new SharedArrayBuffer(capacityBytes);
    this.freeList.release(0, capacityBytes);
    const mode = options.prefault ?? 'background';
    if (mode === 'eager') touchPagesPrivate(this.buffer, 0, capacityBytes);
    if (mode === 'background') this.prefault = new BackgroundPrefault(this.buffer, options.prefaultSliceMs ?? 2, options.prefaultAheadBytes);
  }

  /** The size of the shared buffer, the most that can be allocated at once. */
  get capacityBytes(): number {
    return this.buffer.byteLength;
  }

  /** Bytes reserved by live allocations, each rounded up to ALIGNMENT_BYTES. */
  get usedBytes(): number {
    return this.usedBytesTotal;
  }

  /** The largest allocation that would succeed now; below `capacityBytes - usedBytes` when fragmented. */
  get largestFreeBytes(): number {
    return this.freeList.largestBytes;
  }

  /** How many separate free ranges there are; 1 when all free memory is one range. */
  get freeRangeCount(): number {
    return this.freeList.blockCount;
  }

  /** How many live allocations there are. */
  get allocationCount(): number {
    return this.reservedByOffset.size;
  }

  /** Bytes from the start of the buffer already faulted in (all of them unless prefault is `background` or `none`). */
  get prefaultedBytes(): number {
    return this.prefault?.doneBytes ?? this.capacityBytes;
  }

  /** Resolves when background pre-faulting is finished (at once for the other modes). */
  whenPrefaulted(): Promise<void> {
    return this.prefault?.done() ?? Promise.resolve();
  }

  /** Stops background pre-faulting, e.g. when the node shuts down. */
  close(): void {
    this.prefault?.stop();
  }

  /**
   * Reserves `sizeBytes` (rounded up to ALIGNMENT_BYTES) and returns where, or undefined when no
   * free range is long enough. Freed memory is reused first-fit within its size class, so warm
   * pages are written again rather than fresh ones.
   */
  allocate(sizeBytes: number): Allocation | undefined {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new RangeError(`allocation size must be a non-negative integer; got ${sizeBytes}`);
    const reserved = reservedBytes(sizeBytes);
    if (reserved > this.freeList.freeBytes) return undefined;
    const offset = this.freeList.take(reserved);
    if (offset === undefined) return undefined;
    this.reservedByOffset.set(offset, reserved);
    this.usedBytesTotal += reserved;
    this.prefault?.runAheadTo(offset + reserved);
    return { offset, sizeBytes };
  }

  /** Returns an allocation's memory, merging it with free neighbours; throws on an unknown offset (a double free). */
  free(offset: number): void {
    const reserved = this.reservedByOffset.get(offset);
    if (reserved === undefined) throw new Error(`no allocation starts at offset ${offset}; freed twice?`);
    this.reservedByOffset.delete(offset);
    this.usedBytesTotal -= reserved;
    this.freeList.release(offset, reserved);
  }
}
