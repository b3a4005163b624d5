/**
 * The worker threads of the embedded node: starting them (each with its boot data and a reader slot
 * of the store), routing their messages, giving two workers that talk a channel of their own, asking
 * all of them something, and ending them. What a thread's start or end means is the raylet's
 * business: the callbacks tell it.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { WorkerExitReason } from '../../core/protocol.js';
import { isLogRecords } from '../store/forwarded-log.js';
import type { LogRecords } from '../store/forwarded-log.js';
import { readerSlots } from '../store/reader-pins.js';
import { BusyWorkers, pollBudgetMsFrom } from './work-polling.js';
import { threadBatchMessages } from './router.js';
import type { Router } from './router.js';
import type { WorkerBoot } from './worker-main.js';
import { workerScriptBoot } from './worker-script.cjs';

const workerEntry = fileURLToPath(new URL('./worker-boot.cjs', import.meta.url));

/** What the node does when its threads start and end. */
export interface WorkerThreadsOptions {
  readonly router: Router;
  /** The boot data of a new worker; `readerSlot` is undefined when every slot is taken. */
  readonly boot: (workerId: string, readerSlot: number | undefined) => WorkerBoot;
  /** The worker's runtime is up and takes messages. */
  readonly onReady: (workerId: string) => void;
  /** Records of the worker's event log, to append to it (they arrive before its exit). */
  readonly onLogRecords: (workerId: string, batch: LogRecords) => void;
  /**
   * The thread ended (not during `terminateAll`); its reader slot, if any, is free again. `killedBy`
   * is the cause that `kill` was given (the seq of the raylet event that asked for it), if it was killed.
   */
  readonly onExit: (workerId: string, reason: WorkerExitReason, readerSlot: number | undefined, killedBy: number | undefined) => void;
}

interface WorkerThread {
  readonly thread: Worker;
  /** The channel the worker sends everything to this thread on (its `mainPort`), which `readWaiting` reads too. */
  readonly fromWorker: MessagePort;
  /** Its handler of what arrives on `fromWorker`. */
  readonly onMessage: (message: unknown) => void;
  /** Its flag in `busyWorkers` (see work-polling.ts). */
  readonly busyFlag: SharedArrayBuffer;
  killed: boolean;
  /** The cause its kill was given, for its exit to name (set only by `kill`). */
  killedBy: number | undefined;
  /** What its exit reports once killed: `idle` for an idle worker the raylet ended, `killed` for any other kill. */
  killedAs: WorkerExitReason;
}

/**
 * How many threads boot at once. A boot is CPU work (a V8 isolate, Node's bootstrap, tsray's
 * modules): booting more at once than there are cores only makes each slower, and with a hundred
 * at once every boot here took 3 to 7 times the CPU of one booted alone.
 */
const maxBootingThreads = Math.max(2, availableParallelism());

/** How long a thread being killed has to send its log's last records (see `kill`). */
const killFlushTimeoutMs = 50;

/** Handles, now, up to `maxMessages` of what the worker sent on its channel and no event has delivered yet. */
function readFrom(record: WorkerThread, maxMessages: number): number {
  let count = 0;
  for (; count < maxMessages; count += 1) {
    const received = receiveMessageOnPort(record.fromWorker);
    if (received === undefined) break;
    record.onMessage(received.message);
  }
  return count;
}

/** The live worker threads of one node. */
export class WorkerThreads {
  /** How many messages from one worker to another went through this thread (before they peered). */
  relayedBetweenWorkers = 0;
  /** Which workers execute something now (see work-polling.ts): an idle worker polls only while a vCPU is spare. */
  readonly busyWorkers = new BusyWorkers();
  private readonly threads = new Map<string, WorkerThread>();
  /** Pairs of workers (`a|b`, ids in order) that have a channel of their own. */
  private readonly peered = new Set<string>();
  /** Reader slots (see reader-pins.ts) not held by a live thread; slot 0 is the main thread's. */
  private readonly freeReaderSlots = Array.from({ length: readerSlots - 1 }, (_, index) => readerSlots - 1 - index);
  private queryCounter = 0;
  /** The answers `askOne` waits for, by query id (one listener per thread: see `boot`). */
  private readonly asked = new Map<number, (reply: unknown) => void>();
  private ending = false;
  /** Threads started and not ready yet. */
  private readonly booting = new Set<string>();
  /** Workers whose threads wait for a boot slot, in the order they were asked for. */
  private readonly waitingToBoot: string[] = [];

