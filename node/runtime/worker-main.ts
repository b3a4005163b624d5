/**
 * A worker thread's runtime: one owner component (its CoreWorker) and the executor that runs what is
 * pushed to it. Everything it sends goes to the main thread, which routes it on. worker-boot.cts, the
 * thread's entry, loads this module and starts it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { hashState } from '../../core/hash.js';
import { collectGarbage } from './collect.js';
import { setRuntime } from './context.js';
import { Executor } from './executor.js';
import { collectWhenIdle } from './idle-collect.js';
import { OwnerRuntime } from './owner-runtime.js';
import { Router, threadBatchMessages } from './router.js';
import { BusyWorkers, PollBackoff, pollForWork, vcpus, type InboundChannel } from './work-polling.js';
import { ForwardedLog, postToLogThread, type LogPort, type LogRecords } from '../store/forwarded-log.js';
import { setStoreBuffer } from './values.js';
import { registerTsxIfParentUsesIt } from './typescript-modules.js';
import type { WorkerScriptBoot } from './worker-script.cjs';
import { setReaderSlot } from '../store/reader-pins.js';
import { listOwnerObjects, listOwnerTasks } from './listing.js';
import { hostedTasks, maxHostedListed } from '../../core/owner/wait-chain.js';
import { nameThisThread, workerThreadName } from '../thread-name.js';

/** What the main thread passes to a worker it starts. */
export interface WorkerBoot {
  readonly workerId: string;
  readonly nodeId: string;
  readonly namespace: string;
  readonly inlineThresholdBytes: number;
  readonly storeBuffer: SharedArrayBuffer;
  /** The capacity of the node's spill space (0 or absent: none), for the check of a put that can never fit. */
  readonly spillCapacityBytes?: number;
  readonly sessionDir: string;
  /** This thread's counter in every stored object's pin header; without one it reads copies. */
  readonly readerSlot?: number;
  /** False when the node keeps no event logs (`TSRAY_EVENT_LOG=off`): this worker logs nothing either. */
  readonly eventLog?: boolean;
  /**
   * This worker's channel to the node's log thread (see forwarded-log.ts), which its log's batches
   * go on; without it (and with `eventLog` not false) they go to the main thread, which hands them over.
   */
  readonly logPort?: LogPort;
  /** The node's count of busy workers and this worker's flag in it (see `BusyWorkers`); without them it never polls. */
  readonly busyCountBuffer?: SharedArrayBuffer;
  readonly busyFlagBuffer?: SharedArrayBuffer;
  /** How long it polls for work once idle, in ms (see work-polling.ts); 0 or absent: never. */
  readonly pollBudgetMs?: number;
  /** The precompiled script to start from (see worker-script.cts); without it, tsray's modules load one by one. */
  readonly script?: WorkerScriptBoot;
  /**
   * The channel this worker sends everything to the main thread on (its batches, log records when it
   * has no log port, and its answers), in one order: the main thread can read it between a driver's
   * submissions (see `WorkerThreads.readWaiting`), which it cannot do with the thread's own port.
   * Without it, everything goes on the thread's own port.
   */
  readonly mainPort?: MessagePort;
}

/** The main thread gives this worker a channel of its own to another worker. */
interface PeerOffer {
  readonly address: string;
  readonly port: MessagePort;
}

/**
 * Messages to the peer now go straight to it, and its messages come straight here; once the peer's
 * thread ends, its port closes and messages to it go back to the main thread (which drops them).
 */
function addPeer(router: Router, offer: PeerOffer, inbound: Set<InboundChannel>): void {
  const { address, port } = offer;
  router.addRemote(address, port, true);
  const channel: InboundChannel = {
    port,
    handle: (message: unknown) => {
      const messages = threadBatchMessages(message);
      if (messages !== undefined) router.receive(messages);
    },
  };
  inbound.add(channel);
  port.on('message', channel.handle);
  port.on('close', () => {
    inbound.delete(channel);
    router.removeRemote(address, port);
  });
}

/**
 * Starts this thread's runtime. `tsray` is the API that user code in this thread sees (as the global
 * `tsray` for by-source functions, and by importing the package).
 */
