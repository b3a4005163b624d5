/**
 * The API of one owner process (the driver, or a worker running tasks): it turns calls into owner
 * events applied through the shell, hands back refs from the ids the recipe minted, and resolves
 * `get`/`wait` promises from the recipe's effects. A worker's runtime also runs what is pushed to it.
 */
import { nextPutObjectId, ownerCore, resolvedAliasHandle } from '../../core/owner/index.js';
import type { GetOutcome, OwnerEffect, OwnerEvent, OwnerState, ValueData } from '../../core/owner/index.js';
import { actorHandleObjectId, ownerOfActor, taskOfObject } from '../../core/ids.js';
import type { TaskArg } from '../../core/protocol.js';
import type { RefMarker } from '../../core/values.js';
import { errorFromInfo, GetTimeoutError, ObjectLostError, TsrayError } from '../errors.js';
import type { CodecHooks } from '../codec/index.js';
import { taskContext } from './context.js';
import type { TaskContext } from './context.js';
import { codecHooks, makeActorHandle, ObjectRef } from './handles.js';
import type { ActorHandleState, ActorOptions, TaskOptions } from './handles.js';
import type { Router } from './router.js';
import { ReplyPolling } from './work-polling.js';
import { ComponentShell } from './shell.js';
import type { FunctionDescriptor } from './shipping.js';
import type { ComponentLog } from '../store/event-log.js';
import { loggedOwnerEvent } from './log-elision.js';
import { PipelineDepth } from './pipeline-depth.js';
import { tableGet } from '../../core/table.js';
import type { MappedData, RemoteStoredData, StoredData } from './stored-values.js';
import { captureData, compactedData } from './stored-values.js';
import { bareSizeBytes, bareValueData, capturedValueData, checkFitsStore, fromValueData, isBareValue, noRefs, toValueData } from './values.js';
import type { EncodedData } from './values.js';
import { validateActorOptions, validateTaskOptions } from './validate.js';
import type { ValidMethodOptions } from './validate.js';
import { packedMap } from '../../core/packed-map.js';

/** How long a live owner keeps an idle lease. */
const liveLeaseIdleMs = 50;

/** Where a get that timed out on a running task sends the user: the listing follows the task's own waits. */
const runningWaitHint = 'tsray.state.listTasks() (or `tsray list tasks`) says what a running task waits for in turn, and names a deadlock if there is one';

/**
 * A fixed pipeline depth that `TSRAY_PIPELINE_DEPTH` asks for (to measure one depth against another,
 * or to pin pipelining in a test), or undefined when unset: then the depth follows how long this
 * owner's tasks take (see pipeline-depth.ts).
 */
export function fixedPipelineDepth(): number | undefined {
  const text = process.env['TSRAY_PIPELINE_DEPTH'];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`TSRAY_PIPELINE_DEPTH must be a whole number ≥ 1 (the most tasks pushed to one leased worker at once), not '${text}'`);
  return value;
}

/**
 * How a get hands back its values: as a list (`get([refs])`) or the one value (`get(ref)`), each
 * either shared views of stored data or private copies (`copy`).
 */
type GetShape = 'list' | 'list-copy' | 'one' | 'one-copy';

/**
 * A pending API call. `holds` keeps the refs it waits on reachable (one ref, or a list), so that
 * collection cannot release them meanwhile; `task` is the task whose body made it (a cancel
 * interrupts it there). A get is decoded by its shape, any other call by its own `decode`: a
 * pending get then carries no closure, and a driver may hold a million of them (P5 in bench/).
 * It keeps only its promise's resolve function, and rejects through it (`reject`): holding the
 * reject function too kept a second closure alive, about 64 bytes per pending call.
 * `registersHolds`: the ref it holds was not yet registered for collection when the call was made,
 * and is registered when the call ends (see `OwnerRuntime.unregisteredRefs`).
 */
class Pending {
  constructor(
    readonly resolve: (value: unknown) => void,
    readonly decode: GetShape | ((effect: OwnerEffect) => unknown),
    readonly holds: ObjectRef | readonly ObjectRef[] | undefined,
    readonly task: TaskContext | undefined,
    readonly registersHolds: boolean,
  ) {}

  /**
   * Rejects the call's promise with `error`: a promise resolved with a rejected one rejects with its
   * reason. The rejected promise gets its handler in the same microtask checkpoint, before Node looks
   * for unhandled rejections, so it is never reported as one.
   */
  reject(error: Error): void {
    this.resolve(Promise.reject(error));
  }
}

/**
 * Where an owner's events are applied: the live shell (its log, router and timers), or a simulated
 * process of `tsray sim` (node/sim), whose simulator applies them and delivers the effects.
 */
export interface OwnerHost {
  readonly state: OwnerState;
  /** Applies one event; returns the recipe's effects (callers read minted ids from them). */
  apply(event: OwnerEvent): OwnerEffect[];
  /** Later events are ignored. */
  stop(): void;
}

/**
 * How values become the core's ValueData and back, where not through the node's store (the
 * simulator keeps values in a table of its run and gives the core a reference to each).
 */
export interface OwnerValues {
  /** Encodes and captures `value` (later writes to its arrays do not change it); TypeErrors name `rootPath`. */
  encode(value: unknown, hooks: CodecHooks, rootPath: string): ValueData;
  /** The value back, with refs made by `hooks`; `copy` asks for private, writable arrays. */
  decode(value: ValueData, hooks: CodecHooks, copy: boolean): unknown;
}

