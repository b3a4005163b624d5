/**
 * `faultPlans`: its plans stay inside the bounds asked for, a fast-check seed replays them, shrinking
 * leaves exactly the fault a failure needs (with zero rates), and a property over plans and the real
 * simulator passes on the real recipes and catches a broken one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { faultPlans, FaultPlanOptionError, scheduledFaultKinds, SimFailure, SimGetError, simulate } from '../../../../core/sim/index.js';
import type { FaultPlan, FaultPlanOptions, ScheduledFault, SimContext, SimProgram, SimRef, Yielded } from '../../../../core/sim/index.js';

/** The seed the fast-check runs of this file start from. */
const seed = 20_261_128;

/** Every way `plan` breaks `options`' bounds (defaults as documented), as sentences. */
function boundsBroken(plan: FaultPlan, options: FaultPlanOptions): string[] {
  const broken: string[] = [];
  const within = (name: string, value: number | undefined, max: number, min = 0): void => {
    if (value === undefined || !Number.isFinite(value) || value < min || value > max) broken.push(`${name} ${value} outside [${min}, ${max}]`);
  };
  within('dropRate', plan.dropRate, options.maxDropRate ?? 0.2);
  within('duplicateRate', plan.duplicateRate, options.maxDuplicateRate ?? 0.2);
  within('jitterMs', plan.jitterMs, options.maxJitterMs ?? 10);
  within('spikeRate', plan.spikeRate, options.maxSpikeRate ?? 0.1);
  within('spikeMs', plan.spikeMs, options.maxSpikeMs ?? 100);
  if (plan.spikeRate === 0 && plan.spikeMs !== 0) broken.push('spikeMs without spikes');
  for (const key of ['jitterMs', 'spikeMs'] as const) if (!Number.isInteger(plan[key])) broken.push(`${key} not an integer`);
  const scheduled = plan.scheduled ?? [];
  if (scheduled.length > (options.maxFaults ?? 4)) broken.push(`${scheduled.length} faults`);
  const nodes = options.nodes ?? 3;
  const kinds = options.kinds ?? scheduledFaultKinds;
  for (const fault of scheduled) {
    if (!kinds.includes(fault.kind)) broken.push(`kind ${fault.kind}`);
    within('atMs', fault.atMs, (options.faultPhaseMs ?? 2000) - 1);
    if (!Number.isInteger(fault.atMs)) broken.push('atMs not an integer');
    switch (fault.kind) {
      case 'worker-crash':
      case 'owner-death':
      case 'driver-death':
        within('process target', fault.target, (options.processTargets ?? 8) - 1);
        break;
      case 'node-death':
        within('node target', fault.target, nodes - 2);
        break;
      case 'partition':
        within('node target', fault.target, nodes - 2);
        within('durationMs', fault.durationMs, options.maxPartitionMs ?? 1500, 1);
        break;
      case 'gcs-restart':
        within('downMs', fault.downMs, options.maxDowntimeMs ?? 300, 1);
        break;
    }
  }
  return broken;
}

/** Options within the documented ranges, some fields left to their defaults. */
const optionsArbitrary: fc.Arbitrary<FaultPlanOptions> = fc.record(
  {
    maxFaults: fc.integer({ min: 0, max: 12 }),
    faultPhaseMs: fc.integer({ min: 1, max: 5000 }),
    kinds: fc.subarray([...scheduledFaultKinds]),
    maxDropRate: fc.double({ min: 0, max: 1, noNaN: true }),
    maxDuplicateRate: fc.double({ min: 0, max: 1, noNaN: true }),
    maxJitterMs: fc.integer({ min: 0, max: 100 }),
    maxSpikeRate: fc.double({ min: 0, max: 1, noNaN: true }),
    maxSpikeMs: fc.integer({ min: 1, max: 1000 }),
    maxDowntimeMs: fc.integer({ min: 1, max: 1000 }),
    maxPartitionMs: fc.integer({ min: 1, max: 3000 }),
    nodes: fc.integer({ min: 2, max: 6 }),
    processTargets: fc.integer({ min: 1, max: 10 }),
  },
  { requiredKeys: [] },
);

