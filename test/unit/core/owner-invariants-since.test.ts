/**
 * `ownerInvariantsSince`, which checks an owner's state after a step under immer from what the step
 * changed, says exactly what `ownerInvariants` says of the whole state: nothing after the steps of a
 * real run, and the same sentences after a step that broke an invariant, including those that tie
 * tasks to the queues and leases (which it checks by sums, without walking the tasks); and that the
 * simulator and replay in mode auto check a grown state this way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { produce } from 'immer';
import type { AnyEvent, ComponentCore } from '../../../core/component.js';
import { fifoItems, fifoPushOne, fifoTake } from '../../../core/fifo.js';
import { ownerCore, ownerInvariants, ownerInvariantsSince } from '../../../core/owner/index.js';
import type { OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { Simulator } from '../../../core/sim/simulator.js';
import type { SimResult } from '../../../core/sim/simulator.js';
import { decodeTrace } from '../../../core/trace/decode.js';
import { replayTrace } from '../../../core/trace/replay.js';
import { gcsCore } from '../../../core/gcs/index.js';
import { rayletCore } from '../../../core/raylet/index.js';
import * as E from 'fp-ts/lib/Either.js';
import type { SimContext, Yielded } from '../../../core/sim/program.js';
import { hasSplitTable, splitAt, tableGet, tableValues } from '../../../core/table.js';

/** A step's states, before and after. */
interface Step {
  readonly before: OwnerState;
  readonly after: OwnerState;
}

/**
 * Runs a driver that submits `tasks` tasks, `batch` at a time, and gets each batch, in `mode`, with the owner's
 * `invariantsSince` compared with `ownerInvariants` after every `compareEvery`-th step; returns the
 * driver's steps that `keep` picks, and how many steps were compared.
 */
function run(tasks: number, batch: number, mode: 'immer' | 'auto', compareEvery: number, keep: (step: Step) => boolean): { kept: Step[]; compared: number; sinceCalls: number; sim: Simulator; outcome: SimResult } {
  const kept: Step[] = [];
  let compared = 0;
  let sinceCalls = 0;
  const owner: ComponentCore<OwnerState, OwnerEvent, unknown> = {
    ...ownerCore,
    invariantsSince: (before, after) => {
      const since = ownerInvariantsSince(before, after);
      sinceCalls += 1;
      if (sinceCalls % compareEvery === 0) {
        assert.deepEqual(since, ownerInvariants(after), 'the same sentences as a walk of the whole state');
        compared += 1;
      }
      if (after.workerId.endsWith('.d1') && keep({ before, after })) kept.push({ before, after });
      return since;
    },
  };
  const sim = new Simulator({
    seed: 3,
    mode,
    faultPhaseMs: 0,
    cores: { owner: owner as unknown as ComponentCore<unknown, AnyEvent, unknown> },
    program: {
      name: 'many',
      bodies: { add: (_ctx, a, b) => (a as number) + (b as number) },
      actors: {},
      *driver(ctx: SimContext): Generator<Yielded, unknown, unknown> {
        // Got a batch at a time, every ref kept: the tables grow by each batch, the queues do not.
        let got = 0;
        for (let from = 0; from < tasks; from += batch) {
          const refs = Array.from({ length: Math.min(batch, tasks - from) }, (_, n) => ctx.submit('add', [from + n, 1]));
          got += ((yield ctx.get(refs.flat())) as number[]).length;
        }
        return got;
      },
    },
  });
  const outcome = sim.run();
  assert.equal(outcome.driverResult, tasks);
  return { kept, compared, sinceCalls, sim, outcome };
}

void test('after every step of a run under immer, the check from what changed finds what the whole walk finds: nothing', () => {
  const { compared } = run(40, 40, 'immer', 1, () => false);
  assert.ok(compared > 100, `${compared} steps compared`);
});

