/**
 * The driver API of API.md and its error classes, as the `tsray` package (index.ts) gives them. The
 * deterministic simulator is `tsray/sim`, so that the worker threads, which load this module, do not
 * load it.
 */
export {
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
} from './runtime/api.js';
export type { InitOptions, GetOptions, ClusterInfo, ActorHandle, TaskOptions, ActorOptions, ActorListing, NodeInfo, ObjectListing, TaskListing } from './runtime/api.js';
export {
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
} from './errors.js';
