/**
 * The raylet's pure core: lease scheduling (Ray's hybrid policy with spillback), the worker pool,
 * resource accounting and the object store's bookkeeping for one node.
 */
import type { ComponentCore } from '../component.js';
import { applyRaylet } from './apply.js';
import type { RayletEffect, RayletEvent } from './events.js';
import { rayletInvariants } from './invariants.js';
import type { RayletState } from './state.js';
import { initialRayletState } from './state.js';

export { applyRaylet, heartbeatTimerId } from './apply.js';
export type {
  CopyStored,
  DriverConnected,
  NodeShutdown,
  NodeStarted,
  ObjectsDeleted,
  ObjectSpilled,
  RayletEffect,
  RayletEvent,
  RayletInboundMessage,
  WorkerExited,
  WorkerKill,
  WorkerSpawn,
  WorkerStarted,
} from './events.js';
export { rayletInvariants } from './invariants.js';
export { storeFullReason } from './object-store.js';
export type {
  ClusterNodeView,
  RayletConfig,
  RayletLease,
  RayletLeaseState,
  RayletPhase,
  RayletState,
  RayletWorker,
  RayletWorkerState,
  StoredObject,
} from './state.js';
export { defaultRayletConfig, initialRayletState } from './state.js';

/** The raylet as a component core, for the shell, the simulator and the replayer. */
export const rayletCore: ComponentCore<RayletState, RayletEvent, RayletEffect> = {
  kind: 'raylet',
  version: 13,
  initial: initialRayletState,
  apply: applyRaylet,
  invariants: rayletInvariants,
};
