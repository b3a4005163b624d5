/**
 * The thread that writes the event logs whose records are encoded elsewhere: those of a node's worker
 * threads, of the embedded driver and of the node's raylet (see forwarded-log.ts). Each batch of
 * records comes to it as it is made (moving the bytes, not copying them), so the LMDB puts, lmdb-js's
 * bookkeeping of each write and the garbage they leave are off the main thread, which is what limits
 * how fast tiny tasks run. session-logs.ts starts it and says what each message means.
 *
 * Requests reach it through one port, in the order the main thread sent them; a worker thread's
 * batches come on a channel of that worker's own (`attach`), which is read to its end before any
 * request of the main thread is acted on: a log's records come before its close, every record
 * before a flush, the write at exit or the final close.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { assertNever } from '../../core/assert.js';
import { EventLog, logDirFor } from './event-log.js';
import { memoryOf, type BatchMemoryBack, type LogRecords } from './forwarded-log.js';
import { logThreadName, nameThisThread } from '../thread-name.js';

/** The components whose logs the log thread writes: owners (workers, drivers) and raylets. */
export type ForwardedComponent = 'owner' | 'raylet';

/** What the main thread asks of the log thread. */
export type LogThreadRequest =
  /**
   * Records of the log of `address` (opened on its first records, as a log of `component`, an
   * owner's when not given); their bytes count toward the in-flight bound.
   */
  | { readonly kind: 'records'; readonly address: string; readonly component?: ForwardedComponent; readonly batch: LogRecords }
  /**
   * The worker thread of `address` posts its batches (`LogRecords`) on `port`; its log closes when
   * the port does (the thread ended) or on `close-log`, after what waits on the port.
   */
  | { readonly kind: 'attach'; readonly address: string; readonly port: MessagePort }
  /** The log's writer ended: commit and close its log. */
  | { readonly kind: 'close-log'; readonly address: string }
  /** Commit every open log, then answer `done` with this id. */
  | { readonly kind: 'flush'; readonly id: number }
  /** Commit and close every log, then answer `done` with this id. */
  | { readonly kind: 'close'; readonly id: number }
  /** The process is exiting: write what every log buffers in one synchronous transaction each, then set `done[0]` and notify. */
  | { readonly kind: 'write-sync'; readonly done: Int32Array };

/** What the log thread answers: a request done, with the error that stopped it if one did. */
export interface LogThreadReply {
  readonly kind: 'done';
  readonly id: number;
  readonly error?: string;
}

/** What the log thread starts with. */
export interface LogThreadBoot {
  readonly sessionDir: string;
  /**
   * Encoded bytes handed over and not yet appended: the main thread adds a batch's size before it
   * posts it, this thread takes it off once the batch is in its log's buffer (see session-logs.ts).
   */
  readonly inFlight: Int32Array;
}

/** The logs this thread writes, by address. */
const logs = new Map<string, EventLog>();
/** The logs being closed (their writer ended), until they are. */
const closing = new Set<Promise<void>>();
/** The channels of worker threads that post their batches here themselves, by the address of their log. */
const workerPorts = new Map<string, MessagePort>();

function logOf(sessionDir: string, address: string, component: ForwardedComponent): EventLog {
  let log = logs.get(address);
  if (log === undefined) {
    // Every log written here dies with its writer: it lags rather than commit each batch at once,
    // and writes each hand-off synchronously, which costs this thread less than lmdb-js's writer thread.
    log = EventLog.open(logDirFor(sessionDir, address), { component, address, durable: false, batching: 'lagging', syncWrites: true });
    logs.set(address, log);
  }
  return log;
}

function append(sessionDir: string, address: string, component: ForwardedComponent, batch: LogRecords): void {
  try {
    const log = logOf(sessionDir, address, component);
    log.appendStoredBatch(batch.firstSeq, batch.bytes, batch.count);
    if (batch.stateHash !== undefined) log.recordStateHash(batch.stateHash.seq, batch.stateHash.hash);
  } catch (error) {
    process.stderr.write(`tsray: records of the log of ${address} could not be written: ${(error as Error).message}\n`);
  }
}

/**
 * Appends a batch and takes its bytes off the in-flight count, waking a thread that waits for room;
 * then sends its memory back on `back`, the way it came, for a later batch (see `BatchMemory` in
 * forwarded-log.ts). That is safe because every log of this thread writes with `syncWrites` (see
 * `logOf`): `append` has copied the records into LMDB before it returns, and keeps no view of the
 * batch. A log that buffered its records would hold views into memory the sender then writes over.
 */
