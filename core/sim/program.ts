/**
 * How a workload is written for the simulator: task bodies, actor classes and a driver script as
 * plain (generator) functions over JSON values. A body that must wait yields `ctx.get(...)`; the
 * simulator resumes it with the values (or throws the error into it). Refs and actor handles travel
 * inside values as markers, exactly as they travel inside encoded values in the live runtime.
 */
import type { ActorId, NodeId, ObjectId, WorkerId } from '../ids.js';
import { actorHandleObjectId, ownerOfActor } from '../ids.js';
import type { SchedulingStrategy } from '../protocol.js';
import type { Resources } from '../resources.js';
import type { ErrorInfo, RefMarker } from '../values.js';

/** An object ref inside a simulated value. */
export interface SimRef {
  readonly $ref: ObjectId;
  readonly $owner: WorkerId;
}

/**
 * An actor handle inside a simulated value. A counted handle (a non-detached actor's) holds the
 * actor's handle object, as it does inside an encoded value in the live runtime.
 */
export interface SimActor {
  readonly $actor: ActorId;
  readonly $counted?: true;
}

/** What a body or driver yields to wait. */
export type Yielded =
  | { readonly kind: 'get'; readonly refs: readonly SimRef[]; readonly single: boolean; readonly timeoutMs?: number }
  | { readonly kind: 'wait'; readonly refs: readonly SimRef[]; readonly numReturns: number; readonly timeoutMs?: number }
  | { readonly kind: 'sleep'; readonly ms: number }
  | { readonly kind: 'lookup'; readonly name: string; readonly namespace?: string };

/** Options of a simulated task submission. */
export interface SimTaskOptions {
  readonly numReturns?: number;
  readonly numCpus?: number;
  readonly resources?: Resources;
  readonly maxRetries?: number;
  readonly retryExceptions?: boolean | readonly string[];
  readonly schedulingStrategy?: SchedulingStrategy;
  readonly name?: string;
}

/** Options of a simulated actor creation. */
export interface SimActorOptions {
  readonly name?: string;
  readonly namespace?: string;
  readonly lifetime?: 'detached' | 'non_detached';
  readonly getIfExists?: boolean;
  readonly maxRestarts?: number;
  readonly maxTaskRetries?: number;
  readonly maxConcurrency?: number;
  readonly numCpus?: number;
  readonly resources?: Resources;
  readonly schedulingStrategy?: SchedulingStrategy;
}

/** The error a simulated `get` throws into a body or driver. */
export class SimGetError extends Error {
  override readonly name = 'SimGetError';
  /** The error as the runtime reported it. */
  readonly info: ErrorInfo;

  /** Wraps an error record. */
  constructor(info: ErrorInfo) {
    super(`${info.errorClass}: ${info.message}`);
    this.info = info;
  }
}

/** What a body, actor method or driver can do. */
export interface SimContext {
  readonly workerId: WorkerId;
  readonly nodeId: NodeId;
  /** The task being run (undefined in the driver). */
  readonly taskId?: string;
  readonly attempt: number;
  /** Submits body `fn`; returns one ref, or an array of `numReturns` refs when that is above 1. */
  submit(fn: string, args: readonly unknown[], options?: SimTaskOptions): SimRef | SimRef[];
  put(value: unknown): SimRef;
  createActor(className: string, args: readonly unknown[], options?: SimActorOptions): SimActor;
  call(actor: SimActor, method: string, args: readonly unknown[], options?: { numReturns?: number }): SimRef | SimRef[];
  /** `yield ctx.get(ref)` gives the value; `yield ctx.get([a, b])` gives the values in order. */
  get(refs: SimRef | readonly SimRef[], options?: { timeoutMs?: number }): Yielded;
  wait(refs: readonly SimRef[], options?: { numReturns?: number; timeoutMs?: number }): Yielded;
  sleep(ms: number): Yielded;
  /** `yield ctx.getActor(name)` gives the handle, or null when no live actor has that name. */
  getActor(name: string, namespace?: string): Yielded;
  cancel(ref: SimRef, options?: { force?: boolean; recursive?: boolean }): void;
  kill(actor: SimActor, options?: { noRestart?: boolean }): void;
  /** Drops this code's handle to `ref` (the live runtime does it when the ref is garbage collected). */
  release(ref: SimRef): void;
  /** Ends this worker's process at once, as `process.exit` inside a task does. */
  exit(): never;
}

/** A task body; it may be a generator function that yields `ctx.get(...)` and friends. */
export type SimBody = (ctx: SimContext, ...args: unknown[]) => unknown;

/** An actor class: a constructor returning the actor's state object, and methods over that state. */
export interface SimActorClass {
  readonly init: (ctx: SimContext, ...args: unknown[]) => Record<string, unknown>;
  readonly methods: Readonly<Record<string, (ctx: SimContext, state: Record<string, unknown>, ...args: unknown[]) => unknown>>;
}

/** A whole simulated workload. */
export interface SimProgram {
  readonly name: string;
  readonly bodies: Readonly<Record<string, SimBody>>;
  readonly actors: Readonly<Record<string, SimActorClass>>;
  /** The driver script; its return value is the run's result. */
  readonly driver: (ctx: SimContext) => Generator<Yielded, unknown, unknown>;
  /**
   * Scripts of further drivers (jobs) on the head node. They are what a `driver-death` fault ends;
   * the run's liveness asks only that the main driver finishes.
   */
  readonly otherDrivers?: readonly ((ctx: SimContext) => Generator<Yielded, unknown, unknown>)[];
}

/** A ref marker from a core ref. */
export function toSimRef(ref: RefMarker): SimRef {
  return { $ref: ref.objectId, $owner: ref.owner };
}

/** Whether a value is a ref marker. */
export function isSimRef(value: unknown): value is SimRef {
  return typeof value === 'object' && value !== null && typeof (value as { $ref?: unknown }).$ref === 'string';
}

/** Whether a value is an actor handle marker. */
export function isSimActor(value: unknown): value is SimActor {
  return typeof value === 'object' && value !== null && typeof (value as { $actor?: unknown }).$actor === 'string';
}

/** Every ref inside a value, once per occurrence, in a fixed walk order. */
export function refsIn(value: unknown, into: RefMarker[] = []): RefMarker[] {
  if (isSimRef(value)) {
    into.push({ objectId: value.$ref, owner: value.$owner });
    return into;
  }
  if (isSimActor(value)) {
    if (value.$counted === true) into.push({ objectId: actorHandleObjectId(value.$actor), owner: ownerOfActor(value.$actor) });
    return into;
  }
  if (Array.isArray(value)) for (const item of value) refsIn(item, into);
  else if (typeof value === 'object' && value !== null) for (const key of Object.keys(value).sort()) refsIn((value as Record<string, unknown>)[key], into);
  return into;
}

/** The size a value counts as: its JSON length, plus `$padBytes` to stand in for large binary data. */
export function sizeOf(value: unknown): number {
  const pad = typeof value === 'object' && value !== null && typeof (value as { $padBytes?: unknown }).$padBytes === 'number' ? (value as { $padBytes: number }).$padBytes : 0;
  return (JSON.stringify(value) ?? 'undefined').length + pad;
}
