/**
 * A worker's pipelined tasks: pushed behind the task it runs, they wait (queued) and start one at a
 * time in push order as each reply goes. The worker finds whether a normal task is under way, and
 * which queued one is next, from a count and a queue of keys it keeps beside its executions (no push
 * or reply walks them); the invariants check those against the executions after every step, applied
 * in place and under immer both ways.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxCancelledEarly, ownerCore, ownerInvariants } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { emptyFifo, fifoItems, fifoPushOne } from '../../../core/fifo.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { driverStarted } from '../../support/owner-events.js';
import { tableKeys } from '../../../core/table.js';

const inline = (data: unknown): { kind: 'inline'; data: unknown; sizeBytes: number; refs: [] } => ({ kind: 'inline', data, sizeBytes: 1, refs: [] });
const worker = { ...driverStarted, workerId: 'n1.w1', isDriver: false } as OwnerEvent;

/** A push of `taskId` from the driver `n1.d1` on lease `n1.d1.l1`, pipelined behind `after` when given. */
function push(taskId: string, seq: number, after?: string): OwnerEvent {
  return delivered(
    {
      type: 'task/pushed',
      spec: { taskId, jobId: 'j1', owner: 'n1.d1', returnIds: [`${taskId}.r0`], name: 'f', functionId: 'f', args: [], resources: { CPU: 1 }, maxRetries: 0, retryExceptions: false, strategy: 'DEFAULT' },
      attempt: 1,
      leaseId: 'n1.d1.l1',
      args: [{ kind: 'value', payload: inline(1) }],
      ...(after === undefined ? {} : { after: { taskId: after, attempt: 1 } }),
    },
    'worker:n1.d1',
    seq,
  );
}

const returned = (taskId: string): OwnerEvent => ({ type: 'task/executed', taskId, attempt: 1, result: { kind: 'returned', values: [{ data: 2, sizeBytes: 1, refs: [] }] } });
const executed = (effects: OwnerEffect[]): string[] => effects.flatMap((effect) => (effect.type === 'task/execute' ? [effect.spec.taskId] : []));
const replies = (effects: OwnerEffect[]): [string, string][] =>
  effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'task/replied' ? [[effect.message.taskId, effect.message.result.kind] as [string, string]] : []));

/** The count and the queue kept beside the executions, in each of the three states. */
function kept(run: ThreeWays): { normal: number; queued: string[]; keys: string[] }[] {
  return [run.live, run.own, run.patched].map((state) => ({ normal: state.normalExecutions, queued: fifoItems(state.queuedExecutions), keys: tableKeys(state.executions) }));
}

void test('pipelined pushes wait behind the running task and start one at a time, in push order', () => {
  const run = new ThreeWays();
  run.step(worker);
  assert.deepEqual(executed(run.step(push('n1.d1.t1', 0))), ['n1.d1.t1']);
  assert.deepEqual(executed(run.step(push('n1.d1.t2', 1, 'n1.d1.t1'))), [], 'a push behind a running task waits');
  assert.deepEqual(executed(run.step(push('n1.d1.t3', 2, 'n1.d1.t2'))), []);
  for (const state of kept(run)) assert.deepEqual(state, { normal: 3, queued: ['n1.d1.t2', 'n1.d1.t3'], keys: ['n1.d1.t1', 'n1.d1.t2', 'n1.d1.t3'] });
  const first = run.step(returned('n1.d1.t1'));
  assert.deepEqual(replies(first), [['n1.d1.t1', 'returned']]);
  assert.deepEqual(executed(first), ['n1.d1.t2'], 'the reply starts the first queued task, and only that one');
  for (const state of kept(run)) assert.deepEqual(state, { normal: 2, queued: ['n1.d1.t3'], keys: ['n1.d1.t2', 'n1.d1.t3'] });
  assert.deepEqual(executed(run.step(returned('n1.d1.t2'))), ['n1.d1.t3']);
  assert.deepEqual(executed(run.step(returned('n1.d1.t3'))), [], 'nothing is left to start');
  for (const state of kept(run)) assert.deepEqual(state, { normal: 0, queued: [], keys: [] });
  assert.deepEqual(executed(run.step(push('n1.d1.t4', 3, 'n1.d1.t3'))), ['n1.d1.t4'], 'with nothing under way a push runs at once');
});

