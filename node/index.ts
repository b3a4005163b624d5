/**
 * The `tsray` package: the driver API of API.md and its error classes (defined in public.ts).
 *
 * In a worker thread, tsray runs from one precompiled script (see runtime/worker-boot.cts), which is
 * much faster to start than tsray's many modules. A user's module imported there must see that same
 * copy, or its ObjectRefs, handles and error classes would not be the ones the runtime knows: so this
 * module hands out the boot script's API when there is one, and public.ts's everywhere else.
 */
import type * as Public from './public.js';
import { bootedApiKey } from './runtime/worker-script.cjs';

export type * from './public.js';

const api: typeof Public = ((globalThis as Record<symbol, typeof Public | undefined>)[bootedApiKey]) ?? (await import('./public.js'));

export const {
  init,
  shutdown,
  isInitialized,
  remote,
  put,
  get,
  wait,
  cancel,
  kill,
  getActor,
  getRuntimeContext,
  nodes,
  clusterResources,
  availableResources,
  state,
  ObjectRef,
  RemoteFunction,
  ActorClass,
  TsrayError,
  RayTaskError,
  WorkerCrashedError,
  ActorDiedError,
  ActorUnavailableError,
  ObjectLostError,
  OwnerDiedError,
  ObjectReconstructionFailedError,
  GetTimeoutError,
  TaskCancelledError,
  TaskUnschedulableError,
  ObjectStoreFullError,
  RemoteError,
  errorFromInfo,
} = api;

/** A reference to an object in the cluster's store (see public.ts). */
export type ObjectRef<T = unknown> = Public.ObjectRef<T>;
/** A function that runs as tasks (see public.ts). */
export type RemoteFunction<A extends unknown[] = unknown[], R = unknown> = Public.RemoteFunction<A, R>;
/** A class whose instances run as actors (see public.ts). */
export type ActorClass<T = unknown> = Public.ActorClass<T>;
/** The base of tsray's errors. */
export type TsrayError = Public.TsrayError;
/** A task threw; carries the remote error. */
export type RayTaskError = Public.RayTaskError;
/** The worker running a task ended. */
export type WorkerCrashedError = Public.WorkerCrashedError;
/** The actor is dead and will not restart. */
export type ActorDiedError = Public.ActorDiedError;
/** The actor is restarting or unreachable for now. */
export type ActorUnavailableError = Public.ActorUnavailableError;
/** Every copy of an object is gone. */
export type ObjectLostError = Public.ObjectLostError;
/** The owner of an object died. */
export type OwnerDiedError = Public.OwnerDiedError;
/** Lineage could not rebuild a lost object. */
export type ObjectReconstructionFailedError = Public.ObjectReconstructionFailedError;
/** A get did not finish in time; says what it waits for. */
export type GetTimeoutError = Public.GetTimeoutError;
/** The task was cancelled. */
export type TaskCancelledError = Public.TaskCancelledError;
/** No node can ever run the task. */
export type TaskUnschedulableError = Public.TaskUnschedulableError;
/** The object store is full. */
export type ObjectStoreFullError = Public.ObjectStoreFullError;
/** An error thrown by a task, as it arrives at the caller. */
export type RemoteError = Public.RemoteError;