  /** How long an idle worker (and the driver) polls (see work-polling.ts), read once: a bad value fails the node's start. */
  readonly pollBudgetMs = pollBudgetMsFrom(process.env['TSRAY_POLL_US']);

  /** Threads are started by `spawn`. */
  constructor(private readonly options: WorkerThreadsOptions) {}

  /** Starts the thread of worker `workerId`, at once or when a boot slot frees up. */
  spawn(workerId: string): void {
    if (this.booting.size >= maxBootingThreads) this.waitingToBoot.push(workerId);
    else this.boot(workerId);
  }

  /** A thread is ready or gone: the next waiting one boots. */
  private bootNext(workerId: string): void {
    if (!this.booting.delete(workerId)) return;
    const next = this.waitingToBoot.shift();
    if (next !== undefined && !this.ending) this.boot(next);
  }

  private boot(workerId: string): void {
    this.booting.add(workerId);
    // A worker beyond the slots reads copies of stored values.
    const readerSlot = this.freeReaderSlots.pop();
    const script = workerScriptBoot() ?? undefined;
    const boot = this.options.boot(workerId, readerSlot);
    // The worker's own channel to the log thread moves to it, and so does its channel to this thread.
    const { port1: fromWorker, port2: mainPort } = new MessageChannel();
    const busyFlag = new SharedArrayBuffer(4);
    const thread = new Worker(workerEntry, { workerData: { ...boot, script, mainPort, busyCountBuffer: this.busyWorkers.countBuffer, busyFlagBuffer: busyFlag, pollBudgetMs: this.pollBudgetMs } satisfies WorkerBoot, transferList: boot.logPort === undefined ? [mainPort] : [mainPort, boot.logPort.port] });
    const router = this.options.router;
    const onMessage = (message: unknown): void => {
      const messages = threadBatchMessages(message);
      if (messages !== undefined) {
        if (record.killed) return;
        router.receive(messages, (to) => this.peerIfWorkers(workerId, to));
      } else if (isLogRecords(message)) this.options.onLogRecords(workerId, message);
      else if ((message as { kind?: unknown }).kind === 'tsray/ready') {
        this.bootNext(workerId);
        this.options.onReady(workerId);
      } else {
        const id = (message as { id?: unknown }).id;
        if (typeof id === 'number') this.asked.get(id)?.(message);
      }
    };
    const record: WorkerThread = { thread, fromWorker, onMessage, busyFlag, killed: false, killedBy: undefined, killedAs: 'killed' };
    this.threads.set(workerId, record);
    router.addRemote(`worker:${workerId}`, thread, true);
    fromWorker.on('message', onMessage);
    // A worker that fails outside any task (at start, or in the runtime itself) is ended; say why once.
    thread.on('error', (error: Error) => process.stderr.write(`tsray: worker ${workerId} failed: ${error.message.split('\n')[0] ?? ''}\n`));
    // Worker threads must not keep the process alive (pending API calls do); unref after the
    // listeners, which would otherwise ref the worker's port again.
    thread.unref();
    fromWorker.unref();
    thread.on('exit', (code) => {
      // What the worker sent before it ended (its log's last records among it) is read first: its
      // channel, unlike the thread's own port, is not emptied before the thread's exit is told.
      readFrom(record, Number.POSITIVE_INFINITY);
      this.busyWorkers.ended(busyFlag);
      this.bootNext(workerId);
      this.threads.delete(workerId);
      fromWorker.close();
      for (const pair of this.peered) if (pair.split('|').includes(workerId)) this.peered.delete(pair);
      router.remove(`worker:${workerId}`);
      if (this.ending) return;
      if (readerSlot !== undefined) this.freeReaderSlots.push(readerSlot);
      const reason: WorkerExitReason = record.killed ? record.killedAs : code === 0 ? 'exited' : 'crashed';
      this.options.onExit(workerId, reason, readerSlot, record.killedBy);
    });
  }

