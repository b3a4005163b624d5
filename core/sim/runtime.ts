/**
 * A simulated worker process: it runs the bodies, actor constructors and methods (and, for the
 * driver, the driver script) that its owner's recipe asks for, as fibers over generator functions.
 * Whatever a body does through its context becomes an event applied to this process's owner, exactly
 * as the live shell turns API calls into events.
 */
import { InvariantViolation } from '../assert.js';
import type { ActorId, ObjectId } from '../ids.js';
import { actorHandleObjectId, ownerOfActor } from '../ids.js';
import type { ExecutionResult, GetOutcome, OwnerEffect, OwnerEvent, OwnerState, ValueData } from '../owner/index.js';
import { getRefs } from '../owner/index.js';
import { executionKey } from '../owner/execution.js';
import { tableGet } from '../table.js';
import type { TaskArg, TaskSpec } from '../protocol.js';
import { actorResourceShapes } from '../resources.js';
import type { RefMarker } from '../values.js';
import type { SimActor, SimContext, SimRef, SimTaskOptions, SimActorOptions, Yielded } from './program.js';
import { SimGetError, isSimRef, refsIn, sizeOf, toSimRef } from './program.js';
import type { SimInstance, SimProcess, Simulator } from './simulator.js';

/** Thrown inside a body by `ctx.exit()`; the runtime ends the process. */
class ExitSignal extends Error {
  override readonly name = 'ExitSignal';
}

interface Fiber {
  readonly key: string;
  readonly taskId?: string;
  readonly attempt: number;
  /** The seq of the event that started it (the push): the causal parent of how it ends. */
  readonly parent: number;
  iterator?: Iterator<Yielded, unknown, unknown>;
  waitingFor?: string;
  interrupted: boolean;
  /**
   * Refs this fiber's code minted or decoded from its arguments and gets (each one local ref of this
   * process): released when a task body ends, as garbage collection would.
   */
  readonly minted: ObjectId[];
  readonly finish: (outcome: { kind: 'returned'; value: unknown } | { kind: 'threw'; error: unknown }) => void;
}

function isIterator(value: unknown): value is Iterator<Yielded, unknown, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { next?: unknown }).next === 'function' && typeof (value as { throw?: unknown }).throw === 'function';
}

function thrownInfo(error: unknown): { name: string; message: string } {
  if (error instanceof SimGetError) return { name: error.info.errorClass, message: error.info.message };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'NonErrorThrown', message: JSON.stringify(error) ?? String(error) };
}

/**
 * The value a body reads (an argument or what `get` gave): a copy of its own, as a live decode gives;
 * a large one (stored, read in place live, where every reader shares its memory) is also frozen, so
 * that a body that writes to it fails at the write. Live, such a write is detected and reported; here
 * every one is caught, in full.
 */
function readValue(value: unknown, inlineThresholdBytes: number): unknown {
  const copy = structuredClone(value);
  return sizeOf(copy) >= inlineThresholdBytes ? deepFreeze(copy) : copy;
}

function deepFreeze(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}

function valueData(value: unknown): ValueData {
  return { data: value === undefined ? null : value, sizeBytes: sizeOf(value), refs: refsIn(value) };
}

/** The simulated process behind one owner instance. */
export class WorkerRuntime implements SimProcess {
  private readonly fibers = new Map<string, Fiber>();
  private actorState: Record<string, unknown> | undefined;
  private driverStarted = false;
  private counter = 0;

  /** Binds the runtime to its instance. */
  constructor(
    private readonly sim: Simulator,
    private readonly instance: SimInstance,
    /** 0 for the main driver, k for `program.otherDrivers[k - 1]`, undefined for a worker. */
    private readonly driverIndex: number | undefined,
  ) {}

  /** Whether this process is a driver. */
  get isDriver(): boolean {
    return this.driverIndex !== undefined;
  }

  private get state(): OwnerState {
    return this.instance.state as OwnerState;
  }

  /** The process ended: its fibers stop where they are. */
  stop(): void {
    this.fibers.clear();
  }

