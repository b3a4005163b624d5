/**
 * The messages components send each other. A message is delivered to its receiver as an event of
 * that receiver's `Event` union, wrapped with `via` (sender and sequence number).
 *
 * Transport contract (both the live transport and the simulator honour it): a message between two
 * live processes is delivered at least once, eventually, in no particular order. Duplicates are
 * dropped by every receiver through `inbox` (sender incarnation + sequence number); order is never
 * assumed, so every handler ignores what its state shows to be stale. Where a protocol needs order
 * (borrower registration before release) the sender waits for an acknowledgement.
 */
import type { ActorId, Address, JobId, LeaseId, NodeId, ObjectId, TaskId, WorkerId } from './ids.js';
import type { Resources } from './resources.js';
import type { ErrorInfo, InlinePayload, Payload, RefMarker, ThrownInfo } from './values.js';

/** Where a task or actor may be placed, as in API.md. */
export type SchedulingStrategy = 'DEFAULT' | 'SPREAD' | { readonly nodeId: NodeId; readonly soft: boolean };

/** An argument as submitted: an inline value, or an object ref passed at the top level (resolved before running). */
export type TaskArg = { readonly kind: 'value'; readonly payload: InlinePayload } | { readonly kind: 'ref'; readonly ref: RefMarker };

/** An argument as pushed to a worker: its value is known (inline) or stored on some nodes. */
export type ResolvedArg =
  | { readonly kind: 'value'; readonly payload: InlinePayload }
  | { readonly kind: 'ref'; readonly ref: RefMarker; readonly payload: Payload };

/** Everything needed to run a task, once, anywhere. */
export interface TaskSpec {
  readonly taskId: TaskId;
  readonly jobId: JobId;
  readonly owner: WorkerId;
  /** The task during which this one was submitted (for recursive cancellation), if any. */
  readonly parentTaskId?: TaskId;
  readonly name: string;
  /** What to run: a function descriptor (live) or a body name (simulator). */
  readonly functionId: string;
  readonly args: readonly TaskArg[];
  readonly returnIds: readonly ObjectId[];
  readonly resources: Resources;
  /** -1 means unlimited. */
  readonly maxRetries: number;
  readonly retryExceptions: boolean | readonly string[];
  readonly strategy: SchedulingStrategy;
  /** Present for an actor method call. */
  readonly actor?: { readonly actorId: ActorId; readonly method: string };
}

/** Everything needed to create (and re-create) an actor. */
export interface ActorSpec {
  readonly actorId: ActorId;
  readonly jobId: JobId;
  readonly owner: WorkerId;
  readonly className: string;
  /** What to construct: a class descriptor (live) or a class name (simulator). */
  readonly functionId: string;
  readonly args: readonly ResolvedArg[];
  readonly name?: string;
  readonly namespace: string;
  readonly detached: boolean;
  readonly getIfExists: boolean;
  /** -1 means unlimited. */
  readonly maxRestarts: number;
  /** -1 means unlimited. */
  readonly maxTaskRetries: number;
  readonly maxConcurrency: number;
  /** Held while the actor lives (default none: numCpus 0). */
  readonly resources: Resources;
  /** Needed free to place the actor, not held (default `{ CPU: 1 }`, as Ray). */
  readonly placementResources: Resources;
  readonly strategy: SchedulingStrategy;
}

/** Why a worker process ended. */
/**
 * Why a worker ended. `idle`: the raylet ended a task worker that had been idle for
 * `idleWorkerExitMs` while the node had more task workers than its CPUs, with the worker's consent
 * (it owned nothing), as Ray ends idle workers past its soft limit.
 */
export type WorkerExitReason = 'crashed' | 'exited' | 'killed' | 'node-died' | 'owner-died' | 'idle';

/** The state of an actor, as API.md lists it. */
export type ActorState = 'PENDING' | 'ALIVE' | 'RESTARTING' | 'DEAD';

/** What a task attempt produced, as reported by the worker that ran it. */
export type TaskResult =
  | { readonly kind: 'returned'; readonly payloads: readonly Payload[] }
  | { readonly kind: 'threw'; readonly error: ErrorInfo; readonly thrown?: ThrownInfo }
  | { readonly kind: 'cancelled' }
  /** An argument could not be read: the submitter rebuilds or fails it, then runs the task again. */
  | { readonly kind: 'arg-lost'; readonly objectId: ObjectId }
  /** A pipelined task handed back unrun (the task ahead of it blocked): the owner queues it again. */
  | { readonly kind: 'not-run' };

