/**
 * The owner's state: what it owns (tasks, objects, lineage), what it borrows, its leases, its view
 * of actors it calls, and (as a worker) what it is executing. Plain data, keyed by id, so that it
 * hashes stably and runs under immer as well as mutably.
 */
import { emptyFifo } from '../fifo.js';
import type { Fifo } from '../fifo.js';
import type { ActorId, LeaseId, NodeId, ObjectId, TaskId, WorkerId } from '../ids.js';
import type { Inbox } from '../inbox.js';
import { readField } from '../own-copies.js';
import type { ActorSpec, ActorState, MessageOf, ResolvedArg, SchedulingStrategy, TaskArg, TaskSpec, WorkerExitReason } from '../protocol.js';
import type { Resources } from '../resources.js';
import { emptyTable } from '../table.js';
import type { Table } from '../table.js';
import type { ErrorInfo, Payload, RefMarker, ThrownInfo } from '../values.js';
import type { ValueData } from './events.js';

/** Limits and thresholds of one owner. */
export interface OwnerConfig {
  /** Values at or above this size go to the node's shared-memory store instead of travelling inline. */
  readonly inlineThresholdBytes: number;
  /** At most this many outstanding lease requests per scheduling class (Ray's pipelining bound). */
  readonly maxLeaseRequestsPerClass: number;
  /** Back-off before asking again after a raylet turned a lease request away for now. */
  readonly leaseRetryDelayMs: number;
  /** Bound on actor calls buffered out of order at an actor, per caller. */
  readonly maxBufferedCallsPerCaller: number;
  /**
   * Bound on the replies kept to answer duplicate pushes. The inbox already drops a message the
   * transport delivered twice, so the cache answers only a push its owner sent again, and lets a
   * pipelined push find the reply of the task it follows, which is always one of the latest.
   */
  readonly maxReplyCache: number;
  /** Bound on how often a task is re-run because an argument vanished under it. */
  readonly maxArgLostRetries: number;
  /** Bound on tasks owned at once (submitted and not yet forgotten). */
  readonly maxOwnedTasks: number;
  /**
   * How long an idle lease is kept for the next task of its class before it goes back (0: at once).
   * Keeping it saves a raylet round trip per task when tasks are submitted one after another.
   */
  readonly leaseIdleMs: number;
  /**
   * How long the body of a task cancelled while running may go on before its worker is ended (the
   * worker is reused only once the body settles).
   */
  readonly cancelGraceMs: number;
  /**
   * How many tasks an owner may have pushed to one leased worker at once (absent: 1). Above 1, once
   * a class queues more tasks than it has leases, the tasks beyond the one running are pipelined: the
   * worker queues them and runs them one after another, saving a round trip per task (Ray pipelines
   * pushes to a lease the same way).
   */
  readonly maxTasksInFlightPerLease?: number;
  /**
   * How long a lease whose worker died with tasks pipelined on it waits for replies the worker sent
   * before it died (absent: 1 s); then the first task without a reply counts as the one the worker
   * died running, and the tasks behind it, which never started, are queued again.
   */
  readonly lostLeaseGraceMs?: number;
}

/**
 * Bound on the cancels a worker keeps for tasks not (yet) pushed to it (`cancelledEarly`). It was
 * the reply cache's, 1,024, in every recorded config, and stayed that when the reply cache got smaller.
 */
export const maxCancelledEarly = 1024;

/**
 * Bound on the dead workers an owner remembers (`deadWorkers`), the oldest forgotten first, with what
 * its inbox kept of each: as many as a raylet tells a process that joins it about (its
 * `maxDeadOwners`), so an owner knows of no fewer deaths than one that started after them. Unbounded,
 * a driver that creates and kills actors as it goes grew by an entry here and a window in its inbox
 * per actor, for as long as it ran.
 */
export const maxDeadWorkers = 4096;

/** How many resolved getIfExists creations an owner remembers (`OwnerState.aliases`), as the GCS remembers its redirects. */
export const maxRememberedAliases = 4096;