/** `T` with its fields writable, to build an event field by field. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Each function's id as specs carry it, made once: tasks of one function share the string. */
const functionIds = new WeakMap<FunctionDescriptor, string>();

function functionIdOf(descriptor: FunctionDescriptor): string {
  let id = functionIds.get(descriptor);
  if (id === undefined) {
    id = JSON.stringify(descriptor);
    functionIds.set(descriptor, id);
  }
  return id;
}

/** Settings of one owner process. */
export interface OwnerRuntimeOptions {
  readonly workerId: string;
  readonly nodeId: string;
  readonly isDriver: boolean;
  readonly namespace: string;
  /** Carries messages between components (live). Not used with `host`. */
  readonly router?: Router;
  /**
   * Makes the host that applies this owner's events, given the handler of its effects. Default: a
   * live shell on `router` and `log`, whose pending calls keep the process alive.
   */
  readonly host?: (onEffect: (effect: OwnerEffect) => void) => OwnerHost;
  /** Replaces the store-backed value encoding (see OwnerValues). */
  readonly values?: OwnerValues;
  /**
   * Called for each ref this process comes to hold (made by a call, or decoded from a value) instead
   * of releasing it when its ObjectRef is garbage collected: collection is real nondeterminism, which
   * a simulated run must not depend on.
   */
  readonly holdRef?: (objectId: string) => void;
  readonly log?: ComponentLog;
  readonly inlineThresholdBytes?: number;
  /** Carries out effects only a worker has (task/execute, actor/construct, ...). */
  readonly onWorkerEffect?: (effect: OwnerEffect) => void;
  /**
   * The live actor holding `name` in `namespace`, for a process that can tell at once (the driver of
   * the embedded cluster reads its GCS state): creating another actor under it then throws.
   */
  readonly actorNameHolder?: (namespace: string, name: string) => string | undefined;
  /**
   * The node's store, for an owner in the thread that holds it (the driver), or a connected driver's
   * capture of its puts (its node's shared mapping, or bytes it keeps for the node to pull): a large
   * put is written into it at the call, and its event and messages carry only the descriptor.
   */
  readonly store?: OwnerStore;
  /**
   * For a driver whose workers are threads of its process (the embedded node): how long its gets
   * poll for their replies before the thread sleeps, and whether a vCPU is spare for that now (see
   * `ReplyPolling`). Without it, a get never polls.
   */
  readonly replyPolling?: { readonly budgetMs: number; readonly spareCpu: () => boolean };
}

/** The store as an owner in the store's thread uses it. */
export interface OwnerStore {
  /**
   * Writes the value into the store (or a driver's shared mapping of its node's store, or a
   * connected driver's memory for its node to pull) under `objectId` now; undefined when it does not
   * fit now.
   */
  put(objectId: string, data: EncodedData): StoredData | MappedData | RemoteStoredData | undefined;
  /** Takes back a value `put` stored whose put event then failed. */
  delete(objectId: string): void;
}

/** How many of a get's refs are looked at for a running task before it polls (see `awaitsRunningTask`). */
const maxRefsLookedAtForPolling = 4;

/** The most scheduling classes a driver warns about as infeasible (a bound on the warnings it keeps). */
const maxInfeasibleWarnings = 100;

/**
 * A key no call has (calls are keyed by id strings), whose entry the pending calls' map holds first
 * so that it never runs empty, as core/table.ts's `floor` keeps its index maps: a driver awaiting one
 * task at a time went from no pending call to one and back on every task, each time a new backing
 * store for the map (0.47 µs a set and delete, 0.27 with the floor).
 */
const floorCall: unique symbol = Symbol('tsray pending calls floor');

/** One owner process's API. */
export class OwnerRuntime {
  readonly shell: OwnerHost;
  /** For a driver connected to a cluster: what is wrong with its connection now, or undefined while it is up. */
  linkTrouble: (() => string | undefined) | undefined;
  /**
   * Decoded refs count as held here (the core counted one local ref per ref in the value); each
   * instance's collection releases one.
   */
  readonly heldHooks: CodecHooks;
  /**
   * The calls not yet settled, by id, after `floorCall`'s entry, which is always first (see there):
   * walks skip it, and the count leaves it out.
   */
  private readonly pending = new Map<string | typeof floorCall, Pending | undefined>([[floorCall, undefined]]);
  /** The live shell's router (undefined with a host): what this thread sends goes through it. */
  private readonly router: Router | undefined;
  /** How many calls have settled, ever (what a poll for replies looks for: see `ReplyPolling`). */
  private settledCalls = 0;
  /** A driver's poll for its workers' replies, when it has one. */
  private readonly replyPolling: ReplyPolling | undefined;
  /** Gets an interrupted body stopped waiting for: the refs they settle with are released at once. */
  private readonly abandonedGets = new Set<string>();
  private readonly registry: FinalizationRegistry<string> | undefined;
  /**
   * Refs made since the last microtask, not yet registered for collection: registration costs a
   * weak cell (about 72 bytes) per ref, and a ref that a get takes at once (`get(fn.remote())`, or
   * a million of them queued: P5 in bench/) cannot be collected while the get holds it, so that
   * get registers it when it ends instead. The others are registered on the next microtask; this
   * list holds them until then, so none is collected unregistered.
   */
  private unregisteredRefs: ObjectRef[] = [];
  /**
   * Whether a microtask will register `unregisteredRefs`. A flag, not the list's length: a get takes
   * each ref off as it is made, and a microtask per ref (each with its async resource) cost more than
   * the weak cells saved.
   */
  private registerScheduled = false;
  private nextId = 0;
  /** Objects whose ObjectRef instances were collected since the last release (see `collected`). */
  private collectedIds: string[] = [];
  private keepAlive: NodeJS.Timeout | undefined;
  /** Whether `keepAlive` holds the process open now (pending calls); see `keepAliveWhilePending`. */
  private keepingAlive = false;
  private jobWaiters: (() => void)[] = [];
  /** The id the next put mints, for the log's stand-in of a large put (made once: not a closure per logged event). */
  private readonly nextPutId = (): string => nextPutObjectId(this.state);
  /** How deep this owner pipelines, from how long its tasks take; undefined for a hosted owner or a fixed depth. */
  private readonly pipelineDepth: PipelineDepth | undefined;

