/**
 * The error classes of API.md. Every one is `instanceof TsrayError`; `get` rethrows the class named by
 * the core's error record, with its documented fields.
 */
import type { ErrorInfo, ThrownInfo } from '../core/values.js';

/** The base of every tsray error. */
export class TsrayError extends Error {
  override name = 'TsrayError';
}

/** Slots of every error that a recorded field must not overwrite. */
const errorSlots = new Set(['name', 'message', 'stack']);

/**
 * The original error a task threw, as it travelled back: name, message and remote stack, its own
 * fields (`code`, `errno`, custom ones, as JSON data), its `cause` chain and an AggregateError's
 * `errors`, each rebuilt as a RemoteError.
 */
export class RemoteError extends Error {
  override name: string;

  /** Rebuilds a thrown error from its record. */
  constructor(thrown: ThrownInfo) {
    super(thrown.message);
    this.name = thrown.name;
    if (thrown.stack !== undefined) this.stack = thrown.stack;
    // defineProperty, not assignment: a field named `__proto__` stays a field.
    for (const [key, value] of Object.entries(thrown.fields ?? {})) {
      if (!errorSlots.has(key)) Object.defineProperty(this, key, { value, enumerable: key !== 'cause', writable: true, configurable: true });
    }
    // As Error's own options do it: `cause` and `errors` are own, non-enumerable properties.
    if (thrown.cause !== undefined) Object.defineProperty(this, 'cause', { value: new RemoteError(thrown.cause), enumerable: false, writable: true, configurable: true });
    if (thrown.errors !== undefined) Object.defineProperty(this, 'errors', { value: thrown.errors.map((error) => new RemoteError(error)), enumerable: false, writable: true, configurable: true });
  }
}

/** The task threw; `.cause` is the original error. */
export class RayTaskError extends TsrayError {
  override name = 'RayTaskError';
  /** The name the task was submitted under. */
  readonly taskName: string | undefined;
  /** The node the task ran on. */
  readonly nodeId: string | undefined;

  /** Wraps the task's error. */
  constructor(message: string, options: { cause?: Error; taskName?: string; nodeId?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.taskName = options.taskName;
    this.nodeId = options.nodeId;
  }
}

/** The worker died while running the task and retries are spent. */
export class WorkerCrashedError extends TsrayError {
  override name = 'WorkerCrashedError';
}

/** The actor is dead (killed, restarts spent, constructor threw, owner died); `.cause` says which. */
export class ActorDiedError extends TsrayError {
  override name = 'ActorDiedError';
}

/** The actor is restarting and the call cannot be retried. */
export class ActorUnavailableError extends TsrayError {
  override name = 'ActorUnavailableError';
}

/** Every copy of the object is gone and it cannot be rebuilt from lineage. */
export class ObjectLostError extends TsrayError {
  override name = 'ObjectLostError';
  /** The lost object. */
  readonly objectId: string | undefined;

  /** Names the lost object. */
  constructor(message: string, objectId?: string) {
    super(message);
    this.objectId = objectId;
  }
}

/** The process that owned the object is gone. */
export class OwnerDiedError extends ObjectLostError {
  override name = 'OwnerDiedError';
}

/** Lineage re-execution failed. */
export class ObjectReconstructionFailedError extends ObjectLostError {
  override name = 'ObjectReconstructionFailedError';
}

/** `timeout` elapsed first; the message says what the object is still waiting for. */
export class GetTimeoutError extends TsrayError {
  override name = 'GetTimeoutError';
}

/** The task was cancelled. */
export class TaskCancelledError extends TsrayError {
  override name = 'TaskCancelledError';
}

/** A hard node-affinity target is dead or can never fit the task. */
export class TaskUnschedulableError extends TsrayError {
  override name = 'TaskUnschedulableError';
}

/** The store and its spill space cannot take the object. */
export class ObjectStoreFullError extends TsrayError {
  override name = 'ObjectStoreFullError';
}

/** The error `get` throws for a core error record. */
export function errorFromInfo(info: ErrorInfo): TsrayError {
  switch (info.errorClass) {
    case 'RayTaskError':
      return new RayTaskError(info.message, {
        ...(info.cause === undefined ? {} : { cause: new RemoteError(info.cause) }),
        ...(info.taskName === undefined ? {} : { taskName: info.taskName }),
        ...(info.nodeId === undefined ? {} : { nodeId: info.nodeId }),
      });
    case 'WorkerCrashedError':
      return new WorkerCrashedError(info.message);
    case 'ActorDiedError':
      return new ActorDiedError(info.message, info.cause === undefined ? undefined : { cause: new RemoteError(info.cause) });
    case 'ActorUnavailableError':
      return new ActorUnavailableError(info.message);
    case 'ObjectLostError':
      return new ObjectLostError(info.message, info.objectId);
    case 'OwnerDiedError':
      return new OwnerDiedError(info.message, info.objectId);
    case 'ObjectReconstructionFailedError':
      return new ObjectReconstructionFailedError(info.message, info.objectId);
    case 'GetTimeoutError':
      return new GetTimeoutError(info.message);
    case 'TaskCancelledError':
      return new TaskCancelledError(info.message);
    case 'TaskUnschedulableError':
      return new TaskUnschedulableError(info.message);
    case 'ObjectStoreFullError':
      return new ObjectStoreFullError(info.message);
  }
}