  /**
   * Ends worker `workerId`'s thread, as the raylet asked in its event `cause` (a seq its exit names),
   * for `reason`. Its exit reports `idle` for an idle worker's end (so that nobody takes it for a
   * failure), and `killed` for every other kill, as before.
   */
  kill(workerId: string, cause?: number, reason: WorkerExitReason = 'killed'): void {
    const killedAs: WorkerExitReason = reason === 'idle' ? 'idle' : 'killed';
    const waiting = this.waitingToBoot.indexOf(workerId);
    if (waiting >= 0) {
      // Never started: it ends as a killed thread would, on a later turn.
      this.waitingToBoot.splice(waiting, 1);
      setImmediate(() => {
        if (!this.ending) this.options.onExit(workerId, killedAs, undefined, cause);
      });
      return;
    }
    const record = this.threads.get(workerId);
    if (record === undefined || record.killed) return;
    record.killed = true;
    record.killedBy = cause;
    record.killedAs = killedAs;
    // A killed thread runs no exit handler: ask it for its log's last records first, for a short
    // while (a body in a busy loop cannot answer). Meanwhile it is dead to everyone else: it stops
    // sending once it reads the request, and what it sent here before is dropped, as a killed
    // process's messages would never arrive.
    void this.askOne(record.thread, 'tsray/killing', 'tsray/logs-flushed', killFlushTimeoutMs).then(() => record.thread.terminate());
  }

  /**
   * Worker `from` sent a message to `to` through this thread: if `to` is another worker, give the two
   * a channel of their own, so their later messages (nested tasks, actor calls from tasks) skip the
   * main thread. Messages already on their way here may then arrive after newer direct ones, which
   * the transport contract allows (receivers order and deduplicate by per-link seqs).
   */
  private peerIfWorkers(from: string, to: string): void {
    if (!to.startsWith('worker:')) return;
    const toId = to.slice('worker:'.length);
    const b = this.threads.get(toId);
    if (b === undefined) return;
    this.relayedBetweenWorkers += 1;
    const pair = from < toId ? `${from}|${toId}` : `${toId}|${from}`;
    const a = this.threads.get(from);
    if (this.peered.has(pair) || a === undefined) return;
    this.peered.add(pair);
    const { port1, port2 } = new MessageChannel();
    a.thread.postMessage({ kind: 'tsray/peer', address: to, port: port1 }, [port1]);
    b.thread.postMessage({ kind: 'tsray/peer', address: `worker:${from}`, port: port2 }, [port2]);
  }

  /**
   * Reads and handles, now, what the live workers sent this thread and its event loop has not yet
   * (at most `maxMessages` messages from each), and returns how many it read: for a driver's loop of
   * submissions, which keeps the event loop from them (see `Router.readBetweenSubmissions`), and a
   * driver's poll for a reply (see `Router.readUntil`).
   */
  readWaiting(maxMessages = 64): number {
    let messages = 0;
    for (const record of this.threads.values()) if (!record.killed) messages += readFrom(record, maxMessages);
    return messages;
  }

  /** Sends `kind` to every live worker and collects the `replyKind` answers; a worker silent for `timeoutMs` (1 s) is skipped. */
  async ask<T>(kind: string, replyKind: string, timeoutMs = 1000): Promise<T[]> {
    const replies = [...this.threads.values()].map(({ thread }) => this.askOne<T>(thread, kind, replyKind, timeoutMs));
    return (await Promise.all(replies)).filter((reply): reply is Awaited<T> => reply !== undefined);
  }

  /** Sends `kind` to one thread; resolves to its `replyKind` answer, or undefined after `timeoutMs`. */
  private askOne<T>(thread: Worker, kind: string, replyKind: string, timeoutMs: number): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve) => {
      const id = ++this.queryCounter;
      const timer = setTimeout(() => {
        this.asked.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.asked.set(id, (message: unknown) => {
        if ((message as { kind?: unknown }).kind !== replyKind) return;
        clearTimeout(timer);
        this.asked.delete(id);
        resolve(message as T);
      });
      thread.postMessage({ kind, id });
    });
  }

  /** Ends every thread, after each has committed its lagging log; the exit callbacks no longer run. */
  async terminateAll(): Promise<void> {
    this.ending = true;
    this.waitingToBoot.length = 0;
    await this.ask('tsray/flush-logs', 'tsray/logs-flushed');
    await Promise.all([...this.threads.values()].map(({ thread }) => thread.terminate()));
    this.threads.clear();
  }
}