/** Defaults that suit the simulator and the embedded runtime. */
export const defaultOwnerConfig: OwnerConfig = {
  inlineThresholdBytes: 100 * 1024,
  maxLeaseRequestsPerClass: 10,
  leaseRetryDelayMs: 100,
  maxBufferedCallsPerCaller: 4096,
  // A kept reply lives as long as the next 64 tasks take: at 1,024 most of them (with their task ids
  // and payloads) outlived a young-generation collection, and a worker's scavenges copied and
  // promoted about 430 bytes a tiny task, about a fifth of its CPU in P1 (see `maxReplyCache`).
  maxReplyCache: 64,
  maxArgLostRetries: 10,
  maxOwnedTasks: 1_000_000,
  leaseIdleMs: 0,
  cancelGraceMs: 5_000,
};

/** The states of a task as API.md lists them. */
export type TaskState = 'PENDING_ARGS' | 'PENDING_NODE' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'CANCELLED';

/**
 * What the tasks of one remote function, with one set of options, submitted during one parent task,
 * all repeat: kept once and shared by their specs, because a driver may hold a million pending tasks
 * of one function (P5 in bench/), and these fields inside each spec cost about 60 bytes a task.
 */
export type TaskFunction = Omit<TaskSpec, 'taskId' | 'args' | 'returnIds'>;

/**
 * An owned task's spec as the owner keeps it: what `TaskSpec` says, with the fields every task of its
 * function repeats in a shared `fn`, and one argument and one return id (the usual case) as
 * themselves rather than in lists of one (56 bytes each). `taskSpecOf` gives the `TaskSpec` a push
 * carries.
 */
export interface OwnedSpec {
  readonly taskId: TaskId;
  readonly fn: TaskFunction;
  /** The arguments: one as itself, more (or none) as a list (read through `argsOf`). */
  readonly args: TaskArg | readonly TaskArg[];
  /** The return ids: one as itself, more (or none) as a list (read through `returnIdsOf`). */
  readonly returnIds: ObjectId | readonly ObjectId[];
}

/** The arguments of an owned task's spec, as a list. */
export function argsOf(spec: OwnedSpec): readonly TaskArg[] {
  return Array.isArray(spec.args) ? (spec.args as readonly TaskArg[]) : [spec.args as TaskArg];
}

/** The return ids of an owned task's spec, as a list. */
export function returnIdsOf(spec: OwnedSpec): readonly ObjectId[] {
  return typeof spec.returnIds === 'string' ? [spec.returnIds] : spec.returnIds;
}

/** The first return id of an owned task's spec (the one its lineage is found by), if it has any. */
export function firstReturnIdOf(spec: OwnedSpec): ObjectId | undefined {
  return typeof spec.returnIds === 'string' ? spec.returnIds : spec.returnIds[0];
}

/** The `TaskSpec` of an owned task's spec, as pushes carry it (its fields in the order submissions always made them). */
export function taskSpecOf(spec: OwnedSpec): TaskSpec {
  const fn = spec.fn;
  // One literal, then the optional fields added in place (in the order submissions make them): a
  // spread into a second object copied every field of an actor call's spec, the case pushed most.
  const taskSpec: { -readonly [Key in keyof TaskSpec]: TaskSpec[Key] } = {
    taskId: spec.taskId,
    jobId: fn.jobId,
    owner: fn.owner,
    returnIds: typeof spec.returnIds === 'string' ? [spec.returnIds] : spec.returnIds,
    name: fn.name,
    functionId: fn.functionId,
    args: argsOf(spec),
    resources: fn.resources,
    maxRetries: fn.maxRetries,
    retryExceptions: fn.retryExceptions,
    strategy: fn.strategy,
  };
  if (fn.parentTaskId !== undefined) taskSpec.parentTaskId = fn.parentTaskId;
  if (fn.actor !== undefined) taskSpec.actor = fn.actor;
  return taskSpec;
}

