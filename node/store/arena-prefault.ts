/**
 * Pre-faulting: the first write to a page of fresh memory costs ~11 us here, so a store that wrote
 * objects into untouched memory would put at ~0.36 GB/s instead of the ~14-19 GB/s of copies into
 * warm memory. Touching every page once, ahead of use, moves that cost out of the put path.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

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

/**
 * Words of a ThreadPrefault's control block: the pages asked for (-1: stop), the pages done, and
 * the pages below which all is known to be written already (the thread skips them).
 */
const control = { targetPages: 0, donePages: 1, skipPages: 2 } as const;

/**
 * What the pre-faulting thread runs: it touches pages in batches, lowest first, publishing its
 * progress after each batch, and sleeps on the target word when it has caught up (telling the main
 * thread so, for `done()`). An atomic add of zero, as in `touchPagesShared`, because the main thread
 * writes objects into the same pages meanwhile.
 */
const prefaultThreadScript = `
const { parentPort, workerData } = require('node:worker_threads');
const { buffer, control } = workerData;
const ints = new Int32Array(buffer);
for (;;) {
  const target = Atomics.load(control, ${control.targetPages});
  if (target < 0) break;
  let page = Math.max(Atomics.load(control, ${control.donePages}), Atomics.load(control, ${control.skipPages}));
  if (page >= target) {
    Atomics.store(control, ${control.donePages}, page);
    parentPort.postMessage(page);
    Atomics.wait(control, ${control.targetPages}, target);
    continue;
  }
  const end = Math.min(target, page + 256);
  for (; page < end; page += 1) Atomics.add(ints, page * ${pageInts}, 0);
  Atomics.store(control, ${control.donePages}, page);
}
`;

/**
 * Faults pages in from a thread of its own, lowest addresses first, as far as `prefaultTo` asks. A
 * first write to a page costs 3 to 40 us here, most of it outside this process (in the hypervisor),
 * so faulting in 64 MiB ahead of a large put takes the main thread 50 to 600 ms; from the event loop
 * (BackgroundPrefault) it still costs the main thread those milliseconds, in slices. This thread
 * pays them on another core. It starts at the first request (a process that never stores a large
 * value spends nothing on it), never keeps the process alive, and touches only what was asked for.
 */
export class ThreadPrefault {
  private readonly control = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  private worker: Worker | undefined;
  private stopped = false;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly buffer: SharedArrayBuffer) {}

  /**
   * Has the pages up to `endBytes` faulted in, soon; what is asked for stays asked for. The caller
   * may say that everything below `writtenBytes` has been (or is being) written, and so needs no
   * touch: the thread then goes straight past it.
   */
  prefaultTo(endBytes: number, writtenBytes = 0): void {
    if (this.stopped) return;
    const pages = Math.ceil(Math.min(endBytes, this.buffer.byteLength) / PAGE_BYTES);
    const skipPages = Math.floor(Math.min(writtenBytes, this.buffer.byteLength) / PAGE_BYTES);
    if (skipPages > Atomics.load(this.control, control.skipPages)) Atomics.store(this.control, control.skipPages, skipPages);
    if (pages <= Atomics.load(this.control, control.targetPages)) return;
    Atomics.store(this.control, control.targetPages, pages);
    Atomics.notify(this.control, control.targetPages);
    this.worker ??= this.start();
  }

  /** How many bytes from the start of the buffer are already faulted in. */
  get doneBytes(): number {
    return Math.min(this.buffer.byteLength, Atomics.load(this.control, control.donePages) * PAGE_BYTES);
  }

  /** Resolves once every page asked for so far is faulted in; while awaited, the thread keeps the process alive. */
  done(): Promise<void> {
    if (this.stopped || Atomics.load(this.control, control.donePages) >= Atomics.load(this.control, control.targetPages)) return Promise.resolve();
    this.worker?.ref();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops the thread; what is touched stays touched, and later requests are ignored. Resolves once the thread is gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.control, control.targetPages, -1);
    Atomics.notify(this.control, control.targetPages);
    const worker = this.worker;
    this.worker = undefined;
    this.settle();
    await worker?.terminate();
  }

  private start(): Worker {
    // No inherited flags: a profiler or inspector the process runs with has nothing to do here.
    const worker = new Worker(prefaultThreadScript, { eval: true, execArgv: [], workerData: { buffer: this.buffer, control: this.control }, stdout: true, stderr: true });
    worker.unref();
    worker.on('message', () => this.settle());
    worker.on('error', (error) => {
      // Faulting in is only ahead of need: without it the writes fault their pages themselves.
      process.emitWarning(`tsray: the object store's pre-faulting thread failed (${String(error)}); large puts write fresh memory themselves`);
    });
    return worker;
  }

  /** Resolves the `done()` waiters once the thread has caught up (or stopped). */
  private settle(): void {
    if (!this.stopped && Atomics.load(this.control, control.donePages) < Atomics.load(this.control, control.targetPages)) return;
    this.worker?.unref();
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