  /** Starts the owner component of this process. */
  constructor(readonly options: OwnerRuntimeOptions) {
    this.registry = options.holdRef === undefined ? new FinalizationRegistry((objectId) => this.collected(objectId)) : undefined;
    const hooks = codecHooks(
      (marker) => this.heldRef(marker),
      (handle) => this.heldActor(handle),
    );
    this.heldHooks = {
      ...hooks,
      // A getIfExists handle goes out as the handle of the actor it resolved to, once known here.
      actorOf: (value) => {
        const data = hooks.actorOf(value);
        return data === undefined ? undefined : (resolvedAliasHandle(this.state, data.actorId, data.ref !== undefined) ?? data);
      },
    };
    const fixedDepth = options.host === undefined ? fixedPipelineDepth() : undefined;
    this.pipelineDepth = options.host === undefined && fixedDepth === undefined ? new PipelineDepth() : undefined;
    if (options.host !== undefined) this.shell = options.host((effect) => this.onEffect(effect));
    else {
      const router = options.router;
      if (router === undefined) throw new TypeError('an owner runtime needs a router or a host');
      this.router = router;
      this.shell = new ComponentShell({
        core: ownerCore,
        address: `worker:${options.workerId}`,
        router,
        ...(options.log === undefined ? {} : { log: options.log }),
        // The log keeps large values by id, size and hash, never their bytes.
        logged: (event) => loggedOwnerEvent(event, this.state.config.inlineThresholdBytes, this.nextPutId),
        onEffect: (effect) => this.onEffect(effect),
      });
      router.addLocal(`worker:${options.workerId}`, (message) => this.receive(message as OwnerEvent));
      const polling = options.replyPolling;
      if (polling !== undefined && polling.budgetMs > 0) {
        this.replyPolling = new ReplyPolling(router, polling.budgetMs, () => this.pending.size > 1 && polling.spareCpu(), () => this.settledCalls);
      }
    }
    // A hosted owner (simulated) was started by its host.
    if (options.host === undefined) this.shell.apply({
      type: 'owner/started',
      workerId: options.workerId,
      nodeId: options.nodeId,
      isDriver: options.isDriver,
      namespace: options.namespace,
      // Live owners keep an idle lease briefly, as Ray does, so a task awaited after another reuses its worker.
      config: { ...ownerCore.initial().config, leaseIdleMs: liveLeaseIdleMs, maxTasksInFlightPerLease: fixedDepth ?? this.pipelineDepth?.current ?? 1, ...(options.inlineThresholdBytes === undefined ? {} : { inlineThresholdBytes: options.inlineThresholdBytes }) },
    });
  }

  /** Applies a message delivered to this owner, and wakes whoever waits for the job id. */
  receive(message: OwnerEvent): void {
    // The lease a reply frees, read before the reply clears it from the task.
    const depth = this.pipelineDepth;
    const leaseId = depth !== undefined && message.type === 'task/replied' ? tableGet(this.state.tasks, message.taskId)?.leaseId : undefined;
    this.shell.apply(message);
    if (leaseId !== undefined && depth !== undefined && message.type === 'task/replied') {
      const changed = depth.replied(leaseId, this.state.leases[leaseId]?.runningTaskId !== undefined, performance.now() * 1000, message.result.kind === 'not-run');
      if (changed !== undefined) this.shell.apply({ type: 'owner/pipeline-depth-set', depth: changed });
    }
    if (message.type === 'lease/infeasible') this.warnInfeasible(message.leaseId);
    if (message.type === 'actor/infeasible') this.warnInfeasibleActor(message.actorId);
    if (this.state.jobId !== undefined && this.jobWaiters.length > 0) for (const waiter of this.jobWaiters.splice(0)) waiter();
  }

  /** The scheduling classes and actors a driver has warned about as infeasible (once each, as Ray's driver does). */
  private readonly infeasibleWarned = new Set<string>();

  /**
   * A driver's tasks that no alive node can ever run would wait without a word: the driver says so
   * once per scheduling class on stderr, naming what is missing (the get still waits, as in Ray, for a
   * node that has it to join; `tsray status` lists the demand).
   */
  private warnInfeasible(leaseId: string): void {
    if (!this.options.isDriver) return;
    const lease = this.state.leases[leaseId];
    if (lease?.infeasible === undefined || this.infeasibleWarned.has(lease.classKey)) return;
    if (this.infeasibleWarned.size >= maxInfeasibleWarnings) return;
    this.infeasibleWarned.add(lease.classKey);
    process.stderr.write(`tsray: warning: a task of this driver is infeasible: ${lease.infeasible}\n`);
  }

