/**
 * The event logs of one node's session: the GCS's log, written here, and the logs whose records are
 * encoded in another place (the node's worker threads) or encoded here and written elsewhere (the
 * embedded driver's, the raylet's: see forwarded-log.ts), which a log thread of their own writes (see
 * log-thread.ts). The embedded cluster and a cluster node keep their logs the same way.
 *
 * The log thread takes the LMDB puts of those records off this thread, which runs the components
 * and routes every message: with logging on, the puts and what they leave to collect were most of
 * what logging cost a tiny task here, and each hand-off of a batch to lmdb-js here measured about
 * 0.3 ms under load (up to 8 ms). This thread only encodes records and moves each batch on, in the
 * order it came. The GCS's log stays here: the GCS replies only once the batch holding its event is
 * durable, which here is one commit and not a round trip through another thread, and it logs no
 * event for a task (14 events in a run of 1,000 tiny tasks; an actor or a placement group adds a few).
 *
 * A worker thread posts its batches to the log thread itself, on a channel of its own
 * (`workerLogPort`): relaying them here cost this thread a receipt and a post per batch (100 ms of
 * its time in a profile of 50,000 tiny tasks under load). The log thread reads what waits on a
 * worker's channel before it acts on a request from here (a flush, a close, the write at exit, the
 * close of that worker's log), so a request still comes after every record sent before it.
 *
 * Bounds: at most `maxInFlightBytes` of records, from every thread of the node, wait to reach the
 * log thread; past it the handing thread waits (Atomics.wait) until the log thread catches up, as
 * lmdb-js makes a writer that outruns the disk wait, and gives up after `inFlightWaitMs` with one
 * line, dropping that batch (see `reserveInFlight` in forwarded-log.ts). Every request waits at
 * most as long as the log thread lives.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { EventLog, logDirFor } from './event-log.js';
import { ForwardedLog, inFlightWaitMs, keepBatchMemory, maxInFlightBytes, reserveInFlight, type BatchMemoryBack, type LogPort, type LogRecords } from './forwarded-log.js';
import type { ForwardedComponent, LogThreadBoot, LogThreadReply, LogThreadRequest } from './log-thread.js';

/** The one CommonJS bundle the build makes of log-thread.ts and all it imports (scripts/bundle-worker.mjs). */
const bundledLogThread = fileURLToPath(new URL('./log-thread.cjs', import.meta.url));
/**
 * The log thread's script: the build's bundle, which the thread loads with less CPU than its ES
 * modules one by one (about 50 ms less under the profiler; it starts at every `init` with logging
 * on, while the first tasks run); those when there is no bundle (tsray run from its sources).
 * Exported for the test that the bundle is the one started.
 */
export const logThreadEntry = existsSync(bundledLogThread) ? bundledLogThread : fileURLToPath(new URL('./log-thread.js', import.meta.url));

/** How long a process that exits waits for the log thread to write what it buffers. */
const exitWriteWaitMs = 5_000;

/** A running log thread, and the requests it has not answered. */
interface LogThread {
  readonly worker: Worker;
  readonly inFlight: Int32Array;
  readonly waiting: Map<number, { resolve: () => void; reject: (error: Error) => void }>;
  /** Why it can take nothing more, once it failed or ended. */
  failure?: Error;
}

/** A session's open logs. */
export class SessionLogs {
  private readonly logs: EventLog[] = [];
  /** The logs encoded on this thread and written by the log thread. */
  private readonly forwarded: ForwardedLog[] = [];
  private thread: LogThread | undefined;
  private requestCounter = 0;
  private closed = false;

  /** Keeps the logs of the session in `sessionDir`. */
  constructor(private readonly sessionDir: string) {}

  /**
   * Opens the log of the component at `address`, written by this thread. Only the GCS replies after
   * its commits; the other logs may lag (they die with their process), and are better opened with
   * `openForwarded`.
   */
  open(address: string, component: 'gcs' | 'raylet' | 'owner', durable: boolean): EventLog {
    const log = EventLog.open(logDirFor(this.sessionDir, address), { component, address, durable, batching: durable ? 'immediate' : 'lagging' });
    this.logs.push(log);
    return log;
  }

  /**
   * A log of the component at `address` that this thread encodes and the log thread writes: one that
   * lags (it dies with its process), as a raylet's does. `writeBufferedSync` and `close` send what it
   * buffers, with the hash of its state when `hashStateWith` gave one; `flushAll` sends it first.
   */
  openForwarded(address: string, component: ForwardedComponent): ForwardedLog {
    const log = new ForwardedLog(address, (batch) => this.appendForwarded(address, batch, component));
    this.forwarded.push(log);
    return log;
  }

  /** Hands a worker thread's records to the log thread, which appends them to that worker's log. */
  appendWorker(workerId: string, batch: LogRecords): void {
    this.appendForwarded(`worker:${workerId}`, batch);
  }

  /**
   * Hands records encoded elsewhere (a `ForwardedLog`'s batch) to the log thread, which appends them
   * to the log of `address` (of `component`, an owner's by default), opened on its first records.
   * The batch's bytes move to that thread.
   */
  appendForwarded(address: string, batch: LogRecords, component: ForwardedComponent = 'owner'): void {
    // Records keep coming while the threads flush at shutdown, until the logs close.
    if (this.closed) return;
    const thread = this.logThread();
    if (thread.failure !== undefined) return;
    if (!reserveInFlight(thread.inFlight, batch.bytes.byteLength)) {
      process.stderr.write(`tsray: ${batch.count} records of the log of ${address} were dropped: the log thread kept more than ${maxInFlightBytes} bytes (maxInFlightBytes) waiting for ${inFlightWaitMs} ms\n`);
      return;
    }
    this.post(thread, { kind: 'records', address, ...(component === 'owner' ? {} : { component }), batch }, [batch.bytes.buffer as ArrayBuffer]);
  }

