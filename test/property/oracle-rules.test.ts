import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judge } from '../support/oracle.js';
import { extraOutcomes, worldOf } from '../support/outcome-rules.js';
import { expectations, referenceOutcomes } from '../support/reference.js';
import type { OpSpec } from '../support/workload.js';
import { resolveWorkload } from '../support/workload.js';

const task = (body: Extract<OpSpec, { op: 'task' }>['body'], args: Extract<OpSpec, { op: 'task' }>['args'], options: Partial<Extract<OpSpec, { op: 'task' }>> = {}): OpSpec => ({
  op: 'task',
  body,
  args,
  maxRetries: 0,
  retryExceptions: false,
  numReturns: body === 'pair' ? 2 : 1,
  ...options,
});
const lit = (n: number) => ({ kind: 'lit' as const, n });
/** A ref to the result `back` places before the most recent one (0: the most recent). */
const ref = (back: number) => ({ kind: 'ref' as const, pick: back });
const clean = { crashes: false };

void describe('oracle rules', () => {
  void it('the table adds what each situation allows and nothing else', () => {
    assert.deepEqual(extraOutcomes({ kind: 'task', body: 'add', crashes: false }).errors, []);
    assert.deepEqual(extraOutcomes({ kind: 'task', body: 'add', crashes: false, cancelled: true }).errors, ['TaskCancelledError']);
    assert.deepEqual(extraOutcomes({ kind: 'task', body: 'flaky', retryExceptions: true, crashes: false, cancelled: true }).errors, ['TaskCancelledError', 'RayTaskError']);
    assert.deepEqual(extraOutcomes({ kind: 'task', body: 'add', crashes: true }).errors, ['WorkerCrashedError', 'ObjectLostError', 'ObjectReconstructionFailedError']);
    assert.deepEqual(extraOutcomes({ kind: 'put', crashes: true }).errors, []);
    const restarted = extraOutcomes({ kind: 'call', crashes: false, actorKilled: true, actorMayRestart: true });
    assert.deepEqual(restarted.errors, ['ActorDiedError', 'ActorUnavailableError']);
    assert.equal(restarted.anyValue, true);
    assert.deepEqual(extraOutcomes({ kind: 'inner', crashes: false, workloadEndsWorkers: true }).errors, ['OwnerDiedError']);
    for (const kind of ['task', 'put', 'call', 'inner'] as const) assert.ok(!extraOutcomes({ kind, crashes: true, cancelled: true, actorKilled: true }).errors.includes('GetTimeoutError'));
  });

  void it('the world is read from the fault log: crashes and deaths count, message faults, GCS restarts and healed partitions do not', () => {
    assert.deepEqual(worldOf([]), clean);
    assert.deepEqual(worldOf(['GCS went down at 6 ms until 158 ms', 'node n2 partitioned at 98 ms until 125 ms']), clean);
    assert.deepEqual(worldOf(['worker n1.w1 crashed at 117 ms']), { crashes: true });
    assert.deepEqual(worldOf(['node n3 died (fenced by the GCS) at 601 ms']), { crashes: true });
  });

  void it('the reference computes values, failures and their propagation', () => {
    const plan = resolveWorkload([
      task('add', [lit(1), lit(2)]),
      task('fail', []),
      task('add', [ref(1), lit(10)]),
      task('add', [ref(1)]),
      task('add', [{ kind: 'nested', picks: [2] }]),
      task('flaky', [lit(1)]),
      task('flaky', [lit(1)], { maxRetries: 1, retryExceptions: true }),
      task('exit', [lit(1)]),
      task('exit', [lit(1)], { maxRetries: 1 }),
      task('nested', [lit(2), lit(3)]),
      task('pair', [lit(4)]),
      task('add', [lit(4)], { numReturns: 2 }),
    ]);
    assert.deepEqual(referenceOutcomes(plan), [
      { value: 3 },
      { error: 'RayTaskError' },
      { value: 13 },
      { error: 'RayTaskError' }, // a failed top-level argument fails the task with its error
      { error: 'RayTaskError' }, // a failed nested ref makes the body's own get throw
      { error: 'RayTaskError' },
      { value: 101 },
      { error: 'WorkerCrashedError' },
      { value: 201 },
      { value: 50 },
      { value: 4 },
      { value: 5 },
      { error: 'RayTaskError' }, // two returns from a body that returns one value
      { error: 'RayTaskError' },
    ]);
  });

  void it('crashes let a flaky task without exception retries succeed on its retry', () => {
    const plan = resolveWorkload([task('flaky', [lit(1)], { maxRetries: 1 })]);
    assert.deepEqual(expectations(plan, clean)[0]?.outcomes, [{ error: 'RayTaskError' }]);
    assert.deepEqual(expectations(plan, { crashes: true })[0]?.outcomes, [{ error: 'RayTaskError' }, { value: 101 }, { error: 'WorkerCrashedError' }, { error: 'ObjectLostError' }, { error: 'ObjectReconstructionFailedError' }]);
  });

  void it('actor totals follow the calls, and a kill makes later calls fail (or race past it)', () => {
    const plan = resolveWorkload([
      { op: 'actor', start: 10, maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 },
      { op: 'call', actor: 0, arg: lit(1) },
      { op: 'call', actor: 0, arg: lit(2) },
      { op: 'kill', actor: 0, noRestart: true },
      { op: 'call', actor: 0, arg: lit(3) },
    ]);
    const expected = expectations(plan, clean);
    assert.deepEqual(
      expected.map((e) => e.outcomes),
      [
        [{ value: 11 }, { error: 'ActorDiedError' }, { error: 'ActorUnavailableError' }],
        [{ value: 13 }, { error: 'ActorDiedError' }, { error: 'ActorUnavailableError' }],
        [{ error: 'ActorDiedError' }, { value: 16 }, { error: 'ActorUnavailableError' }],
      ],
    );
    assert.deepEqual(judge(expected, [{ result: 0, outcome: { value: 11 } }, { result: 1, outcome: { value: 13 } }, { result: 2, outcome: { error: 'ActorDiedError' } }]), []);
    // The first call failed, though it may have run: the second's total is then not checked.
    assert.deepEqual(judge(expected, [{ result: 0, outcome: { error: 'ActorDiedError' } }, { result: 1, outcome: { value: 12 } }, { result: 2, outcome: { error: 'ActorDiedError' } }]), []);
    // With every earlier call as the model assumed, a wrong total is caught.
    assert.equal(judge(expected, [{ result: 0, outcome: { value: 11 } }, { result: 1, outcome: { value: 12 } }, { result: 2, outcome: { error: 'ActorDiedError' } }]).length, 1);
  });

  void it('the oracle flags wrong values, unexpected errors, GetTimeoutError and missing results', () => {
    const plan = resolveWorkload([task('add', [lit(1)]), task('returnsRef', [lit(2)]), { op: 'put', n: 3, big: false }]);
    const expected = expectations(plan, clean);
    assert.deepEqual(judge(expected, [{ result: 0, outcome: { value: 1 } }, { result: 1, outcome: { value: { inner: '$ref' } }, inner: { value: 2 } }, { result: 2, outcome: { value: { v: 3 } } }]), []);
    const wrong = judge(expected, [{ result: 0, outcome: { value: 2 } }, { result: 1, outcome: { value: { inner: '$ref' } }, inner: { error: 'OwnerDiedError' } }]);
    assert.deepEqual(
      wrong.map((m) => m.result),
      [0, 1, 2],
    );
    assert.match(judge(expected, [{ result: 0, outcome: { error: 'GetTimeoutError' } }])[0]?.what ?? '', /GetTimeoutError/);
  });
});
