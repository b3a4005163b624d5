/**
 * The `tsray` package: the driver API of API.md, its error classes, and the deterministic simulator.
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
export { simulate, SimFailure } from '../core/sim/index.js';
export type { SimProgram, SimContext, SimOptions, FaultPlan, SimResult } from '../core/sim/index.js';