  /** A driver's actor that no alive node can ever host: said once per actor, as for tasks. */
  private warnInfeasibleActor(actorId: string): void {
    if (!this.options.isDriver) return;
    const reason = this.state.actors[actorId]?.infeasible;
    if (reason === undefined || this.infeasibleWarned.has(actorId) || this.infeasibleWarned.size >= maxInfeasibleWarnings) return;
    this.infeasibleWarned.add(actorId);
    process.stderr.write(`tsray: warning: actor ${actorId} of this driver is infeasible: ${reason}\n`);
  }

  /** Encodes and captures a value this process hands to the core (a return value, say). */
  encodeValue(value: unknown, rootPath: string): ValueData {
    const values = this.options.values;
    if (values !== undefined) return values.encode(value, this.heldHooks, rootPath);
    // A number or boolean returned (a counter's method, say) is kept as itself, as arguments are.
    return isBareValue(value) ? bareValueData(value) : capturedValueData(value, this.heldHooks, rootPath);
  }

  /** Decodes a value the core handed this process; the refs inside count as held here. */
  decodeValue(value: ValueData, copy = false): unknown {
    const values = this.options.values;
    return values === undefined ? fromValueData(value, this.heldHooks, copy) : values.decode(value, this.heldHooks, copy);
  }

  /** How many API calls (gets, waits, lookups) of this process have not settled. */
  get pendingCalls(): number {
    return this.pending.size - 1;
  }

  /** The owner's state (read-only use: listings, tests). */
  get state(): OwnerState {
    return this.shell.state;
  }

  /** Resolves once the GCS gave this driver its job id. */
  whenJobAssigned(): Promise<void> {
    if (this.state.jobId !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.jobWaiters.push(resolve));
  }

  private heldRef(marker: RefMarker): ObjectRef {
    const ref = new ObjectRef(marker);
    if (this.registry === undefined) this.options.holdRef?.(marker.objectId);
    else {
      this.unregisteredRefs.push(ref);
      if (!this.registerScheduled) {
        this.registerScheduled = true;
        queueMicrotask(() => this.registerRefs());
      }
    }
    return ref;
  }

  /** Registers for collection the refs made since the last microtask that no get took (see `unregisteredRefs`). */
  private registerRefs(): void {
    const refs = this.unregisteredRefs;
    this.unregisteredRefs = [];
    this.registerScheduled = false;
    // Counted rather than `for...of`: run once per batch of refs, the loop over 100,000 of them ran
    // unoptimised for most of its length and made an iterator result per ref.
    const registry = this.registry;
    if (registry === undefined) return;
    for (let index = 0; index < refs.length; index += 1) {
      const ref = refs[index] as ObjectRef;
      registry.register(ref, ref.id);
    }
  }

  /**
   * Takes `ref` off the refs waiting to be registered when it is the last one made (a get of a ref
   * just returned by `.remote()`); the caller then registers it when it no longer holds it.
   */
  private takeUnregistered(ref: ObjectRef): boolean {
    const refs = this.unregisteredRefs;
    if (refs.length === 0 || refs[refs.length - 1] !== ref) return false;
    refs.pop();
    return true;
  }

  /** A call ended: registers the ref it held for collection if it took that ref unregistered. */
  private ended(pending: Pending): void {
    if (pending.registersHolds && pending.holds instanceof ObjectRef) this.registry?.register(pending.holds, pending.holds.id);
  }

  /** An actor handle whose hold of the actor's handle object (when counted) its collection releases. */
  private heldActor(state: ActorHandleState): unknown {
    const handle = makeActorHandle(state);
    if (state.ref !== undefined) {
      if (this.registry !== undefined) this.registry.register(handle, state.ref.objectId);
      else this.options.holdRef?.(state.ref.objectId);
    }
    return handle;
  }

  private apply(event: OwnerEvent): OwnerEffect[] {
    return this.shell.apply(event);
  }

  /**
   * Applies a submission (a task or an actor call). Its push goes now, or with the rest of a loop of
   * submissions when the caller's code awaits, not at the turn's end (see Router.postSoon), so it
   * needs no Immediate (see Router.willPost); the post is due even when the submission throws.
   */
  private submit(event: OwnerEvent): OwnerEffect[] {
    this.router?.willPost();
    try {
      return this.apply(event);
    } finally {
      this.router?.postSoon();
    }
  }

  private minted(effects: OwnerEffect[]): { taskId?: string; actorId?: string; objectIds: readonly string[] } {
    for (const effect of effects) if (effect.type === 'ids/minted') return effect;
    throw new Error('the owner minted no ids for an API call');
  }

