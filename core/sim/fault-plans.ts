/**
 * `faultPlans(options?)`: a fast-check arbitrary of fault plans, for property tests of a workload
 * under faults (`fc.assert(fc.property(faultPlans(), (plan) => ...))`).
 *
 * Every plan is built from fast-check's own combinators (records, arrays, integers, `oneof`, `map`),
 * so fast-check's seed and path replay a plan exactly and its shrinker comes for free. The encoding
 * is chosen so that each shrink step makes the plan smaller in the sense the simulator's own
 * `shrinkPlan` uses: scheduled faults are left out (array shrinking), rates fall toward zero, a
 * partition or GCS downtime gets shorter, a target falls toward the first candidate, and a fault
 * moves later (its time is drawn as a distance before the end of the fault phase, which shrinks
 * toward zero). A kind never shrinks into another kind, so a counterexample keeps the kind of fault
 * that made it fail.
 */
import fc from 'fast-check';
import type { FaultPlan, ScheduledFault } from './options.js';

/** The kinds of scheduled fault, in the order `faultPlans` lists them. */
export const scheduledFaultKinds = ['worker-crash', 'owner-death', 'driver-death', 'node-death', 'gcs-restart', 'partition'] as const satisfies readonly ScheduledFault['kind'][];

/** What `faultPlans` may generate; every field has a default. */
export interface FaultPlanOptions {
  /** Most scheduled faults in one plan (0..1000). Default 4. */
  readonly maxFaults?: number;
  /**
   * The simulated time (ms) faults happen in; pass the same value as `SimOptions.faultPhaseMs`.
   * Scheduled faults fall evenly in [0, faultPhaseMs). Pick it about as long as the workload runs, since a
   * fault after the workload finished tests nothing. Default 2000 (the simulator's default), at most 3,600,000.
   */
  readonly faultPhaseMs?: number;
  /**
   * The kinds of scheduled fault to draw from (none: message faults only). Default: every kind, less
   * `node-death` and `partition` when `nodes` is 1 (the head node is never their target).
   */
  readonly kinds?: readonly ScheduledFault['kind'][];
  /** Highest chance that a message is lost and retransmitted later, in [0, 1]. Default 0.2. */
  readonly maxDropRate?: number;
  /** Highest chance that a message is delivered twice, in [0, 1]. Default 0.2. */
  readonly maxDuplicateRate?: number;
  /** Highest extra random latency per message (ms, 0..60,000). Default 10. */
  readonly maxJitterMs?: number;
  /** Highest chance of a latency spike, in [0, 1]. Default 0.1. */
  readonly maxSpikeRate?: number;
  /** Longest latency spike (ms, 1..60,000). Default 100. */
  readonly maxSpikeMs?: number;
  /** Longest GCS downtime of a `gcs-restart` (ms, 1..3,600,000). Default 300. */
  readonly maxDowntimeMs?: number;
  /** Longest `partition` (ms, 1..3,600,000). Default 1500. */
  readonly maxPartitionMs?: number;
  /**
   * The nodes of the simulated cluster (1..1000), the same count as `SimOptions.nodes` has: node
   * faults target one of the `nodes - 1` nodes besides the head. Default 3 (the simulator's default).
   */
  readonly nodes?: number;
  /**
   * How many distinct processes a `worker-crash`, `owner-death` or `driver-death` may name (1..1000):
   * its target is an index, taken modulo the live candidates when the fault happens. Default 8.
   */
  readonly processTargets?: number;
}

/** Thrown when `faultPlans` is given an option it cannot honour. */
export class FaultPlanOptionError extends RangeError {
  override readonly name = 'FaultPlanOptionError';
}

/** The options `faultPlans` knows, for the unknown-option check. */
const optionNames: readonly (keyof FaultPlanOptions)[] = ['maxFaults', 'faultPhaseMs', 'kinds', 'maxDropRate', 'maxDuplicateRate', 'maxJitterMs', 'maxSpikeRate', 'maxSpikeMs', 'maxDowntimeMs', 'maxPartitionMs', 'nodes', 'processTargets'];

