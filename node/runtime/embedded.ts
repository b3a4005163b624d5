/**
 * The embedded local cluster that `init()` with no address starts inside the driver process: the GCS,
 * one raylet, and the driver's owner component in the main thread; a worker thread per worker the
 * raylet asks for. `stop()` (shutdown, or process exit) leaves no thread, timer or open log behind.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { defaultGcsConfig, gcsCore } from '../../core/gcs/index.js';
import type { GcsEffect, GcsEvent, GcsState } from '../../core/gcs/index.js';
import { defaultRayletConfig, rayletCore } from '../../core/raylet/index.js';
import type { RayletEffect, RayletEvent, RayletState } from '../../core/raylet/index.js';
import type { Delivered, MessageOf, WorkerExitReason } from '../../core/protocol.js';
import { defaultOwnerConfig } from '../../core/owner/index.js';
import { EventLog } from '../store/event-log.js';
import { logDirFor } from '../store/event-log.js';
import { ObjectArena } from '../store/arena.js';
import { ObjectStore } from '../store/object-store.js';
import { readerSlots } from '../store/reader-pins.js';
import type { ObjectListing, TaskListing } from './listing.js';
import { collectGarbage } from './collect.js';
import { OwnerRuntime } from './owner-runtime.js';
import { isStoredData, storeValue } from './stored-values.js';
import type { EncodedData } from './values.js';
import { setStoreBuffer } from './values.js';
import { addressOf, isMessageBatch, Router } from './router.js';
import { ComponentShell } from './shell.js';
import type { WorkerBoot } from './worker-main.js';

/** What the embedded cluster is started with (validated by `init`). */
export interface EmbeddedOptions {
  readonly numCpus?: number;
  readonly resources?: Record<string, number>;
  readonly objectStoreMemory?: number;
  readonly namespace: string;
  readonly sessionDir?: string;
}

/** What a worker answers to a state query. */
export interface WorkerListing {
  readonly tasks: TaskListing[];
  readonly objects: ObjectListing[];
}

/** The node store's size when `objectStoreMemory` is not given. */
const defaultObjectStoreBytes = 512 * 1024 * 1024;

/** How far beyond the highest allocation the store's pages are faulted in ahead of use. */
const prefaultAheadBytes = 128 * 1024 * 1024;

/** Freed memory still pinned by views, as a share of the store, past which every thread collects garbage. */
const lingeringShareBeforeCollect = 0.125;
/** Share of the store in use past which a put has every thread collect garbage (unreachable refs free objects). */
const usedShareBeforeCollect = 0.75;
/** Garbage collections asked for because of the store are at least this far apart. */
const minCollectIntervalMs = 100;
/** A put that does not fit waits for at most this many collections before it fails. */
const collectRoundsBeforeFull = 3;
/** How long a collection's released refs get to free their objects before a put tries again. */
const releaseWaitMs = 20;

const workerEntry = fileURLToPath(new URL('./worker-main.js', import.meta.url));
let sessionCounter = 0;

/** A running embedded cluster. */
export class EmbeddedCluster {
  readonly nodeId = 'n1';
  readonly router = new Router();
  readonly gcs: ComponentShell<GcsState, GcsEvent, GcsEffect>;
  readonly raylet: ComponentShell<RayletState, RayletEvent, RayletEffect>;
  readonly driver: OwnerRuntime;
  readonly sessionDir: string;
  private readonly workers = new Map<string, { thread: Worker; killed: boolean }>();
  /** How many messages from one worker to another went through this thread (before they peered). */
  relayedBetweenWorkers = 0;
  /** Pairs of workers (`a|b`, ids in order) that have a channel of their own. */
  private readonly peered = new Set<string>();
  readonly store: ObjectStore;
  private readonly logs: EventLog[] = [];
  private stopped = false;
  private collecting: Promise<void> | undefined;
  private lastCollectMs = 0;
  /** A process that exits without `shutdown()` still writes what its lagging logs buffer. */
  private readonly writeLogsOnExit = (): void => {
    for (const log of this.logs) log.writeBufferedSync();
  };
  /** Reader slots (see reader-pins.ts) not held by a live worker thread. */
  private readonly freeReaderSlots = Array.from({ length: readerSlots - 1 }, (_, index) => readerSlots - 1 - index);
  private queryCounter = 0;

