/**
 * Shrinking a fault plan keeps exactly what the failure needs: faults it does not need are left out,
 * rates it does not need go to zero, and one it needs stays (made as small as still fails).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shrinkPlan, smallerPlans } from '../../../../core/sim/index.js';
import type { FaultPlan } from '../../../../core/sim/index.js';

const chaos: FaultPlan = {
  dropRate: 0.1,
  duplicateRate: 0.1,
  jitterMs: 5,
  scheduled: [
    { atMs: 100, kind: 'worker-crash', target: 1 },
    { atMs: 200, kind: 'node-death', target: 0 },
    { atMs: 300, kind: 'partition', target: 2, durationMs: 800 },
    { atMs: 400, kind: 'gcs-restart', downMs: 100 },
  ],
};

void test('a failure that needs one node death and some message loss shrinks to exactly those', () => {
  let runs = 0;
  const fails = (plan: FaultPlan): boolean => {
    runs++;
    return (plan.scheduled ?? []).some((fault) => fault.kind === 'node-death') && (plan.dropRate ?? 0) >= 0.02;
  };
  const shrunk = shrinkPlan(chaos, fails);
  assert.deepEqual(shrunk.plan, { dropRate: 0.025, scheduled: [{ atMs: 200, kind: 'node-death', target: 0 }] });
  assert.equal(shrunk.bounded, false);
  assert.equal(shrunk.attempts, runs);
});

void test('a partition the failure needs long is only shortened while it still fails', () => {
  const fails = (plan: FaultPlan): boolean => (plan.scheduled ?? []).some((fault) => fault.kind === 'partition' && fault.durationMs >= 150);
  assert.deepEqual(shrinkPlan(chaos, fails).plan, { scheduled: [{ atMs: 300, kind: 'partition', target: 2, durationMs: 200 }] });
});

void test('a failure that needs no fault shrinks to the empty plan, and the bound on runs is kept', () => {
  assert.deepEqual(shrinkPlan(chaos, () => true).plan, {});
  const bounded = shrinkPlan(chaos, () => true, 3);
  assert.equal(bounded.bounded, true);
  assert.equal(bounded.attempts, 3);
});

void test('every smaller plan is smaller: fewer faults, lower rates or shorter faults', () => {
  for (const candidate of smallerPlans(chaos)) {
    const fewer = (candidate.scheduled?.length ?? 0) < (chaos.scheduled?.length ?? 0);
    const lower = (['dropRate', 'duplicateRate', 'jitterMs'] as const).some((key) => (candidate[key] ?? 0) < (chaos[key] ?? 0));
    const shorter = JSON.stringify(candidate.scheduled) !== JSON.stringify(chaos.scheduled) && candidate.scheduled?.length === chaos.scheduled?.length;
    assert.ok(fewer || lower || shorter, JSON.stringify(candidate));
  }
});
