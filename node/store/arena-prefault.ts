/**
 * Pre-faulting: the first write to a page of fresh memory costs ~11 us here, so a store that wrote
 * objects into untouched memory would put at ~0.36 GB/s instead of the ~14-19 GB/s of copies into
 * warm memory. Touching every page once, ahead of use, moves that cost out of the put path.
 */
import { performance } from 'node:perf_hooks';

/** The page size the kernel faults in; one write per page is enough to map it. */
export const PAGE_BYTES = 4096;

const pageInts = PAGE_BYTES / Int32Array.BYTES_PER_ELEMENT;

/**
 * Writes one word of every page, synchronously. Only for memory no other thread can see yet: the
 * plain write of zero would race with a writer, where `touchPagesShared` cannot.
 */
export function touchPagesPrivate(buffer: SharedArrayBuffer, startBytes: number, endBytes: number): void {
  const ints = new Int32Array(buffer);
  for (let index = Math.floor(startBytes / PAGE_BYTES) * pageInts; index * 4 < endBytes; index += pageInts) ints[index] = 0;
}

/**
 * Faults pages in while other threads may be writing objects into them: an atomic add of zero is
 * a write, so the kernel maps the page, yet it leaves whatever value a writer stored untouched.
 * Stops once `deadlineMs` (a `performance.now()` time) passes, and returns where it stopped.
 */
export function touchPagesShared(ints: Int32Array, startBytes: number, endBytes: number, deadlineMs: number): number {
  let position = startBytes;
  while (position < endBytes) {
    // Checking the clock every 64 pages keeps its cost negligible next to the faults themselves.
    const batchEnd = Math.min(endBytes, position + 64 * PAGE_BYTES);
    for (; position < batchEnd; position += PAGE_BYTES) Atomics.add(ints, position / 4, 0);
    if (performance.now() >= deadlineMs) break;
  }
  return Math.min(position, endBytes);
}

/**
 * Touches every page of a shared buffer from the event loop, one time slice per turn, lowest
 * addresses first (the allocator hands out low addresses first, so what is used soonest is warmed
 * first). Its turns are unreferenced: pre-faulting alone never keeps a process alive, unless
 * someone awaits `done()`.
 */
export class BackgroundPrefault {
  private positionBytes = 0;
  private immediate: NodeJS.Immediate | undefined;
  private keepAlive = false;
  private readonly waiters: (() => void)[] = [];
  private readonly ints: Int32Array;
  /** Pages are touched up to here; `runAheadTo` moves it as allocations reach higher addresses. */
  private targetBytes: number;

  /**
   * Each turn touches pages for about `sliceMs` milliseconds. Without `aheadBytes` it starts at once
   * and covers the whole buffer; with it, it starts at the first allocation and stays `aheadBytes`
   * beyond the highest one, so a run that never stores a large object spends nothing on the store
   * (faulting in 128 MiB took about a third of the main thread's time in the first seconds of a
   * tiny-task run).
   */
  constructor(
    private readonly buffer: SharedArrayBuffer,
    private readonly sliceMs: number,
    private readonly aheadBytes?: number,
  ) {
    this.ints = new Int32Array(buffer);
    this.targetBytes = aheadBytes === undefined ? buffer.byteLength : 0;
    if (this.targetBytes > 0) this.schedule();
  }

  /** Allocations now reach `highBytes`: keep `aheadBytes` faulted in beyond it. */
  runAheadTo(highBytes: number): void {
    if (this.aheadBytes === undefined) return;
    const target = Math.min(this.buffer.byteLength, highBytes + this.aheadBytes);
    if (target <= this.targetBytes) return;
    this.targetBytes = target;
    if (this.immediate === undefined && this.positionBytes < target) this.schedule();
  }

  /** How many bytes from the start of the buffer are already faulted in. */
  get doneBytes(): number {
    return this.positionBytes;
  }

  /** Resolves once every page is touched; while awaited, the pending turns keep the process alive. */
  done(): Promise<void> {
    if (this.positionBytes >= this.buffer.byteLength) return Promise.resolve();
    this.targetBytes = this.buffer.byteLength;
    if (this.immediate === undefined) this.schedule();
    this.keepAlive = true;
    this.immediate?.ref();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops touching pages; what is touched stays touched. */
  stop(): void {
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  private schedule(): void {
    this.immediate = setImmediate(() => this.turn());
    if (!this.keepAlive) this.immediate.unref();
  }

  private turn(): void {
    this.immediate = undefined;
    const end = this.targetBytes;
    this.positionBytes = touchPagesShared(this.ints, this.positionBytes, end, performance.now() + this.sliceMs);
    if (this.positionBytes < end) {
      this.schedule();
      return;
    }
    if (this.positionBytes >= this.buffer.byteLength) for (const resolve of this.waiters.splice(0)) resolve();
  }
}