  /**
   * A channel for the worker `workerId` to post its log's batches on straight to the log thread (see
   * `postToLogThread` in forwarded-log.ts), with the count of bytes on their way there that bounds
   * them; undefined once the logs are closed or the log thread failed (the worker then sends its
   * records to this thread, which hands them over with `appendWorker`).
   */
  workerLogPort(workerId: string): LogPort | undefined {
    if (this.closed) return undefined;
    const thread = this.logThread();
    if (thread.failure !== undefined) return undefined;
    const { port1, port2 } = new MessageChannel();
    this.post(thread, { kind: 'attach', address: `worker:${workerId}`, port: port2 }, [port2]);
    return { port: port1, inFlight: thread.inFlight };
  }

  /** The worker's thread ended: its log is committed and closed (its records arrived before its exit). */
  closeWorker(workerId: string): void {
    if (this.thread === undefined || this.closed) return;
    this.post(this.thread, { kind: 'close-log', address: `worker:${workerId}` });
  }

  /** The logs this thread writes (the GCS's), to be read by this process; the log thread's are read from disk. */
  get openLogs(): readonly EventLog[] {
    return this.logs;
  }

  /** Commits what every open log buffers, and waits for it (so a reader sees every event appended so far). */
  async flushAll(): Promise<void> {
    for (const log of this.forwarded) log.flushNow();
    await Promise.all([...this.logs.map((log) => log.flush()), this.request('flush')]);
  }

  /**
   * Writes what the lagging logs buffer, at once (a process exiting without shutdown): this
   * thread's logs here, the log thread's (with what this thread's forwarded logs buffer, and their
   * states' hashes) by asking it and waiting (at most `exitWriteWaitMs`).
   */
  writeBufferedSync(): void {
    for (const log of this.logs) log.writeBufferedSync();
    for (const log of this.forwarded) log.flushFinal();
    const thread = this.thread;
    if (thread === undefined || thread.failure !== undefined || this.closed) return;
    const done = new Int32Array(new SharedArrayBuffer(4));
    this.post(thread, { kind: 'write-sync', done });
    if (Atomics.wait(done, 0, 0, exitWriteWaitMs) === 'timed-out') {
      process.stderr.write(`tsray: the log thread did not write its buffered records within ${exitWriteWaitMs} ms of the process exiting; the workers' last events may be missing from their logs\n`);
    }
  }

  /** Commits and closes every log, and ends the log thread; records that arrive later are dropped. */
  async close(): Promise<void> {
    // Their last records, with their states' hashes, go to the log thread ahead of its close.
    for (const log of this.forwarded) log.flushFinal();
    this.closed = true;
    const thread = this.thread;
    const closing = thread === undefined ? Promise.resolve() : this.request('close');
    try {
      await Promise.all([...this.logs.map((log) => log.close()), closing]);
    } finally {
      if (thread !== undefined) await thread.worker.terminate();
    }
  }

  /** The log thread, started on the first records handed to it. */
  private logThread(): LogThread {
    if (this.thread !== undefined) return this.thread;
    const inFlight = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(logThreadEntry, { workerData: { sessionDir: this.sessionDir, inFlight } satisfies LogThreadBoot });
    const thread: LogThread = { worker, inFlight, waiting: new Map() };
    const fail = (error: Error): void => {
      thread.failure ??= error;
      for (const { reject } of thread.waiting.values()) reject(thread.failure);
      thread.waiting.clear();
    };
    worker.on('message', (reply: LogThreadReply | BatchMemoryBack) => {
      // The memory of a batch this thread handed over, written: later batches are laid out in it.
      if (reply.kind !== 'done') {
        keepBatchMemory(reply);
        return;
      }
      const waiter = thread.waiting.get(reply.id);
      if (waiter === undefined) return;
      thread.waiting.delete(reply.id);
      if (thread.waiting.size === 0) worker.unref();
      if (reply.error === undefined) waiter.resolve();
      else waiter.reject(new Error(reply.error));
    });
    worker.on('error', (error: Error) => {
      process.stderr.write(`tsray: the log thread failed: ${error.message.split('\n')[0] ?? ''}; later events of the workers' logs are not written\n`);
      fail(new Error(`the log thread failed: ${error.message}`));
    });
    worker.on('exit', () => fail(new Error('the log thread has ended')));
    // It must not keep the process alive, except while someone waits for its answer (see `request`).
    worker.unref();
    this.thread = thread;
    return thread;
  }

  /** Asks the log thread for `kind` and resolves when it is done; at once when there is no log thread. */
  private request(kind: 'flush' | 'close'): Promise<void> {
    const thread = this.thread;
    if (thread === undefined) return Promise.resolve();
    if (thread.failure !== undefined) return Promise.reject(thread.failure);
    const id = ++this.requestCounter;
    return new Promise<void>((resolve, reject) => {
      thread.waiting.set(id, { resolve, reject });
      // A pending answer keeps the process alive, as a pending commit of this thread's logs does.
      thread.worker.ref();
      this.post(thread, { kind, id });
    });
  }

  private post(thread: LogThread, request: LogThreadRequest, transfer: (ArrayBuffer | MessagePort)[] = []): void {
    thread.worker.postMessage(request, transfer);
  }
}
