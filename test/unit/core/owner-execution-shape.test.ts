/**
 * A worker's executions carry no empty collections they do not use: `fetched` and `pendingAcks` are
 * absent until the first stored argument arrives or the first registration is sent, and go back to
 * absent (or stay as the fetched values) as the task moves on. Every step is applied in place and
 * under immer (with own copies, and with patches), which must give states that hash alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultOwnerConfig } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent } from '../../../core/owner/index.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { tableGet, tableKeys } from '../../../core/table.js';
import { driverStarted } from '../../support/owner-events.js';

const inline = (data: unknown): { kind: 'inline'; data: unknown; sizeBytes: number; refs: [] } => ({ kind: 'inline', data, sizeBytes: 1, refs: [] });

/** A push of `taskId` from the driver `n1.d1` to this worker, with `args` as resolved. */
function push(taskId: string, args: unknown[], seq: number, returnIds = [`${taskId}.r0`], attempt = 1): OwnerEvent {
  return delivered(
    {
      type: 'task/pushed',
      spec: { taskId, jobId: 'j1', owner: 'n1.d1', returnIds, name: 'f', functionId: 'f', args: [], resources: { CPU: 1 }, maxRetries: 0, retryExceptions: false, strategy: 'DEFAULT' },
      attempt,
      leaseId: 'n1.d1.l1',
      args,
    },
    'worker:n1.d1',
    seq,
  );
}

const sentOf = (effects: OwnerEffect[], type: string): unknown[] => effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === type ? [effect.message] : []));
const worker = { ...driverStarted, workerId: 'n1.w1', isDriver: false } as OwnerEvent;

void test('an execution with inline arguments and no returned refs has no fetched record and no pending-ack list', () => {
  const run = new ThreeWays();
  run.step(worker);
  const effects = run.step(push('n1.d1.t1', [{ kind: 'value', payload: inline(1) }], 0));
  assert.equal(effects.filter((effect) => effect.type === 'task/execute').length, 1, 'the task runs at once');
  for (const execution of run.executions('n1.d1.t1')) {
    assert.equal(execution?.phase, 'running');
    assert.ok(!('fetched' in execution), 'nothing was fetched');
    assert.ok(!('pendingAcks' in execution), 'no registration was sent');
  }
  const replied = run.step({ type: 'task/executed', taskId: 'n1.d1.t1', attempt: 1, result: { kind: 'returned', values: [{ data: 2, sizeBytes: 1, refs: [] }] } });
  assert.equal(sentOf(replied, 'task/replied').length, 1);
});

void test('an execution keeps the stored argument it fetched until it replies, and the value is dropped then', () => {
  const run = new ThreeWays();
  run.step(worker);
  const stored = { kind: 'stored', nodeIds: ['n1'], sizeBytes: 1 << 20, refs: [] };
  const ref = { objectId: 'n1.d1.p1', owner: 'n1.d1' };
  const pushed = run.step(push('n1.d1.t1', [{ kind: 'value', payload: inline(1) }, { kind: 'ref', ref, payload: stored }], 0));
  assert.deepEqual(sentOf(pushed, 'object/fetch-requested'), [{ type: 'object/fetch-requested', objectId: 'n1.d1.p1', requester: 'worker:n1.w1' }]);
  assert.equal(pushed.filter((effect) => effect.type === 'task/execute').length, 0, 'the task waits for its stored argument');
  for (const execution of run.executions('n1.d1.t1')) assert.ok(execution !== undefined && !('fetched' in execution), 'nothing arrived yet');
  const fetched = run.step(delivered({ type: 'object/fetched', objectId: 'n1.d1.p1', data: 'big', sizeBytes: 1 << 20, refs: [] }, 'raylet:n1', 0));
  const execute = fetched.find((effect) => effect.type === 'task/execute');
  assert.ok(execute?.type === 'task/execute', 'the task runs once its argument is here');
  assert.deepEqual(
    execute.args.map((arg) => arg.data),
    [1, 'big'],
  );
  for (const execution of run.executions('n1.d1.t1')) assert.deepEqual(execution?.fetched, { 'n1.d1.p1': { data: 'big', sizeBytes: 1 << 20, refs: [] } });
  run.step({ type: 'task/executed', taskId: 'n1.d1.t1', attempt: 1, result: { kind: 'returned', values: [{ data: 2, sizeBytes: 1, refs: [] }] } });
  for (const state of [run.live, run.own, run.patched]) {
    assert.equal(tableGet(state.executions, 'n1.d1.t1'), undefined, 'the execution ended with its reply');
    assert.equal(state.fetchedData['n1.d1.p1'], undefined, 'the value it fetched is dropped with it');
  }
  // A later task that fetched nothing has no record again.
  run.step(push('n1.d1.t2', [{ kind: 'value', payload: inline(1) }], 1));
  for (const execution of run.executions('n1.d1.t2')) assert.ok(execution !== undefined && !('fetched' in execution));
});

