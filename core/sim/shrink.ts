/**
 * Shrinking a fault plan: while a run still fails, try a smaller plan (a fault left out, a rate set
 * to zero or halved, a fault moved later or made shorter) and keep it if the run still fails. Greedy,
 * as delta debugging is: it ends when no single step keeps the failure, within a bound on attempts.
 */
import type { FaultPlan, ScheduledFault } from './options.js';

/** The rates of a plan that shrinking may lower. */
const rateKeys = ['dropRate', 'duplicateRate', 'spikeRate', 'jitterMs', 'spikeMs'] as const;

/** What a shrink did. */
export interface ShrinkResult {
  readonly plan: FaultPlan;
  /** How many candidate plans were run. */
  readonly attempts: number;
  /** Whether the bound on attempts stopped it before no step kept the failure. */
  readonly bounded: boolean;
}

/**
 * The plans one step smaller than `plan`, most reducing first. With `faultPhaseMs`, a fault moved
 * halfway to the end of the fault phase also counts as smaller: a later fault leaves the run alone
 * for longer, which makes the failure easier to read.
 */
export function smallerPlans(plan: FaultPlan, faultPhaseMs?: number): FaultPlan[] {
  const candidates: FaultPlan[] = [];
  const scheduled = plan.scheduled ?? [];
  for (let index = 0; index < scheduled.length; index++) {
    candidates.push({ ...plan, scheduled: scheduled.filter((_, other) => other !== index) });
  }
  for (const key of rateKeys) {
    const value = plan[key];
    if (value === undefined || value === 0) continue;
    candidates.push({ ...plan, [key]: 0 });
    // Rates below a hundredth, and delays below a millisecond, are not worth halving further.
    const halved = key.endsWith('Ms') ? Math.floor(value / 2) : Math.floor((value / 2) * 1000) / 1000;
    if (halved > 0 && halved < value && (key.endsWith('Ms') ? halved >= 1 : halved >= 0.01)) candidates.push({ ...plan, [key]: halved });
  }
  for (let index = 0; index < scheduled.length; index++) {
    const fault = scheduled[index] as ScheduledFault;
    const shorter = shorterFault(fault);
    if (shorter !== undefined) candidates.push({ ...plan, scheduled: scheduled.map((other, at) => (at === index ? shorter : other)) });
  }
  if (faultPhaseMs !== undefined) {
    for (let index = 0; index < scheduled.length; index++) {
      const fault = scheduled[index] as ScheduledFault;
      const laterMs = fault.atMs + Math.floor((faultPhaseMs - fault.atMs) / 2);
      // Moves of under 10 ms are not worth a run.
      if (laterMs - fault.atMs >= 10) candidates.push({ ...plan, scheduled: scheduled.map((other, at) => (at === index ? { ...fault, atMs: laterMs } : other)) });
    }
  }
  return candidates;
}

/** The same fault with half its duration, if it has one worth halving. */
function shorterFault(fault: ScheduledFault): ScheduledFault | undefined {
  if (fault.kind === 'partition' && fault.durationMs >= 20) return { ...fault, durationMs: Math.floor(fault.durationMs / 2) };
  if (fault.kind === 'gcs-restart' && fault.downMs >= 20) return { ...fault, downMs: Math.floor(fault.downMs / 2) };
  return undefined;
}

/**
 * The shrinking walk as a generator, for callers whose runs are asynchronous: it yields each candidate
 * plan, takes back whether the run under it still fails, and returns the smallest plan found. At most
 * `maxAttempts` candidates are yielded.
 */
export function* shrinkSteps(plan: FaultPlan, maxAttempts = 200, faultPhaseMs?: number): Generator<FaultPlan, ShrinkResult, boolean> {
  let current = plan;
  let attempts = 0;
  for (;;) {
    let improved = false;
    for (const candidate of smallerPlans(current, faultPhaseMs)) {
      if (attempts >= maxAttempts) return { plan: withoutZeros(current), attempts, bounded: true };
      attempts++;
      if (yield candidate) {
        current = candidate;
        improved = true;
        break;
      }
    }
    if (!improved) return { plan: withoutZeros(current), attempts, bounded: false };
  }
}

/**
 * The smallest plan found that still `fails`, starting from `plan` (which must fail). `fails` runs
 * the workload under a plan; it is called at most `maxAttempts` times.
 */
export function shrinkPlan(plan: FaultPlan, fails: (plan: FaultPlan) => boolean, maxAttempts = 200): ShrinkResult {
  const steps = shrinkSteps(plan, maxAttempts);
  let step = steps.next();
  while (step.done !== true) step = steps.next(fails(step.value));
  return step.value;
}

/** The plan without rates of zero and an empty schedule, which mean the same as leaving them out. */
export function withoutZeros(plan: FaultPlan): FaultPlan {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(plan)) {
    if (value === 0 || value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    kept[key] = value;
  }
  return kept;
}