/** Options with every default filled in and checked. */
interface Bounds {
  readonly maxFaults: number;
  readonly faultPhaseMs: number;
  readonly kinds: readonly ScheduledFault['kind'][];
  readonly maxDropRate: number;
  readonly maxDuplicateRate: number;
  readonly maxJitterMs: number;
  readonly maxSpikeRate: number;
  readonly maxSpikeMs: number;
  readonly maxDowntimeMs: number;
  readonly maxPartitionMs: number;
  readonly nodes: number;
  readonly processTargets: number;
}

/** `value` as an integer in [min, max], or a one-line error naming the option and its bounds. */
function integerOption(name: keyof FaultPlanOptions, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FaultPlanOptionError(`faultPlans: ${name} should be an integer from ${min} to ${max} but is ${describe(value)}`);
  }
  return value;
}

/** `value` as a rate in [0, 1], or a one-line error naming the option. */
function rateOption(name: keyof FaultPlanOptions, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new FaultPlanOptionError(`faultPlans: ${name} should be a number from 0 to 1 but is ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** Checks the options and fills in the defaults. */
function faultPlanBounds(options: FaultPlanOptions = {}): Bounds {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new FaultPlanOptionError(`faultPlans: options should be an object such as { maxFaults: 2 } but is ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(optionNames as readonly string[]).includes(key)) throw new FaultPlanOptionError(`faultPlans: unknown option '${key}'; the options are ${optionNames.join(', ')}`);
  }
  const nodes = integerOption('nodes', options.nodes, 3, 1, 1000);
  const kinds = options.kinds ?? scheduledFaultKinds.filter((kind) => nodes > 1 || (kind !== 'node-death' && kind !== 'partition'));
  if (!Array.isArray(kinds)) throw new FaultPlanOptionError(`faultPlans: kinds should be an array of fault kinds (${scheduledFaultKinds.join(', ')}) but is ${describe(kinds)}`);
  for (const kind of kinds) {
    if (!(scheduledFaultKinds as readonly unknown[]).includes(kind)) throw new FaultPlanOptionError(`faultPlans: unknown fault kind ${describe(kind)}; the kinds are ${scheduledFaultKinds.join(', ')}`);
    if (nodes === 1 && (kind === 'node-death' || kind === 'partition')) throw new FaultPlanOptionError(`faultPlans: a ${kind} needs a node besides the head, but nodes is 1; pass nodes of 2 or more, or leave ${kind} out of kinds`);
  }
  return {
    maxFaults: integerOption('maxFaults', options.maxFaults, 4, 0, 1000),
    faultPhaseMs: integerOption('faultPhaseMs', options.faultPhaseMs, 2000, 1, 3_600_000),
    kinds: [...new Set(kinds)],
    maxDropRate: rateOption('maxDropRate', options.maxDropRate, 0.2),
    maxDuplicateRate: rateOption('maxDuplicateRate', options.maxDuplicateRate, 0.2),
    maxJitterMs: integerOption('maxJitterMs', options.maxJitterMs, 10, 0, 60_000),
    maxSpikeRate: rateOption('maxSpikeRate', options.maxSpikeRate, 0.1),
    maxSpikeMs: integerOption('maxSpikeMs', options.maxSpikeMs, 100, 1, 60_000),
    maxDowntimeMs: integerOption('maxDowntimeMs', options.maxDowntimeMs, 300, 1, 3_600_000),
    maxPartitionMs: integerOption('maxPartitionMs', options.maxPartitionMs, 1500, 1, 3_600_000),
    nodes,
    processTargets: integerOption('processTargets', options.processTargets, 8, 1, 1000),
  };
}

/** A rate in [0, max] in thousandths, so that plans print readably; it shrinks toward 0. */
function rate(max: number): fc.Arbitrary<number> {
  // The most thousandths at or below max, exact although max * 1000 may be off by a rounding error.
  const rounded = Math.round(max * 1000);
  const most = rounded / 1000 > max ? rounded - 1 : rounded;
  return fc.integer({ min: 0, max: most }).map((thousandths) => thousandths / 1000);
}