  private constructor(readonly options: EmbeddedOptions) {
    this.sessionDir = options.sessionDir ?? join(tmpdir(), 'tsray', `session_${process.pid}_${Date.now()}_${++sessionCounter}`);
    mkdirSync(this.sessionDir, { recursive: true });
    process.on('exit', this.writeLogsOnExit);
    const gcsLog = this.openLog('gcs', 'gcs', true);
    this.gcs = new ComponentShell({ core: gcsCore, address: 'gcs', router: this.router, log: gcsLog, replyAfterCommit: true });
    this.router.addLocal('gcs', (message) => this.gcs.apply(message as GcsEvent));
    this.gcs.apply({ type: 'gcs/started', incarnation: 0, config: defaultGcsConfig });
    const storeBytes = options.objectStoreMemory ?? defaultObjectStoreBytes;
    // Fault pages in a step ahead of use (not the whole store at start, which costs the main thread
    // about a second per 512 MiB here); memory once touched is reused.
    this.store = new ObjectStore(new ObjectArena({ capacityBytes: storeBytes, prefault: 'background', prefaultAheadBytes: prefaultAheadBytes }));
    setStoreBuffer(this.store.buffer);
    const rayletLog = this.openLog(`raylet:${this.nodeId}`, 'raylet', false);
    this.raylet = new ComponentShell({ core: rayletCore, address: `raylet:${this.nodeId}`, router: this.router, log: rayletLog, onEffect: (effect) => this.onRayletEffect(effect) });
    this.router.addLocal(`raylet:${this.nodeId}`, (message) => this.onRayletMessage(message as RayletEvent));
    const numCpus = options.numCpus ?? availableParallelism();
    this.raylet.apply({
      type: 'node/started',
      nodeId: this.nodeId,
      resources: { CPU: numCpus, ...options.resources },
      config: { ...defaultRayletConfig, objectStoreCapacityBytes: storeBytes },
    });
    const driverId = `${this.nodeId}.d1`;
    this.raylet.apply({ type: 'driver/connected', workerId: driverId });
    this.driver = new OwnerRuntime({ workerId: driverId, nodeId: this.nodeId, isDriver: true, namespace: options.namespace, router: this.router, log: this.openLog(`worker:${driverId}`, 'owner', false) });
  }

  /** Starts the cluster and waits until the driver has its job. */
  static async start(options: EmbeddedOptions): Promise<EmbeddedCluster> {
    const cluster = new EmbeddedCluster(options);
    await cluster.driver.whenJobAssigned();
    return cluster;
  }

  private openLog(address: string, component: 'gcs' | 'raylet' | 'owner', durable: boolean): EventLog {
    // Only the GCS replies after its commits; the other logs may lag (they die with their process).
    const log = EventLog.open(logDirFor(this.sessionDir, address), { component, address, durable, batching: durable ? 'immediate' : 'lagging' });
    this.logs.push(log);
    return log;
  }

  /**
   * A large value arrives as bytes: it goes into the shared store once, and the raylet's recipe (and
   * its log) see only its descriptor. A store that cannot place it (full, or too fragmented) turns
   * the put away here.
   */
  private onRayletMessage(event: RayletEvent): void {
    if (event.type === 'object/put-requested' && !isStoredData(event.data) && this.store.get(event.objectId) === undefined) {
      const stored = storeValue(this.store, event.objectId, event.data as EncodedData);
      if (stored !== undefined) {
        this.raylet.apply({ ...event, data: stored });
        if (this.store.usedBytes > this.store.capacityBytes * usedShareBeforeCollect) this.collectSoon();
      }
      // Refs and views that nothing reaches any more may be all that stands in the way: collect, then try again.
      else void this.putAfterCollecting(event);
      return;
    }
    this.raylet.apply(event);
  }

