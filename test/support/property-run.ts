/**
 * One property run: simulate a generated workload under a generated fault plan, then check that it
 * completed (no invariant or liveness failure) and that the oracle accepts every result. A failure
 * is thrown as a `PropertyFailure` naming the check that caught it, with the run's trace attached.
 */
import fc from 'fast-check';
import type { ApplyMode, FaultPlan, SimOptions, SimResult } from '../../core/sim/index.js';
import { SimFailure, simulate } from '../../core/sim/index.js';
import { faultPhaseMs, faultPlanArbitrary } from './fault-plan.js';
import { judge } from './oracle.js';
import { worldOf } from './outcome-rules.js';
import { expectations } from './reference.js';
import type { ObservedResult } from './workload-program.js';
import { toProgram } from './workload-program.js';
import type { Plan, Workload } from './workload.js';
import { describePlan, resolveWorkload, workloadArbitrary } from './workload.js';

/** What fast-check generates for one run. */
export interface RunSample {
  readonly workload: Workload;
  readonly faults: FaultPlan;
  readonly simSeed: number;
}

/** The arbitrary of one run's inputs. */
export function runSampleArbitrary(): fc.Arbitrary<RunSample> {
  return fc.record({ workload: workloadArbitrary(), faults: faultPlanArbitrary(), simSeed: fc.nat() });
}

/** The checks a run can fail, as a failure report names them. */
export type CheckName = 'invariant' | 'cross-invariant' | 'liveness' | 'actor-order' | 'gcs-replay' | 'immer-vs-direct' | 'runaway' | 'recipe-threw' | 'driver-threw' | 'oracle' | 'nondeterminism';

/** A failed run: which check caught it, and the trace that shows it. */
export class PropertyFailure extends Error {
  override readonly name = 'PropertyFailure';
  readonly check: CheckName;
  /** The run's trace (not enumerable, so printing the error stays short). */
  declare readonly traceText: string;

  /** Names the check and keeps the trace. */
  constructor(check: CheckName, message: string, traceText: string) {
    super(`[${check}] ${message}`);
    this.check = check;
    Object.defineProperty(this, 'traceText', { value: traceText, enumerable: false });
  }
}

/** Which check a simulator failure comes from, read from its message. */
export function checkOfSimFailure(message: string): CheckName {
  if (message.startsWith('liveness')) return 'liveness';
  if (message.includes('cross-component invariants broken')) return 'cross-invariant';
  if (message.includes('per-caller order broken')) return 'actor-order';
  if (message.includes('invariants broken')) return 'invariant';
  if (message.includes('replayed from its log')) return 'gcs-replay';
  if (message.includes('under immer')) return 'immer-vs-direct';
  if (message.includes('does not settle')) return 'runaway';
  return 'recipe-threw';
}

/** How to run: the apply mode and, for mutation tests, replaced cores. */
export interface RunOptions {
  readonly mode?: ApplyMode;
  readonly cores?: SimOptions['cores'];
  /** Record a state hash every this many events (0: only at the end). */
  readonly hashEvery?: number;
}

/**
 * Half the runs pipeline up to 3 tasks per leased worker once a class queues more tasks than it has
 * leases, as the live runtime does (it pipelines more); they ask for one lease at a time, so that the
 * small workloads' queues get that long.
 */
function pipelining(simSeed: number): { maxTasksInFlightPerLease?: number; maxLeaseRequestsPerClass?: number } {
  return Math.floor(simSeed / 2) % 2 === 0 ? {} : { maxTasksInFlightPerLease: 3, maxLeaseRequestsPerClass: 1 };
}

/**
 * A quarter of the runs end idle workers past the soft limit after 20 ms (the live runtime waits 1 s):
 * nested tasks grow their pools, and `returnsRef` leaves objects owned by workers that then sit idle,
 * which must decline until those objects are freed (core/raylet/idle-exit.ts). Chosen by bits of the
 * seed that pick neither the lease-keeping, the pipelining nor the recording quarter.
 */
function idleExits(simSeed: number): { idleWorkerExitMs?: number } {
  return Math.floor(simSeed / 16) % 4 === 0 ? { idleWorkerExitMs: 20 } : {};
}

/** The simulator options of a property run (`record`: write its trace as it goes). */
export function simOptions(sample: RunSample, plan: Plan, options: RunOptions = {}, record = true): SimOptions {
  return {
    seed: sample.simSeed,
    program: toProgram(plan),
    faults: sample.faults,
    faultPhaseMs,
    maxTimeMs: 30_000,
    mode: options.mode ?? 'direct',
    record,
    hashEvery: options.hashEvery ?? 0,
    // Half the runs keep idle leases for a while, as the live runtime does; the other half return them at once.
    ownerConfig: { leaseIdleMs: sample.simSeed % 2 === 0 ? 0 : 50, ...pipelining(sample.simSeed) },
    rayletConfig: idleExits(sample.simSeed),
    ...(options.cores === undefined ? {} : { cores: options.cores }),
  };
}

/**
 * Whether a run records its trace as it goes: one in four, chosen by bits of the simulator's seed
 * that pick neither the lease-keeping nor the pipelining half, so the trace writer still meets
 * every kind of run. Recording (each line written, chained, parsed back and applied again for the
 * snapshots, and the final hashes) was about 38% of a run's CPU; a run that fails unrecorded is run
 * again recorded for its trace, the simulator being deterministic.
 */
function recordsAsItGoes(simSeed: number): boolean {
  return Math.floor(simSeed / 4) % 4 === 0;
}

/**
 * Runs one sample and checks it; returns the result when every check passes.
 *
 * @throws PropertyFailure naming the check that failed, with the run's trace.
 */
export function checkRun(sample: RunSample, options: RunOptions = {}): SimResult {
  const plan = resolveWorkload(sample.workload);
  if (recordsAsItGoes(sample.simSeed)) return checkOnce(sample, plan, options, true);
  try {
    return checkOnce(sample, plan, options, false);
  } catch (error) {
    if (!(error instanceof PropertyFailure)) throw error;
    // Throws the same failure, now with its trace, unless the recorded run passes.
    const recorded = checkOnce(sample, plan, options, true);
    throw new PropertyFailure('nondeterminism', `the run failed unrecorded (${error.message}) but passed when run again recorded`, recorded.traceText());
  }
}

function checkOnce(sample: RunSample, plan: Plan, options: RunOptions, record: boolean): SimResult {
  let result: SimResult;
  try {
    result = simulate(simOptions(sample, plan, options, record));
  } catch (error) {
    if (error instanceof SimFailure) throw new PropertyFailure(checkOfSimFailure(error.message), error.message, error.traceText);
    throw error;
  }
  const observed = result.driverResult;
  if (!Array.isArray(observed)) throw new PropertyFailure('driver-threw', `the driver did not return its observations: ${JSON.stringify(observed)}`, result.traceText());
  const world = worldOf(result.faults);
  const mismatches = judge(expectations(plan, world), observed as ObservedResult[]);
  if (mismatches.length > 0) {
    const lines = mismatches.map((m) => `r${m.result}: ${m.what}`).join('; ');
    throw new PropertyFailure('oracle', `${lines} (world: ${world.crashes ? 'crashes' : 'no crashes'}; faults: ${result.faults.join(', ') || 'none'})`, result.traceText());
  }
  return result;
}

/** The plan of a sample in words, for failure reports. */
export function describeSample(sample: RunSample): string {
  return `sim seed ${sample.simSeed}\nfaults ${JSON.stringify(sample.faults)}\n${describePlan(resolveWorkload(sample.workload))}`;
}
