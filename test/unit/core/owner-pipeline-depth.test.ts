/**
 * The owner core's pipeline depth set by its shell (owner/pipeline-depth-set): a granted lease takes
 * as many queued tasks as the depth set allows, a depth that is not a whole number ≥ 1 is ignored, a
 * pipeline is topped up once it has run down to half its depth, and the mutable and immer modes
 * reach the same state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashState } from '../../../core/hash.js';
import { defaultOwnerConfig, ownerCore } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { applyUnderImmer, checkInvariants } from '../../../core/step.js';

let seq = 0;
/** An envelope from `address`, each with the next sequence number. */
function from(address: string): { from: string; incarnation: number; seq: number } {
  return { from: address, incarnation: 0, seq: ++seq };
}

/** A fresh owner stepped in place or under immer, with its invariants checked after every step. */
function ownerStepper(mode: 'live' | 'immer'): { step: (event: OwnerEvent) => readonly OwnerEffect[]; state: () => OwnerState } {
  let state = ownerCore.initial();
  const step = (event: OwnerEvent): readonly OwnerEffect[] => {
    let effects: readonly OwnerEffect[];
    if (mode === 'live') effects = ownerCore.apply(state, event);
    else ({ state, effects } = applyUnderImmer(ownerCore, state, event));
    checkInvariants(ownerCore, state, event.type);
    return effects;
  };
  return { step, state: () => state };
}