void describe('faultPlans', () => {
  void test('every plan stays inside its bounds, for the defaults and for any options', () => {
    for (const plan of fc.sample(faultPlans(), { seed, numRuns: 500 })) assert.deepEqual(boundsBroken(plan, {}), [], JSON.stringify(plan));
    fc.assert(
      fc.property(optionsArbitrary, fc.integer(), (options, sampleSeed) => {
        for (const plan of fc.sample(faultPlans(options), { seed: sampleSeed, numRuns: 20 })) {
          assert.deepEqual(boundsBroken(plan, options), [], `${JSON.stringify(plan)} under ${JSON.stringify(options)}`);
        }
      }),
      { seed, numRuns: 200 },
    );
  });

  void test('the bounds are reached, and every kind turns up by default', () => {
    const plans = fc.sample(faultPlans({ maxFaults: 3, faultPhaseMs: 50 }), { seed, numRuns: 2000 });
    const kinds = new Set(plans.flatMap((plan) => (plan.scheduled ?? []).map((fault) => fault.kind)));
    assert.deepEqual([...kinds].sort(), [...scheduledFaultKinds].sort());
    assert.ok(plans.some((plan) => plan.scheduled?.length === 3));
    assert.ok(plans.some((plan) => plan.dropRate === 0.2));
    assert.ok(plans.some((plan) => plan.scheduled?.some((fault) => fault.atMs === 49)));
    assert.ok(plans.some((plan) => plan.scheduled?.some((fault) => fault.atMs === 0)));
  });

  void test('one node leaves node faults out by default; no kinds or no faults give message faults only', () => {
    const oneNode = fc.sample(faultPlans({ nodes: 1, maxFaults: 6 }), { seed, numRuns: 300 });
    assert.ok(oneNode.every((plan) => plan.scheduled?.every((fault) => fault.kind !== 'node-death' && fault.kind !== 'partition')));
    assert.ok(oneNode.some((plan) => (plan.scheduled?.length ?? 0) > 0));
    for (const options of [{ kinds: [] }, { maxFaults: 0 }]) {
      assert.ok(fc.sample(faultPlans(options), { seed, numRuns: 100 }).every((plan) => plan.scheduled?.length === 0));
    }
    const noRates = fc.sample(faultPlans({ maxDropRate: 0, maxDuplicateRate: 0, maxSpikeRate: 0, maxJitterMs: 0 }), { seed, numRuns: 100 });
    assert.ok(noRates.every((plan) => plan.dropRate === 0 && plan.duplicateRate === 0 && plan.spikeRate === 0 && plan.spikeMs === 0 && plan.jitterMs === 0));
  });

  void test('the same fast-check seed gives the same plans, and the seed and path replay a counterexample', () => {
    const options = { maxFaults: 5, faultPhaseMs: 800 };
    const first = fc.sample(faultPlans(options), { seed, numRuns: 100 });
    assert.deepEqual(fc.sample(faultPlans(options), { seed, numRuns: 100 }), first);
    assert.notDeepEqual(fc.sample(faultPlans(options), { seed: seed + 1, numRuns: 100 }), first);
    const failsOnPartitions = fc.property(faultPlans(options), (plan) => !(plan.scheduled ?? []).some((fault) => fault.kind === 'partition' && fault.durationMs > 100));
    const found = fc.check(failsOnPartitions, { seed });
    assert.ok(found.failed && found.counterexample !== null && found.counterexamplePath !== null);
    const replayed = fc.check(failsOnPartitions, { seed, path: found.counterexamplePath, endOnFailure: true });
    assert.deepEqual(replayed.counterexample, found.counterexample);
    // Shrinking shortened the partition to just past the bound that fails, and moved it to the end.
    assert.deepEqual(found.counterexample[0], { dropRate: 0, duplicateRate: 0, jitterMs: 0, spikeRate: 0, spikeMs: 0, scheduled: [{ atMs: 799, kind: 'partition', target: 0, durationMs: 101 }] });
  });

  void test('a failure that needs a GCS downtime, a drop rate and two worker crashes shrinks to just those, each at its least', () => {
    const result = fc.check(
      fc.property(faultPlans({ maxFaults: 8, faultPhaseMs: 500 }), (plan) => {
        const scheduled = plan.scheduled ?? [];
        const crashes = scheduled.filter((fault) => fault.kind === 'worker-crash').length;
        return !(scheduled.some((fault) => fault.kind === 'gcs-restart' && fault.downMs >= 40) && (plan.dropRate ?? 0) >= 0.05 && crashes >= 2);
      }),
      { seed, numRuns: 5000 },
    );
    assert.ok(result.failed && result.counterexample !== null, 'no plan had all three');
    const [plan] = result.counterexample;
    assert.equal(plan.dropRate, 0.05);
    assert.deepEqual({ ...plan, dropRate: 0, scheduled: [] }, { dropRate: 0, duplicateRate: 0, jitterMs: 0, spikeRate: 0, spikeMs: 0, scheduled: [] });
    const scheduled = [...(plan.scheduled ?? [])].sort((a, b) => a.kind.localeCompare(b.kind));
    assert.deepEqual(scheduled, [
      { atMs: 499, kind: 'gcs-restart', downMs: 40 },
      { atMs: 499, kind: 'worker-crash', target: 0 },
      { atMs: 499, kind: 'worker-crash', target: 0 },
    ]);
  });

  void test('a failure that needs a node death shrinks to that one fault, with zero rates, as late as the phase allows', () => {
    for (const runSeed of [seed, seed + 1, seed + 2]) {
      const result = fc.check(
        fc.property(faultPlans({ maxFaults: 6, faultPhaseMs: 1000 }), (plan) => !(plan.scheduled ?? []).some((fault) => fault.kind === 'node-death')),
        { seed: runSeed },
      );
      assert.ok(result.failed && result.counterexample !== null, `seed ${runSeed} found no node death`);
      assert.deepEqual(result.counterexample[0], { dropRate: 0, duplicateRate: 0, jitterMs: 0, spikeRate: 0, spikeMs: 0, scheduled: [{ atMs: 999, kind: 'node-death', target: 0 }] });
    }
  });

  void test("users import it from 'tsray/sim'", async () => {
    // Joined at run time so that compiling the tests does not need dist/ to resolve the package's types.
    const sim = (await import(['tsray', 'sim'].join('/'))) as Record<string, unknown>;
    assert.equal(sim['faultPlans'], faultPlans);
    assert.equal(sim['FaultPlanOptionError'], FaultPlanOptionError);
  });

  void test('the options are checked, each with a one-line reason', () => {
    const refused: [unknown, RegExp][] = [
      [{ maxFault: 2 }, /unknown option 'maxFault'; the options are maxFaults, /],
      [{ maxFaults: -1 }, /maxFaults should be an integer from 0 to 1000 but is -1/],
      [{ maxFaults: 1.5 }, /maxFaults should be an integer/],
      [{ maxFaults: 1001 }, /from 0 to 1000 but is 1001/],
      [{ faultPhaseMs: 0 }, /faultPhaseMs should be an integer from 1 to 3600000 but is 0/],
      [{ maxDropRate: 1.5 }, /maxDropRate should be a number from 0 to 1 but is 1.5/],
      [{ maxSpikeRate: Number.NaN }, /maxSpikeRate should be a number from 0 to 1 but is NaN/],
      [{ maxDuplicateRate: '0.1' }, /maxDuplicateRate should be a number from 0 to 1 but is '0.1'/],
      [{ kinds: ['node-crash'] }, /unknown fault kind 'node-crash'; the kinds are worker-crash, /],
      [{ kinds: 'partition' }, /kinds should be an array of fault kinds/],
      [{ nodes: 1, kinds: ['partition'] }, /a partition needs a node besides the head, but nodes is 1/],
      [{ nodes: 0 }, /nodes should be an integer from 1 to 1000 but is 0/],
      [{ processTargets: 0 }, /processTargets should be an integer from 1 to 1000/],
      [{ maxPartitionMs: 0 }, /maxPartitionMs should be an integer from 1/],
      [null, /options should be an object/],
    ];
    for (const [options, reason] of refused) {
      assert.throws(
        () => faultPlans(options as FaultPlanOptions),
        (error: unknown) => error instanceof FaultPlanOptionError && reason.test(error.message) && !error.message.includes('\n'),
        JSON.stringify(options),
      );
    }
  });
});