void test('a queued task cancelled leaves the queue from wherever it waits, and the next one still starts in order', () => {
  const run = new ThreeWays();
  run.step(worker);
  run.step(push('n1.d1.t1', 0));
  run.step(push('n1.d1.t2', 1, 'n1.d1.t1'));
  run.step(push('n1.d1.t3', 2, 'n1.d1.t2'));
  run.step(push('n1.d1.t4', 3, 'n1.d1.t3'));
  const cancelled = run.step(delivered({ type: 'task/cancel-requested', taskId: 'n1.d1.t3', recursive: false }, 'worker:n1.d1', 4));
  assert.deepEqual(replies(cancelled), [['n1.d1.t3', 'cancelled']]);
  assert.deepEqual(executed(cancelled), [], 'the running task is still under way');
  for (const state of kept(run)) assert.deepEqual(state, { normal: 3, queued: ['n1.d1.t2', 'n1.d1.t4'], keys: ['n1.d1.t1', 'n1.d1.t2', 'n1.d1.t4'] });
  assert.deepEqual(executed(run.step(returned('n1.d1.t1'))), ['n1.d1.t2']);
  assert.deepEqual(executed(run.step(returned('n1.d1.t2'))), ['n1.d1.t4'], 'the cancelled one is skipped');
  for (const state of kept(run)) assert.deepEqual(state, { normal: 1, queued: [], keys: ['n1.d1.t4'] });
});

void test('the invariants catch a count or a queue of keys that disagrees with the executions', () => {
  const run = new ThreeWays();
  run.step(worker);
  run.step(push('n1.d1.t1', 0));
  run.step(push('n1.d1.t2', 1, 'n1.d1.t1'));
  const state: OwnerState = run.live;
  assert.deepEqual(ownerCore.invariants(state), []);
  const miscounted: OwnerState = { ...state, normalExecutions: 1 };
  assert.match(ownerCore.invariants(miscounted).join('\n'), /counts 1 normal executions, but holds 2/);
  const unqueued: OwnerState = { ...state, queuedExecutions: emptyFifo() };
  assert.match(ownerCore.invariants(unqueued).join('\n'), /queues 0 executions in order, but holds 1 queued/);
  const wrongKey = emptyFifo<string>();
  fifoPushOne(wrongKey, 'n1.d1.t1');
  assert.match(ownerCore.invariants({ ...state, queuedExecutions: wrongKey }).join('\n'), /queues n1\.d1\.t1, which is not a queued execution/);
});

void test('a worker keeps the replies of its last 64 tasks by default, and a push pipelined behind the latest reply still runs', () => {
  const run = new ThreeWays();
  run.step(worker);
  for (let number = 1; number <= 100; number += 1) {
    run.step(push(`n1.d1.t${number}`, number - 1, number === 1 ? undefined : `n1.d1.t${number - 1}`));
    assert.deepEqual(replies(run.step(returned(`n1.d1.t${number}`))), [[`n1.d1.t${number}`, 'returned']]);
  }
  // A reply kept for 1,024 tasks outlived a young-generation collection: the cache is the last 64.
  const kept64 = Array.from({ length: 64 }, (_, index) => `n1.d1.t${index + 37}`);
  for (const state of [run.live, run.own, run.patched]) {
    assert.deepEqual(state.replyOrder, kept64);
    assert.deepEqual(tableKeys(state.replyCache), kept64);
  }
  assert.deepEqual(executed(run.step(push('n1.d1.t101', 100, 'n1.d1.t100'))), ['n1.d1.t101'], 'the reply it follows is the latest, and kept');
  const again = run.step(push('n1.d1.t100', 101));
  assert.deepEqual(replies(again), [['n1.d1.t100', 'returned']], 'a push sent again of a kept reply is answered from the cache');
  assert.deepEqual(executed(again), []);
});

void test('a worker keeps the last 1,024 cancels of tasks not pushed to it, whatever its reply cache, and the invariants name a state over that bound', () => {
  const live = ownerCore.initial();
  ownerCore.apply(live, worker);
  for (let number = 1; number <= maxCancelledEarly + 76; number += 1) {
    ownerCore.apply(live, delivered({ type: 'task/cancel-requested', taskId: `n1.d1.t${number}`, recursive: false }, 'worker:n1.d1', number - 1));
  }
  assert.equal(live.cancelledEarly.length, maxCancelledEarly, 'not 64, the reply cache\'s bound');
  assert.equal(live.cancelledEarly[0], 'n1.d1.t77', 'the oldest went first');
  assert.deepEqual(ownerInvariants(live), []);
  live.cancelledEarly.push('n1.d1.t9999');
  assert.deepEqual(ownerInvariants(live), [`${maxCancelledEarly + 1} early cancels kept, over the bound of ${maxCancelledEarly}`]);
});