/** A task this process submitted (and keeps as lineage while its returns live). */
export interface OwnedTask {
  spec: OwnedSpec;
  /** 'task', an actor method call, or the creation of an actor (which holds its args while it may restart). */
  kind: 'task' | 'actor-task' | 'actor-creation';
  state: TaskState;
  /** 1 for the first run; bumped by each retry and each reconstruction. */
  attempt: number;
  leaseId?: LeaseId;
  workerId?: WorkerId;
  nodeId?: NodeId;
  /** The actor incarnation an actor call was sent to. */
  sentToRestart?: number;
  error?: ErrorInfo;
  cancelRequested?: 'force' | 'graceful';
  argLostRetries: number;
  /** Whether the arg refs are still held as submitted-task refs (false once converted to lineage refs). */
  holdsArgs: boolean;
  /** For an actor call: the actor's handle object, held with the args so a call in flight keeps the actor. */
  handleRef?: RefMarker;
  /** The object ids of top-level ref args not yet available (absent until one is waited for). */
  waitingFor?: ObjectId[];
  /** Resolved values of ref args, by object id, once known (absent until the first resolves: a queued task carries nothing it does not use). */
  resolved?: Record<ObjectId, Payload>;
}

/** An object this process owns. */
export interface OwnedObject {
  objectId: ObjectId;
  /** pending: not produced yet; ready; failed; evicted: value dropped, only lineage refs remain. */
  state: 'pending' | 'ready' | 'failed' | 'evicted';
  payload?: Payload;
  error?: ErrorInfo;
  /** Handles held by this process's code. */
  localRefs: number;
  /** Pending tasks of this owner that take it as an argument. */
  submittedRefs: number;
  /** Finished tasks kept for lineage that take it as an argument. */
  lineageRefs: number;
  /** Owned objects whose value contains a ref to this one (absent until one does). */
  containedIn?: ObjectId[];
  /**
   * Other processes that hold a ref to it. This and the fields below that most objects never use are
   * absent until first used, so that a million pending tasks' return objects stay small.
   */
  borrowers?: WorkerId[];
  /**
   * Per borrower, the link sequence number of the latest borrow message it sent about this object:
   * a release overtaken by a newer registration (or the reverse) is recognised as stale.
   */
  borrowerSeqs?: Record<WorkerId, number>;
  /** Borrowers waiting for its value (status requests). */
  statusWaiters?: WorkerId[];
  /** Tasks and actor creations of this owner waiting for it (absent until one waits). */
  dependents?: TaskId[];
  /** The refs its value contains (kept so freeing it releases them); absent when it contains none. */
  contains?: RefMarker[];
  /**
   * The pending gets and waits of this owner that include it: one id as itself (most objects have
   * one get waiting, and a driver may queue a million), more as a list. Made with the object (as
   * undefined), so that setting it takes a slot inside the object rather than a property array.
   */
  retrievals?: string | string[];
}

/** A ref this process holds to an object owned by another process. */
export interface BorrowedRef {
  objectId: ObjectId;
  owner: WorkerId;
  localRefs: number;
  submittedRefs: number;
  /** Owned objects whose value contains it. */
  containedIn: ObjectId[];
  /** Pending gets that need it: they hold it until they settle. */
  transientHolds: number;
  /** Whether the owner knows this process borrows it. */
  registration: 'none' | 'pending' | 'registered';
  /** What this process knows of its value. */
  status: 'unknown' | 'requested' | 'ready' | 'failed';
  payload?: Payload;
  error?: ErrorInfo;
  /** Release once the pending registration is acknowledged. */
  releaseWhenAcked?: boolean;
  /** Tasks and actor creations of this owner waiting for its value. */
  dependents: TaskId[];
  /** Reads of its value that found no live copy, while the owner may still be rebuilding it (bounded). */
  fetchFailures: number;
}