/** Three tasks and an actor, each get caught, so a run under faults reports what it got. */
const program: SimProgram = {
  name: 'fault-plans-sum',
  bodies: {
    square: (_ctx, x) => (x as number) * (x as number),
    *sumOf(ctx: SimContext, refs: unknown): Generator<Yielded, unknown, unknown> {
      const values = (yield ctx.get(refs as SimRef[])) as number[];
      return values.reduce((total, value) => total + value, 0);
    },
  },
  actors: {
    Tally: {
      init: () => ({ total: 0 }),
      methods: {
        add: (_ctx, state, n) => {
          state.total = (state.total as number) + (n as number);
          return state.total;
        },
      },
    },
  },
  *driver(ctx) {
    const got = function* (refs: SimRef | SimRef[]): Generator<Yielded, unknown, unknown> {
      try {
        return yield ctx.get(refs);
      } catch (error) {
        if (error instanceof SimGetError) return { error: error.info.errorClass };
        throw error;
      }
    };
    const shared = ctx.put(10);
    const squares = [1, 2, 3].map((x) => ctx.submit('square', [x]) as SimRef);
    const sum = ctx.submit('sumOf', [squares]) as SimRef;
    const tally = ctx.createActor('Tally', []);
    const added = ctx.call(tally, 'add', [shared]) as SimRef;
    ctx.release(shared);
    return { squares: yield* got(squares), sum: yield* got(sum), added: yield* got(added) };
  },
};

