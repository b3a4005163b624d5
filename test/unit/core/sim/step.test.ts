/**
 * The simulator driven one step at a time (start, step, finish) is the simulator: the same trace,
 * byte for byte, as `run`, and the clock only moves to what the agenda said was next. This is what a
 * caller that interleaves the run with a script's own async code relies on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimFailure, Simulator, simulate } from '../../../../core/sim/index.js';
import type { FaultPlan, SimOptions, SimProgram, SimRef } from '../../../../core/sim/index.js';
import { sharedArgumentProgram } from '../../../../scripts/sim-scenarios.js';

const program: SimProgram = {
  name: 'steps',
  bodies: { square: (_ctx, x: unknown) => (x as number) ** 2, big: (_ctx, x: unknown) => ({ x, $padBytes: 200_000 }) },
  actors: { Counter: { init: () => ({ total: 0 }), methods: { add: (_ctx, state, n: unknown) => ((state['total'] as number) += n as number) } } },
  *driver(ctx) {
    const squares = [1, 2, 3, 4, 5].map((x) => ctx.submit('square', [x], { maxRetries: 5 }) as SimRef);
    const big = ctx.submit('big', [7], { maxRetries: 5 }) as SimRef;
    const counter = ctx.createActor('Counter', [], { maxRestarts: 3, maxTaskRetries: 3 });
    const added = [1, 2].map((n) => ctx.call(counter, 'add', [n]) as SimRef);
    return { squares: yield ctx.get(squares), big: ((yield ctx.get(big)) as { x: number }).x, added: yield ctx.get(added) };
  },
};

const chaos: FaultPlan = {
  dropRate: 0.1,
  duplicateRate: 0.1,
  jitterMs: 5,
  scheduled: [
    { atMs: 20, kind: 'worker-crash', target: 1 },
    { atMs: 60, kind: 'node-death', target: 0 },
  ],
};

function stepped(options: SimOptions): { text: string; clockWentBack: boolean; steps: number } {
  const sim = new Simulator(options);
  sim.start();
  let steps = 0;
  let clockWentBack = false;
  for (;;) {
    const due = sim.nextDueMs();
    const before = sim.nowMs;
    if (!sim.step()) break;
    steps++;
    if (due === undefined || sim.nowMs !== Math.max(before, due)) clockWentBack = true;
  }
  assert.equal(sim.step(), false, 'a run that is over stays over');
  return { text: sim.finish().traceText(), clockWentBack, steps };
}

void test('start, step and finish give the trace run gives, byte for byte, and move the clock only to what was due', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const options: SimOptions = { seed, program, faults: chaos, nodes: [{ resources: { CPU: 2 } }, { resources: { CPU: 2 } }] };
    const whole = simulate(options).traceText();
    const byStep = stepped(options);
    assert.equal(byStep.text, whole, `seed ${seed}`);
    assert.equal(byStep.clockWentBack, false);
    assert.ok(byStep.steps > 50);
  }
});

void test('a step that breaks an invariant throws SimFailure with the trace so far, and the run is over', () => {
  const sim = new Simulator({ seed: 1, program: sharedArgumentProgram, mutation: 'double-release', hashEvery: 4 });
  sim.start();
  let steps = 0;
  assert.throws(
    () => {
      while (sim.step()) steps++;
    },
    (error: unknown) => error instanceof SimFailure && /"note":"failure: InvariantViolation: invariants broken after seq \d+/.test(error.traceText),
  );
  assert.ok(steps > 10);
  assert.equal(sim.step(), false);
});