  private async putAfterCollecting(event: Delivered<MessageOf<'object/put-requested'>>): Promise<void> {
    for (let round = 0; round < collectRoundsBeforeFull; round += 1) {
      await this.collectEverywhere();
      // Collected ObjectRefs release their objects through their owners and the raylet: give that a moment.
      await new Promise((resolve) => setTimeout(resolve, releaseWaitMs));
      if (this.stopped) return;
      this.store.sweep();
      const stored = storeValue(this.store, event.objectId, event.data as EncodedData);
      if (stored !== undefined) {
        this.raylet.apply({ ...event, data: stored });
        return;
      }
    }
    this.rejectPut(event);
  }

  /** Collects garbage everywhere unless that was done a moment ago. */
  private collectSoon(): void {
    if (performance.now() - this.lastCollectMs > minCollectIntervalMs) void this.collectEverywhere();
  }

  private rejectPut(event: Delivered<MessageOf<'object/put-requested'>>): void {
    this.router.send(this.raylet.address, 0, event.via.from, {
      type: 'object/put-rejected',
      objectId: event.objectId,
      reason: `object store full: need ${event.sizeBytes} bytes, ${this.store.usedBytes} of ${this.store.capacityBytes} in use; free objects or raise objectStoreMemory`,
    });
  }

  /**
   * Has every thread of the node collect garbage, so that refs nothing reaches release their objects
   * and views nothing reaches end their pins, then frees what they pinned. One round at a time;
   * callers during a round share it.
   */
  private collectEverywhere(): Promise<void> {
    this.collecting ??= (async () => {
      collectGarbage();
      await this.askWorkers('tsray/collect', 'tsray/collected');
      // Finalization callbacks run as tasks of their own after the collection.
      await new Promise((resolve) => setTimeout(resolve, 5));
      this.store.sweep();
      this.lastCollectMs = performance.now();
    })().finally(() => {
      this.collecting = undefined;
    });
    return this.collecting;
  }

  private onRayletEffect(effect: RayletEffect): void {
    switch (effect.type) {
      case 'worker/spawn':
        this.spawn(effect.workerId);
        return;
      case 'worker/kill': {
        const worker = this.workers.get(effect.workerId);
        if (worker === undefined) return;
        worker.killed = true;
        void worker.thread.terminate();
        return;
      }
      case 'objects/deleted':
        for (const objectId of effect.objectIds) this.store.delete(objectId);
        // Memory that views keep after its objects were freed is not reused until they are collected.
        if (this.store.lingeringBytes > this.store.capacityBytes * lingeringShareBeforeCollect) this.collectSoon();
        return;
      case 'node/shutdown':
      case 'message/sent':
      case 'timer/armed':
        return;
    }
  }

