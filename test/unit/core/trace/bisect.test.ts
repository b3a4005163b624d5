/**
 * The invariant breakpoint: bisection over a component's replayed states finds the same first event
 * as asking every state in order, with far fewer questions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { gcsCore } from '../../../../core/gcs/index.js';
import { ownerCore } from '../../../../core/owner/index.js';
import type { OwnerState } from '../../../../core/owner/index.js';
import { rayletCore } from '../../../../core/raylet/index.js';
import { simulate } from '../../../../core/sim/index.js';
import type { SimProgram } from '../../../../core/sim/index.js';
import { bisectFirst, componentHistory, findBreakpoint, firstEventWhere } from '../../../../core/trace/bisect.js';
import type { ComponentHistory } from '../../../../core/trace/bisect.js';
import { decodeTrace } from '../../../../core/trace/decode.js';
import { tableGet, tableValues } from '../../../../core/table.js';

const cores = { gcs: gcsCore, raylet: rayletCore, owner: ownerCore };

const program: SimProgram = {
  name: 'fan',
  bodies: { square: (_ctx, x) => (x as number) * (x as number) },
  actors: {},
  *driver(ctx) {
    const refs = Array.from({ length: 12 }, (_unused, x) => ctx.submit('square', [x]));
    return yield ctx.get(refs.flat());
  },
};

const decoded = decodeTrace(simulate({ seed: 4, program, faults: { dropRate: 0.1, jitterMs: 5 }, faultPhaseMs: 500 }).traceText());
assert.ok(E.isRight(decoded));
const trace = decoded.right;

function history(address: string): ComponentHistory {
  const found = componentHistory(trace, cores, address);
  assert.ok(typeof found !== 'string', typeof found === 'string' ? found : '');
  return found;
}

const finished = (state: unknown): number => tableValues((state as OwnerState).tasks).filter((task) => task.state === 'FINISHED').length;

void describe('invariant breakpoint', () => {
  void test('bisectFirst finds the first true position of a monotone predicate in O(log n) questions', () => {
    for (const count of [1, 2, 3, 10, 1000]) {
      for (const first of [0, 1, Math.floor(count / 2), count - 1, count]) {
        const asked: number[] = [];
        const found = bisectFirst(count, (position) => {
          asked.push(position);
          return position >= first;
        });
        assert.equal(found, first < count ? first : undefined, `count ${count}, first ${first}`);
        assert.ok(asked.length <= Math.ceil(Math.log2(count)) + 1, `${asked.length} questions for ${count}`);
      }
    }
    assert.equal(bisectFirst(0, () => true), undefined);
  });

  void test('on a replayed driver, bisection and a linear scan agree on the first seq, for every threshold', () => {
    const driver = history('worker:n1.d1');
    assert.equal(driver.stoppedAt, undefined);
    assert.ok(driver.states.length > 30, `${driver.states.length} driver events`);
    for (let threshold = 1; threshold <= 12; threshold++) {
      const predicate = (state: unknown): boolean => finished(state) >= threshold;
      const bisected = findBreakpoint(driver, predicate);
      const linear = findBreakpoint(driver, predicate, { mode: 'linear' });
      // The plain scan, written out: the first state of the driver where it holds.
      const expected = driver.seqs[driver.states.findIndex(predicate)];
      assert.deepEqual({ kind: bisected.kind, seq: bisected.kind === 'found' ? bisected.seq : undefined }, { kind: 'found', seq: expected });
      assert.equal(linear.kind === 'found' ? linear.seq : undefined, expected);
      assert.ok(bisected.evaluations <= Math.ceil(Math.log2(driver.states.length)) + 2, `${bisected.evaluations} evaluations`);
      // The event found is the one that finished a task: the state before it had one fewer.
      const position = driver.seqs.indexOf(expected ?? -1);
      assert.equal(finished(driver.states[position - 1]), threshold - 1);
    }
  });

  void test('a predicate that holds from the start, never, or throws until it holds', () => {
    const driver = history('worker:n1.d1');
    assert.deepEqual(findBreakpoint(driver, () => true), { kind: 'from-start', evaluations: 1 });
    assert.equal(findBreakpoint(driver, (state) => finished(state) > 12).kind, 'never');
    const lookup = (state: unknown): boolean => tableGet((state as OwnerState).tasks, 'n1.d1.t3')!.state === 'FINISHED';
    const found = findBreakpoint(driver, lookup);
    assert.equal(found.kind, 'found');
    assert.equal(found.kind === 'found' ? found.seq : 0, firstEventWhereLinear(driver, lookup));
    const broken = findBreakpoint(driver, (state) => (state as { nothing: { here: boolean } }).nothing.here);
    assert.equal(broken.kind, 'never');
    assert.match(broken.kind === 'never' ? (broken.error ?? '') : '', /^TypeError: Cannot read properties of undefined/);
  });

  void test('firstEventWhere replays and searches; an unknown address names the components there are', () => {
    const result = firstEventWhere(trace, cores, 'worker:n1.d1', (state) => finished(state) >= 6);
    assert.ok(typeof result !== 'string' && result.kind === 'found');
    const unknown = firstEventWhere(trace, cores, 'worker:n9.w9', () => true);
    assert.equal(typeof unknown, 'string');
    assert.match(typeof unknown === 'string' ? unknown : '', /^the trace has no component at 'worker:n9\.w9'; its components are gcs, raylet:n1, /);
  });
});

/** The seq after which `predicate` first holds, asking every state. */
function firstEventWhereLinear(history: ComponentHistory, predicate: (state: unknown) => boolean): number | undefined {
  const position = history.states.findIndex((state) => {
    try {
      return predicate(state);
    } catch {
      return false;
    }
  });
  return history.seqs[position];
}