/** Leases of one shape waiting at a raylet for resources: what `tsray status` shows as pending demand. */
export interface ResourceDemand {
  /** What each lease needs to be placed (for an actor, its placement resources and held ones). */
  readonly resources: Resources;
  readonly count: number;
  /** No alive node can ever fit this shape: the leases wait for the cluster to grow. */
  readonly infeasible: boolean;
}

/** Lease protocol, owner (or GCS, for actors) and raylet. */
export type LeaseMessage =
  | {
      readonly type: 'lease/requested';
      readonly leaseId: LeaseId;
      readonly requester: Address;
      readonly resources: Resources;
      readonly placementResources: Resources;
      readonly strategy: SchedulingStrategy;
      readonly spillbackCount: number;
      readonly actorId?: ActorId;
    }
  | { readonly type: 'lease/cancelled'; readonly leaseId: LeaseId }
  | { readonly type: 'lease/granted'; readonly leaseId: LeaseId; readonly workerId: WorkerId; readonly nodeId: NodeId }
  | { readonly type: 'lease/spilled'; readonly leaseId: LeaseId; readonly toNodeId: NodeId }
  | { readonly type: 'lease/rejected'; readonly leaseId: LeaseId; readonly reason: string; readonly permanent: boolean }
  /**
   * The raylet keeps the lease waiting because no alive node can ever fit it (Ray's infeasible
   * demand): `reason` says what is lacking. It is placed once a node that fits joins.
   */
  | { readonly type: 'lease/infeasible'; readonly leaseId: LeaseId; readonly reason: string }
  | { readonly type: 'lease/returned'; readonly leaseId: LeaseId; readonly workerId: WorkerId; readonly disconnectWorker: boolean }
  /**
   * Leases queued at the raylet wait for resources this granted lease holds: its requester returns it
   * as soon as it is idle, instead of keeping it for its next task (`OwnerConfig.leaseIdleMs`). Asked
   * once per grant.
   */
  | { readonly type: 'lease/return-requested'; readonly leaseId: LeaseId }
  /** The leased worker ended; the lease is gone. */
  | { readonly type: 'lease/worker-died'; readonly leaseId: LeaseId; readonly workerId: WorkerId; readonly reason: WorkerExitReason }
  /**
   * A leased worker's task waits in `get`, or no longer does. `spell` numbers the worker's spells of
   * blocking (a block and its unblock carry the same one) and `leaseId` is the lease it ran under, so
   * that a late, repeated or reordered report of an earlier spell or lease changes nothing (absent in
   * traces recorded before raylet 9, whose reports the raylet still reads as it did then).
   */
  | { readonly type: 'worker/blocked'; readonly workerId: WorkerId; readonly spell?: number; readonly leaseId?: LeaseId }
  | { readonly type: 'worker/unblocked'; readonly workerId: WorkerId; readonly spell?: number; readonly leaseId?: LeaseId }
  /** The worker may go on with the blocking spell `spell` over (a resume of any other spell is stale). */
  | { readonly type: 'worker/resumed'; readonly workerId: WorkerId; readonly spell?: number }
  | { readonly type: 'worker/kill-requested'; readonly workerId: WorkerId; readonly reason: WorkerExitReason }
  /**
   * The raylet would end this idle task worker (the node has more than its soft limit of them): the
   * worker answers `worker/exit-agreed` when it owns nothing (no task, object, lease, get or borrowed
   * ref), and nothing otherwise. `turn` names the idle spell asked about (`RayletWorker.idleTurn`).
   */
  | { readonly type: 'worker/exit-requested'; readonly workerId: WorkerId; readonly turn: number }
  /** The worker owns nothing and may be ended, if it is still idle in spell `turn`. */
  | { readonly type: 'worker/exit-agreed'; readonly workerId: WorkerId; readonly turn: number };