function take(sessionDir: string, inFlight: Int32Array, address: string, component: ForwardedComponent, batch: LogRecords, back: { postMessage(message: BatchMemoryBack, transfer: ArrayBuffer[]): void }): void {
  append(sessionDir, address, component, batch);
  Atomics.sub(inFlight, 0, batch.bytes.byteLength);
  Atomics.notify(inFlight, 0);
  const memory = memoryOf(batch);
  if (memory !== undefined) back.postMessage(memory, [memory.memory]);
}

/** Appends what waits on the worker channels, so that a request acts after every record sent before it. */
function drainWorkerPorts(sessionDir: string, inFlight: Int32Array): void {
  for (const [address, port] of workerPorts) {
    for (let message = receiveMessageOnPort(port); message !== undefined; message = receiveMessageOnPort(port)) {
      take(sessionDir, inFlight, address, 'owner', message.message as LogRecords, port);
    }
  }
}

/** Listens on the channel of the worker whose log is at `address`. */
function attach(sessionDir: string, inFlight: Int32Array, address: string, port: MessagePort): void {
  workerPorts.set(address, port);
  port.on('message', (batch: LogRecords) => take(sessionDir, inFlight, address, 'owner', batch, port));
  // The worker's thread ended, after what it sent before was delivered here (its exit handler's last
  // records included). The port leaves the map first: reading a closed port crashes Node 20.
  port.on('close', () => {
    if (workerPorts.get(address) !== port) return;
    workerPorts.delete(address);
    closeLog(address).catch((error: unknown) => process.stderr.write(`tsray: the log of ${address} could not be closed: ${(error as Error).message}\n`));
  });
  // The channel must not keep this thread alive: the main thread ends it.
  port.unref();
}

function closeLog(address: string): Promise<void> {
  const port = workerPorts.get(address);
  if (port !== undefined) {
    workerPorts.delete(address);
    port.close();
  }
  const log = logs.get(address);
  if (log === undefined) return Promise.resolve();
  logs.delete(address);
  const closed = log.close();
  // The final close waits for it: ending this thread while lmdb-js closes an environment crashes the process.
  closing.add(closed);
  const settled = (): void => {
    closing.delete(closed);
  };
  closed.then(settled, settled);
  return closed;
}

/** Closes every log, and waits for those already closing. */
function closeAll(): Promise<unknown> {
  const addresses = new Set([...logs.keys(), ...workerPorts.keys()]);
  return Promise.all([...closing, ...[...addresses].map(closeLog)]);
}

/** Runs `work` and answers request `id`, with the error when it failed. */
function answer(port: NonNullable<typeof parentPort>, id: number, work: Promise<unknown>): void {
  work.then(
    () => port.postMessage({ kind: 'done', id } satisfies LogThreadReply),
    (error: unknown) => port.postMessage({ kind: 'done', id, error: (error as Error).message } satisfies LogThreadReply),
  );
}

function start(): void {
  const port = parentPort;
  if (port === null) throw new Error('log-thread runs only as a worker thread');
  const { sessionDir, inFlight } = workerData as LogThreadBoot;
  // So that per-thread CPU (/proc, bench/hot-path.ts) shows what writing the logs costs.
  nameThisThread(logThreadName);
  port.on('message', (request: LogThreadRequest) => {
    // Every request but a batch of the main thread's acts after what the workers sent before it.
    if (request.kind !== 'records' && request.kind !== 'attach') drainWorkerPorts(sessionDir, inFlight);
    switch (request.kind) {
      case 'records':
        take(sessionDir, inFlight, request.address, request.component ?? 'owner', request.batch, port);
        return;
      case 'attach':
        attach(sessionDir, inFlight, request.address, request.port);
        return;
      case 'close-log':
        closeLog(request.address).catch((error: unknown) => process.stderr.write(`tsray: the log of ${request.address} could not be closed: ${(error as Error).message}\n`));
        return;
      case 'flush':
        answer(port, request.id, Promise.all([...logs.values()].map((log) => log.flush())));
        return;
      case 'close':
        answer(port, request.id, closeAll());
        return;
      case 'write-sync':
        for (const log of logs.values()) {
          try {
            log.writeBufferedSync();
          } catch (error) {
            process.stderr.write(`tsray: the log of ${log.address} could not be written at exit: ${(error as Error).message}\n`);
          }
        }
        Atomics.store(request.done, 0, 1);
        Atomics.notify(request.done, 0);
        return;
      default:
        assertNever(request, 'log thread request');
    }
  });
}

start();
