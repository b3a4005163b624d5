/**
 * The embedded local cluster that `init()` with no address starts inside the driver process: the GCS,
 * one raylet, and the driver's owner component in the main thread; a worker thread per worker the
 * raylet asks for. `stop()` (shutdown, or process exit) leaves no thread, timer or open log behind.
 */
import { availableParallelism, totalmem } from 'node:os';
import { defaultGcsConfig, gcsCore, nameKey } from '../../core/gcs/index.js';
import type { GcsEffect, GcsEvent, GcsState } from '../../core/gcs/index.js';
import { defaultRayletConfig, rayletCore } from '../../core/raylet/index.js';
import type { RayletEffect, RayletEvent, RayletState } from '../../core/raylet/index.js';
import { defaultOwnerConfig } from '../../core/owner/index.js';
import { hashState } from '../../core/hash.js';
import type { EventLog } from '../store/event-log.js';
import { ForwardedLog, withLogPort } from '../store/forwarded-log.js';
import { SessionLogs } from '../store/session-logs.js';
import type { ObjectListing, TaskListing } from './listing.js';
import type { HostedTaskReport } from '../../core/protocol.js';
import { OwnerRuntime } from './owner-runtime.js';
import type { ObjectStore } from '../store/object-store.js';
import { NodeStore } from './node-store.js';
import type { PlacedData, PutRequest } from './node-store.js';
import { isSpilledData } from './stored-values.js';
import { SpillSpace, spillCapacityBytes, spillDir } from '../store/spill-space.js';
import { setStoreBuffer } from './values.js';
import { Router } from './router.js';
import { ComponentShell } from './shell.js';
import { WorkerThreads } from './worker-threads.js';
import { markSessionEnded } from './session-marker.js';
import type { SessionMarker } from './session-marker.js';
import { startSession } from './sessions.js';
import { vcpus } from './work-polling.js';

/** What the embedded cluster is started with (validated by `init`). */
export interface EmbeddedOptions {
  readonly numCpus?: number;
  readonly resources?: Record<string, number>;
  readonly objectStoreMemory?: number;
  readonly namespace: string;
  readonly sessionDir?: string;
  /**
   * The capacity of the node's spill space in bytes (internal: tests set it; InitOptions has no such
   * field). Absent: `TSRAY_SPILL_BYTES`, else a multiple of the store bounded by free disk.
   */
  readonly spillCapacityBytes?: number;
}

/** What a worker answers to a state query. */
export interface WorkerListing {
  readonly tasks: TaskListing[];
  readonly objects: ObjectListing[];
  /** The tasks the worker hosts (core/owner/wait-chain.ts), absent from a worker of an earlier version. */
  readonly hosted?: HostedTaskReport[];
}

/** The node store's size when `objectStoreMemory` is not given. */
const defaultObjectStoreBytes = 512 * 1024 * 1024;

/** Memory an idle actor's worker thread takes here, for the default bound on actor workers. */
const idleActorThreadBytes = 24 * 1024 * 1024;

/**
 * How long a live node's task worker stays idle, while the node has more of them than CPUs, before
 * it is asked to end (core/raylet/idle-exit.ts): Ray's `idle_worker_killing_time_threshold_ms`.
 */
export const liveIdleWorkerExitMs = 1000;

/**
 * The bound on workers serving actors: `TSRAY_MAX_ACTOR_WORKERS`, or as many idle actor threads as
 * half this machine's memory holds. Each actor has a worker thread of its own.
 */
export function maxActorWorkers(): number {
  const text = process.env['TSRAY_MAX_ACTOR_WORKERS'];
  if (text === undefined || text.trim() === '') return Math.max(16, Math.floor((totalmem() * 0.5) / idleActorThreadBytes));
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`TSRAY_MAX_ACTOR_WORKERS must be a whole number ≥ 1 (the most actors a node runs at once), not '${text}'`);
  return value;
}

/**
 * Whether the components keep event logs: `TSRAY_EVENT_LOG` is `on` (the default) or `off`. Off,
 * nothing of the run is logged, so it cannot be traced, replayed or debugged; it exists to measure
 * what logging costs.
 */
export function eventLogEnabled(): boolean {
  const text = process.env['TSRAY_EVENT_LOG'];
  if (text === undefined || text.trim() === '' || text.trim() === 'on') return true;
  if (text.trim() === 'off') return false;
  throw new RangeError(`TSRAY_EVENT_LOG must be 'on' (the default: every component keeps its event log) or 'off' (nothing is logged, so the run cannot be traced or replayed), not '${text}'`);
}