/** Object store protocol, workers and raylets. */
export type StoreMessage =
  | { readonly type: 'object/put-requested'; readonly objectId: ObjectId; readonly owner: WorkerId; readonly data: unknown; readonly sizeBytes: number; readonly refs: readonly RefMarker[] }
  | { readonly type: 'object/put-acked'; readonly objectId: ObjectId }
  | { readonly type: 'object/put-rejected'; readonly objectId: ObjectId; readonly reason: string }
  | { readonly type: 'object/fetch-requested'; readonly objectId: ObjectId; readonly requester: Address }
  | { readonly type: 'object/fetched'; readonly objectId: ObjectId; readonly data: unknown; readonly sizeBytes: number; readonly refs: readonly RefMarker[] }
  | { readonly type: 'object/fetch-failed'; readonly objectId: ObjectId; readonly nodeId: NodeId }
  | { readonly type: 'object/free-requested'; readonly objectIds: readonly ObjectId[] }
  /** Raylet to owner: this node keeps a copy of the owner's object now (pulled from another node). */
  | { readonly type: 'object/copy-added'; readonly objectId: ObjectId; readonly nodeId: NodeId };

/** Owner to owner: pushing tasks, asking for object status, borrowing. */
export type OwnerMessage =
  | {
      readonly type: 'task/pushed';
      readonly spec: TaskSpec;
      readonly attempt: number;
      readonly leaseId: LeaseId;
      readonly args: readonly ResolvedArg[];
      /**
       * For a pipelined push, the task attempt pushed just before it on the same lease: the worker runs
       * its tasks in the owner's order, so a push that overtook that one goes back unrun.
       */
      readonly after?: { readonly taskId: TaskId; readonly attempt: number };
    }
  | {
      readonly type: 'actor-task/pushed';
      readonly spec: TaskSpec;
      readonly attempt: number;
      readonly caller: WorkerId;
      /** The actor incarnation this call was numbered for. */
      readonly restartCount: number;
      readonly seqNo: number;
      readonly args: readonly ResolvedArg[];
    }
  | {
      readonly type: 'task/replied';
      readonly taskId: TaskId;
      readonly attempt: number;
      readonly workerId: WorkerId;
      readonly nodeId: NodeId;
      readonly result: TaskResult;
      /** Borrows of objects owned by the receiver that the sender gives up with this reply. */
      readonly releasedBorrows: readonly ObjectId[];
    }
  | { readonly type: 'task/cancel-requested'; readonly taskId: TaskId; readonly recursive: boolean }
  | { readonly type: 'object/status-requested'; readonly objectId: ObjectId; readonly requester: WorkerId }
  | { readonly type: 'object/status-replied'; readonly objectId: ObjectId; readonly outcome: { readonly kind: 'value'; readonly payload: Payload } | { readonly kind: 'error'; readonly error: ErrorInfo } }
  /** `borrower` now holds a ref to `objectId`; the owner acknowledges so the sender may drop its own hold. */
  | { readonly type: 'borrow/added'; readonly objectId: ObjectId; readonly borrower: WorkerId; readonly ackTo: WorkerId; readonly ackId: string }
  | { readonly type: 'borrow/add-acked'; readonly ackId: string }
  | { readonly type: 'borrow/released'; readonly objectId: ObjectId; readonly borrower: WorkerId };