/** A worker lease held or requested for a scheduling class. */
export interface OwnedLease {
  leaseId: LeaseId;
  classKey: string;
  /** The node whose raylet has the request, or that granted it. */
  nodeId: NodeId;
  state: 'requested' | 'granted';
  workerId?: WorkerId;
  /** The task its worker runs (or, while `draining`, the cancelled task whose body it still runs). */
  runningTaskId?: TaskId;
  /** Tasks pushed behind `runningTaskId` (see maxTasksInFlightPerLease), which the worker queues, in order. */
  pipelined?: TaskId[];
  /**
   * Its worker handed back the tasks queued behind its running task (that task blocked in a get, and
   * the queued ones must not wait for it): no more are pipelined to it until that task replies.
   */
  handedBack?: boolean;
  /**
   * Its worker died while tasks were pipelined on it: replies it sent before it died may still come,
   * and say which task it was running (the first one without a reply). Set for `lostLeaseGraceMs`.
   */
  lost?: WorkerExitReason;
  spillbackCount: number;
  /** A force-cancel asked for its worker's death: it is never given another task, and goes back with the worker ended. */
  doomed?: boolean;
  /** The raylet holding the request said no alive node can ever fit it, and why (until it spills). */
  infeasible?: string;
  /** Set while an idle lease waits (leaseIdleMs) for another task before it goes back. */
  idleSince?: boolean;
  /**
   * Its raylet asked for it back (`lease/return-requested`: leases queued there wait for what it
   * holds): it goes back as soon as it is idle, without waiting leaseIdleMs.
   */
  returnAsked?: true;
  /**
   * Its task was cancelled while running: the task has ended for its callers, but the worker still
   * runs the body. The lease is free again when the worker replies, or is ended after cancelGraceMs.
   */
  draining?: boolean;
}

/** Tasks grouped by what lease they can share: resource shape and placement. */
export interface SchedulingClass {
  key: string;
  resources: Resources;
  strategy: SchedulingStrategy;
  /** Tasks ready to run, in submission order. */
  queue: Fifo<TaskId>;
  /** Its leases, granted or still asked for, in the order they were asked for. */
  leases: LeaseId[];
  /**
   * Those of `leases` that are granted, in the same order: what `pump` and `pipeline` walk at every
   * submission and reply. While a class queues many tasks, most of its leases are requests still
   * waiting at a raylet (up to maxLeaseRequestsPerClass), and walking them all cost 11-12 lookups
   * in the leases' record per pump in P1 of bench/.
   */
  granted: LeaseId[];
  retryArmed: boolean;
}

/** What this process knows of an actor it created or holds a handle to. */
export interface ActorView {
  actorId: ActorId;
  /** Set when the GCS answered a named creation with an existing actor: calls go to that one. */
  aliasOf?: ActorId;
  isOwner: boolean;
  state: ActorState;
  restartCount: number;
  workerId?: WorkerId;
  nodeId?: NodeId;
  deathCause?: string;
  /** What the constructor threw, when that is why the actor is dead. */
  deathError?: ThrownInfo;
  /** Why no node can ever host it, while it waits for one (the GCS passed on its raylet's word). */
  infeasible?: string;
  maxTaskRetries: number;
  /** Calls in submission order not yet sent (waiting for args, or for the actor to be alive). */
  queue: Fifo<TaskId>;
  /** Calls sent to the current incarnation, awaiting a reply. */
  inflight: TaskId[];
  /** The next sequence number for this caller in the current incarnation. */
  nextSeqNo: number;
  /** The incarnation `nextSeqNo` counts for. */
  seqRestartCount: number;
  subscribed: boolean;
  creationTaskId?: TaskId;
  /** The owner only: the GCS registered the actor under this id (so it can hear that its handles are gone). */
  registered?: boolean;
  /**
   * The owner only, for a counted creation the GCS answered with an existing actor or an error: the
   * GCS holds that answer for other processes given the handle until told no handle is left.
   */
  redirected?: boolean;
  /** The owner only: the actor's handle object was freed, so no handle to it is reachable. */
  handlesGone?: boolean;
  /** The owner only, for a creation the GCS resolved to an existing actor: that actor's handle object, held while this one lives. */
  aliasHold?: RefMarker;
  /** The creation options, kept by the owner until the spec is sent to the GCS. */
  creation?: import('./events.js').ActorCreation;
  spec?: ActorSpec;
}

