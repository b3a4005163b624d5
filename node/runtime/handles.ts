/**
 * The user-facing handles: ObjectRef, RemoteFunction, ActorClass and ActorHandle. They are values:
 * they travel inside arguments and objects through the codec hooks at the bottom of this file.
 */
import type { RefMarker } from '../../core/values.js';
import type { CodecHooks } from '../codec/index.js';
import type { FunctionDescriptor } from './shipping.js';
import { isOptionsObject, shown, validateActorOptions, validateMethodOptions, validateTaskOptions } from './validate.js';
import type { ValidMethodOptions } from './validate.js';

/** A reference to an object in the cluster; `tsray.get(ref)` gives its value. */
export class ObjectRef<T = unknown> {
  /** The object's id. */
  readonly id: string;
  /** The worker that owns the object. */
  readonly owner: string;
  declare private readonly __type: T;

  /** Built by the runtime; user code receives refs from `.remote()` and `put`. */
  constructor(marker: RefMarker) {
    this.id = marker.objectId;
    this.owner = marker.owner;
  }

  /** The marker the core knows the ref by. */
  get marker(): RefMarker {
    return { objectId: this.id, owner: this.owner };
  }

  /** Shown in logs and errors. */
  toString(): string {
    return `ObjectRef(${this.id})`;
  }
}

/** Options of a task, as API.md lists them. */
export interface TaskOptions {
  numReturns?: number;
  numCpus?: number;
  resources?: Record<string, number>;
  maxRetries?: number;
  retryExceptions?: boolean | string[];
  schedulingStrategy?: 'DEFAULT' | 'SPREAD' | { nodeId: string; soft: boolean };
  name?: string;
}

/** Options of an actor, as API.md lists them. */
export interface ActorOptions {
  name?: string;
  namespace?: string;
  lifetime?: 'detached' | 'non_detached';
  getIfExists?: boolean;
  maxRestarts?: number;
  maxTaskRetries?: number;
  maxConcurrency?: number;
  numCpus?: number;
  resources?: Record<string, number>;
  schedulingStrategy?: TaskOptions['schedulingStrategy'];
}

/** What submitting needs from the runtime; the API module supplies it (it knows the current runtime). */
export interface Submitter {
  submitTask(descriptor: FunctionDescriptor, args: unknown[], options: TaskOptions): ObjectRef | ObjectRef[];
  /** Creates the actor and gives its handle, held by this process (see `makeActorHandle`). */
  createActor(descriptor: FunctionDescriptor, className: string, args: unknown[], options: ActorOptions): unknown;
  callActor(handle: ActorHandleState, method: string, args: unknown[], options: ValidMethodOptions): ObjectRef | ObjectRef[];
}

let submitter: Submitter | undefined;

/** Installed once by the API module. */
export function setSubmitter(value: Submitter): void {
  submitter = value;
}

function theSubmitter(): Submitter {
  if (submitter === undefined) throw new TypeError('tsray is not initialized: call `await tsray.init()` first');
  return submitter;
}

/** Arguments of `.remote()`: each may be given as its value or as a ref to it (resolved before the task runs). */
export type RemoteArgs<A extends unknown[]> = { [K in keyof A]: A[K] | ObjectRef<A[K]> };

/** A function made remote with `tsray.remote(fn)`. */
export class RemoteFunction<A extends unknown[] = unknown[], R = unknown> {
  /** @internal */
  constructor(
    readonly descriptor: FunctionDescriptor,
    readonly taskOptions: TaskOptions,
  ) {}

  /** Submits a task; returns at once with the ref of its result (or refs, with numReturns > 1). */
  remote(...args: RemoteArgs<A>): ObjectRef<R> {
    return theSubmitter().submitTask(this.descriptor, args, this.taskOptions) as ObjectRef<R>;
  }

  /** A copy with these options merged over the current ones; a wrong value throws here, as at `tsray.remote`. */
  options(options: TaskOptions): RemoteFunction<A, R> {
    if (!isOptionsObject(options)) throw new TypeError(`options takes an object of task options such as { numReturns: 2 }, not ${shown(options)}`);
    const merged = { ...this.taskOptions, ...options };
    validateTaskOptions(merged);
    return new RemoteFunction<A, R>(this.descriptor, merged);
  }
}

/**
 * What an actor handle knows: its id, and the actor's handle object when its handles are counted
 * (a non-detached actor ends once no handle to it is reachable; a detached one has none).
 */
export interface ActorHandleState {
  readonly actorId: string;
  readonly ref?: RefMarker;
}

/** A class made remote with `tsray.remote(Class)`. */
export class ActorClass<T = unknown> {
  /** @internal */
  constructor(
    readonly descriptor: FunctionDescriptor,
    readonly className: string,
    readonly actorOptions: ActorOptions,
  ) {}

  /** Creates an actor; returns its handle at once. */
  remote(...args: unknown[]): ActorHandle<T> {
    return theSubmitter().createActor(this.descriptor, this.className, args, this.actorOptions) as ActorHandle<T>;
  }

  /** A copy with these options merged over the current ones; a wrong value throws here, as at `tsray.remote`. */
  options(options: ActorOptions): ActorClass<T> {
    if (!isOptionsObject(options)) throw new TypeError(`options takes an object of actor options such as { name: 'counter' }, not ${shown(options)}`);
    const merged = { ...this.actorOptions, ...options };
    validateActorOptions(merged);
    return new ActorClass<T>(this.descriptor, this.className, merged);
  }
}

