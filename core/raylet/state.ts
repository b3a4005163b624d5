/**
 * The raylet's state: this node's resources, its worker pool, the leases it holds or queues, what it
 * knows of the rest of the cluster, and its shared-memory object store. Plain data keyed by id, so
 * that it hashes stably and runs under immer as well as mutably; absent values are `null`, never
 * `undefined`, so that both modes serialise alike.
 */
import type { ActorId, Address, LeaseId, NodeId, ObjectId, WorkerId } from '../ids.js';
import type { Inbox } from '../inbox.js';
import type { SchedulingStrategy } from '../protocol.js';
import type { Resources } from '../resources.js';
import type { RefMarker } from '../values.js';

/** Limits and periods of one raylet. */
export interface RayletConfig {
  /** How often the raylet reports its available resources to the GCS. */
  readonly heartbeatPeriodMs: number;
  /** Bound on live task workers (not blocked in `get`, not serving an actor); 0 means 2 x CPU + 4, computed at start. */
  readonly maxWorkers: number;
  /** Bound on leases waiting here for resources or a worker. */
  readonly maxLeaseQueue: number;
  /** Bound on finished lease ids remembered to ignore late or duplicate messages about them. */
  readonly maxLeaseTombstones: number;
  /** How often a lease may lose its worker before that worker started, before it is turned away. */
  readonly maxSpawnRetries: number;
  /** Bytes the node's shared-memory object store may hold. */
  readonly objectStoreCapacityBytes: number;
  /**
   * Bytes the node's spill space (files on its local disk) may hold: a put that does not fit in the
   * shared-memory store is written there instead, as Ray spills objects when its store is full. 0:
   * no spill space, so such a put fails at once (the simulator's default, and every earlier trace's).
   */
  readonly spillCapacityBytes: number;
  /** Bound on leases that fit no known node and wait for the cluster to grow. */
  readonly maxInfeasible: number;
  /** Bound on dead local worker records kept to recognise stale messages about them. */
  readonly maxDeadWorkers: number;
  /** Bound on dead owners (and dead nodes) remembered so that their late requests are ignored. */
  readonly maxDeadOwners: number;
  /**
   * Bound on workers serving actors (each actor has a worker of its own, outside `maxWorkers`); an
   * actor over it is turned away at once, naming this limit. 0: no bound.
   */
  readonly maxActorWorkers: number;
  /**
   * Idle workers kept started ahead of demand (Ray's prestarted workers), within `maxWorkers`, so
   * that a lease, or an actor, finds a worker ready instead of waiting for one to boot. 0: none.
   */
  readonly prestartWorkers: number;
  /**
   * How long a task worker stays idle before the raylet asks it to end, while the node has more task
   * workers than its soft limit (its CPU count) and more ready than `prestartWorkers` (see
   * idle-exit.ts), as Ray ends idle workers past `num_workers_soft_limit` after
   * `idle_worker_killing_time_threshold_ms`. Tasks blocked in
   * `get` make the pool grow past `maxWorkers` (nested tasks would deadlock otherwise); this gives
   * those workers back once they are idle. A worker that owns anything declines. 0: never.
   */
  readonly idleWorkerExitMs: number;
}

/** Defaults that suit the simulator and the embedded runtime. */
export const defaultRayletConfig: RayletConfig = Object.freeze({
  heartbeatPeriodMs: 100,
  maxWorkers: 0,
  maxLeaseQueue: 1024,
  maxLeaseTombstones: 4096,
  maxSpawnRetries: 3,
  objectStoreCapacityBytes: 64 * 1024 * 1024,
  spillCapacityBytes: 0,
  maxInfeasible: 1024,
  maxDeadWorkers: 256,
  maxDeadOwners: 4096,
  maxActorWorkers: 0,
  prestartWorkers: 0,
  idleWorkerExitMs: 0,
});

/**
 * Where a worker is in its life. Drivers are `connected` until they exit; raylet-spawned workers go
 * `starting`, then `idle` and `leased` in turns, `dying` once a kill was asked, and `dead`.
 */
export type RayletWorkerState = 'starting' | 'idle' | 'leased' | 'dying' | 'dead' | 'connected';

/** A worker process/thread (or a driver) on this node. */
export interface RayletWorker {
  workerId: WorkerId;
  kind: 'worker' | 'driver';
  state: RayletWorkerState;
  /** The lease this worker serves (granted) or was spawned for (spawning); null when none. */
  leaseId: LeaseId | null;
  /** True while its task waits in `get` and its CPU is lent back to the node. */
  blocked: boolean;
  /**
   * Unblocks that arrived before their matching block (delivery order is not guaranteed); each one
   * cancels the next block, which must not lend the CPU out again.
   */
  earlyUnblocks: number;
  /**
   * The latest of this worker's blocking spells (`worker/blocked` and `worker/unblocked` carry
   * theirs) that this raylet heard of, block or unblock, whatever lease it was under; 0 before any.
   * A report of an earlier spell is late or repeated: its block lends nothing, and its unblock was
   * answered. Kept across leases, so that a spell's report that arrives after its lease ended is told
   * from one of the next lease.
   */
  blockSpell: number;
  /** What this worker holds of the node's resources right now (its lease's, less CPU while blocked). */
  heldResources: Resources;
  /**
   * How many times this worker became idle: the spell an idle exit asks about (`idle-exit` timers,
   * `worker/exit-requested`), so that an answer about an earlier spell, after the worker served a
   * lease in between, ends nothing.
   */
  idleTurn: number;
}