/** A task (or actor call) this worker is running or preparing to run. */
export interface Execution {
  spec: TaskSpec;
  attempt: number;
  /** Who to reply to: the owner of the task (for actor calls, the caller). */
  replyTo: WorkerId;
  /** The resolved args as pushed: the push's own list, kept as it is (as `spec` is), not a copy per task. */
  args: readonly ResolvedArg[];
  /**
   * Stored arg values fetched so far (absent until the first arrives: most tasks take only inline
   * args, and an empty record made for every push was about 40 bytes a task).
   */
  fetched?: Record<ObjectId, ValueData>;
  /** `queued`: a pipelined task waiting, in push order, for the task this worker runs to reply. */
  phase: 'queued' | 'fetching' | 'running' | 'storing' | 'registering';
  interrupted: boolean;
  /** Return payloads as they become ready (stored ones after their put is acknowledged). */
  results?: (Payload | undefined)[];
  resultError?: ErrorInfo;
  /**
   * Borrower registrations for returned refs that must be acknowledged before replying (absent while
   * there are none: most tasks return no refs a third process owns, and an empty list made for every
   * push was about 30 bytes a task).
   */
  pendingAcks?: string[];
  actorSeq?: { caller: WorkerId; seqNo: number };
  /** The lease a `queued` (pipelined) task was pushed under, which becomes the current one when it starts. */
  leaseId?: LeaseId;
}

/** An actor call that arrived and waits for its turn (its sequence number) or for a concurrency slot. */
export interface PendingCall {
  /** Its execution key (`executionKey`). */
  key: string;
  spec: TaskSpec;
  attempt: number;
  caller: WorkerId;
  seqNo: number;
  args: readonly ResolvedArg[];
}

/** Per caller, the order state of an actor's incoming calls. */
export interface CallerOrder {
  nextSeqNo: number;
  /** Calls that arrived ahead of their turn, by sequence number. */
  buffered: Record<string, PendingCall>;
}

/** The actor instance this worker hosts, if any. */
export interface ActorInstance {
  spec: ActorSpec;
  restartCount: number;
  phase: 'fetching' | 'constructing' | 'ready' | 'failed';
  fetched: Record<ObjectId, ValueData>;
  callers: Record<WorkerId, CallerOrder>;
  /**
   * Admitted calls waiting for a concurrency slot, in admission order: the calls themselves, not
   * their keys into a record of pending calls by execution key, where each call's fresh key was
   * interned on arrival and deleted again when it ran (about 0.7 µs a call, 100 in flight in P3).
   */
  runnable: PendingCall[];
  running: number;
  creationError?: ErrorInfo;
}

/** A pending `get`. Its flags and cursor are absent until first set (absent: false, and 0). */
export interface PendingGet {
  getId: string;
  /** What it waits for: one ref (the usual get, of which a driver may hold a million) as itself, more as a list (read through `getRefs`). */
  refs: RefMarker | RefMarker[];
  inTaskId?: TaskId;
  /** Whether this worker told its raylet it is blocked (and must wait for `worker/resumed`). */
  blocked?: boolean;
  /** Refs before this index were seen available; scanning resumes here (availability rarely reverts). */
  cursor?: number;
  /** Set once every ref resolved while blocked: the outcome waits for `worker/resumed`. */
  awaitingResume?: boolean;
}

/**
 * The refs a pending get waits for, as a list. Read without immer drafting them (`readField`): a read
 * of one ref of a draft's list has immer copy the whole list, and a get of 5,000 refs is scanned at
 * every object it sees settle (15% of a simulated script that got 5,000 tasks at once). The list is
 * never changed once made.
 */
export function getRefs(get: PendingGet): readonly RefMarker[] {
  const refs = readField(get, 'refs') as PendingGet['refs'];
  return Array.isArray(refs) ? refs : [refs];
}

