/**
 * An event log encoded in one place and written in another: a worker thread's, the embedded
 * driver's, and a raylet's. The writer stamps and encodes each event at once (so later changes to the event do not
 * reach the log), and hands the records over at most every 50 ms: a worker posts them straight to
 * the node's log thread through a channel of its own (see `postToLogThread`), the main thread hands
 * the driver's and the raylet's to it (session-logs.ts), and that thread appends them to the LMDB log. So a worker never loads
 * LMDB or opens an environment of its own, which was a fifth of what booting a worker thread cost.
 * What is still buffered when the thread exits (a task's `process.exit`, say) is posted from its
 * exit handler, which the log thread still receives.
 */
import type { MessagePort } from 'node:worker_threads';
import { RecordCodec, StoredBatch } from './event-log-codec.js';

/** Encoded bytes that may be on their way to the log thread at once, from every thread of a node. */
export const maxInFlightBytes = 64 * 1024 * 1024;
/** How long a hand-off waits for room under `maxInFlightBytes` before it drops its batch. */
export const inFlightWaitMs = 10_000;

/**
 * Counts `size` more bytes on their way to the log thread (`inFlight[0]`, which that thread takes
 * them off once their batch is in its log's buffer), after waiting (Atomics.wait, as lmdb-js makes
 * a writer that outruns the disk wait) until they fit under `maxInFlightBytes`. False, counting
 * nothing, when they did not fit within `inFlightWaitMs`: the caller drops the batch and says so.
 */
export function reserveInFlight(inFlight: Int32Array, size: number): boolean {
  const deadline = Date.now() + inFlightWaitMs;
  for (let queued = Atomics.load(inFlight, 0); queued > 0 && queued + size > maxInFlightBytes; queued = Atomics.load(inFlight, 0)) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(inFlight, 0, queued, left);
  }
  Atomics.add(inFlight, 0, size);
  return true;
}

/** A worker's own channel to the node's log thread, and the count of bytes on their way to it. */
export interface LogPort {
  readonly port: MessagePort;
  readonly inFlight: Int32Array;
}

/** `{ logPort }` for a worker's boot data, or nothing when there is no channel. */
export function withLogPort(logPort: LogPort | undefined): { logPort?: LogPort } {
  return logPort === undefined ? {} : { logPort };
}

/**
 * How a worker thread posts its log's batches straight to the log thread, through `logPort`, so the
 * main thread neither receives them nor posts them on (see session-logs.ts), and takes back their
 * memory once they are written. A batch that finds no room within `inFlightWaitMs` is dropped with one line.
 */
export function postToLogThread(address: string, logPort: LogPort): (batch: LogRecords, transfer: ArrayBuffer[]) => void {
  // The log thread sends each batch's memory back on the same channel, once written (see `BatchMemory`).
  logPort.port.on('message', keepBatchMemory);
  // Listening must not keep the thread alive.
  logPort.port.unref();
  return (batch, transfer) => {
    if (!reserveInFlight(logPort.inFlight, batch.bytes.byteLength)) {
      process.stderr.write(`tsray: ${batch.count} records of the log of ${address} were dropped: the log thread kept more than ${maxInFlightBytes} bytes (maxInFlightBytes) waiting for ${inFlightWaitMs} ms\n`);
      return;
    }
    logPort.port.postMessage(batch, transfer);
  };
}

/** The most batches' memory a thread keeps to lay out later batches in (see `BatchMemory`). */
const maxSpareBatches = 4;
/** Batch memory is allocated in steps of this, so that the memory of one batch fits most later ones. */
const batchMemoryStepBytes = 64 * 1024;

/**
 * The memory of batches the log thread has written, which it sends back (`memoryOf`) so that later
 * batches are laid out in it: a batch laid out in fresh memory cost the thread that made it a page
 * fault per 4 KiB (a hundred-odd µs for the 80 KB of a worker's batch of 20 ms, as much as its
 * records' copying and posting together), and that memory was only freed once the log thread, which
 * makes little garbage, next collected. One per thread: every forwarded log of the thread shares it.
 */
class BatchMemory {
  private readonly spare: ArrayBuffer[] = [];

  /** Memory of at least `size` bytes: a spare one when one is large enough, else a new one. */
  take(size: number): ArrayBuffer {
    const spare = this.spare;
    for (let index = spare.length - 1; index >= 0; index -= 1) {
      const memory = spare[index] as ArrayBuffer;
      if (memory.byteLength >= size) {
        spare[index] = spare[spare.length - 1] as ArrayBuffer;
        spare.pop();
        return memory;
      }
    }
    return new ArrayBuffer(Math.ceil(size / batchMemoryStepBytes) * batchMemoryStepBytes);
  }