void test('a step that breaks an invariant is reported in the same sentences as by a walk of the whole state', () => {
  // A driver step with tasks queued and tasks running: each way of breaking it below starts from there.
  const { kept } = run(40, 40, 'immer', 1, ({ after }) => {
    const queued = Object.values(after.classes).reduce((sum, cls) => sum + cls.queue.size, 0);
    return queued >= 3 && tableValues(after.tasks).some((task) => task.state === 'RUNNING');
  });
  const step = kept[0];
  assert.ok(step !== undefined, 'the run had a step with tasks queued and running');
  const { before, after } = step;
  const cls = Object.values(after.classes).find((candidate) => candidate.queue.size >= 3);
  assert.ok(cls !== undefined);
  const [first, second] = fifoItems(cls.queue) as [string, string];
  const running = tableValues(after.tasks).find((task) => task.state === 'RUNNING');
  assert.ok(running !== undefined && running.leaseId !== undefined);
  const runningId = running.spec.taskId;
  const leaseId = running.leaseId;
  const breaks: [string, (draft: OwnerState) => void, RegExp][] = [
    ['a task taken from its queue but left PENDING_NODE', (draft) => void fifoTake(draft.classes[cls.key]!.queue), /PENDING_NODE but no class queues it/],
    ['a queued task that finished', (draft) => void (tableGet(draft.tasks, second)!.state = 'FINISHED'), /queues .*, which is not a PENDING_NODE task/],
    ['a task queued twice', (draft) => fifoPushOne(draft.classes[cls.key]!.queue, first), /queues .* twice/],
    ['a running task its lease forgot', (draft) => void (draft.leases[leaseId]!.runningTaskId = second), /RUNNING without the granted lease that runs it|which is not RUNNING on it/],
    ['a lease that forgets the task it runs', (draft) => {
      const lease = Object.values(draft.leases).find((candidate) => candidate.runningTaskId !== undefined && candidate.pipelined === undefined)!;
      lease.runningTaskId = undefined;
    }, /RUNNING without the granted lease that runs it/],
    ['a running task moved to no lease', (draft) => void (tableGet(draft.tasks, runningId)!.leaseId = undefined), /RUNNING without the granted lease/],
    ['a queued task that started running without a lease', (draft) => {
      const task = tableGet(draft.tasks, second)!;
      task.state = 'RUNNING';
      task.leaseId = leaseId;
      fifoTake(draft.classes[cls.key]!.queue);
    }, /RUNNING without the granted lease|not a PENDING_NODE task/],
    ['an object with a negative count', (draft) => {
      const object = tableValues(draft.objects)[0]!;
      object.localRefs = -1;
    }, /negative reference count/],
  ];
  assert.deepEqual(ownerInvariantsSince(before, after), []);
  for (const [name, breakIt, sentence] of breaks) {
    const broken = produce(after, breakIt);
    const whole = ownerInvariants(broken);
    assert.match(whole.join('; '), sentence, `${name}: the walk of the whole state finds it`);
    assert.deepEqual(ownerInvariantsSince(after, broken), whole, `${name}: found from what changed, in the same sentences`);
    assert.deepEqual(ownerInvariantsSince(before, produce(before, () => undefined)), [], 'an empty step changes nothing');
  }
});

void test(`in mode auto, a driver whose tables outgrow ${splitAt} entries goes under immer, checked from what each step changed`, () => {
  const tasks = splitAt + 400;
  const { compared, sinceCalls, sim, outcome } = run(tasks, 200, 'auto', 500, () => false);
  const driver = [...sim.instances.values()].find((instance) => instance.address.endsWith('.d1'));
  assert.ok(driver !== undefined && driver.immer === true, 'the driver is stepped under immer');
  assert.ok(hasSplitTable(driver.state));
  assert.ok(Object.isFrozen(driver.state), 'its state is frozen, as immer leaves it');
  // The tables split once the driver held 4,097 returns; the 400 tasks after that are its steps under immer.
  assert.ok(sinceCalls > 600, `${sinceCalls} steps checked from what changed`);
  assert.ok(compared > 0);
  const workers = [...sim.instances.values()].filter((instance) => instance.kind === 'owner' && instance !== driver);
  assert.ok(workers.every((worker) => worker.immer !== true), 'small states stay direct');

  // Replayed in mode auto with invariants after every event, the driver goes under immer there too.
  const trace = decodeTrace(outcome.traceText());
  assert.ok(E.isRight(trace));
  let replaySinceCalls = 0;
  const owner: ComponentCore<OwnerState, OwnerEvent, unknown> = {
    ...ownerCore,
    invariantsSince: (before, after) => {
      replaySinceCalls += 1;
      return ownerInvariantsSince(before, after);
    },
  };
  const replayed = replayTrace(trace.right, { gcs: gcsCore, raylet: rayletCore, owner }, { mode: 'auto', invariants: 'every' });
  assert.ok(replayed.ok, replayed.ok ? '' : replayed.reason);
  assert.ok(replayed.checkedHashes > 0);
  assert.ok(replaySinceCalls > 600, `${replaySinceCalls} events checked from what changed in replay`);
});