/** A pending `wait`. */
export interface PendingWait {
  waitId: string;
  refs: RefMarker[];
  numReturns: number;
  /**
   * At least how many refs have settled: exact after each full scan, then one more per settled object
   * reported, and `repeats` more for refs named twice. A scan over every ref runs only once this
   * reaches `numReturns`, so a wait on n refs costs O(n log n) as they settle, not O(n^2).
   */
  settledAtLeast: number;
  /** How many refs name an object an earlier ref of this wait names. */
  repeats: number;
}

/** A data fetch from a node's store, for a get or an argument. */
export interface PendingFetch {
  objectId: ObjectId;
  nodeId: NodeId;
}

/** A borrower registration sent on someone's behalf, awaiting acknowledgement. */
export interface PendingAck {
  ackId: string;
  objectId: ObjectId;
  /** The execution key that waits for it, or undefined for a registration of this process itself. */
  executionKey?: string;
  /** The owner the registration went to (if it dies, the ack never comes). */
  owner: WorkerId;
  /** A ref held (one local ref) until this ack arrives, so the object stays alive meanwhile. */
  holdOuter?: RefMarker;
}

/** The whole state of one owner. */
export interface OwnerState {
  started: boolean;
  stopped: boolean;
  workerId: WorkerId;
  nodeId: NodeId;
  isDriver: boolean;
  jobId?: string;
  namespace: string;
  config: OwnerConfig;
  inbox: Inbox;
  counters: { task: number; put: number; actor: number; lease: number; ack: number };
  deadNodes: Record<NodeId, true>;
  deadWorkers: Record<WorkerId, true>;
  /** `deadWorkers` in the order they died, for forgetting the oldest past `maxDeadWorkers`. */
  deadWorkerOrder: WorkerId[];
  /**
   * getIfExists creations that the GCS resolved to an existing actor: the actor each stands for, the
   * latest `maxRememberedAliases`. A call or a kill by such an id whose view is gone (no counted
   * handle to it was left here, or it was detached) goes to that actor without asking the GCS again.
   */
  aliases: Record<ActorId, ActorId>;
  /** `aliases` in the order they were resolved, for forgetting the oldest. */
  aliasOrder: ActorId[];
  /**
   * The tables that grow with the work in flight are bucketed (core/table.ts), so that a step under
   * immer copies one bucket rather than every entry.
   */
  tasks: Table<OwnedTask>;
  objects: Table<OwnedObject>;
  borrowed: Table<BorrowedRef>;
  classes: Record<string, SchedulingClass>;
  leases: Record<LeaseId, OwnedLease>;
  actors: Record<ActorId, ActorView>;
  /**
   * Pending gets and waits, by id: tables too, as a driver may hold a million gets (P5 in bench/),
   * and a live shell keeps its tables in `Map`s, where a new id costs no key interned in a record.
   */
  gets: Table<PendingGet>;
  waits: Table<PendingWait>;
  /** Data of stored objects fetched for gets, by object id. */
  fetchedData: Record<ObjectId, ValueData>;
  fetches: Record<ObjectId, PendingFetch>;
  acks: Record<string, PendingAck>;
  /**
   * Values put into the local store awaiting acknowledgement: a put of this owner or a task return.
   * A return whose execution replied without it (it was cancelled) stays `orphaned` until its
   * acknowledgement, which then frees the copy: nothing else would ever free it. (A put whose refs
   * were all dropped meanwhile is freed the same way when it turns ready with no object to hold it.)
   */
  storing: Record<ObjectId, { sizeBytes: number; refs: RefMarker[]; executionKey?: string; index?: number; orphaned?: true }>;
  /**
   * What this worker runs, by execution key (`executionKey`: the task id for a first attempt,
   * `taskId#attempt` for a later one). A table, as every push adds a fresh id and every reply removes
   * it: in a record each new key was interned. Nothing walks it per push or per reply: what those
   * walks computed is kept beside it (`normalExecutions`, `queuedExecutions`).
   */
  executions: Table<Execution>;
  /**
   * How many of `executions` are normal tasks (not actor calls), queued or under way: a push starts
   * at once only when none is, and a reply starts the next queued one only when none is under way.
   */
  normalExecutions: number;
  /** The keys of the `queued` executions (pipelined tasks), in push order: the front one starts next. */
  queuedExecutions: Fifo<string>;
  /**
   * Replies already sent, to answer duplicate pushes (a table: every push looks up its fresh id here,
   * which in a record cost a string-table lookup). The reply message only: its recipient is the one a
   * duplicate push names again (the task's owner, or the actor call's caller).
   */
  replyCache: Table<CachedReply>;
  /** Keys of `replyCache`, oldest first, for eviction. */
  replyOrder: string[];
  /**
   * Pending gets and waits by the object ids they include, so a settled object wakes only those, for
   * the objects this owner had no record of when the get or wait began (an owned object's record
   * keeps its own, `OwnedObject.retrievals`): one id as itself, more as a list.
   */
  retrievalsByObject: Table<string | string[]>;
  /**
   * The shared part of the specs of the latest tasks submitted, by function id (see `TaskFunction`):
   * a submission whose fields match reuses it. Bounded by `maxSharedFunctions`.
   */
  functions: Record<string, TaskFunction>;
  /** Task ids cancelled here before their push arrived (bounded). */
  cancelledEarly: TaskId[];
  actor?: ActorInstance;
  /** Whether this worker told its raylet it is blocked in a get. */
  blockedInGet: boolean;
  /** How many spells of blocking this worker began: the last one's number, which its reports and its resume carry. */
  blockSpell: number;
  /** The lease this worker currently runs under, for blocked/unblocked reports. */
  currentLeaseId?: LeaseId;
  /**
   * The idle spell in which this task worker last declined its raylet's idle exit, because it owned
   * something (core/owner/idle-exit.ts): it agrees on its own, for that spell, once it owns nothing.
   * Absent otherwise.
   */
  exitDeclinedTurn?: number;
}