  /** Starts the driver script once the driver has its job id. */
  afterStep(): void {
    if (this.driverIndex === undefined || this.driverStarted || this.state.jobId === undefined) return;
    this.driverStarted = true;
    const index = this.driverIndex;
    const script = index === 0 ? this.sim.program.driver : this.sim.program.otherDrivers?.[index - 1];
    if (script === undefined) return;
    const fiber: Fiber = {
      key: 'driver',
      attempt: 1,
      parent: this.sim.currentSeq(),
      interrupted: false,
      minted: [],
      finish: (outcome) => {
        this.fibers.delete('driver');
        const result = outcome.kind === 'threw' ? { driverThrew: `${thrownInfo(outcome.error).name}: ${thrownInfo(outcome.error).message}` } : outcome.value;
        if (index === 0) this.sim.finishDriver(result);
        else this.sim.note(`driver ${this.state.workerId} finished: ${JSON.stringify(result) ?? 'undefined'}`);
      },
    };
    this.fibers.set(fiber.key, fiber);
    this.sim.later(this.instance.address, 0, () => this.startFiber(fiber, () => script(this.context(fiber))));
  }

  /** Says what the driver still waits for (for liveness failures). */
  describeWaiting(): string {
    const driver = this.fibers.get('driver');
    if (driver === undefined) return this.driverStarted ? 'the driver script ended without finishing' : 'the driver never got its job id';
    const get = driver.waitingFor === undefined ? undefined : tableGet(this.state.gets, driver.waitingFor);
    if (get === undefined) return `the driver waits for ${driver.waitingFor ?? 'nothing'}`;
    const pending = getRefs(get).map((ref) => ref.objectId).join(', ');
    return `the driver waits in get for ${pending}`;
  }

  /** Handles an owner effect meant for the process; returns what is handed back synchronously. */
  onEffect(effect: OwnerEffect, seq: number): unknown[] {
    switch (effect.type) {
      case 'ids/minted':
        return [effect];
      case 'task/execute':
        this.sim.later(this.instance.address, 0, () => this.execute(effect.spec, effect.attempt, effect.args, seq));
        return [];
      case 'actor/construct':
        this.sim.later(this.instance.address, 0, () => this.construct(effect.spec.className, effect.spec.actorId, effect.restartCount, effect.args, seq));
        return [];
      case 'task/interrupt':
        this.interrupt(effect.taskId);
        return [];
      case 'get/settled':
        if (this.abandonedGets.delete(effect.getId)) this.releaseAbandoned(effect.outcomes);
        else this.resumeWith(effect.getId, { kind: 'get', outcomes: effect.outcomes });
        return [];
      case 'get/failed':
        this.resumeWith(effect.getId, { kind: 'error', error: new SimGetError(effect.error) });
        return [];
      case 'wait/settled':
        this.resumeWith(effect.waitId, { kind: 'value', value: [effect.ready.map((id) => this.refFor(id)), effect.notReady.map((id) => this.refFor(id))] });
        return [];
      case 'actor-lookup/settled': {
        const counted = effect.actorId !== undefined && effect.spec?.detached === false;
        if (this.abandonedGets.delete(effect.requestId)) {
          // Its body is gone, but the owner counted the handle it found as held here.
          const actorId = effect.actorId ?? '';
          if (counted) this.sim.later(this.instance.address, 0, () => this.apply({ type: 'refs/released', objectIds: [actorHandleObjectId(actorId)] }));
          return [];
        }
        if (counted && !this.isDriver) {
          // A body holds the handle it looked up until it ends, as garbage collection would end it.
          for (const fiber of this.fibers.values()) if (fiber.waitingFor === effect.requestId && fiber.taskId !== undefined) fiber.minted.push(actorHandleObjectId(effect.actorId ?? ''));
        }
        this.resumeWith(effect.requestId, { kind: 'value', value: effect.actorId === undefined ? null : ({ $actor: effect.actorId, ...(counted ? { $counted: true } : {}) } satisfies SimActor) });
        return [];
      }
      case 'actor/dispose':
        // Simulated actors have nothing to dispose: the worker answers after a body's time.
        this.sim.later(this.instance.address, this.sim.bodyMs, () => this.apply({ type: 'actor/disposed', actorId: effect.actorId, restartCount: effect.restartCount }));
        return [];
      case 'process/exit':
        this.sim.killWorker(this.state.workerId, 'exited', seq);
        return [];
      case 'message/sent':
      case 'timer/armed':
      case 'objects/freed':
        return [];
    }
  }