/** A started driver that asks for up to `leases` leases per class, at pipeline depth `depth`, with 40 tasks queued. */
function fortyQueued(leases: number, depth: number): OwnerEvent[] {
  return [
    { type: 'owner/started', workerId: 'driver-1-ab.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: { ...defaultOwnerConfig, maxLeaseRequestsPerClass: leases, maxTasksInFlightPerLease: 1 } },
    { type: 'job/registration-replied', jobId: 'j1', via: from('gcs') },
    { type: 'owner/pipeline-depth-set', depth },
    ...Array.from({ length: 40 }, (): OwnerEvent => ({ type: 'task/submitted', name: 'f', functionId: 'f', args: [], numReturns: 1, resources: { CPU: 1 }, maxRetries: 3, retryExceptions: false, strategy: 'DEFAULT' })),
  ];
}

/** The one lease of `grantedAtDepthEight`. */
const depthEightLease = 'driver-1-ab.d1.l1';

/**
 * A driver with forty tasks queued at pipeline depth 8 and one lease, stepped in `mode` up to that
 * lease's grant; with the grant's effects.
 */
function grantedAtDepthEight(mode: 'live' | 'immer'): ReturnType<typeof ownerStepper> & { granted: readonly OwnerEffect[] } {
  seq = 0;
  const stepper = ownerStepper(mode);
  for (const event of fortyQueued(1, 8)) stepper.step(event);
  const granted = stepper.step({ type: 'lease/granted', leaseId: depthEightLease, workerId: 'n1.w1', nodeId: 'n1', via: from('raylet:n1') });
  return { ...stepper, granted };
}

/** The reply of worker `n1.w1` (its message number `workerSeq`) to the driver's task `t<task>`: its value, or the task handed back unrun. */
function workerReply(task: number, workerSeq: number, handedBack = false): OwnerEvent {
  return {
    type: 'task/replied',
    taskId: `driver-1-ab.d1.t${task}`,
    attempt: 1,
    workerId: 'n1.w1',
    nodeId: 'n1',
    result: handedBack ? { kind: 'not-run' } : { kind: 'returned', payloads: [{ kind: 'inline', data: task, sizeBytes: 1, refs: [] }] },
    releasedBorrows: [],
    via: { from: 'worker:n1.w1', incarnation: 0, seq: workerSeq },
  };
}

/** A driver that asks for one lease per class, with `depths` set before six tasks are submitted and the lease granted. */
function events(depths: readonly number[]): OwnerEvent[] {
  seq = 0;
  return [
    { type: 'owner/started', workerId: 'driver-1-ab.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: { ...defaultOwnerConfig, maxLeaseRequestsPerClass: 1, maxTasksInFlightPerLease: 1 } },
    { type: 'job/registration-replied', jobId: 'j1', via: from('gcs') },
    ...depths.map((depth): OwnerEvent => ({ type: 'owner/pipeline-depth-set', depth })),
    ...Array.from({ length: 6 }, (): OwnerEvent => ({ type: 'task/submitted', name: 'f', functionId: 'f', args: [], numReturns: 1, resources: { CPU: 1 }, maxRetries: 3, retryExceptions: false, strategy: 'DEFAULT' })),
    { type: 'lease/granted', leaseId: 'driver-1-ab.d1.l1', workerId: 'n1.w1', nodeId: 'n1', via: from('raylet:n1') },
  ];
}

/** Steps `list` on a fresh owner, mutably or under immer; returns the final state and how many tasks were pushed. */
function run(list: readonly OwnerEvent[], mode: 'live' | 'immer'): { state: OwnerState; pushed: number } {
  const owner = ownerStepper(mode);
  let pushed = 0;
  for (const event of list) pushed += owner.step(event).filter((effect) => effect.type === 'message/sent' && effect.message.type === 'task/pushed').length;
  return { state: owner.state(), pushed };
}

void describe('owner: the pipeline depth its shell sets', () => {
  void it('lets a granted lease take as many queued tasks as the depth set, in both modes alike', () => {
    assert.equal(run(events([]), 'live').pushed, 1, 'unpipelined, the lease takes one task');
    const deep = run(events([4]), 'live');
    assert.equal(deep.pushed, 4, 'at depth 4 the lease takes its task and three pipelined behind it');
    assert.equal(deep.state.config.maxTasksInFlightPerLease, 4);
    const immer = run(events([4]), 'immer');
    assert.equal(immer.pushed, 4);
    assert.equal(hashState(immer.state), hashState(deep.state));
    assert.equal(run(events([4, 2]), 'live').pushed, 2, 'the last depth set holds');
  });

  void it('ignores a depth that is not a whole number of at least 1', () => {
    for (const depth of [0, -3, 2.5, Number.NaN]) {
      const { state, pushed } = run(events([depth]), 'live');
      assert.equal(state.config.maxTasksInFlightPerLease, 1, `depth ${depth}`);
      assert.equal(pushed, 1);
    }
  });
});

void describe('owner: pipelining onto leases that hold different numbers of tasks', () => {
  /** Which lease each task/pushed among `effects` went to, in order. */
  function pushedLeases(effects: readonly OwnerEffect[]): string[] {
    return effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'task/pushed' ? [effect.message.leaseId] : []));
  }

  void it('fills the least-filled lease first, then every lease round by round in the order granted', () => {
    seq = 0;
    const l1 = 'driver-1-ab.d1.l1';
    const l2 = 'driver-1-ab.d1.l2';
    const setup = fortyQueued(2, 3);
    const grantL1: OwnerEvent = { type: 'lease/granted', leaseId: l1, workerId: 'n1.w1', nodeId: 'n1', via: from('raylet:n1') };
    const deeper: OwnerEvent = { type: 'owner/pipeline-depth-set', depth: 7 };
    const grantL2: OwnerEvent = { type: 'lease/granted', leaseId: l2, workerId: 'n1.w2', nodeId: 'n1', via: from('raylet:n1') };
    for (const mode of ['live', 'immer'] as const) {
      const { step } = ownerStepper(mode);
      for (const event of setup) step(event);
      assert.deepEqual(pushedLeases(step(grantL1)), [l1, l1, l1], `${mode}: the first lease takes its task and two behind it (depth 3)`);
      step(deeper);
      // l1 holds 3 tasks and l2 none: l2 takes its task, then rounds 1 and 2 fill l2 alone up to
      // l1's 3, and rounds 3 to 6 give one task to each, l1 first (granted first), up to 7 each.
      const expected = [l2, l2, l2, l1, l2, l1, l2, l1, l2, l1, l2];
      assert.deepEqual(pushedLeases(step(grantL2)), expected, `${mode}: pushes after the second grant`);
    }
  });

  void it('tops a pipeline up only once it has run down to half its depth, then fills it in one step', () => {
    const states: string[] = [];
    for (const mode of ['live', 'immer'] as const) {
      const { step, state, granted } = grantedAtDepthEight(mode);
      assert.equal(pushedLeases(granted).length, 8, `${mode}: the lease takes a full pipeline`);
      let workerSeq = 0;
      // 7, 6 and 5 tasks in flight after the first three replies: above half of 8, so none is pushed.
      for (const task of [1, 2, 3]) assert.deepEqual(pushedLeases(step(workerReply(task, ++workerSeq))), [], `${mode}: no push after reply ${task}`);
      // At 4 in flight (half), the pipeline is filled back up to 8 at once.
      assert.deepEqual(pushedLeases(step(workerReply(4, ++workerSeq))), [depthEightLease, depthEightLease, depthEightLease, depthEightLease], `${mode}: four pushes after the fourth reply`);
      assert.deepEqual(pushedLeases(step(workerReply(5, ++workerSeq))), [], `${mode}: and none after the next`);
      states.push(hashState(state()));
    }
    assert.equal(states[0], states[1], 'live and immer reach the same state');
  });

  void it('keeps the order of submission for the tasks a worker hands back, pushing them again first and in that order', () => {
    const pushedTasks = (effects: readonly OwnerEffect[]): string[] => effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'task/pushed' ? [effect.message.spec.taskId.slice('driver-1-ab.d1.'.length)] : []));
    const states: string[] = [];
    for (const mode of ['live', 'immer'] as const) {
      const { step, state, granted } = grantedAtDepthEight(mode);
      assert.deepEqual(pushedTasks(granted), ['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8']);
      let workerSeq = 0;
      // t1 blocked in a get: its worker hands back the seven behind it, one reply each, in the order pushed.
      for (const task of [2, 3, 4, 5, 6, 7, 8]) assert.deepEqual(pushedTasks(step(workerReply(task, ++workerSeq, true))), [], `${mode}: nothing is pushed to a lease that handed tasks back`);
      // Once t1 replies, the lease takes a full pipeline again: the handed-back tasks first, in their order.
      assert.deepEqual(pushedTasks(step(workerReply(1, ++workerSeq))), ['t2', 't3', 't4', 't5', 't6', 't7', 't8', 't9'], `${mode}: pushes after t1 replied`);
      states.push(hashState(state()));
    }
    assert.equal(states[0], states[1], 'live and immer reach the same state');
  });
  void it('pushes nothing more behind a task handed back after the reply before it made it the running one', () => {
    const pushes = (effects: readonly OwnerEffect[]): string[] =>
      effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'task/pushed' ? [`${effect.message.spec.taskId.slice('driver-1-ab.d1.'.length)}${effect.message.after === undefined ? '' : ` after ${effect.message.after.taskId.slice('driver-1-ab.d1.'.length)}`}`] : []));
    const states: string[] = [];
    for (const mode of ['live', 'immer'] as const) {
      seq = 0;
      const { step, state } = ownerStepper(mode);
      for (const event of fortyQueued(1, 2)) step(event);
      assert.deepEqual(pushes(step({ type: 'lease/granted', leaseId: depthEightLease, workerId: 'n1.w1', nodeId: 'n1', via: from('raylet:n1') })), ['t1', 't2 after t1']);
      // t1 blocked in a get, so the worker handed t2 back, but t1's reply overtook the hand-back: t2 runs now, as the owner sees it.
      assert.deepEqual(pushes(step(workerReply(1, 1))), ['t3 after t2'], `${mode}: the pipeline is topped up behind t2`);
      assert.deepEqual(pushes(step(workerReply(2, 2, true))), [], `${mode}: t3 follows t2, which never ran: nothing more is pushed`);
      // t3 comes back too; the lease is idle and takes the next task as one that follows nothing.
      assert.deepEqual(pushes(step(workerReply(3, 3, true))), ['t2'], `${mode}: a fresh start`);
      assert.deepEqual(pushes(step(workerReply(2, 4))), ['t3', 't4 after t3'], `${mode}: open again once a task that ran replied`);
      states.push(hashState(state()));
    }
    assert.equal(states[0], states[1], 'live and immer reach the same state');
  });
});
