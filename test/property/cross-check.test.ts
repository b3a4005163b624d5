import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import { ownerCore } from '../../core/owner/index.js';
import type { OwnerEvent, OwnerState } from '../../core/owner/index.js';
import { SimFailure, simulate } from '../../core/sim/index.js';
import type { ApplyMode } from '../../core/sim/options.js';
import { tableGet, tableValues } from '../../core/table.js';
import { assertProperty, numRuns } from '../support/property-harness.js';
import type { RunSample } from '../support/property-run.js';
import { runSampleArbitrary, simOptions } from '../support/property-run.js';
import { resolveWorkload } from '../support/workload.js';

/** How the runs of a test ended. */
interface Tally {
  runs: number;
  faulted: number;
  /** Runs failed because the check from what changed and the whole check disagreed. */
  mismatches: string[];
  /** Runs failed by a cross-component invariant that both checks found. */
  crossBroken: number;
}

/** Runs `sample` with both cross-component checks compared after every event, and tallies how it ended. */
function runComparing(sample: RunSample, mode: ApplyMode, tally: Tally, owner?: ComponentCore<unknown, AnyEvent, unknown>): void {
  tally.runs += 1;
  if ((sample.faults.scheduled?.length ?? 0) > 0) tally.faulted += 1;
  const options = simOptions(sample, resolveWorkload(sample.workload), { mode, ...(owner === undefined ? {} : { cores: { owner } }) }, false);
  try {
    simulate({ ...options, crossCheck: 'both' });
  } catch (error) {
    if (!(error instanceof SimFailure)) throw error;
    if (error.message.includes('cross-component check from what changed')) tally.mismatches.push(error.message);
    else if (error.message.includes('cross-component invariants broken')) tally.crossBroken += 1;
  }
}

/**
 * The owner core, breaking what another process relies on: after every 17th step of each process, in
 * turn, a running execution's attempt (the worker's side) or a RUNNING task's attempt (its owner's
 * side); and at every third borrow an owner registers, the borrowers of that object (forgotten).
 */
function breaking(core: ComponentCore<OwnerState, OwnerEvent, unknown>): ComponentCore<unknown, AnyEvent, unknown> {
  const steps = new Map<string, number>();
  let borrows = 0;
  const broken: ComponentCore<OwnerState, OwnerEvent, unknown> = {
    ...core,
    apply: (state, event) => {
      const effects = core.apply(state, event);
      if (event.type === 'borrow/added' && (borrows = (borrows + 1) % 3) === 0) {
        // A step that changes the object alone: under immer, found by comparing the owner's objects.
        const object = tableGet(state.objects, event.objectId);
        if (object !== undefined) object.borrowers = [];
        return effects;
      }
      const step = (steps.get(state.workerId) ?? 0) + 1;
      steps.set(state.workerId, step);
      if (step % 17 !== 0) return effects;
      switch ((step / 17) % 2) {
        case 0: {
          const execution = tableValues(state.executions).find((candidate) => candidate.phase === 'running');
          if (execution !== undefined) execution.attempt += 1;
          break;
        }
        case 1: {
          const task = tableValues(state.tasks).find((candidate) => candidate.state === 'RUNNING');
          if (task !== undefined) task.attempt += 1;
          break;
        }
      }
      return effects;
    },
  };
  return broken as unknown as ComponentCore<unknown, AnyEvent, unknown>;
}

void describe('cross-component invariants from what changed', () => {
  void it('say after every event of runs under faults what the whole check says', () => {
    const tally: Tally = { runs: 0, faulted: 0, mismatches: [], crossBroken: 0 };
    assertProperty(
      'cross check',
      fc.property(runSampleArbitrary(), fc.constantFrom<ApplyMode>('direct', 'immer', 'auto'), (sample, mode) => {
        runComparing(sample, mode, tally);
        assert.deepEqual(tally.mismatches, []);
      }),
      numRuns(60),
    );
    assert.equal(tally.crossBroken, 0);
    assert.ok(tally.faulted >= 20, `${tally.faulted} of ${tally.runs} runs had faults`);
  });

  void it('find what the whole check finds when a process breaks what another relies on', () => {
    const tally: Tally = { runs: 0, faulted: 0, mismatches: [], crossBroken: 0 };
    const owner = breaking(ownerCore);
    // Under immer, an owner's changed tasks and objects are found by comparing its states; directly, every dependent is checked.
    for (const sample of fc.sample(runSampleArbitrary(), { seed: 11, numRuns: 40 })) for (const mode of ['direct', 'immer'] as const) runComparing(sample, mode, tally, owner);
    assert.deepEqual(tally.mismatches, []);
    assert.ok(tally.crossBroken >= 20, `of ${tally.runs} runs, ${tally.crossBroken} broke a cross-component invariant`);
  });
});
