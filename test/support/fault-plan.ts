/**
 * Fault plans for property runs: message faults by rate, and up to four scheduled faults of every
 * kind inside the fault phase. Times lean early, where the workload is still running, because a
 * fault after the driver finished tests nothing.
 */
import fc from 'fast-check';
import type { FaultPlan, ScheduledFault } from '../../core/sim/index.js';

/** The fault phase the property runs use (simulated ms); scheduled faults fall inside it. */
export const faultPhaseMs = 600;

/** A rate in [0, max], in steps of 0.01 so that plans print and shrink readably. */
const rate = (max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: Math.round(max * 100) }).map((n) => n / 100);

const atMs = fc.oneof({ weight: 2, arbitrary: fc.integer({ min: 0, max: 120 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: faultPhaseMs - 1 }) });
const target = fc.nat({ max: 7 });

const scheduledFault: fc.Arbitrary<ScheduledFault> = fc.oneof(
  fc.record({ atMs, kind: fc.constant('worker-crash' as const), target }),
  fc.record({ atMs, kind: fc.constant('owner-death' as const), target }),
  fc.record({ atMs, kind: fc.constant('driver-death' as const), target }),
  fc.record({ atMs, kind: fc.constant('node-death' as const), target }),
  fc.record({ atMs, kind: fc.constant('gcs-restart' as const), downMs: fc.integer({ min: 20, max: 300 }) }),
  // Partitions longer than the GCS's health-check window (5 x 100 ms) make it declare the node dead.
  fc.record({ atMs, kind: fc.constant('partition' as const), target, durationMs: fc.integer({ min: 20, max: 1500 }) }),
);

/** Fault plans: dropRate and duplicateRate up to 0.2, jitter up to 10 ms, spikes up to 100 ms, 0..4 scheduled faults. */
export function faultPlanArbitrary(): fc.Arbitrary<FaultPlan> {
  return fc.record({
    dropRate: rate(0.2),
    duplicateRate: rate(0.2),
    jitterMs: fc.integer({ min: 0, max: 10 }),
    spikeRate: rate(0.1),
    spikeMs: fc.integer({ min: 1, max: 100 }),
    scheduled: fc.array(scheduledFault, { maxLength: 4 }),
  });
}
