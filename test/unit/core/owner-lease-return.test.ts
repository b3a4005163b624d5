/**
 * An owner keeps an idle lease for `leaseIdleMs` for its next task, unless its raylet asked for the
 * lease back (`lease/return-requested`: leases queued there wait for what it holds): then it goes
 * back at once if idle, else as soon as its task replies, and no idle timer is armed for it. In place
 * and under immer alike.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashState } from '../../../core/hash.js';
import { defaultOwnerConfig, ownerCore } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { applyUnderImmer, checkInvariants } from '../../../core/step.js';
import { tinySubmission } from '../../support/owner-events.js';

const lease = 'n1.d1.l1';
let seq = 0;
const via = (from: string) => ({ from, incarnation: 0, seq: ++seq });
const replied = (task: string): OwnerEvent => ({ type: 'task/replied', taskId: task, attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 2, sizeBytes: 1, refs: [] }] }, releasedBorrows: [], via: via('worker:n1.w1') });

/** What a step did with the lease: returned it, armed its idle timer, pushed it a task. */
function doneWith(effects: readonly OwnerEffect[]): string[] {
  return effects.flatMap((effect) => {
    if (effect.type === 'timer/armed' && effect.timerId === `lease-idle:${lease}`) return ['idle timer armed'];
    if (effect.type !== 'message/sent') return [];
    if (effect.message.type === 'lease/returned') return ['returned'];
    if (effect.message.type === 'task/pushed') return [`pushed ${effect.message.spec.taskId}`];
    return [];
  });
}

/** Runs `events` after a driver (leaseIdleMs 50) submitted one task and got a lease for it; returns what each did and the final state's hash. */
function run(mode: 'live' | 'immer', events: readonly OwnerEvent[]): { steps: string[][]; hash: string } {
  seq = 0;
  let state: OwnerState = ownerCore.initial();
  const step = (event: OwnerEvent): string[] => {
    let effects: readonly OwnerEffect[];
    if (mode === 'live') effects = ownerCore.apply(state, event);
    else ({ state, effects } = applyUnderImmer(ownerCore, state, event));
    checkInvariants(ownerCore, state, event.type);
    return doneWith(effects);
  };
  step({ type: 'owner/started', workerId: 'n1.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: { ...defaultOwnerConfig, leaseIdleMs: 50, maxTasksInFlightPerLease: 1 } });
  step({ type: 'job/registration-replied', jobId: 'j1', via: via('gcs') });
  step(tinySubmission);
  const steps = [step({ type: 'lease/granted', leaseId: lease, workerId: 'n1.w1', nodeId: 'n1', via: via('raylet:n1') }), ...events.map(step)];
  return { steps, hash: hashState(state) };
}

void describe('owner: leases its raylet asks for back', () => {
  void it('keeps an idle lease when nobody asks, and returns it when its idle timer fires', () => {
    for (const mode of ['live', 'immer'] as const) {
      const { steps } = run(mode, [replied('n1.d1.t1'), { type: 'timer/fired', timerId: `lease-idle:${lease}`, nowMs: 60 }]);
      assert.deepEqual(steps, [['pushed n1.d1.t1'], ['idle timer armed'], ['returned']], mode);
    }
  });

  void it('returns an idle lease at once when asked', () => {
    const hashes = (['live', 'immer'] as const).map((mode) => {
      const { steps, hash } = run(mode, [replied('n1.d1.t1'), { type: 'lease/return-requested', leaseId: lease, via: via('raylet:n1') }, { type: 'timer/fired', timerId: `lease-idle:${lease}`, nowMs: 60 }]);
      assert.deepEqual(steps, [['pushed n1.d1.t1'], ['idle timer armed'], ['returned'], []], `${mode}: the timer that fires later finds nothing to return`);
      return hash;
    });
    assert.equal(hashes[0], hashes[1], 'live and immer reach the same state');
  });

  void it('returns a busy lease as soon as its task replies, without keeping it idle', () => {
    const hashes = (['live', 'immer'] as const).map((mode) => {
      const { steps, hash } = run(mode, [{ type: 'lease/return-requested', leaseId: lease, via: via('raylet:n1') }, replied('n1.d1.t1'), { type: 'lease/return-requested', leaseId: lease, via: via('raylet:n1') }]);
      assert.deepEqual(steps, [['pushed n1.d1.t1'], [], ['returned'], []], `${mode}: an ask for a lease already gone changes nothing`);
      return hash;
    });
    assert.equal(hashes[0], hashes[1], 'live and immer reach the same state');
  });
});