/** GCS protocol: nodes, jobs, actors, and what the GCS publishes. */
export type GcsMessage =
  /** `transferAddress`, when given, is the `host:port` where the node takes direct connections from other nodes for moving objects. */
  | { readonly type: 'node/registered'; readonly nodeId: NodeId; readonly resources: Resources; readonly transferAddress?: string }
  /** `demand`, when any lease waits at the raylet (absent otherwise), is for state queries only. */
  | { readonly type: 'node/heartbeat'; readonly nodeId: NodeId; readonly available: Resources; readonly demand?: readonly ResourceDemand[] }
  /** The GCS considers the receiver dead; a raylet that hears this of itself shuts down. */
  | { readonly type: 'node/died'; readonly nodeId: NodeId }
  | { readonly type: 'cluster/view-published'; readonly nodes: readonly { readonly nodeId: NodeId; readonly total: Resources; readonly available: Resources; readonly transferAddress?: string }[] }
  | { readonly type: 'worker/died'; readonly workerId: WorkerId; readonly nodeId: NodeId; readonly reason: WorkerExitReason }
  | { readonly type: 'job/registration-requested'; readonly driverId: WorkerId; readonly namespace: string }
  | { readonly type: 'job/registration-replied'; readonly jobId: JobId }
  | { readonly type: 'job/finished'; readonly jobId: JobId }
  /** The GCS's end of the job is durable: a connected driver waits for this before it disconnects. */
  | { readonly type: 'job/finish-acked'; readonly jobId: JobId }
  | { readonly type: 'actor/registration-requested'; readonly spec: ActorSpec }
  | { readonly type: 'actor/registration-replied'; readonly requestedActorId: ActorId; readonly actorId: ActorId; readonly error?: string }
  | { readonly type: 'actor/lookup-requested'; readonly requestId: string; readonly name: string; readonly namespace: string; readonly requester: WorkerId }
  | { readonly type: 'actor/lookup-replied'; readonly requestId: string; readonly actorId?: ActorId; readonly spec?: ActorSpec }
  | { readonly type: 'actor/subscribed'; readonly actorId: ActorId; readonly subscriber: WorkerId }
  /**
   * GCS to an actor's owner: a process subscribed to an actor the GCS does not know, whose
   * registration may still be on its way, or may have been forgotten (a dead actor, or a getIfExists
   * answer, past the GCS's bounds). Only the owner can tell which.
   */
  | { readonly type: 'actor/status-requested'; readonly actorId: ActorId }
  /**
   * The owner's answer, sent only when no registration of the actor is on its way: the existing actor
   * a getIfExists creation stands for (`aliasOf`), or none, with why it died when the owner knows.
   */
  | { readonly type: 'actor/status-replied'; readonly actorId: ActorId; readonly aliasOf?: ActorId; readonly deathCause?: string }
  | {
      readonly type: 'actor/state-changed';
      readonly actorId: ActorId;
      readonly state: ActorState;
      readonly restartCount: number;
      readonly workerId?: WorkerId;
      readonly nodeId?: NodeId;
      readonly deathCause?: string;
      /** What the constructor threw, when that is why the actor is dead. */
      readonly deathError?: ThrownInfo;
      readonly spec?: ActorSpec;
    }
  /** GCS to an actor's owner: the raylet holding the actor's lease said no alive node can ever fit it (the actor stays PENDING). */
  | { readonly type: 'actor/infeasible'; readonly actorId: ActorId; readonly restartCount: number; readonly reason: string }
  | { readonly type: 'actor/kill-requested'; readonly actorId: ActorId; readonly noRestart: boolean }
  | { readonly type: 'actor/creation-pushed'; readonly spec: ActorSpec; readonly restartCount: number; readonly leaseId: LeaseId }
  | { readonly type: 'actor/creation-replied'; readonly actorId: ActorId; readonly restartCount: number; readonly workerId: WorkerId; readonly error?: ErrorInfo }
  /** The owner of a non-detached actor freed its handle object: no handle to the actor is reachable anywhere. */
  | { readonly type: 'actor/out-of-scope'; readonly actorId: ActorId }
  /** GCS to the actor's worker: run the instance's dispose method, then answer `actor/disposed`. */
  | { readonly type: 'actor/dispose-requested'; readonly actorId: ActorId; readonly restartCount: number }
  /** The actor's worker ran (or had nothing to run as) the instance's dispose method. */
  | { readonly type: 'actor/disposed'; readonly actorId: ActorId; readonly restartCount: number; readonly workerId: WorkerId };

/** A node as a state query reports it: alive or declared dead, with its total and available resources. */
export interface NodeReport {
  readonly nodeId: NodeId;
  readonly alive: boolean;
  readonly total: Resources;
  readonly available: Resources;
  /** The leases waiting at the node's raylet, by shape, as of its last heartbeat (absent when none). */
  readonly demand?: readonly ResourceDemand[];
}

/** A job as a state query reports it: its driver, namespace, and whether it still runs. */
export interface JobReport {
  readonly jobId: JobId;
  readonly driverId: WorkerId;
  readonly namespace: string;
  readonly alive: boolean;
}

/**
 * State queries of tools (`tsray status`, `tsray list`): read-only, answered by the shell that holds
 * the component from its current state, so they are no event of any reducer and change nothing.
 */
