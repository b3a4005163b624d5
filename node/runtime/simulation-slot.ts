/**
 * Where `tsray sim` plugs a simulated cluster into the public API: while a simulated run is active,
 * `init()` attaches the script to it instead of starting the embedded cluster, and the state calls
 * read it. The slot keeps node/runtime free of any import of the simulator.
 */
import type { GcsState } from '../../core/gcs/index.js';
import type { OwnerState } from '../../core/owner/index.js';
import type { RayletState } from '../../core/raylet/index.js';
import type { WorkerListing } from './embedded.js';

/** What `init()` returns; see api.ts. */
export interface AttachedCluster {
  address: string | null;
  nodeId: string;
  jobId: string;
  sessionDir: string;
}

/** The component states the state API reads, from the embedded cluster or a simulated one. */
export interface ClusterView {
  readonly gcsState: GcsState;
  readonly rayletStates: readonly RayletState[];
  readonly driverState: OwnerState;
  /** The tasks and objects of every worker's owner. */
  queryWorkers(): Promise<WorkerListing[]>;
}

/** A simulated cluster as the public API sees it. */
export interface Simulation {
  /** `init(options)` under the simulator: checks nothing more than init does, attaches the driver. */
  attach(options: { numCpus?: number; resources?: Record<string, number>; namespace?: string }): Promise<AttachedCluster>;
  /** `shutdown()` under the simulator: the driver stops; the run goes on to its liveness check. */
  detach(): Promise<void>;
  /** The simulated cluster's states, once attached. */
  view(): ClusterView | undefined;
}

let active: Simulation | undefined;

/** Sets (or clears) the simulated run the public API serves. */
export function setSimulation(simulation: Simulation | undefined): void {
  active = simulation;
}

/** The simulated run the public API serves, if any. */
export function simulation(): Simulation | undefined {
  return active;
}