  private spawn(workerId: string): void {
    // Slot 0 is the main thread's; a worker beyond the slots reads copies of stored values.
    const readerSlot = this.freeReaderSlots.pop();
    const boot: WorkerBoot = { workerId, nodeId: this.nodeId, namespace: this.options.namespace, inlineThresholdBytes: defaultOwnerConfig.inlineThresholdBytes, storeBuffer: this.store.buffer, sessionDir: this.sessionDir, ...(readerSlot === undefined ? {} : { readerSlot }) };
    const thread = new Worker(workerEntry, { workerData: boot });
    const record = { thread, killed: false };
    this.workers.set(workerId, record);
    this.router.addRemote(`worker:${workerId}`, thread);
    thread.on('message', (message: unknown) => {
      if (isMessageBatch(message)) {
        for (const delivered of message.messages) {
          const to = addressOf(delivered);
          this.router.forward(delivered, to);
          this.peerIfWorkers(workerId, to);
        }
        this.router.flush();
      } else if ((message as { kind?: unknown }).kind === 'tsray/ready') this.raylet.apply({ type: 'worker/started', workerId });
    });
    // A worker that fails outside any task (at start, or in the runtime itself) is ended; say why once.
    thread.on('error', (error: Error) => process.stderr.write(`tsray: worker ${workerId} failed: ${error.message.split('\n')[0] ?? ''}\n`));
    // Worker threads must not keep the process alive (pending API calls do); unref after the
    // listeners, which would otherwise ref the worker's port again.
    thread.unref();
    thread.on('exit', (code) => {
      this.workers.delete(workerId);
      for (const pair of this.peered) if (pair.split('|').includes(workerId)) this.peered.delete(pair);
      if (readerSlot !== undefined && !this.stopped) {
        // Its views died with it: end their pins, then the slot can serve another thread.
        this.store.dropReaderSlot(readerSlot);
        this.freeReaderSlots.push(readerSlot);
      }
      this.router.remove(`worker:${workerId}`);
      if (this.stopped) return;
      const reason: WorkerExitReason = record.killed ? 'killed' : code === 0 ? 'exited' : 'crashed';
      this.raylet.apply({ type: 'worker/exited', workerId, reason });
    });
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
    if (this.workers.has(toId)) this.relayedBetweenWorkers += 1;
    const pair = from < toId ? `${from}|${toId}` : `${toId}|${from}`;
    if (this.peered.has(pair)) return;
    const a = this.workers.get(from);
    const b = this.workers.get(toId);
    if (a === undefined || b === undefined) return;
    this.peered.add(pair);
    const { port1, port2 } = new MessageChannel();
    a.thread.postMessage({ kind: 'tsray/peer', address: to, port: port1 }, [port1]);
    b.thread.postMessage({ kind: 'tsray/peer', address: `worker:${from}`, port: port2 }, [port2]);
  }

  /** Asks every live worker for its owned tasks and objects (for the state API); slow workers are skipped after 1 s. */
  async queryWorkers(): Promise<WorkerListing[]> {
    const replies = await this.askWorkers<{ listing?: WorkerListing }>('tsray/state-query', 'tsray/state-reply');
    return replies.map((reply) => reply.listing).filter((listing): listing is WorkerListing => listing !== undefined);
  }

  /** Sends `kind` to every live worker and collects the `replyKind` answers; a worker silent for 1 s is skipped. */
  private async askWorkers<T>(kind: string, replyKind: string): Promise<T[]> {
    const replies = [...this.workers.values()].map(
      ({ thread }) =>
        new Promise<T | undefined>((resolve) => {
          const id = ++this.queryCounter;
          const timer = setTimeout(() => {
            thread.off('message', onReply);
            resolve(undefined);
          }, 1000);
          const onReply = (message: unknown): void => {
            const reply = message as { kind?: unknown; id?: unknown };
            if (reply.kind !== replyKind || reply.id !== id) return;
            clearTimeout(timer);
            thread.off('message', onReply);
            resolve(message as T);
          };
          thread.on('message', onReply);
          thread.postMessage({ kind, id });
        }),
    );
    return (await Promise.all(replies)).filter((reply): reply is Awaited<T> => reply !== undefined);
  }

  /** Stops everything: workers, timers, logs. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.driver.stop('shutdown');
    this.router.flush();
    this.stopped = true;
    this.gcs.stop();
    this.raylet.stop();
    this.router.close();
    // Workers' logs lag behind their events; have them committed before the threads end.
    await this.askWorkers('tsray/flush-logs', 'tsray/logs-flushed');
    await Promise.all([...this.workers.values()].map(({ thread }) => thread.terminate()));
    this.workers.clear();
    await Promise.all(this.logs.map((log) => log.close()));
    process.off('exit', this.writeLogsOnExit);
    this.store.close();
    this.store.arena.close();
    setStoreBuffer(undefined);
  }
}