/**
 * A reply kept in the cache: the very `task/replied` message that was sent (which holds the task,
 * attempt and result), sent again for a duplicate push to the worker that push came from. Keeping
 * the message rather than the effect that carried it keeps one object less alive per reply (the
 * effect dies young; kept, it lived through the cache's 1,024 replies into the old generation).
 */
export type CachedReply = MessageOf<'task/replied'>;

/**
 * An empty record for entries keyed by ids that come and go (executions, gets, leases, replies):
 * one without a prototype, which V8 keeps as a hash table from the start. A plain `{}` takes a new
 * hidden class for every key added to it, and drops back to the empty one when its last key is
 * deleted, so a record that holds one execution or one get at a time made a new hidden class (and a
 * transition off the empty object's) for every task a worker ran and every get a driver made. Its
 * content, and so every hash and snapshot, is the same as a plain record's.
 */
export function idRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/** An owner before `owner/started`. */
export function initialOwnerState(): OwnerState {
  return {
    started: false,
    stopped: false,
    workerId: '',
    nodeId: '',
    isDriver: false,
    namespace: 'default',
    config: defaultOwnerConfig,
    inbox: {},
    counters: { task: 0, put: 0, actor: 0, lease: 0, ack: 0 },
    deadNodes: {},
    deadWorkers: {},
    deadWorkerOrder: [],
    aliases: {},
    aliasOrder: [],
    tasks: emptyTable(),
    objects: emptyTable(),
    borrowed: emptyTable(),
    classes: {},
    leases: idRecord(),
    actors: {},
    gets: emptyTable(),
    waits: emptyTable(),
    fetchedData: idRecord(),
    fetches: idRecord(),
    acks: {},
    storing: {},
    executions: emptyTable(),
    normalExecutions: 0,
    queuedExecutions: emptyFifo(),
    replyCache: emptyTable(),
    replyOrder: [],
    retrievalsByObject: emptyTable(),
    functions: idRecord(),
    cancelledEarly: [],
    blockedInGet: false,
    blockSpell: 0,
  };
}