  private toArgs(args: readonly unknown[]): TaskArg[] {
    const values = this.options.values;
    return packedMap(args, (arg, index): TaskArg => {
      if (arg instanceof ObjectRef) return { kind: 'ref', ref: arg.marker };
      if (values !== undefined) {
        const value = values.encode(arg, this.heldHooks, `args[${index}]`);
        if (value.sizeBytes < this.state.config.inlineThresholdBytes) return { kind: 'value', payload: { kind: 'inline', data: value.data, sizeBytes: value.sizeBytes, refs: value.refs } };
        return { kind: 'ref', ref: this.putValue(value).marker };
      }
      // A bare value is not encoded: its size is that of its encoding all the same.
      if (isBareValue(arg)) return { kind: 'value', payload: { kind: 'inline', data: arg, sizeBytes: bareSizeBytes(arg), refs: noRefs } };
      const value = toValueData(arg, this.heldHooks, `args[${index}]`);
      if (value.sizeBytes >= this.state.config.inlineThresholdBytes) {
        // Large arguments go through the object store once, as Ray puts them, instead of riding every push.
        return { kind: 'ref', ref: this.putEncoded(value.data as EncodedData, value.sizeBytes, value.refs).marker };
      }
      return { kind: 'value', payload: { kind: 'inline', data: compactedData(value.data as EncodedData), sizeBytes: value.sizeBytes, refs: value.refs } };
    });
  }

  private refsOf(objectIds: readonly string[]): ObjectRef[] {
    return packedMap(objectIds, (objectId) => this.heldRef({ objectId, owner: this.options.workerId }));
  }

  /** `fn.remote(...args)`. */
  submitTask(descriptor: FunctionDescriptor, args: unknown[], options: TaskOptions): ObjectRef | ObjectRef[] {
    const valid = validateTaskOptions(options);
    // Without a spread of the parent's id (see callActor): an empty one still copied at every submission.
    const event: Mutable<Extract<OwnerEvent, { type: 'task/submitted' }>> = {
      type: 'task/submitted',
      name: valid.name ?? descriptor.name,
      functionId: functionIdOf(descriptor),
      args: this.toArgs(args),
      numReturns: valid.numReturns,
      resources: valid.resources,
      maxRetries: valid.maxRetries,
      retryExceptions: valid.retryExceptions,
      strategy: valid.schedulingStrategy,
    };
    const task = taskContext.getStore();
    if (task !== undefined) event.parentTaskId = task.taskId;
    const refs = this.refsOf(this.minted(this.submit(event)).objectIds);
    this.router?.readBetweenSubmissions();
    return valid.numReturns === 1 ? (refs[0] as ObjectRef) : refs;
  }

  /** `Class.remote(...args)`: the creator's handle (counted, for a non-detached actor). */
  createActor(descriptor: FunctionDescriptor, className: string, args: unknown[], options: ActorOptions): unknown {
    const valid = validateActorOptions(options);
    if (valid.name !== undefined && !valid.getIfExists) this.checkNameFree(valid.namespace ?? this.state.namespace, valid.name);
    const effects = this.apply({
      type: 'actor/creation-submitted',
      className,
      functionId: JSON.stringify(descriptor),
      args: this.toArgs(args),
      ...(valid.name === undefined ? {} : { name: valid.name }),
      ...(valid.namespace === undefined ? {} : { namespace: valid.namespace }),
      detached: valid.lifetime === 'detached',
      getIfExists: valid.getIfExists,
      maxRestarts: valid.maxRestarts,
      maxTaskRetries: valid.maxTaskRetries,
      maxConcurrency: valid.maxConcurrency,
      resources: valid.resources,
      placementResources: valid.placementResources,
      strategy: valid.schedulingStrategy,
    });
    const minted = this.minted(effects);
    const actorId = minted.actorId ?? '';
    const handleObjectId = minted.objectIds[0];
    return this.heldActor(handleObjectId === undefined ? { actorId } : { actorId, ref: { objectId: handleObjectId, owner: this.options.workerId } });
  }

  /**
   * A name known taken fails at `.remote()`, as Ray raises at creation: one a live actor holds (when
   * this process can tell), or one this owner gave a creation the GCS has not registered yet. A name
   * taken elsewhere that is not known here still fails later, with ActorDiedError.
   */
  private checkNameFree(namespace: string, name: string): void {
    const pending = Object.values(this.state.actors).some((view) => {
      const requested = view.creation ?? view.spec;
      return view.isOwner && view.aliasOf === undefined && view.state === 'PENDING' && requested?.name === name && (requested.namespace ?? this.state.namespace) === namespace;
    });
    const holderId = this.options.actorNameHolder?.(namespace, name);
    // A holder this process killed for good is dead here already: the kill reaches the GCS before
    // this creation's registration does, and frees the name first, as Ray's kill does.
    const holderLives = holderId !== undefined && this.state.actors[holderId]?.state !== 'DEAD';
    if (pending || holderLives) {
      throw new TypeError(`actor name '${name}' is already taken in namespace '${namespace}'; pass getIfExists: true to use the existing actor, or choose another name`);
    }
  }

  /**
   * `handle.method.remote(...args)`, with its options checked already (by the handle); a call made on
   * a counted handle holds the actor until it ends.
   */
  callActor(handle: ActorHandleState, method: string, args: unknown[], options: ValidMethodOptions): ObjectRef | ObjectRef[] {
    const numReturns = options.numReturns;
    // Built without spreads, in the order of its fields as logged: a literal with spreads was a
    // runtime copy of each part, on every call to an actor.
    const event: Mutable<Extract<OwnerEvent, { type: 'actor-task/submitted' }>> = { type: 'actor-task/submitted', actorId: handle.actorId, method, name: method, args: this.toArgs(args), numReturns };
    const task = taskContext.getStore();
    if (task !== undefined) event.parentTaskId = task.taskId;
    if (handle.ref !== undefined) event.handle = { objectId: handle.ref.objectId, owner: handle.ref.owner };
    const refs = this.refsOf(this.minted(this.submit(event)).objectIds);
    this.router?.readBetweenSubmissions();
    return numReturns === 1 ? (refs[0] as ObjectRef) : refs;
  }

