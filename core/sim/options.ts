/**
 * What a simulated run is made of: the cluster, the fault plan, how recipes are applied and what is
 * recorded. Every field has a default, so `{ seed, program }` is a complete run.
 */
import type { AnyEvent, ComponentCore } from '../component.js';
import type { GcsConfig } from '../gcs/index.js';
import type { OwnerConfig } from '../owner/index.js';
import type { RayletConfig } from '../raylet/index.js';
import type { Resources } from '../resources.js';
import type { SimProgram } from './program.js';
import type { SimProcessFactory } from './simulator.js';

/** A fault at a given time. `target` picks among the candidates (index modulo their count). */
export type ScheduledFault =
  | { readonly atMs: number; readonly kind: 'worker-crash'; readonly target: number }
  | { readonly atMs: number; readonly kind: 'owner-death'; readonly target: number }
  | { readonly atMs: number; readonly kind: 'driver-death'; readonly target: number }
  | { readonly atMs: number; readonly kind: 'node-death'; readonly target: number }
  | { readonly atMs: number; readonly kind: 'gcs-restart'; readonly downMs: number }
  | { readonly atMs: number; readonly kind: 'partition'; readonly target: number; readonly durationMs: number };

/** The faults of a run: message faults by rate during the fault phase, and scheduled faults. */
export interface FaultPlan {
  /** Chance a message is lost and retransmitted by the transport later (so it may arrive out of order). */
  readonly dropRate?: number;
  /** Chance a message is delivered twice. */
  readonly duplicateRate?: number;
  /** Extra random latency per message, 0..jitterMs. */
  readonly jitterMs?: number;
  /** Chance of a latency spike of up to spikeMs. */
  readonly spikeRate?: number;
  readonly spikeMs?: number;
  readonly scheduled?: readonly ScheduledFault[];
}

/**
 * How recipes are applied: on mutable state (the live hot path), under immer, or both with hashes
 * compared; or `auto`, the default: each process's state directly until one of its tables splits
 * (holds more than `splitAt` entries), then under immer. Direct steps are faster while a state is
 * small, but their invariants walk the whole state after every event; under immer a step shares
 * what it did not change with the state before it, and the invariants check only what changed.
 */
export type ApplyMode = 'direct' | 'immer' | 'both' | 'auto';

/** A simulated run. */
export interface SimOptions {
  readonly seed: string | number;
  readonly program: SimProgram;
  /** The nodes; the first is the head (GCS and driver). Default: three nodes of 2 CPUs. */
  readonly nodes?: readonly { readonly resources: Resources }[];
  readonly faults?: FaultPlan;
  readonly mode?: ApplyMode;
  /** Faults happen only before this time; after it every submitted task and call must resolve. */
  readonly faultPhaseMs?: number;
  /** The run fails its liveness check if the driver has not finished by then. */
  readonly maxTimeMs?: number;
  /** Bound on applied events, against runaway runs. */
  readonly maxEvents?: number;
  /** Keep trace entries (events, hashes, notes). */
  readonly record?: boolean;
  /** Record a state hash every this many events of an instance, or less often for a big state (see `hashedCharsPerEvent`); 0: only at the end. */
  readonly hashEvery?: number;
  /** Check cross-component invariants every this many events (1: after every event). */
  readonly crossCheckEvery?: number;
  /**
   * How the cross-component invariants are checked: from the processes stepped since the last check
   * (`changed`, the default), over every process (`whole`), or both, failing the run where the two
   * differ (`both`, for the tests of the first).
   */
  readonly crossCheck?: 'changed' | 'whole' | 'both';
  /** Base latency of a message. */
  readonly latencyMs?: number;
  /** How long a simulated body runs before it returns. */
  readonly bodyMs?: number;
  readonly ownerConfig?: Partial<OwnerConfig>;
  readonly rayletConfig?: Partial<RayletConfig>;
  readonly gcsConfig?: Partial<GcsConfig>;
  /**
   * Replaces component cores, for mutation tests that prove the checks catch a broken recipe.
   * Production runs leave this unset.
   */
  readonly cores?: Partial<Record<'gcs' | 'raylet' | 'owner', ComponentCore<unknown, AnyEvent, unknown>>>;
  /**
   * Runs a named broken recipe of core/sim/mutations.ts; the trace's header records the name, so
   * replay applies it too. Production runs leave this unset.
   */
  readonly mutation?: string;
  /**
   * Where the program can be loaded again (a module path and export, as the caller writes it), so
   * that a trace's run can be repeated under another fault plan (the debugger's counterfactual).
   */
  readonly workloadModule?: string;
  /**
   * Makes the process behind each owner instance. Default: generator workloads of `program`
   * (core/sim/runtime.ts); `tsray sim SCRIPT` runs a user's ordinary async code instead (node/sim).
   */
  readonly processes?: SimProcessFactory;
}