export async function startWorker(tsray: unknown): Promise<void> {
  await registerTsxIfParentUsesIt();
  const port = parentPort;
  if (port === null) throw new Error('worker-main runs only as a worker thread');
  const boot = workerData as WorkerBoot;
  // So that per-thread CPU (/proc, bench/hot-path.ts) tells the workers from the other threads.
  nameThisThread(workerThreadName);
  // esbuild (under tsx) wraps named functions in __name(...): by-source functions need it as a global.
  (globalThis as { __name?: unknown }).__name ??= (target: object, value: string) => Object.defineProperty(target, 'name', { value, configurable: true });
  (globalThis as { tsray?: unknown }).tsray = tsray;
  setStoreBuffer(boot.storeBuffer, boot.spillCapacityBytes ?? 0);
  setReaderSlot(boot.readerSlot, `worker ${boot.workerId}`);
  // Everything this worker sends the main thread goes on one channel, in the order it was sent.
  const toMain = boot.mainPort ?? port;
  const router = new Router(toMain, true);
  const holder: { runtime?: OwnerRuntime } = {};
  const executor = new Executor(() => {
    if (holder.runtime === undefined) throw new Error('worker runtime not started');
    return holder.runtime;
  }, tsray);
  // The node's log thread writes this worker's log (see forwarded-log.ts), which its batches go to straight.
  const address = `worker:${boot.workerId}`;
  const post = boot.logPort === undefined ? (records: LogRecords, transfer: ArrayBuffer[]) => toMain.postMessage(records, transfer) : postToLogThread(address, boot.logPort);
  const log = boot.eventLog === false ? undefined : new ForwardedLog(address, post);
  // A task that ends the process (process.exit) still leaves the log's last events on disk.
  process.on('exit', () => log?.flushFinal());
  const runtime = new OwnerRuntime({
    workerId: boot.workerId,
    nodeId: boot.nodeId,
    isDriver: false,
    namespace: boot.namespace,
    router,
    ...(log === undefined ? {} : { log }),
    inlineThresholdBytes: boot.inlineThresholdBytes,
    onWorkerEffect: (effect) => executor.handle(effect),
  });
  holder.runtime = runtime;
  // The last records carry the hash of the live state, which collecting the log checks its replay against.
  log?.hashStateWith(() => hashState(runtime.state));
  setRuntime(runtime);
  // A task's stray error fails or is reported against that task and does not end the worker (which
  // would retry its tasks and repeat their side effects). One raised outside any task's code is the
  // runtime's own: rethrown, it ends the worker as before.
  process.on('unhandledRejection', (reason: unknown) => {
    if (!executor.onStray(reason, 'an unhandled rejection')) throw reason;
  });
  process.on('uncaughtException', (error: Error) => {
    if (!executor.onStray(error, 'an uncaught exception')) throw error;
  });
  const onParentMessage = (message: unknown): void => {
    const query = message as { kind?: unknown; id?: unknown };
    if (query.kind === 'tsray/flush-logs' || query.kind === 'tsray/killing') {
      // The cluster is shutting down, or this worker is being killed, and the thread will be
      // terminated: its last records go first. A killed worker sends nothing else from here on, as
      // a killed process would not.
      if (query.kind === 'tsray/killing') router.close();
      log?.flushFinal();
      toMain.postMessage({ kind: 'tsray/logs-flushed', id: query.id });
      return;
    }
    if (query.kind === 'tsray/state-query') {
      toMain.postMessage({ kind: 'tsray/state-reply', id: query.id, owner: boot.workerId, listing: { tasks: listOwnerTasks(runtime.state), objects: listOwnerObjects(runtime.state), hosted: hostedTasks(runtime.state, maxHostedListed) } });
      return;
    }
    if (query.kind === 'tsray/collect') {
      // Views over the store that nothing reaches end their pins once collected.
      collectGarbage();
      toMain.postMessage({ kind: 'tsray/collected', id: query.id });
      return;
    }
    if (query.kind === 'tsray/peer') {
      addPeer(router, message as PeerOffer, inbound);
      return;
    }
    const messages = threadBatchMessages(message);
    if (messages !== undefined) router.receive(messages);
  };
  // What this worker reads: the main thread's messages, and its peers' (see addPeer).
  const inbound = new Set<InboundChannel>([{ port, handle: onParentMessage }]);
  port.on('message', onParentMessage);
  // Once its last body was reported, the worker polls for the next push before it waits (see
  // work-polling.ts), after the microtasks of that turn (on an Immediate), while no other worker is
  // busy (or polling) on the vCPUs that the main thread does not need.
  const pollBudgetMs = boot.pollBudgetMs ?? 0;
  const busyWorkers = boot.busyCountBuffer === undefined || boot.busyFlagBuffer === undefined ? undefined : new BusyWorkers(boot.busyCountBuffer, boot.busyFlagBuffer);
  let pollScheduled = false;
  const backoff = new PollBackoff();
  const idle = (): boolean => executor.executingCount === 0;
  const poll = (): void => {
    pollScheduled = false;
    // An actor's worker does not poll: its next call may be far off (each of 100 actors called in
    // turn polled after its call, and 10,000 such calls took 15% longer, with a third more CPU).
    if (!idle() || busyWorkers === undefined || runtime.state.actor !== undefined || busyWorkers.busy > vcpus - 2 || !backoff.shouldPoll()) return;
    // A polling worker takes a vCPU as a busy one does: counted so, two idle workers do not both
    // poll on 2 vCPUs while the driver needs one.
    busyWorkers.started();
    backoff.polled(pollForWork(inbound, idle, pollBudgetMs));
    if (idle()) busyWorkers.stopped();
  };
  executor.onBusy = () => busyWorkers?.started();
  executor.onIdle = () => {
    busyWorkers?.stopped();
    if (pollScheduled || pollBudgetMs === 0 || busyWorkers === undefined) return;
    pollScheduled = true;
    setImmediate(poll);
  };
  collectWhenIdle(executor, () => runtime.state);
  toMain.postMessage({ kind: 'tsray/ready', workerId: boot.workerId });
}
