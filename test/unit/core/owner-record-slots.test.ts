/**
 * The owner's records that every task passes through are made with the fields it fills later (as
 * undefined, which hashes as absent), so that filling them takes no property array and no change of
 * hidden class, and they carry no empty list for a value that holds no refs. Every step is applied
 * in place and under immer (with own copies, and with patches), which must give states that hash alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tableGet } from '../../../core/table.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';

const reply = (taskId: string, data: unknown, refs: { objectId: string; owner: string }[], seq: number): ReturnType<typeof delivered> =>
  delivered(
    { type: 'task/replied', taskId, attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data, sizeBytes: 1, refs }] }, releasedBorrows: [] },
    'worker:n1.w1',
    seq,
  );

void test('a submitted task has slots for what its push fills, and a requested lease for what its grant and pushes fill', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step(tinySubmission);
  const task = tableGet(run.live.tasks, 'n1.d1.t1');
  assert.ok(task !== undefined);
  for (const field of ['leaseId', 'workerId', 'nodeId']) {
    assert.ok(field in task, `a task is made with its ${field} slot`);
    assert.equal(task[field as 'leaseId'], undefined, `which stays empty until the task is pushed`);
  }
  const lease = run.live.leases['n1.d1.l1'];
  assert.ok(lease !== undefined);
  for (const field of ['workerId', 'runningTaskId', 'pipelined']) assert.ok(field in lease, `a lease is made with its ${field} slot`);
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  assert.deepEqual([task.state, task.leaseId, task.workerId, task.nodeId], ['RUNNING', 'n1.d1.l1', 'n1.w1', 'n1']);
  assert.equal(run.live.leases['n1.d1.l1']?.runningTaskId, 'n1.d1.t1');
});

void test('a ready object whose value holds no refs has no contains list; one whose value holds refs keeps copies of them, and loses them with its value', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step(tinySubmission);
  run.step(tinySubmission);
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  run.step(reply('n1.d1.t1', 2, [], 0));
  const plain = tableGet(run.live.objects, 'n1.d1.t1.r0');
  assert.equal(plain?.state, 'ready');
  assert.ok(plain !== undefined && 'payload' in plain && !('contains' in plain), 'a value without refs keeps no empty list of them');
  for (const state of [run.own, run.patched]) assert.ok(!('contains' in (tableGet(state.objects, 'n1.d1.t1.r0') ?? {})), 'nor under immer');
  const inner = { objectId: 'n1.d1.t1.r0', owner: 'n1.d1' };
  run.step(reply('n1.d1.t2', 3, [inner], 1));
  const outer = tableGet(run.live.objects, 'n1.d1.t2.r0');
  assert.deepEqual(outer?.contains, [inner], 'a value with refs keeps them');
  assert.notEqual(outer?.contains?.[0], inner, 'as copies, not the reply\'s own markers');
  assert.deepEqual(tableGet(run.live.objects, 'n1.d1.t1.r0')?.containedIn, ['n1.d1.t2.r0'], 'and holds the inner object');
  run.step({ type: 'refs/released', objectIds: ['n1.d1.t2.r0'] });
  assert.equal(tableGet(run.live.objects, 'n1.d1.t2.r0'), undefined, 'the outer object is freed');
  assert.deepEqual(tableGet(run.live.objects, 'n1.d1.t1.r0')?.containedIn, [], 'and its hold on the inner one is released');
});