/** A running embedded cluster. */
export class EmbeddedCluster {
  readonly nodeId = 'n1';
  readonly router = new Router();
  readonly gcs: ComponentShell<GcsState, GcsEvent, GcsEffect>;
  readonly raylet: ComponentShell<RayletState, RayletEvent, RayletEffect>;
  readonly driver: OwnerRuntime;
  readonly sessionDir: string;
  /** The node's shared-memory object store. */
  readonly nodeStore: NodeStore;
  /** The node's worker threads. */
  readonly threads: WorkerThreads;
  private readonly logs: SessionLogs;
  /** Says the session is live until `stop()` marks it ended, so pruning at another `init` leaves it. */
  private readonly sessionMarker: SessionMarker;
  private stopped = false;
  /** The logs of this thread's components, with their live states, whose hashes `recordFinalHashes` records. */
  private readonly mainLogs: { readonly log: EventLog; readonly state: () => unknown }[] = [];
  /**
   * The driver's log: encoded here as each event is applied, written by the log thread (see
   * session-logs.ts), so that the puts of the busiest log of a tiny task stay off this thread.
   */
  private readonly driverLog: ForwardedLog | undefined;
  /** A process that exits without `shutdown()` still writes what its lagging logs buffer. */
  private readonly writeLogsOnExit = (): void => {
    // The driver's last records (with its state's hash) go to the log thread before it is asked to write.
    this.driverLog?.flushFinal();
    this.logs.writeBufferedSync();
    this.recordFinalHashes();
  };

  private constructor(readonly options: EmbeddedOptions) {
    const logging = eventLogEnabled();
    const session = startSession(options.sessionDir);
    this.sessionDir = session.dir;
    this.logs = new SessionLogs(this.sessionDir);
    this.sessionMarker = session.marker;
    process.on('exit', this.writeLogsOnExit);
    const gcsLog = logging ? this.logs.open('gcs', 'gcs', true) : undefined;
    this.gcs = new ComponentShell({ core: gcsCore, address: 'gcs', router: this.router, ...(gcsLog === undefined ? {} : { log: gcsLog }), replyAfterCommit: true });
    if (gcsLog !== undefined) this.mainLogs.push({ log: gcsLog, state: () => this.gcs.state });
    this.router.addLocal('gcs', (message) => this.gcs.apply(message as GcsEvent));
    this.gcs.apply({ type: 'gcs/started', incarnation: 0, config: defaultGcsConfig });
    const storeBytes = options.objectStoreMemory ?? defaultObjectStoreBytes;
    const spill = new SpillSpace(spillDir(this.sessionDir, this.nodeId), options.spillCapacityBytes ?? spillCapacityBytes(this.sessionDir, storeBytes));
    this.threads = new WorkerThreads({
      router: this.router,
      boot: (workerId, readerSlot) => {
        if (readerSlot !== undefined) this.nodeStore.nameReader(readerSlot, `worker ${workerId}`);
        return {
          workerId,
          nodeId: this.nodeId,
          namespace: options.namespace,
          inlineThresholdBytes: defaultOwnerConfig.inlineThresholdBytes,
          storeBuffer: this.store.buffer,
          spillCapacityBytes: spill.capacityBytes,
          sessionDir: this.sessionDir,
          ...(readerSlot === undefined ? {} : { readerSlot }),
          ...(logging ? withLogPort(this.logs.workerLogPort(workerId)) : { eventLog: false }),
        };
      },
      onReady: (workerId) => this.raylet.apply({ type: 'worker/started', workerId }),
      onLogRecords: (workerId, batch) => this.logs.appendWorker(workerId, batch),
      onExit: (workerId, reason, readerSlot, killedBy) => {
        // Its views died with it: their pins end.
        if (readerSlot !== undefined) this.store.dropReaderSlot(readerSlot);
        this.logs.closeWorker(workerId);
        // A kill's exit names the raylet event that asked for it, so `why` can follow it there.
        this.raylet.apply({ type: 'worker/exited', workerId, reason }, killedBy);
      },
    });
    // A driver's loop of submissions reads its workers' replies as it goes (see Router.readBetweenSubmissions).
    this.router.setReader(() => this.threads.readWaiting());
    this.nodeStore = new NodeStore(storeBytes, () => this.threads.ask('tsray/collect', 'tsray/collected'), undefined, spill);
    setStoreBuffer(this.store.buffer, spill.capacityBytes);
    // Encoded here, written by the log thread (see session-logs.ts), which also records its state's hash at the end.
    const rayletLog = logging ? this.logs.openForwarded(`raylet:${this.nodeId}`, 'raylet') : undefined;
    this.raylet = new ComponentShell({ core: rayletCore, address: `raylet:${this.nodeId}`, router: this.router, ...(rayletLog === undefined ? {} : { log: rayletLog }), onEffect: (effect, seq) => this.onRayletEffect(effect, seq) });
    rayletLog?.hashStateWith(() => hashState(this.raylet.state));
    this.router.addLocal(`raylet:${this.nodeId}`, (message) => this.onRayletMessage(message as RayletEvent));
    const numCpus = options.numCpus ?? availableParallelism();
    this.raylet.apply({
      type: 'node/started',
      nodeId: this.nodeId,
      resources: { CPU: numCpus, ...options.resources },
      // As many idle workers as CPUs are kept started ahead of demand (Ray prestarts as many).
      config: { ...defaultRayletConfig, objectStoreCapacityBytes: storeBytes, spillCapacityBytes: spill.capacityBytes, prestartWorkers: numCpus, maxActorWorkers: maxActorWorkers(), idleWorkerExitMs: liveIdleWorkerExitMs },
    });
    const driverId = `${this.nodeId}.d1`;
    const driverAddress = `worker:${driverId}`;
    const driverLog = logging ? new ForwardedLog(driverAddress, (batch) => this.logs.appendForwarded(driverAddress, batch)) : undefined;
    this.driverLog = driverLog;
    this.raylet.apply({ type: 'driver/connected', workerId: driverId });
    this.driver = new OwnerRuntime({
      workerId: driverId,
      nodeId: this.nodeId,
      isDriver: true,
      namespace: options.namespace,
      router: this.router,
      ...(driverLog === undefined ? {} : { log: driverLog }),
      // The GCS runs in this thread: a name a live actor holds is known at once.
      actorNameHolder: (namespace, name) => {
        const actorId = this.gcs.state.names[nameKey(namespace, name)];
        return actorId !== undefined && this.gcs.state.actors[actorId]?.state !== 'DEAD' ? actorId : undefined;
      },
      // The driver shares the store's thread: its large puts are written into the store at the call.
      store: { put: (objectId, data) => this.nodeStore.storeNow(objectId, data), delete: (objectId) => this.nodeStore.delete([objectId]) },
      // Its gets poll its workers' replies for a moment while a vCPU is spare (see work-polling.ts).
      replyPolling: { budgetMs: this.threads.pollBudgetMs, spareCpu: () => this.threads.busyWorkers.busy < vcpus },
    });
    driverLog?.hashStateWith(() => hashState(this.driver.state));
  }