  private refFor(objectId: ObjectId): SimRef {
    return { $ref: objectId, $owner: objectId.split('.').slice(0, 2).join('.') };
  }

  private apply(event: OwnerEvent, parent = this.sim.currentSeq()): unknown[] {
    return this.sim.applyEvent(this.instance, event, parent);
  }

  private execute(spec: TaskSpec, attempt: number, args: readonly ValueData[], parent: number): void {
    const key = `${spec.taskId}#${attempt}`;
    const values = args.map((arg) => readValue(arg.data, this.state.config.inlineThresholdBytes));
    let start: () => unknown;
    if (spec.actor !== undefined) {
      this.checkActorOrder(spec, attempt);
      const actorClass = this.sim.program.actors[(this.state.actor?.spec.className ?? '')];
      const method = actorClass?.methods[spec.actor.method];
      const state = this.actorState;
      start = () => {
        if (method === undefined || state === undefined) throw new TypeError(`actor has no method ${spec.actor?.method ?? ''}`);
        return method(this.context(fiber), state, ...values);
      };
    } else {
      const body = this.sim.program.bodies[spec.functionId];
      start = () => {
        if (body === undefined) throw new TypeError(`no body named ${spec.functionId}`);
        return body(this.context(fiber), ...values);
      };
    }
    const fiber: Fiber = {
      key,
      taskId: spec.taskId,
      attempt,
      parent,
      interrupted: false,
      minted: args.flatMap((arg) => arg.refs.map((ref) => ref.objectId)),
      finish: (outcome) => {
        this.fibers.delete(key);
        let result: ExecutionResult;
        if (outcome.kind === 'threw') result = { kind: 'threw', thrown: thrownInfo(outcome.error) };
        else if (spec.returnIds.length > 1) {
          const list = Array.isArray(outcome.value) ? outcome.value : [];
          result = list.length === spec.returnIds.length ? { kind: 'returned', values: list.map(valueData) } : { kind: 'threw', thrown: { name: 'TypeError', message: `expected ${spec.returnIds.length} return values` } };
        } else result = { kind: 'returned', values: [valueData(outcome.value)] };
        const minted = [...fiber.minted];
        this.sim.later(this.instance.address, this.sim.bodyMs, () => {
          // The push that started the attempt is why it ended so: "why" walks from a result to its task.
          const executed = this.sim.currentSeq() + 1;
          this.apply({ type: 'task/executed', taskId: spec.taskId, attempt, result }, parent);
          // Refs made during the task go out of scope with it, as garbage collection would end them.
          if (minted.length > 0) this.apply({ type: 'refs/released', objectIds: minted }, executed);
        });
      },
    };
    this.fibers.set(key, fiber);
    this.startFiber(fiber, start);
  }

  /** With maxConcurrency 1, calls of one caller must start in submission order within an incarnation. */
  private checkActorOrder(spec: TaskSpec, attempt: number): void {
    const actor = this.state.actor;
    if (actor === undefined || actor.spec.maxConcurrency !== 1) return;
    const execution = tableGet(this.state.executions, executionKey(spec.taskId, attempt));
    if (execution === undefined) return;
    const number = Number(/\.t(\d+)$/.exec(spec.taskId)?.[1] ?? '0');
    const orderKey = `${actor.spec.actorId}#${actor.restartCount}#${execution.replyTo}`;
    const last = this.sim.actorCallOrder.get(orderKey);
    if (last !== undefined && number <= last) throw new InvariantViolation(`actor ${actor.spec.actorId} started call t${number} of ${execution.replyTo} after t${last}: per-caller order broken`);
    this.sim.actorCallOrder.set(orderKey, number);
  }