/** A method of an actor, as `handle.method` gives it; typed from the class's method. */
export interface ActorMethod<F = (...args: unknown[]) => unknown> {
  remote(...args: F extends (...args: infer A) => unknown ? RemoteArgs<A> : unknown[]): ObjectRef<F extends (...args: never[]) => infer R ? Awaited<R> : unknown>;
  options(options: { numReturns?: number }): { remote(...args: F extends (...args: infer A) => unknown ? RemoteArgs<A> : unknown[]): ObjectRef | ObjectRef[] };
}

/** A handle whose class is not known here (from `getActor`): any method may be called. */
export interface AnyActorHandle {
  readonly actorId: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API.md's ActorHandle<any>: methods are not known statically
  readonly [method: string]: any;
}

/** A handle to an actor of class T: `handle.method.remote(...args)` calls it, typed from T's methods. */
export type TypedActorHandle<T> = { readonly actorId: string } & {
  readonly [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: ActorMethod<T[K]>;
};

/** A handle to an actor (API.md's `ActorHandle<T>`); `ActorHandle<any>` allows any method. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the contract spells an untyped handle ActorHandle<any>
export type ActorHandle<T = any> = 0 extends 1 & T ? AnyActorHandle : TypedActorHandle<T>;

const handleStates = new WeakMap<object, ActorHandleState>();

/** The options of a method called without `.options(...)`, checked once for every such call. */
const defaultMethodOptions: ValidMethodOptions = Object.freeze({ numReturns: 1 });

/** The target behind every actor handle proxy: a class of its own, so the codec offers handles to its hooks. */
class ActorHandleTarget {
  constructor(readonly actorId: string) {}
}

/**
 * Builds the handle of an actor (a proxy whose properties are methods). A counted handle (`ref`
 * given) stands for one hold of the actor's handle object: whoever builds it arranges for that hold
 * to be released when the handle is collected. Its methods keep the handle reachable, so a method
 * kept apart from its handle still holds the actor.
 */
export function makeActorHandle<T>(state: ActorHandleState): ActorHandle<T> {
  const handle: ActorHandleState = { actorId: state.actorId, ...(state.ref === undefined ? {} : { ref: { objectId: state.ref.objectId, owner: state.ref.owner } }) };
  const methods = new Map<string, ActorMethod>();
  const target = new ActorHandleTarget(handle.actorId);
  const proxy = new Proxy(target, {
    get(object, property) {
      if (property === 'actorId') return handle.actorId;
      if (typeof property !== 'string' || property === 'then' || property === 'toJSON') return undefined;
      let method = methods.get(property);
      if (method === undefined) {
        const call = (args: unknown[], options: ValidMethodOptions): ObjectRef | ObjectRef[] => {
          // Referencing the proxy here is what keeps it (and so its hold on the actor) reachable from a method.
          void proxy;
          return theSubmitter().callActor(handle, property, args, options);
        };
        method = {
          remote: (...args: unknown[]) => call(args, defaultMethodOptions) as ObjectRef,
          options: (options: { numReturns?: number }) => {
            // A wrong value throws here, not at the later `.remote()`; the checked copy serves every call.
            const valid = validateMethodOptions(options);
            return { remote: (...args: unknown[]) => call(args, valid) };
          },
        };
        methods.set(property, method);
      }
      void object;
      return method;
    },
  });
  handleStates.set(proxy, handle);
  return proxy as unknown as ActorHandle<T>;
}

/** The state of an actor handle proxy, or undefined for any other value. */
export function actorHandleState(value: unknown): ActorHandleState | undefined {
  return typeof value === 'object' && value !== null ? handleStates.get(value) : undefined;
}

/**
 * The codec hooks for these classes; `makeRef` and `makeActor` decide whether decoded refs (and the
 * refs of decoded actor handles) count as held.
 */
export function codecHooks(makeRef: (marker: RefMarker) => unknown, makeActor: (state: ActorHandleState) => unknown): CodecHooks {
  return {
    refOf: (value) => (value instanceof ObjectRef ? value.marker : undefined),
    makeRef,
    actorOf: (value) => {
      const state = handleStates.get(value);
      if (state === undefined) return undefined;
      return state.ref === undefined ? { actorId: state.actorId } : { actorId: state.actorId, ref: { objectId: state.ref.objectId, owner: state.ref.owner } };
    },
    makeActor: (data) => makeActor(isRefMarker(data.ref) ? { actorId: data.actorId, ref: data.ref } : { actorId: data.actorId }),
    functionOf: (value) => (value instanceof RemoteFunction ? { descriptor: value.descriptor, options: value.taskOptions } : undefined),
    makeFunction: (data) => new RemoteFunction(data.descriptor as FunctionDescriptor, (data.options ?? {})),
    actorClassOf: (value) => (value instanceof ActorClass ? { descriptor: value.descriptor, className: value.className, options: value.actorOptions } : undefined),
    makeActorClass: (data) => new ActorClass(data.descriptor as FunctionDescriptor, String(data.className), (data.options ?? {})),
  };
}

function isRefMarker(value: unknown): value is RefMarker {
  return typeof value === 'object' && value !== null && typeof (value as { objectId?: unknown }).objectId === 'string' && typeof (value as { owner?: unknown }).owner === 'string';
}