export type QueryMessage =
  | { readonly type: 'cluster/nodes-requested'; readonly requestId: string; readonly requester: Address }
  | {
      readonly type: 'cluster/nodes-replied';
      readonly requestId: string;
      readonly nodes: readonly NodeReport[];
      /** Actors the GCS holds unplaced because no alive node can ever fit them, by shape (absent when none). */
      readonly pendingActors?: readonly ResourceDemand[];
    }
  | { readonly type: 'cluster/jobs-requested'; readonly requestId: string; readonly requester: Address }
  | { readonly type: 'cluster/jobs-replied'; readonly requestId: string; readonly jobs: readonly JobReport[] }
  /** A tool to the head's state address (`state:<head node>`): gather tasks, actors and objects from every live node. */
  | { readonly type: 'state/cluster-requested'; readonly requestId: string; readonly requester: Address; readonly limit: number; readonly filters?: StateFilters }
  | { readonly type: 'state/cluster-replied'; readonly requestId: string; readonly report: ClusterStateReport }
  /** The head to a node's state address: what its owners and its store hold. */
  | { readonly type: 'state/node-requested'; readonly requestId: string; readonly requester: Address; readonly limit: number; readonly filters?: StateFilters }
  | { readonly type: 'state/node-replied'; readonly requestId: string; readonly report: NodeStateReport }
  /** A node to a driver attached to it (at the driver's worker address): what the driver owns. */
  | { readonly type: 'state/owner-requested'; readonly requestId: string; readonly requester: Address; readonly limit: number; readonly filters?: StateFilters }
  | { readonly type: 'state/owner-replied'; readonly requestId: string; readonly report: OwnerStateReport }
  /** A tool to a node's state address or a driver: commit its event logs and list them. */
  | { readonly type: 'logs/index-requested'; readonly requestId: string; readonly requester: Address }
  | { readonly type: 'logs/index-replied'; readonly requestId: string; readonly source: Address; readonly logs: readonly LogIndexEntry[]; readonly error?: string }
  /** A tool asks for one log's events from `fromSeq` to `toSeq`, at most about `maxBytes` of them (at least one). */
  | { readonly type: 'logs/events-requested'; readonly requestId: string; readonly requester: Address; readonly address: Address; readonly fromSeq: number; readonly toSeq: number; readonly maxBytes: number }
  | { readonly type: 'logs/events-replied'; readonly requestId: string; readonly address: Address; readonly events: readonly LogEventRecord[]; readonly error?: string };

/** One condition of a state query: the field `key` of an entry equals `value` (for a list field, holds it), compared as text. */
export interface StateFilter {
  readonly key: string;
  readonly value: string;
}

/** The conditions a listed entry of each kind must meet, all of them (as `ray list --filter`). */
export interface StateFilters {
  readonly tasks?: readonly StateFilter[];
  readonly actors?: readonly StateFilter[];
  readonly objects?: readonly StateFilter[];
}

/** A task as a cluster state query reports it (as `state.listTasks`). */
export interface TaskReport {
  readonly taskId: TaskId;
  readonly name: string;
  readonly state: string;
  readonly attempt: number;
  readonly nodeId: NodeId | null;
  readonly error?: string;
  /** What a pending task waits for (absent from a node of an earlier version). */
  readonly waitingFor?: string;
}

/**
 * A task as the worker that hosts it reports it, so that a listing can follow a running task's wait
 * across workers (core/owner/wait-chain.ts): whether its code waits in a get, or the call queues.
 */
export interface HostedTaskReport {
  readonly taskId: TaskId;
  readonly name: string;
  readonly attempt: number;
  readonly workerId: WorkerId;
  /** `running`: started on this worker; `queued`: waits there for a turn. */
  readonly phase: 'running' | 'queued';
  /** Queued only: the running task it waits behind (absent: it waits for an earlier call of its caller). */
  readonly behind?: TaskId;
  /** Running only: the objects a get inside it still waits for (the first of them, when there are many). */
  readonly waitsInGetFor?: readonly ObjectId[];
  /** How many objects its gets wait for, when more than `waitsInGetFor` names. */
  readonly waitsInGetCount?: number;
}

/** An actor as a cluster state query reports it (as `state.listActors`). */
export interface ActorReport {
  readonly actorId: ActorId;
  readonly className: string;
  readonly name?: string;
  readonly state: string;
  readonly restarts: number;
  readonly nodeId: NodeId | null;
  readonly deathCause?: string;
}

/** An object as a cluster state query reports it (as `state.listObjects`). */
export interface ObjectReport {
  readonly objectId: ObjectId;
  readonly size: number | null;
  readonly owner: WorkerId;
  readonly refTypes: readonly string[];
  readonly nodeIds: readonly NodeId[];
}