  private construct(className: string, actorId: ActorId, restartCount: number, args: readonly ValueData[], parent: number): void {
    const actorClass = this.sim.program.actors[className];
    let error: { name: string; message: string } | undefined;
    const fiber: Fiber = { key: `construct:${actorId}`, attempt: 1, parent, interrupted: false, minted: [], finish: () => undefined };
    try {
      if (actorClass === undefined) throw new TypeError(`no actor class named ${className}`);
      this.actorState = actorClass.init(this.context(fiber), ...args.map((arg) => readValue(arg.data, this.state.config.inlineThresholdBytes)));
    } catch (thrown) {
      if (thrown instanceof ExitSignal) {
        this.sim.killWorker(this.state.workerId, 'exited', parent);
        return;
      }
      error = thrownInfo(thrown);
    }
    // The constructor's argument refs go out of scope with it (simulated actors keep no refs).
    const acquired = args.flatMap((arg) => arg.refs.map((ref) => ref.objectId));
    this.sim.later(this.instance.address, this.sim.bodyMs, () => {
      this.apply({ type: 'actor/constructed', actorId, restartCount, ...(error === undefined ? {} : { error }) }, parent);
      if (acquired.length > 0) this.apply({ type: 'refs/released', objectIds: acquired });
    });
  }

  private startFiber(fiber: Fiber, start: () => unknown): void {
    let first: unknown;
    try {
      first = start();
    } catch (error) {
      this.end(fiber, { kind: 'threw', error });
      return;
    }
    if (!isIterator(first)) {
      this.end(fiber, { kind: 'returned', value: first });
      return;
    }
    fiber.iterator = first;
    this.step(fiber, { kind: 'next', value: undefined });
  }

  private end(fiber: Fiber, outcome: { kind: 'returned'; value: unknown } | { kind: 'threw'; error: unknown }): void {
    if (outcome.kind === 'threw' && outcome.error instanceof ExitSignal) {
      this.fibers.delete(fiber.key);
      this.sim.killWorker(this.state.workerId, 'exited', fiber.parent);
      return;
    }
    if (outcome.kind === 'threw' && outcome.error instanceof InvariantViolation) throw outcome.error;
    fiber.finish(outcome);
  }

  private step(fiber: Fiber, input: { kind: 'next'; value: unknown } | { kind: 'throw'; error: unknown }): void {
    const iterator = fiber.iterator;
    if (iterator === undefined || !this.instance.alive) return;
    let result: IteratorResult<Yielded, unknown>;
    try {
      if (input.kind === 'next') result = iterator.next(input.value);
      else if (iterator.throw !== undefined) result = iterator.throw(input.error);
      else throw input.error;
    } catch (error) {
      this.end(fiber, { kind: 'threw', error });
      return;
    }
    if (result.done === true) {
      this.end(fiber, { kind: 'returned', value: result.value });
      return;
    }
    this.await(fiber, result.value);
  }

  private await(fiber: Fiber, yielded: Yielded): void {
    const id = `${this.state.workerId}.g${++this.counter}`;
    fiber.waitingFor = id;
    switch (yielded.kind) {
      case 'sleep':
        this.sim.later(this.instance.address, yielded.ms, () => this.resumeWith(id, { kind: 'value', value: undefined }));
        return;
      case 'get':
        this.singleGets.set(id, yielded.single);
        this.apply({ type: 'get/requested', getId: id, refs: yielded.refs.map(toMarker), ...(yielded.timeoutMs === undefined ? {} : { timeoutMs: yielded.timeoutMs }), ...(fiber.taskId === undefined ? {} : { inTaskId: fiber.taskId }) });
        return;
      case 'wait':
        this.apply({ type: 'wait/requested', waitId: id, refs: yielded.refs.map(toMarker), numReturns: yielded.numReturns, ...(yielded.timeoutMs === undefined ? {} : { timeoutMs: yielded.timeoutMs }), ...(fiber.taskId === undefined ? {} : { inTaskId: fiber.taskId }) });
        return;
      case 'lookup':
        this.apply({ type: 'actor-lookup/requested', requestId: id, name: yielded.name, ...(yielded.namespace === undefined ? {} : { namespace: yielded.namespace }) });
        return;
    }
  }