  /**
   * Records in each main-thread log the hash of its component's live state after its last event, so
   * that `tsray trace collect` can check that replaying the log reproduces the live run. A state that
   * cannot be hashed only goes without its hash.
   */
  private recordFinalHashes(): void {
    for (const { log, state } of this.mainLogs) {
      if (log.lastSeq === 0) continue;
      try {
        log.recordStateHash(log.lastSeq, hashState(state()));
      } catch (error) {
        process.stderr.write(`tsray: the state hash of ${log.address} could not be recorded: ${(error as Error).message}\n`);
      }
    }
  }

  /** The node's object store. */
  get store(): ObjectStore {
    return this.nodeStore.store;
  }

  /** Starts the cluster and waits until the driver has its job. */
  static async start(options: EmbeddedOptions): Promise<EmbeddedCluster> {
    const cluster = new EmbeddedCluster(options);
    await cluster.driver.whenJobAssigned();
    return cluster;
  }


  /**
   * A large value arrives as bytes (from a worker thread): it goes into the shared store once, and the
   * raylet's recipe (and its log) see only its descriptor. A store that cannot place it turns the put
   * away here. A value the driver already wrote into the store arrives as its descriptor.
   */
  private onRayletMessage(event: RayletEvent): void {
    if (event.type !== 'object/put-requested') {
      this.raylet.apply(event);
      return;
    }
    this.nodeStore.receivePut(
      event,
      (data) => this.applyStoredPut(event, data),
      (reason) => this.router.send(this.raylet.address, 0, event.via.from, { type: 'object/put-rejected', objectId: event.objectId, reason }),
    );
  }

  /**
   * Hands a stored put to the raylet's recipe, or a spilled one as `object/spilled`; whether the
   * recipe kept it where it lies (a spilled put of an object already in memory is not kept).
   */
  private applyStoredPut(event: PutRequest, data: PlacedData): boolean {
    if (isSpilledData(data)) {
      this.raylet.apply({ type: 'object/spilled', objectId: event.objectId, owner: event.owner, requester: event.via.from, data, sizeBytes: event.sizeBytes, refs: event.refs });
      return this.raylet.state.objects[event.objectId]?.spilled === true;
    }
    this.raylet.apply({ ...event, data });
    return this.raylet.state.objects[event.objectId] !== undefined;
  }

  private onRayletEffect(effect: RayletEffect, seq: number): void {
    switch (effect.type) {
      case 'worker/spawn':
        this.threads.spawn(effect.workerId);
        return;
      case 'worker/kill':
        this.threads.kill(effect.workerId, seq, effect.reason);
        return;
      case 'objects/deleted':
        this.nodeStore.delete(effect.objectIds);
        return;
      case 'node/shutdown':
      case 'message/sent':
      case 'timer/armed':
        return;
    }
  }

  /** Asks every live worker for its owned tasks and objects (for the state API); slow workers are skipped after 1 s. */
  async queryWorkers(): Promise<WorkerListing[]> {
    const replies = await this.threads.ask<{ listing?: WorkerListing }>('tsray/state-query', 'tsray/state-reply');
    return replies.map((reply) => reply.listing).filter((listing): listing is WorkerListing => listing !== undefined);
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
    this.recordFinalHashes();
    this.driverLog?.flushFinal();
    // Workers' logs lag behind their events; they are committed before the threads end.
    await this.threads.terminateAll();
    await this.logs.close();
    process.off('exit', this.writeLogsOnExit);
    this.nodeStore.close();
    setStoreBuffer(undefined);
    markSessionEnded(this.sessionDir, this.sessionMarker, Date.now());
  }
}