/** The objects of one owner that hold one kind of reference, counted over all of them (not only those listed). */
export interface ReferenceSummary {
  readonly refType: string;
  readonly count: number;
  /** The sizes known (a pending object has none yet). */
  readonly sizeBytes: number;
}

/** What one owner (a driver or a worker) holds: its newest tasks and objects up to the query's limit, and the totals. */
export interface OwnerStateReport {
  readonly owner: WorkerId;
  readonly tasks: readonly TaskReport[];
  readonly taskCount: number;
  readonly objects: readonly ObjectReport[];
  readonly objectCount: number;
  readonly references: readonly ReferenceSummary[];
  /** The tasks this owner hosts as a worker, up to the query's limit (absent from a node of an earlier version). */
  readonly hosted?: readonly HostedTaskReport[];
}

/** What one node holds: its store's usage and its owners' reports; owners that did not answer in time are named. */
export interface NodeStateReport {
  readonly nodeId: NodeId;
  readonly store: {
    readonly usedBytes: number;
    readonly capacityBytes: number;
    readonly objectCount: number;
    /** Bytes of the node's spill space in use, and its capacity (absent from a node of an earlier version). */
    readonly spilledBytes?: number;
    readonly spillCapacityBytes?: number;
    /** The objects in the spill space (up to the query's limit), for listings to say so. */
    readonly spilledObjectIds?: readonly ObjectId[];
  };
  readonly owners: readonly OwnerStateReport[];
  readonly silentOwners: readonly WorkerId[];
}

/** The head's answer: the actors the GCS knows, every node that answered, and those that did not. */
export interface ClusterStateReport {
  readonly actors: readonly ActorReport[];
  readonly actorCount: number;
  readonly nodes: readonly NodeStateReport[];
  readonly unanswered: readonly { readonly nodeId: NodeId; readonly reason: string }[];
}

/** One event log a node or driver keeps: whose it is, its last event, and the live state hashes recorded in it. */
export interface LogIndexEntry {
  readonly address: Address;
  readonly component: 'gcs' | 'raylet' | 'owner';
  readonly lastSeq: number;
  /** `[seq, hash]` pairs. */
  readonly liveHashes: readonly (readonly [number, string])[];
}

/** One logged event as it travels: its seq, time, and the event in trace form (stable JSON). */
export interface LogEventRecord {
  readonly seq: number;
  readonly atMs: number;
  readonly json: string;
  /** The earlier event of the same log that its shell recorded as having led to this one, if any. */
  readonly parent?: number;
}

/**
 * Object transfer between processes, as the live shells carry it (no reducer receives these): the
 * reader's side asks the process that holds a stored object for one chunk of its bytes at a time,
 * and the holder answers with the bytes or says why it cannot. `pullId` names one attempt, so that
 * replies to an attempt given up are told apart; `totalBytes` is the holder's size of the whole
 * object, which the reader checks against the size it was told.
 */
export type TransferMessage =
  | { readonly type: 'object/chunk-requested'; readonly objectId: ObjectId; readonly pullId: string; readonly offset: number; readonly lengthBytes: number; readonly requester: Address }
  | { readonly type: 'object/chunk-sent'; readonly objectId: ObjectId; readonly pullId: string; readonly offset: number; readonly totalBytes: number; readonly bytes: unknown }
  | { readonly type: 'object/chunk-failed'; readonly objectId: ObjectId; readonly pullId: string; readonly reason: string };

/** Every message of the system. */
export type Message = LeaseMessage | StoreMessage | OwnerMessage | GcsMessage | QueryMessage | TransferMessage;

/** The envelope the transport adds: who sent it, from which incarnation, with which sequence number. */
export interface Via {
  readonly from: Address;
  /** The sender's incarnation: a restarted GCS keeps its address but not its old sequence numbers. */
  readonly incarnation: number;
  readonly seq: number;
  /**
   * The seq, in the sender's own event log, of the event whose effect sent this message (live runs
   * only). `tsray trace collect` orders the receiver's event after it and names it as the parent.
   */
  readonly cause?: number;
}

/** A message as delivered: the message plus its envelope. */
export type Delivered<M extends Message> = M & { readonly via: Via };

/** The message variants whose `type` is in `T`. */
export type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;