  private readonly singleGets = new Map<string, boolean>();
  /** Gets an interrupted body no longer waits for: the refs they settle with are released at once. */
  private readonly abandonedGets = new Set<string>();

  private releaseAbandoned(outcomes: readonly GetOutcome[]): void {
    const objectIds = outcomes.flatMap((item) => (item.kind === 'value' ? item.value.refs.map((ref) => ref.objectId) : []));
    if (objectIds.length > 0) this.sim.later(this.instance.address, 0, () => this.apply({ type: 'refs/released', objectIds }));
  }

  private resumeWith(id: string, outcome: { kind: 'get'; outcomes: readonly GetOutcome[] } | { kind: 'value'; value: unknown } | { kind: 'error'; error: unknown }): void {
    for (const fiber of this.fibers.values()) {
      if (fiber.waitingFor !== id) continue;
      fiber.waitingFor = undefined;
      const single = this.singleGets.get(id) ?? false;
      this.singleGets.delete(id);
      this.sim.later(this.instance.address, 0, () => {
        if (outcome.kind === 'error') return this.step(fiber, { kind: 'throw', error: outcome.error });
        if (outcome.kind === 'value') return this.step(fiber, { kind: 'next', value: outcome.value });
        const failed = outcome.outcomes.find((item) => item.kind === 'error');
        if (failed !== undefined && failed.kind === 'error') {
          // The values that did arrive are dropped; the refs inside them were counted as held here.
          this.releaseAbandoned(outcome.outcomes);
          return this.step(fiber, { kind: 'throw', error: new SimGetError(failed.error) });
        }
        const values = outcome.outcomes.map((item) => (item.kind === 'value' ? readValue(item.value.data, this.state.config.inlineThresholdBytes) : undefined));
        // A body holds what it got: each ref inside is one local ref until the body ends.
        if (fiber.taskId !== undefined) for (const item of outcome.outcomes) if (item.kind === 'value') fiber.minted.push(...item.value.refs.map((ref) => ref.objectId));
        return this.step(fiber, { kind: 'next', value: single ? values[0] : values });
      });
      return;
    }
  }

  private interrupt(taskId: string): void {
    for (const fiber of this.fibers.values()) {
      if (fiber.taskId !== taskId) continue;
      fiber.interrupted = true;
      if (fiber.waitingFor !== undefined) {
        // A body blocked in get is interrupted where it waits, as Ray raises inside the task.
        this.abandonedGets.add(fiber.waitingFor);
        fiber.waitingFor = undefined;
        this.sim.later(this.instance.address, 0, () => this.step(fiber, { kind: 'throw', error: new SimGetError({ errorClass: 'TaskCancelledError', message: 'the task was cancelled' }) }));
      }
    }
  }

  private mint(effects: unknown[], fiber: Fiber): { taskId?: string; actorId?: string; objectIds: readonly ObjectId[] } {
    const minted = effects.find((effect): effect is { type: 'ids/minted'; taskId?: string; actorId?: string; objectIds: readonly ObjectId[] } => (effect as { type?: string }).type === 'ids/minted');
    if (minted === undefined) throw new InvariantViolation('an API event minted no ids');
    if (!this.isDriver) fiber.minted.push(...minted.objectIds);
    return minted;
  }