/** The simulator's fault phase for the runs below. */
const faultPhaseMs = 300;

/** Runs `program` under `plan`; throws when the run breaks an invariant, hangs, or gives a wrong value. */
function runChecked(plan: FaultPlan, options: { mutation?: string } = {}): readonly string[] {
  const result = simulate({ seed: 7, program, faults: plan, faultPhaseMs, maxTimeMs: 20_000, hashEvery: 0, ...options });
  assert.equal(result.driverFinished, true, 'the driver did not finish');
  const observed = result.driverResult as Record<string, unknown>;
  // A value that arrived must be the right one; under faults an error in its place is allowed.
  if (Array.isArray(observed['squares'])) assert.deepEqual(observed['squares'], [1, 4, 9]);
  if (typeof observed['sum'] === 'number') assert.equal(observed['sum'], 14);
  if (typeof observed['added'] === 'number') assert.equal(observed['added'], 10);
  return result.faults;
}

void describe('faultPlans with the simulator', () => {
  void test('a property over plans passes on the real recipes, and injects the faults it draws', () => {
    const injected = new Set<string>();
    fc.assert(
      fc.property(faultPlans({ maxFaults: 3, faultPhaseMs }), (plan) => {
        for (const line of runChecked(plan)) injected.add(line.split(' ')[0] ?? '');
      }),
      { seed, numRuns: 60 },
    );
    assert.ok(injected.size >= 3, `few kinds of fault were injected: ${[...injected].join(', ')}`);
  });

  void test("the same property catches the 'double-release' broken recipe", () => {
    const result = fc.check(
      fc.property(faultPlans({ maxFaults: 3, faultPhaseMs }), (plan) => {
        runChecked(plan, { mutation: 'double-release' });
      }),
      { seed, numRuns: 60 },
    );
    assert.ok(result.failed, 'the broken recipe survived');
    assert.ok(result.errorInstance instanceof SimFailure, String(result.errorInstance));
    assert.match(result.errorInstance.message, /kept although nothing references it|invariants broken/);
  });

  void test('a run that fails only when a node dies shrinks to one node death and zero rates', () => {
    const nodeDied = (plan: FaultPlan): boolean => runChecked(plan).some((line) => /^node .* died \(fault injected\)/.test(line));
    const result = fc.check(
      fc.property(faultPlans({ maxFaults: 4, faultPhaseMs }), (plan) => !nodeDied(plan)),
      { seed },
    );
    assert.ok(result.failed && result.counterexample !== null, 'no plan killed a node');
    const [plan] = result.counterexample;
    const scheduled = plan.scheduled ?? [];
    assert.equal(scheduled.length, 1, JSON.stringify(plan));
    const fault = scheduled[0] as ScheduledFault;
    assert.equal(fault.kind, 'node-death');
    assert.deepEqual({ ...plan, scheduled: [] }, { dropRate: 0, duplicateRate: 0, jitterMs: 0, spikeRate: 0, spikeMs: 0, scheduled: [] });
    // Later faults are smaller: the node dies in the phase's last millisecond, the first node besides the head.
    assert.deepEqual(fault, { atMs: faultPhaseMs - 1, kind: 'node-death', target: 0 });
  });
});