  /**
   * Keeps `memory` (a written batch's, sent back) for a later batch; when enough are kept, it takes
   * the place of the smallest kept, if larger. Keeping the first that came back filled the spares with
   * the small memory of a burst's first batches (64 to 256 KiB, flushed by the timer), and the 384 KiB
   * of every full batch (4096 records) after them was dropped: each full batch was laid out in fresh
   * memory, whose allocation made the workers' V8 start full collections.
   */
  give(memory: ArrayBuffer): void {
    if (memory.byteLength === 0) return;
    const spare = this.spare;
    if (spare.length < maxSpareBatches) {
      spare.push(memory);
      return;
    }
    let smallest = 0;
    for (let index = 1; index < spare.length; index += 1) if ((spare[index] as ArrayBuffer).byteLength < (spare[smallest] as ArrayBuffer).byteLength) smallest = index;
    if ((spare[smallest] as ArrayBuffer).byteLength < memory.byteLength) spare[smallest] = memory;
  }
}

/** This thread's spare batch memory. */
const batchMemory = new BatchMemory();

/** The message in which the log thread sends a written batch's memory back to the thread that made it. */
export interface BatchMemoryBack {
  readonly kind: 'tsray/batch-memory';
  readonly memory: ArrayBuffer;
}

/**
 * The message that gives the memory of `batch`, once written, back to the thread that made it (to be
 * posted with the memory moved, not copied), or undefined when it has none worth sending back.
 */
export function memoryOf(batch: LogRecords): BatchMemoryBack | undefined {
  const memory = batch.bytes.buffer;
  return memory instanceof ArrayBuffer && memory.byteLength >= batchMemoryStepBytes ? { kind: 'tsray/batch-memory', memory } : undefined;
}

/** Keeps the memory a message of the log thread gives back, when it is such a message; false when it is not. */
export function keepBatchMemory(message: unknown): boolean {
  if (typeof message !== 'object' || message === null || (message as { kind?: unknown }).kind !== 'tsray/batch-memory') return false;
  batchMemory.give((message as BatchMemoryBack).memory);
  return true;
}

/**
 * How long records wait before they are posted (they may lag, as the logs of workers always have).
 * Every batch costs its thread and the log thread a fixed share (laying it out, posting it, a timer,
 * the log thread's wake-up, message and transaction) whatever its size. In fresh clusters of 50k
 * tiny tasks (bench/log-cost.js 50000 1, alternated with 20 ms, others' work paused, four each),
 * the log thread took 1.2-1.4 µs of CPU per task against 1.4-1.8; the other threads moved by less
 * than the runs differ, and 100 ms measured no better than 50. A thread that exits still posts what
 * waits (`flushFinal`), so only a process killed outright loses more of its end.
 */
export const forwardedLogLagMs = 50;
/** Records that go out at once when this many wait, whatever the lag. */
const maxBufferedRecords = 4096;

/** The message that carries a log's records to the log thread. */
export interface LogRecords {
  readonly kind: 'tsray/log-records';
  /** The seq of the first record; the rest follow without a gap. */
  readonly firstSeq: number;
  /**
   * The records as the value the log stores for them (a batch, format 4 in event-log-codec.ts:
   * their lengths, then the records one after another), in one buffer moved to the log thread, not
   * copied; empty when there are no records. The log thread puts it as it is: it neither takes the
   * batch apart nor lays it out again.
   */
  readonly bytes: Uint8Array;
  /** How many records `bytes` holds. */
  readonly count: number;
  /** The hash of the component's live state after event `seq`, sent with the thread's last records. */
  readonly stateHash?: { readonly seq: number; readonly hash: string };
}

/** The records of a batch, as views into its buffer. */
export function recordsOf(batch: LogRecords): Uint8Array[] {
  if (batch.count === 0) return [];
  const stored = StoredBatch.decode(batch.bytes);
  if (!(stored instanceof StoredBatch)) throw new Error(`a batch of ${batch.count} log records is damaged: ${stored.reason}`);
  return Array.from({ length: stored.length }, (_, index) => stored.record(index));
}

/** Whether a thread message carries log records. */
export function isLogRecords(value: unknown): value is LogRecords {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tsray/log-records';
}

/** The log of one component, whose records another thread writes. */
export class ForwardedLog {
  private readonly codec: RecordCodec;
  private nextSeq = 1;
  /**
   * The length of each record waiting to be posted, in order: the first `waiting`. A list pushed to
   * and emptied each batch was 31 bytes of garbage per record (its backing store grown again and
   * again), which a driver's thread, whose young objects are many, paid for in its scavenges.
   */
  private readonly lengths = new Uint32Array(maxBufferedRecords);
  private waiting = 0;
  /**
   * Where the waiting records are, as runs of records written one after another into the same
   * memory: each run's memory, start and end. A tiny task's records are runs of one chunk, so no
   * object is kept per record (a Buffer view each was garbage made four times a task).
   */
  private readonly runs: { buffer: ArrayBuffer; start: number; end: number }[] = [];
  private bufferFirstSeq = 1;
  private timer: NodeJS.Timeout | undefined;
  private hashState: (() => string) | undefined;

  /** @param post sends a batch on its way to the log thread. */
  constructor(
    address: string,
    private readonly post: (message: LogRecords, transfer: ArrayBuffer[]) => void,
  ) {
    // Its records are never deleted and are read through EventLog.read, so they may be deltas (record-delta.ts).
    this.codec = new RecordCodec(`the log of ${address}`, { deltas: true });
  }