  /**
   * Posts what this thread has queued for other threads now: a worker whose last task has run sends
   * its reply at once, not at the turn's end (see Router.postNow).
   */
  postQueuedNow(): void {
    this.router?.postNow();
  }

  /** `tsray.put(value)`: the value is captured at the call. */
  put(value: unknown): ObjectRef {
    if (this.options.values !== undefined) return this.putValue(this.options.values.encode(value, this.heldHooks, 'value'));
    const encoded = toValueData(value, this.heldHooks, 'value');
    return this.putEncoded(encoded.data as EncodedData, encoded.sizeBytes, encoded.refs);
  }

  /**
   * Puts an encoded value, capturing it before this returns: a large one is written into the node's
   * store now when this thread holds it (one copy, straight from the caller's arrays), else its
   * blobs are copied; either way later writes to the caller's arrays do not change it. A value that
   * could never fit in the store throws ObjectStoreFullError here.
   */
  private putEncoded(data: EncodedData, sizeBytes: number, refs: readonly RefMarker[]): ObjectRef {
    let captured: EncodedData | StoredData | MappedData | RemoteStoredData | undefined;
    let storedId: string | undefined;
    if (sizeBytes >= this.state.config.inlineThresholdBytes) {
      checkFitsStore(data, sizeBytes);
      storedId = nextPutObjectId(this.state);
      captured = this.options.store?.put(storedId, data);
      if (captured === undefined) storedId = undefined;
    }
    captured ??= captureData(data);
    let objectId: string | undefined;
    try {
      [objectId] = this.minted(this.apply({ type: 'object/put', value: { data: captured, sizeBytes, refs } })).objectIds;
    } finally {
      if (storedId !== undefined && objectId !== storedId) this.options.store?.delete(storedId);
    }
    if (storedId !== undefined && objectId !== storedId) throw new Error(`the owner minted ${String(objectId)} for a put stored as ${storedId}`);
    return this.refsOf([objectId ?? ''])[0] as ObjectRef;
  }

  /** Puts a value already encoded and captured by `options.values`. */
  private putValue(value: ValueData): ObjectRef {
    const [objectId] = this.minted(this.apply({ type: 'object/put', value })).objectIds;
    return this.refsOf([objectId ?? ''])[0] as ObjectRef;
  }

  /** Releases, on a later microtask (never inside an apply), the refs inside values nobody will decode. */
  private releaseRefsIn(outcomes: readonly GetOutcome[]): void {
    const objectIds = outcomes.flatMap((outcome) => (outcome.kind === 'value' ? outcome.value.refs.map((ref) => ref.objectId) : []));
    if (objectIds.length > 0) queueMicrotask(() => this.release(objectIds));
  }

  /**
   * An ObjectRef of `objectId` was collected. A collection finalizes thousands of refs in one go:
   * they are released together, as one `refs/released` event on a later microtask, instead of one
   * event (and one log record) per ref.
   */
  private collected(objectId: string): void {
    if (this.collectedIds.push(objectId) > 1) return;
    queueMicrotask(() => {
      const objectIds = this.collectedIds;
      this.collectedIds = [];
      this.release(objectIds);
    });
  }

  /** Gives up this process's hold of objects (their ObjectRef instances were collected). */
  release(objectIds: string[]): void {
    if (objectIds.length > 0) this.apply({ type: 'refs/released', objectIds });
  }

  private track<T>(id: string, decode: GetShape | ((effect: OwnerEffect) => T), holds?: ObjectRef | readonly ObjectRef[]): Promise<T> {
    const task = taskContext.getStore();
    const registersHolds = holds instanceof ObjectRef && this.takeUnregistered(holds);
    const promise = new Promise<T>(this.captureResolve);
    const resolve = this.captured as (value: unknown) => void;
    this.captured = undefined;
    this.pending.set(id, new Pending(resolve, decode, holds, task, registersHolds));
    this.keepAliveWhilePending();
    return promise;
  }

  /** The resolve function of the promise `track` is making (see `captureResolve`). */
  private captured: ((value: never) => void) | undefined;

  /**
   * The executor of every promise `track` makes, which runs at once inside `new Promise`: one
   * function, where an arrow per call made a closure and its context for every get.
   */
  private readonly captureResolve = (resolve: (value: never) => void): void => {
    this.captured = resolve;
  };

  /**
   * `tsray.get(refs, { timeout, copy })`: `copy` reads private, writable copies instead of shared
   * views. Given one ref (not a list), it resolves with that ref's value.
   */
  get(refs: ObjectRef | ObjectRef[], timeoutMs: number | undefined, copy = false): Promise<unknown> {
    const getId = `g${++this.nextId}`;
    const inTask = taskContext.getStore();
    const one = !Array.isArray(refs);
    const promise = this.track(getId, one ? (copy ? 'one-copy' : 'one') : copy ? 'list-copy' : 'list', refs);
    // Field by field, in the order logged (see callActor).
    const event: Mutable<Extract<OwnerEvent, { type: 'get/requested' }>> = { type: 'get/requested', getId, refs: one ? [refs.marker] : packedMap(refs, (ref) => ref.marker) };
    if (timeoutMs !== undefined) event.timeoutMs = timeoutMs;
    if (inTask !== undefined) event.inTaskId = inTask.taskId;
    this.apply(event);
    if (this.replyPolling !== undefined && this.pending.has(getId) && this.awaitsRunningTask(event.refs)) this.replyPolling.waiting();
    return promise;
  }