/** The arbitrary of one scheduled fault of `kind`. */
function scheduledFault(kind: ScheduledFault['kind'], bounds: Bounds): fc.Arbitrary<ScheduledFault> {
  // Drawn as the distance before the phase's last millisecond, so that shrinking moves a fault later;
  // drawn evenly, because fast-check's bias toward small integers would crowd faults at the phase's end.
  const atMs = fc.noBias(fc.integer({ min: 0, max: bounds.faultPhaseMs - 1 })).map((beforeEndMs) => bounds.faultPhaseMs - 1 - beforeEndMs);
  const processTarget = fc.nat({ max: bounds.processTargets - 1 });
  const nodeTarget = fc.nat({ max: Math.max(0, bounds.nodes - 2) });
  switch (kind) {
    case 'worker-crash':
      return fc.record({ atMs, kind: fc.constant('worker-crash' as const), target: processTarget });
    case 'owner-death':
      return fc.record({ atMs, kind: fc.constant('owner-death' as const), target: processTarget });
    case 'driver-death':
      return fc.record({ atMs, kind: fc.constant('driver-death' as const), target: processTarget });
    case 'node-death':
      return fc.record({ atMs, kind: fc.constant('node-death' as const), target: nodeTarget });
    case 'gcs-restart':
      return fc.record({ atMs, kind: fc.constant('gcs-restart' as const), downMs: fc.integer({ min: 1, max: bounds.maxDowntimeMs }) });
    case 'partition':
      return fc.record({ atMs, kind: fc.constant('partition' as const), target: nodeTarget, durationMs: fc.integer({ min: 1, max: bounds.maxPartitionMs }) });
  }
}

/**
 * A fast-check arbitrary of fault plans for the simulator (`SimOptions.faults`), within `options`'
 * bounds. Each plan has every rate field (`dropRate`, `duplicateRate`, `jitterMs`, `spikeRate`,
 * `spikeMs`; `spikeMs` is 0 when `spikeRate` is) and 0..maxFaults scheduled faults of the chosen kinds.
 *
 * Shrinking goes toward smaller plans: fewer scheduled faults, lower rates, shorter partitions and
 * downtimes, lower targets, later faults. The same fast-check seed (and path) gives the same plans.
 *
 * @example
 * fc.assert(fc.property(faultPlans({ maxFaults: 2, faultPhaseMs: 500 }), (plan) => {
 *   simulate({ seed: 1, program, faults: plan, faultPhaseMs: 500 });
 * }));
 * @throws FaultPlanOptionError when an option is unknown or out of its bounds (the message names it).
 */
export function faultPlans(options: FaultPlanOptions = {}): fc.Arbitrary<FaultPlan> {
  const bounds = faultPlanBounds(options);
  const schedules: fc.Arbitrary<ScheduledFault[]> =
    bounds.kinds.length === 0 || bounds.maxFaults === 0
      ? fc.constant([])
      : fc.array(fc.oneof(...bounds.kinds.map((kind) => scheduledFault(kind, bounds))), { maxLength: bounds.maxFaults });
  return fc
    .record({
      dropRate: rate(bounds.maxDropRate),
      duplicateRate: rate(bounds.maxDuplicateRate),
      jitterMs: fc.integer({ min: 0, max: bounds.maxJitterMs }),
      spike: fc.record({ rate: rate(bounds.maxSpikeRate), ms: fc.integer({ min: 1, max: bounds.maxSpikeMs }) }),
      scheduled: schedules,
    })
    .map(({ dropRate, duplicateRate, jitterMs, spike, scheduled }): FaultPlan => ({ dropRate, duplicateRate, jitterMs, spikeRate: spike.rate, spikeMs: spike.rate === 0 ? 0 : spike.ms, scheduled }));
}