  /** The seq of the last appended event; 0 before the first. */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Stamps and encodes `event` now; it is posted with the next batch. */
  append(atMs: number, event: unknown, parent?: number): number {
    const seq = this.nextSeq;
    this.codec.encodeEventInPlace(seq, atMs, parent, event);
    return this.encoded(seq);
  }

  /**
   * `append` for a message that came packed from another thread (`event`, rebuilt from `fields` from
   * `start` on, with `templates`): it is stored as those fields against an earlier such message
   * stored whole (see `RecordCodec.encodePackedInPlace`).
   */
  appendPacked(atMs: number, event: unknown, parent: number | undefined, fields: readonly unknown[], start: number, templates: readonly unknown[][]): number {
    const seq = this.nextSeq;
    this.codec.encodePackedInPlace(seq, atMs, parent, event, fields, start, templates);
    return this.encoded(seq);
  }

  /** Queues the record the codec just wrote, as `seq`, for the next batch; returns `seq`. */
  private encoded(seq: number): number {
    const { buffer, start, end } = this.codec.lastRecord;
    this.nextSeq = seq + 1;
    if (this.waiting === 0) this.bufferFirstSeq = seq;
    this.lengths[this.waiting++] = end - start;
    const last = this.runs[this.runs.length - 1];
    if (last !== undefined && last.buffer === buffer && last.end === start) last.end = end;
    else this.runs.push({ buffer, start, end });
    this.flushWhenDue(false);
    return seq;
  }

  /**
   * Posts what is buffered when `lagged` (its timer fired) or the buffer is full, else arms the
   * timer. The timer's flushes and a full buffer's share this one call of `flushNow`: a buffer first
   * fills in a burst of tasks, after `append` (and the shell's `apply`, which inlines it) was
   * optimised without ever having made that call, and V8 threw them away there to compile them again.
   */
  private flushWhenDue(lagged: boolean): void {
    if (lagged || this.waiting >= maxBufferedRecords) this.flushNow();
    else this.timer ??= setTimeout(() => this.flushWhenDue(true), forwardedLogLagMs).unref();
  }

  /** Posts what is buffered now (records leave before any later message this thread sends). */
  flushNow(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting === 0) return;
    const batch = this.take();
    this.post(batch, [batch.bytes.buffer as ArrayBuffer]);
  }

  /**
   * How to hash the component's live state (`hashState` of core/hash.ts over its state), which
   * `flushFinal` sends along so that collecting the log can check its replay against the live run.
   */
  hashStateWith(hash: () => string): void {
    this.hashState = hash;
  }

  /**
   * Posts what is buffered together with the hash of the live state after the last event: for a
   * thread that is about to end (it exits, or the cluster shuts down), or a log about to be read and
   * checked while its component runs on. A state that cannot be hashed only leaves the hash out.
   */
  flushFinal(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    let stateHash: { seq: number; hash: string } | undefined;
    if (this.hashState !== undefined && this.lastSeq > 0) {
      try {
        stateHash = { seq: this.lastSeq, hash: this.hashState() };
      } catch {
        stateHash = undefined;
      }
    }
    if (this.waiting === 0 && stateHash === undefined) return;
    const batch = { ...this.take(), ...(stateHash === undefined ? {} : { stateHash }) };
    this.post(batch, [batch.bytes.buffer as ArrayBuffer]);
  }

  /** Posts what is buffered; the log thread commits it with the rest of the log. */
  committed(_seq: number): Promise<void> {
    this.flushNow();
    return Promise.resolve();
  }

  private take(): LogRecords {
    const count = this.waiting;
    const lengths = this.lengths.subarray(0, count);
    const runs = this.runs;
    if (count === 0) {
      this.bufferFirstSeq = this.nextSeq;
      return { kind: 'tsray/log-records', firstSeq: this.bufferFirstSeq, bytes: new Uint8Array(0), count: 0 };
    }
    let total = 0;
    for (const run of runs) total += run.end - run.start;
    // Laid out here as the log stores it, so the log thread only puts it (see `LogRecords.bytes`).
    const { value, recordsAt } = StoredBatch.layout(this.bufferFirstSeq, lengths, total, batchMemory.take(StoredBatch.sizeOf(count, total)));
    let offset = recordsAt;
    for (const run of runs) {
      value.set(new Uint8Array(run.buffer, run.start, run.end - run.start), offset);
      offset += run.end - run.start;
    }
    this.waiting = 0;
    // Emptied in place rather than replaced: a fresh `[]` holds small integers until its first run is
    // pushed, so the optimised `append` (inlined into the shell's `apply`) that had only seen such
    // lists was thrown away at a run's push ('not a Smi') and compiled again, a few times a run.
    runs.length = 0;
    // Every record is in the batch now: the codec writes the next ones over the memory they were in.
    this.codec.recycle();
    return { kind: 'tsray/log-records', firstSeq: this.bufferFirstSeq, bytes: value, count };
  }
}