/**
 * Where a lease is here: waiting in the FIFO queue, waiting for the cluster to grow (infeasible),
 * bound to a worker that is starting (spawning), or served by a worker (granted).
 */
export type RayletLeaseState = 'queued' | 'infeasible' | 'spawning' | 'granted';

/** A lease request this raylet is serving. */
export interface RayletLease {
  leaseId: LeaseId;
  requester: Address;
  resources: Resources;
  placementResources: Resources;
  strategy: SchedulingStrategy;
  spillbackCount: number;
  actorId: ActorId | null;
  state: RayletLeaseState;
  workerId: WorkerId | null;
  /** How many workers spawned for this lease died before they started. */
  failedSpawns: number;
  /** The requester was told that no alive node can ever fit this lease (`lease/infeasible`). */
  toldInfeasible?: boolean;
  /**
   * The requester was asked to return this granted lease once idle (`lease/return-requested`): leases
   * queued here waited for what it holds.
   */
  returnAsked?: true;
}

/** What this raylet last heard of another node. */
export interface ClusterNodeView {
  total: Resources;
  available: Resources;
  alive: boolean;
  /** Where to connect to the node directly to move objects (`host:port`), from the GCS's node table; absent when through the head. */
  transferAddress?: string;
}

/** An object in this node's shared-memory store. */
export interface StoredObject {
  owner: WorkerId;
  /** Opaque to the core and immutable: bytes in the live runtime, a JSON value in the simulator. */
  data: unknown;
  sizeBytes: number;
  refs: RefMarker[];
  /** The node this copy was pulled from, for a secondary copy (absent for the primary one). */
  copiedFrom?: NodeId;
  /**
   * True when the object lives in the node's spill space (a file) rather than its shared memory: its
   * bytes count against `spilledBytes`, not `usedBytes`. Absent for an object in memory.
   */
  spilled?: true;
}

/** Whether the raylet has started, and whether it has learned that the GCS declared it dead. */
export type RayletPhase = 'unstarted' | 'running' | 'shut-down';

/** The whole state of one raylet. */
export interface RayletState {
  phase: RayletPhase;
  nodeId: NodeId;
  config: RayletConfig;
  total: Resources;
  available: Resources;
  workers: Record<WorkerId, RayletWorker>;
  /** The counter of the next minted worker id (`<nodeId>.w<n>`), starting at 1. */
  nextWorkerOrdinal: number;
  /** Workers started ahead of demand that died before starting, in a row; prestarting stops at maxSpawnRetries. */
  prestartFailures: number;
  /** Dead worker records in the order they died; the oldest is forgotten past the bound. */
  deadWorkerOrder: WorkerId[];
  leases: Record<LeaseId, RayletLease>;
  /** Leases waiting here, first come first served. */
  queue: LeaseId[];
  /** Leases that no known node can ever fit, re-examined when the cluster view changes. */
  infeasible: LeaseId[];
  /** Finished lease ids, for ignoring late or duplicate messages about them. */
  tombstones: Record<LeaseId, true>;
  /** The same ids in the order they finished; the oldest is forgotten past the bound. */
  tombstoneOrder: LeaseId[];
  /** Other nodes as the GCS last published them; this node's own numbers are `total`/`available`. */
  cluster: Record<NodeId, ClusterNodeView>;
  /**
   * True once a cluster view from the GCS arrived. Before it, a node missing from `cluster` may be in
   * the cluster all the same, so node affinity to it waits instead of treating it as unknown.
   */
  viewReceived: boolean;
  /** Nodes the GCS declared dead, oldest first. */
  deadNodes: NodeId[];
  /** Owners (workers and drivers anywhere) known to be dead. */
  deadOwners: Record<WorkerId, true>;
  /** The same ids in the order they died; the oldest is forgotten past the bound. */
  deadOwnerOrder: WorkerId[];
  objects: Record<ObjectId, StoredObject>;
  /** Bytes of the shared-memory store that objects in memory take. */
  usedBytes: number;
  /** Bytes of the spill space that spilled objects take (at most `config.spillCapacityBytes`). */
  spilledBytes: number;
  /** Round-robin position for SPREAD placement. */
  spreadCursor: number;
  inbox: Inbox;
}

/** The state of a raylet before `node/started`. */
export function initialRayletState(): RayletState {
  return {
    phase: 'unstarted',
    nodeId: '',
    config: { ...defaultRayletConfig },
    total: {},
    available: {},
    workers: {},
    nextWorkerOrdinal: 1,
    prestartFailures: 0,
    deadWorkerOrder: [],
    leases: {},
    queue: [],
    infeasible: [],
    tombstones: {},
    tombstoneOrder: [],
    cluster: {},
    viewReceived: false,
    deadNodes: [],
    deadOwners: {},
    deadOwnerOrder: [],
    objects: {},
    usedBytes: 0,
    spilledBytes: 0,
    spreadCursor: 0,
    inbox: {},
  };
}