  /**
   * Whether one of the first refs a get waits for is the return of a task of this owner that runs
   * (pushed to a worker): what a poll for replies can bring (see `ReplyPolling`). A get of a put
   * does not poll: its loop (`await get(put(array))`) would then never yield to the event loop, whose
   * turns run the finalizers that release the objects it dropped (a loop of 12 puts of 32 MiB grew
   * the process by 171-325 MiB instead of reusing their memory).
   */
  private awaitsRunningTask(refs: readonly RefMarker[]): boolean {
    const tasks = this.state.tasks;
    for (let index = 0; index < refs.length && index < maxRefsLookedAtForPolling; index += 1) {
      const taskId = taskOfObject((refs[index] as RefMarker).objectId);
      if (taskId !== undefined && tableGet(tasks, taskId)?.state === 'RUNNING') return true;
    }
    return false;
  }

  /** The values a get settled with, as `shape` asks; throws the error of a get that failed. */
  private getValues(effect: OwnerEffect, shape: GetShape): unknown {
    if (effect.type === 'get/failed') throw this.withWaitContext(errorFromInfo(effect.error), effect.error.objectId);
    if (effect.type !== 'get/settled') return shape === 'one' || shape === 'one-copy' ? undefined : [];
    const failed = effect.outcomes.find((outcome): outcome is GetOutcome & { kind: 'error' } => outcome.kind === 'error');
    if (failed !== undefined) {
      // The values that did arrive are not handed out, but the core counted the refs inside them as held here.
      this.releaseRefsIn(effect.outcomes);
      throw this.withWaitContext(errorFromInfo(failed.error), failed.error.objectId);
    }
    const copy = shape === 'list-copy' || shape === 'one-copy';
    if (shape === 'one' || shape === 'one-copy') {
      const outcome = effect.outcomes[0];
      return outcome?.kind === 'value' ? this.decodeValue(outcome.value, copy) : undefined;
    }
    return packedMap(effect.outcomes, (outcome) => (outcome.kind === 'value' ? this.decodeValue(outcome.value, copy) : undefined));
  }

  /**
   * A driver's GetTimeoutError also says when its connection to the cluster is down: what the object
   * waits for may be fine, and the driver's link is why nothing arrived. When the object's task is
   * running, this owner cannot see what the task's code waits for in turn: the error says where to look.
   */
  private withWaitContext(error: Error, objectId: string | undefined): Error {
    if (!(error instanceof GetTimeoutError)) return error;
    const trouble = this.linkTrouble?.();
    const taskId = objectId === undefined ? undefined : taskOfObject(objectId);
    if (trouble !== undefined) error.message = `${error.message}; ${trouble}`;
    else if (taskId !== undefined && tableGet(this.state.tasks, taskId)?.state === 'RUNNING') error.message = `${error.message}; ${runningWaitHint}`;
    return error;
  }