  private context(fiber: Fiber): SimContext {
    const toArgs = (args: readonly unknown[]): TaskArg[] =>
      args.map((arg): TaskArg => (isSimRef(arg) ? { kind: 'ref', ref: toMarker(arg) } : { kind: 'value', payload: { kind: 'inline', data: arg === undefined ? null : arg, sizeBytes: sizeOf(arg), refs: refsIn(arg) } }));
    const refsOf = (objectIds: readonly ObjectId[], owner: string): SimRef[] => objectIds.map((objectId) => ({ $ref: objectId, $owner: owner }));
    const self = this.state.workerId;
    return {
      workerId: self,
      nodeId: this.state.nodeId,
      ...(fiber.taskId === undefined ? {} : { taskId: fiber.taskId }),
      attempt: fiber.attempt,
      submit: (fn: string, args: readonly unknown[], options: SimTaskOptions = {}) => {
        const numReturns = options.numReturns ?? 1;
        const effects = this.apply({
          type: 'task/submitted',
          name: options.name ?? fn,
          functionId: fn,
          args: toArgs(args),
          numReturns,
          resources: { CPU: options.numCpus ?? 1, ...options.resources },
          maxRetries: options.maxRetries ?? 3,
          retryExceptions: options.retryExceptions ?? false,
          strategy: options.schedulingStrategy ?? 'DEFAULT',
          ...(fiber.taskId === undefined ? {} : { parentTaskId: fiber.taskId }),
        });
        const refs = refsOf(this.mint(effects, fiber).objectIds, self);
        return numReturns === 1 ? (refs[0] as SimRef) : refs;
      },
      put: (value: unknown) => {
        const effects = this.apply({ type: 'object/put', value: valueData(value) });
        return refsOf(this.mint(effects, fiber).objectIds, self)[0] as SimRef;
      },
      createActor: (className: string, args: readonly unknown[], options: SimActorOptions = {}) => {
        const effects = this.apply({
          type: 'actor/creation-submitted',
          className,
          functionId: className,
          args: toArgs(args),
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
          detached: options.lifetime === 'detached',
          getIfExists: options.getIfExists ?? false,
          maxRestarts: options.maxRestarts ?? 0,
          maxTaskRetries: options.maxTaskRetries ?? 0,
          maxConcurrency: options.maxConcurrency ?? 1,
          ...actorResourceShapes(options.numCpus, options.resources ?? {}),
          strategy: options.schedulingStrategy ?? 'DEFAULT',
        });
        return { $actor: this.mint(effects, fiber).actorId ?? '', ...(options.lifetime === 'detached' ? {} : { $counted: true as const }) };
      },
      call: (actor: SimActor, method: string, args: readonly unknown[], options: { numReturns?: number } = {}) => {
        const numReturns = options.numReturns ?? 1;
        const effects = this.apply({
          type: 'actor-task/submitted',
          actorId: actor.$actor,
          method,
          name: method,
          args: toArgs(args),
          numReturns,
          ...(fiber.taskId === undefined ? {} : { parentTaskId: fiber.taskId }),
          ...(actor.$counted === true ? { handle: { objectId: actorHandleObjectId(actor.$actor), owner: ownerOfActor(actor.$actor) } } : {}),
        });
        const refs = refsOf(this.mint(effects, fiber).objectIds, self);
        return numReturns === 1 ? (refs[0] as SimRef) : refs;
      },
      get: (refs: SimRef | readonly SimRef[], options: { timeoutMs?: number } = {}) =>
        isSimRef(refs)
          ? { kind: 'get', refs: [refs], single: true, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) }
          : { kind: 'get', refs: [...(refs)], single: false, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) },
      wait: (refs: readonly SimRef[], options: { numReturns?: number; timeoutMs?: number } = {}) => ({ kind: 'wait', refs: [...refs], numReturns: options.numReturns ?? 1, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) }),
      sleep: (ms: number) => ({ kind: 'sleep', ms }),
      getActor: (name: string, namespace?: string) => ({ kind: 'lookup', name, ...(namespace === undefined ? {} : { namespace }) }),
      cancel: (ref: SimRef, options: { force?: boolean; recursive?: boolean } = {}) => {
        this.apply({ type: 'cancel/requested', ref: toMarker(ref), force: options.force ?? false, recursive: options.recursive ?? true });
      },
      kill: (actor: SimActor, options: { noRestart?: boolean } = {}) => {
        this.apply({ type: 'kill/requested', actorId: actor.$actor, noRestart: options.noRestart ?? true });
      },
      release: (ref: SimRef) => {
        this.apply({ type: 'refs/released', objectIds: [ref.$ref] });
      },
      exit: (): never => {
        throw new ExitSignal('the task ended its process');
      },
    };
  }
}

function toMarker(ref: SimRef): RefMarker {
  return { objectId: ref.$ref, owner: ref.$owner };
}

export { toSimRef };
