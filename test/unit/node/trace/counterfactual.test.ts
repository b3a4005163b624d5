/**
 * The counterfactual runs a simulator trace's workload again with one fault changed: with the same
 * plan it repeats the run exactly; without the fault that caused the outcome, the runs part at the
 * fault and the outcome changes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { decodeTrace } from '../../../../core/trace/decode.js';
import type { Trace } from '../../../../core/trace/format.js';
import type { FaultPlan, ScheduledFault } from '../../../../core/sim/index.js';
import { changePlan, CounterfactualError, runCounterfactual } from '../../../../node/trace/counterfactual.js';
import { packageRoot } from '../../../support/driver-script.js';

const tracePath = join(packageRoot, 'traces', 'sim-owner-died.trace.jsonl');

function load(path: string): Trace {
  const decoded = decodeTrace(readFileSync(path, 'utf8'));
  assert.ok(E.isRight(decoded));
  return decoded.right;
}

void test('the same plan again repeats the run exactly', async () => {
  const trace = load(tracePath);
  const plan = trace.header.faultPlan as FaultPlan;
  const fault = plan.scheduled?.[0] as ScheduledFault;
  const same = await runCounterfactual(trace, tracePath, { kind: 'replace', index: 0, fault });
  assert.equal(same.firstDifference, undefined);
  assert.equal(same.changedFailure, same.originalFailure);
});

void test("without the owner's death the runs part where it died, and the owner lives on", async () => {
  const trace = load(tracePath);
  const result = await runCounterfactual(trace, tracePath, { kind: 'drop', index: 0 });
  assert.deepEqual(result.changedPlan, { scheduled: [] });
  const difference = result.firstDifference;
  assert.ok(difference !== undefined, 'the runs differ');
  // Up to the fault both runs are the same: the first difference comes after the fault's note.
  const faultNote = trace.notes.find((note) => note.note.startsWith('fault: '));
  assert.ok(faultNote?.seq !== undefined && difference.seq > faultNote.seq, `${JSON.stringify(difference)} after ${JSON.stringify(faultNote)}`);
  const changed = decodeTrace(result.changedTraceText);
  assert.ok(E.isRight(changed));
  // Without the fault the owner's worker lives: no note of it, and no event of its death anywhere.
  assert.ok(!changed.right.notes.some((note) => note.note.startsWith('fault: ')));
  const deathsOf = (entries: Trace['entries']): number => entries.filter((entry) => entry.event.type === 'worker/died' && JSON.stringify(entry.event).includes('n1.w1')).length;
  assert.ok(deathsOf(trace.entries) > 0, 'the original run saw the owner die');
  assert.equal(deathsOf(changed.right.entries), 0);
});

void test('a change to a fault the plan does not have, or to a live trace, says what is wrong', async () => {
  assert.throws(() => changePlan({ scheduled: [] }, { kind: 'drop', index: 2 }), /the plan has 0 scheduled faults; there is no fault 2/);
  const live = load(join(packageRoot, 'traces', 'live-cancel.trace.jsonl'));
  await assert.rejects(runCounterfactual(live, tracePath, { kind: 'drop', index: 0 }), CounterfactualError);
});