  /** `tsray.wait(refs, ...)`. */
  wait(refs: ObjectRef[], numReturns: number, timeoutMs: number | undefined): Promise<[ObjectRef[], ObjectRef[]]> {
    const waitId = `w${++this.nextId}`;
    const byId = new Map(refs.map((ref) => [ref.id, ref]));
    const promise = this.track(waitId, (effect): [ObjectRef[], ObjectRef[]] => {
      if (effect.type !== 'wait/settled') return [[], []];
      const pick = (ids: readonly string[]): ObjectRef[] => ids.map((id) => byId.get(id)).filter((ref): ref is ObjectRef => ref !== undefined);
      return [pick(effect.ready), pick(effect.notReady)];
    }, refs);
    this.apply({ type: 'wait/requested', waitId, refs: refs.map((ref) => ref.marker), numReturns, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    return promise;
  }

  /** `tsray.cancel(ref, ...)`. */
  cancel(ref: ObjectRef, force: boolean, recursive: boolean): void {
    this.apply({ type: 'cancel/requested', ref: ref.marker, force, recursive });
  }

  /** `tsray.kill(actor, ...)`. */
  kill(actorId: string, noRestart: boolean): void {
    this.apply({ type: 'kill/requested', actorId, noRestart });
  }

  /** `tsray.getActor(name, ...)`: the handle of the live actor of that name (counted unless detached), if any. */
  getActor(name: string, namespace: string | undefined): Promise<unknown> {
    const requestId = `l${++this.nextId}`;
    const promise = this.track(requestId, (effect) => {
      if (effect.type !== 'actor-lookup/settled' || effect.actorId === undefined) return undefined;
      const ref = lookupHandleRef(effect);
      return this.heldActor(ref === undefined ? { actorId: effect.actorId } : { actorId: effect.actorId, ref });
    });
    this.apply({ type: 'actor-lookup/requested', requestId, name, ...(namespace === undefined ? {} : { namespace }) });
    return promise;
  }

  /** Records that this process now holds a handle to `actorId` (decoded from a value). */
  acquireActor(actorId: string): void {
    this.apply({ type: 'actor/handle-acquired', actorId });
  }

  /**
   * A cancel reached a task this worker runs: a running JavaScript body cannot be stopped from
   * outside, so its pending gets and waits fail with TaskCancelledError where it awaits them (as Ray
   * raises inside the task), and the owner answers "cancelled" when the body ends.
   */
  interruptTask(taskId: string): void {
    for (const [id, pending] of this.pending) {
      if (id === floorCall || pending?.task?.taskId !== taskId) continue;
      this.pending.delete(id);
      this.ended(pending);
      if (id.startsWith('g') || id.startsWith('l')) this.abandonedGets.add(id);
      pending.reject(errorFromInfo({ errorClass: 'TaskCancelledError', message: `task ${taskId} was cancelled while it waited here` }));
    }
    this.keepAliveWhilePending();
  }

  private settle(id: string, effect: OwnerEffect): void {
    if (this.abandonedGets.delete(id)) {
      // Its body is gone, but the core counted the refs inside its values (or the handle it found) as held here.
      if (effect.type === 'get/settled') this.releaseRefsIn(effect.outcomes);
      const handleRef = effect.type === 'actor-lookup/settled' ? lookupHandleRef(effect) : undefined;
      if (handleRef !== undefined) queueMicrotask(() => this.release([handleRef.objectId]));
      return;
    }
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    this.settledCalls += 1;
    this.ended(pending);
    this.keepAliveWhilePending();
    try {
      // Decoded in the context of the task that asked, so the refs inside count as that task's holds.
      // The closure for that is made only when it is needed: a driver's gets (every call of P3's loop) need none.
      const task = pending.task;
      pending.resolve(task === undefined || this.options.holdRef === undefined ? this.decoded(pending, effect) : taskContext.run(task, () => this.decoded(pending, effect)));
    } catch (error) {
      pending.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
  }

  /** What the call `pending` resolves with, from the effect that settled it. */
  private decoded(pending: Pending, effect: OwnerEffect): unknown {
    const decode = pending.decode;
    return typeof decode === 'function' ? decode(effect) : this.getValues(effect, decode);
  }

  /**
   * Outstanding API calls keep the process alive; an idle runtime does not. One interval, made at the
   * first call, is ref'd and unref'd from then on: tasks awaited one at a time go from none pending to
   * one and back at every task, and making and clearing a timer each time was a few µs of each.
   */
  private keepAliveWhilePending(): void {
    // A hosted owner (simulated) lives as long as its host says; a real timer here would leak into the run.
    if (this.options.host !== undefined) return;
    const wanted = this.pending.size > 1;
    if (wanted === this.keepingAlive) return;
    this.keepingAlive = wanted;
    if (!wanted) this.keepAlive?.unref();
    else if (this.keepAlive === undefined) this.keepAlive = setInterval(() => undefined, 1 << 30);
    else this.keepAlive.ref();
  }

  private onEffect(effect: OwnerEffect): void {
    switch (effect.type) {
      case 'get/settled':
      case 'get/failed':
        this.settle(effect.getId, effect);
        return;
      case 'wait/settled':
        this.settle(effect.waitId, effect);
        return;
      case 'actor-lookup/settled':
        this.settle(effect.requestId, effect);
        return;
      case 'ids/minted':
      case 'objects/freed':
      case 'message/sent':
      case 'timer/armed':
        return;
      case 'task/execute':
      case 'actor/construct':
      case 'actor/dispose':
      case 'task/interrupt':
      case 'process/exit':
        this.options.onWorkerEffect?.(effect);
        return;
    }
  }

  /**
   * A driver's connection to the cluster moved to node `nodeId` (the head it was attached to came
   * back under a new node id): the owner treats its former node as dead and works through `nodeId`.
   */
  reattach(nodeId: string): void {
    this.apply({ type: 'owner/reattached', nodeId });
  }

  /**
   * Ends this process's component: pending calls fail, nothing keeps the process alive. After a
   * `shutdown()` they fail with a TypeError (the script ended tsray under its own calls). When the
   * driver's connection to its cluster is `lost` for good, the cluster has counted this driver gone
   * and freed what it owned, so a pending get or wait fails with ObjectLostError and any other call
   * with TsrayError, each naming the lost connection.
   */
  stop(reason: string, lost = false): void {
    if (this.options.isDriver && this.state.jobId !== undefined) this.apply({ type: 'owner/stopping' });
    this.shell.stop();
    for (const pending of this.pending.values()) {
      if (pending === undefined) continue;
      this.ended(pending);
      if (!lost) pending.reject(new TypeError(`tsray shut down (${reason}) before this call finished`));
      else if (pending.holds === undefined) pending.reject(new TsrayError(`${reason}; this call cannot finish`));
      else {
        const holds = pending.holds instanceof ObjectRef ? [pending.holds] : pending.holds;
        const first = holds[0]?.id;
        const named = holds.length === 1 && first !== undefined ? `object ${first}` : `${holds.length} objects`;
        pending.reject(new ObjectLostError(`${named} cannot be fetched: ${reason}, which counted this driver gone and freed the objects it owned`, holds.length === 1 ? first : undefined));
      }
    }
    this.pending.clear();
    this.pending.set(floorCall, undefined);
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.keepingAlive = false;
  }
}

/** The handle object a lookup's answer holds here (the owner core counted it), or undefined for a detached actor. */
function lookupHandleRef(effect: Extract<OwnerEffect, { type: 'actor-lookup/settled' }>): RefMarker | undefined {
  if (effect.actorId === undefined || effect.spec?.detached !== false) return undefined;
  return { objectId: actorHandleObjectId(effect.actorId), owner: ownerOfActor(effect.actorId) };
}