void test('a reply waits for the registrations of refs a third process owns; the pending-ack list goes once the last lands', () => {
  const run = new ThreeWays();
  run.step(worker);
  run.step(push('n1.d1.t1', [], 0, ['n1.d1.t1.r0', 'n1.d1.t1.r1']));
  const refs = [
    { objectId: 'n3.w9.p1', owner: 'n3.w9' },
    { objectId: 'n3.w9.p2', owner: 'n3.w9' },
  ];
  // A second return large enough to be stored keeps the execution after its registrations land.
  const large = { data: 'big', sizeBytes: defaultOwnerConfig.inlineThresholdBytes, refs: [] };
  const executed = run.step({ type: 'task/executed', taskId: 'n1.d1.t1', attempt: 1, result: { kind: 'returned', values: [{ data: 'refs', sizeBytes: 1, refs }, large] } });
  const added = sentOf(executed, 'borrow/added') as { ackId: string; borrower: string }[];
  assert.deepEqual(
    added.map((message) => message.borrower),
    ['n1.d1', 'n1.d1'],
    'the caller is registered as a borrower of both',
  );
  assert.equal(sentOf(executed, 'task/replied').length, 0, 'no reply before the registrations land');
  const [first, second] = added.map((message) => message.ackId);
  for (const execution of run.executions('n1.d1.t1')) assert.deepEqual(execution?.pendingAcks, [first, second]);
  const one = run.step(delivered({ type: 'borrow/add-acked', ackId: first }, 'worker:n3.w9', 0));
  assert.equal(sentOf(one, 'task/replied').length, 0, 'one registration is still pending');
  for (const execution of run.executions('n1.d1.t1')) assert.deepEqual(execution?.pendingAcks, [second]);
  // An ack the execution never waited for changes nothing.
  run.step(delivered({ type: 'borrow/add-acked', ackId: 'n1.w1.k99' }, 'worker:n3.w9', 1));
  for (const execution of run.executions('n1.d1.t1')) assert.deepEqual(execution?.pendingAcks, [second]);
  const both = run.step(delivered({ type: 'borrow/add-acked', ackId: second }, 'worker:n3.w9', 2));
  assert.equal(sentOf(both, 'task/replied').length, 0, 'the large return is not stored yet');
  for (const execution of run.executions('n1.d1.t1')) {
    assert.equal(execution?.phase, 'storing');
    assert.equal(execution.pendingAcks, undefined, 'no registration is pending any more');
  }
  const stored = run.step(delivered({ type: 'object/put-acked', objectId: 'n1.d1.t1.r1' }, 'raylet:n1', 0));
  assert.equal(sentOf(stored, 'task/replied').length, 1, 'the reply goes once both landed and the large return is stored');
  for (const state of [run.live, run.own, run.patched]) assert.equal(tableGet(state.executions, 'n1.d1.t1'), undefined);
});

void test('a duplicate push is answered from the reply cache, which keeps the reply message that was sent, and sends it to the same worker', () => {
  const run = new ThreeWays();
  run.step(worker);
  run.step(push('n1.d1.t1', [{ kind: 'value', payload: inline(1) }], 0));
  const executed = run.step({ type: 'task/executed', taskId: 'n1.d1.t1', attempt: 1, result: { kind: 'returned', values: [{ data: 2, sizeBytes: 1, refs: [] }] } });
  const first = sentOf(executed, 'task/replied');
  // The cache keeps the very message that was sent, not the effect around it nor records of its own.
  assert.equal(tableGet(run.live.replyCache, 'n1.d1.t1'), first[0]);
  for (const state of [run.own, run.patched]) assert.deepEqual(tableGet(state.replyCache, 'n1.d1.t1'), first[0]);
  assert.deepEqual(first, [{ type: 'task/replied', taskId: 'n1.d1.t1', attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [inline(2)] }, releasedBorrows: [] }]);
  const again = run.step(push('n1.d1.t1', [{ kind: 'value', payload: inline(1) }], 1));
  assert.equal(again.filter((effect) => effect.type === 'task/execute').length, 0, 'the task does not run again');
  assert.deepEqual(again, [{ type: 'message/sent', to: 'worker:n1.d1', message: first[0] }], 'the reply goes again to the task\'s owner, and nothing else happens');
});

void test('a first attempt is keyed by its task id and a later one by task id and attempt, and a retry is not answered with the first reply', () => {
  const run = new ThreeWays();
  run.step(worker);
  run.step(push('n1.d1.t1', [], 0));
  for (const state of [run.live, run.own, run.patched]) assert.deepEqual(tableKeys(state.executions), ['n1.d1.t1'], 'the first attempt is keyed by the task id itself');
  const threw = run.step({ type: 'task/executed', taskId: 'n1.d1.t1', attempt: 1, result: { kind: 'threw', thrown: { name: 'Error', message: 'flaky' } } });
  assert.equal((sentOf(threw, 'task/replied')[0] as { result: { kind: string } }).result.kind, 'threw');
  const retried = run.step(push('n1.d1.t1', [], 1, ['n1.d1.t1.r0'], 2));
  assert.equal(retried.filter((effect) => effect.type === 'task/execute').length, 1, 'the second attempt runs: the cached reply is the first attempt\'s');
  assert.equal(sentOf(retried, 'task/replied').length, 0);
  for (const state of [run.live, run.own, run.patched]) {
    assert.deepEqual(tableKeys(state.executions), ['n1.d1.t1#2']);
    assert.deepEqual(state.replyOrder, ['n1.d1.t1']);
  }
  const returned = run.step({ type: 'task/executed', taskId: 'n1.d1.t1', attempt: 2, result: { kind: 'returned', values: [{ data: 42, sizeBytes: 1, refs: [] }] } });
  assert.deepEqual(sentOf(returned, 'task/replied'), [{ type: 'task/replied', taskId: 'n1.d1.t1', attempt: 2, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [inline(42)] }, releasedBorrows: [] }]);
  for (const state of [run.live, run.own, run.patched]) assert.deepEqual(state.replyOrder, ['n1.d1.t1', 'n1.d1.t1#2']);
  // A late duplicate of either attempt is answered with that attempt's own reply.
  const late = run.step(push('n1.d1.t1', [], 2));
  assert.equal((sentOf(late, 'task/replied')[0] as { attempt: number }).attempt, 1);
});
