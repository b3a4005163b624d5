/**
 * The `tsray` package. This release carries the error classes of the contract and the deterministic
 * simulator; the driver API (`init`, `remote`, `get`, ...) arrives with the runtime.
 */
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
