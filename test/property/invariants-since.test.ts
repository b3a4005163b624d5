import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import { ownerCore, ownerInvariants, ownerInvariantsSince } from '../../core/owner/index.js';
import type { OwnerState } from '../../core/owner/index.js';
import { SimFailure, simulate } from '../../core/sim/index.js';
import { fifoItems, fifoPushOne, fifoTake } from '../../core/fifo.js';
import type { OwnerEvent } from '../../core/owner/index.js';
import { tableGet, tableValues } from '../../core/table.js';
import { assertProperty, numRuns } from '../support/property-harness.js';
import type { RunSample } from '../support/property-run.js';
import { runSampleArbitrary, simOptions } from '../support/property-run.js';
import { resolveWorkload } from '../support/workload.js';

/** What the comparisons of one or more runs found. */
interface Tally {
  steps: number;
  broken: number;
  mismatches: string[];
}

/**
 * `core` with an `invariantsSince` that also walks the whole state and notes any difference (noted,
 * not thrown: the simulator would report a throw as the run's failure).
 */
function comparing(core: ComponentCore<unknown, AnyEvent, unknown>, tally: Tally): ComponentCore<unknown, AnyEvent, unknown> {
  return {
    ...core,
    invariantsSince: (before, after) => {
      const since = ownerInvariantsSince(before as OwnerState, after as OwnerState);
      const whole = ownerInvariants(after as OwnerState);
      tally.steps += 1;
      if (whole.length > 0) tally.broken += 1;
      if (JSON.stringify(since) !== JSON.stringify(whole)) tally.mismatches.push(`from what changed: ${since.join('; ') || 'nothing'}; whole walk: ${whole.join('; ') || 'nothing'}`);
      return since;
    },
  };
}

/**
 * The owner core, with one invariant broken after every 23rd step of each process, in turn: a queued
 * task dropped from its queue, queued twice, or finished there; a lease that forgets its task;
 * an object's count made negative; an actor that forgets a call in flight.
 */
function breaking(core: ComponentCore<OwnerState, OwnerEvent, unknown>): ComponentCore<unknown, AnyEvent, unknown> {
  const steps = new Map<string, number>();
  const broken: ComponentCore<OwnerState, OwnerEvent, unknown> = {
    ...core,
    apply: (state, event) => {
      const effects = core.apply(state, event);
      const step = (steps.get(state.workerId) ?? 0) + 1;
      steps.set(state.workerId, step);
      if (step % 23 !== 0) return effects;
      const queue = Object.values(state.classes).find((cls) => cls.queue.size > 0)?.queue;
      const running = tableValues(state.tasks).find((task) => task.kind === 'task' && task.state === 'RUNNING');
      const object = tableValues(state.objects)[0];
      switch ((step / 23) % 6) {
        case 0:
          if (queue !== undefined) fifoTake(queue);
          break;
        case 1:
          if (queue !== undefined) fifoPushOne(queue, fifoItems(queue)[0] as string);
          break;
        case 2: {
          const task = queue === undefined ? undefined : tableGet(state.tasks, fifoItems(queue)[0] as string);
          if (task !== undefined) task.state = 'FINISHED';
          break;
        }
        case 3: {
          // Its task is left as it was: only the sum over RUNNING tasks sees that the lease forgot it.
          const lease = Object.values(state.leases).find((candidate) => candidate.runningTaskId !== undefined && candidate.pipelined === undefined);
          if (lease !== undefined) lease.runningTaskId = undefined;
          else if (running !== undefined) running.leaseId = undefined;
          break;
        }
        case 4:
          if (object !== undefined) object.localRefs = -1;
          break;
        case 5: {
          // The call stays RUNNING: only the sum over RUNNING calls sees that its actor forgot it.
          const view = Object.values(state.actors).find((candidate) => candidate.inflight.length > 0);
          if (view !== undefined) view.inflight.shift();
          break;
        }
      }
      return effects;
    },
  };
  return broken as unknown as ComponentCore<unknown, AnyEvent, unknown>;
}

/** Runs `sample` under immer with the owner `core`; a failed run is as good as a passed one here. */
function runUnderImmer(sample: RunSample, core: ComponentCore<unknown, AnyEvent, unknown>): void {
  try {
    simulate(simOptions(sample, resolveWorkload(sample.workload), { mode: 'immer', cores: { owner: core } }, false));
  } catch (error) {
    if (!(error instanceof SimFailure)) throw error;
  }
}

void describe('owner invariants from what a step changed', () => {
  void it('say after every step of runs under faults what a walk of the whole state says', () => {
    const tally: Tally = { steps: 0, broken: 0, mismatches: [] };
    const core = comparing(ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>, tally);
    assertProperty(
      'invariants since',
      fc.property(runSampleArbitrary(), (sample) => {
        runUnderImmer(sample, core);
        assert.deepEqual(tally.mismatches, []);
      }),
      numRuns(40),
    );
    assert.ok(tally.steps > 1000, `${tally.steps} steps compared`);
  });

  void it('say what the whole walk says when a step breaks one of them', () => {
    const tally: Tally = { steps: 0, broken: 0, mismatches: [] };
    const core = comparing(breaking(ownerCore), tally);
    for (const sample of fc.sample(runSampleArbitrary(), { seed: 7, numRuns: 60 })) runUnderImmer(sample, core);
    assert.deepEqual(tally.mismatches, []);
    assert.ok(tally.broken >= 20, `of ${tally.steps} steps, ${tally.broken} broke an invariant`);
  });
});
