/**
 * An actor's worker admits each caller's calls in sequence-number order: one that arrives ahead of
 * its turn waits (buffered) until the calls before it arrived, admitted calls wait for a concurrency
 * slot in admission order (kept as the calls themselves), and a duplicate push of a call that
 * replied is answered from the reply cache, to its caller. Every step is applied in place and under
 * immer both ways, with the invariants checked and the states' hashes compared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OwnerEffect, OwnerEvent } from '../../../core/owner/index.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { counterActorSpec, driverStarted } from '../../support/owner-events.js';

const worker = { ...driverStarted, workerId: 'n1.w1', isDriver: false } as OwnerEvent;
const actorSpec = counterActorSpec('n1.d1.a1', { args: [] });

/** Call `seqNo` of the caller `caller` (task `t<number>`), as its push arrives. */
function call(caller: string, number: number, seqNo: number, linkSeq: number): OwnerEvent {
  const taskId = `${caller}.t${number}`;
  return delivered(
    {
      type: 'actor-task/pushed',
      spec: { taskId, jobId: 'j1', owner: caller, returnIds: [`${taskId}.r0`], name: 'add', functionId: 'add', args: [], resources: {}, maxRetries: 0, retryExceptions: false, strategy: 'DEFAULT', actor: { actorId: 'n1.d1.a1', method: 'add' } },
      attempt: 1,
      caller,
      restartCount: 0,
      seqNo,
      args: [{ kind: 'value', payload: { kind: 'inline', data: number, sizeBytes: 1, refs: [] } }],
    },
    `worker:${caller}`,
    linkSeq,
  );
}

const returned = (taskId: string): OwnerEvent => ({ type: 'task/executed', taskId, attempt: 1, result: { kind: 'returned', values: [{ data: 0, sizeBytes: 1, refs: [] }] } });
const executed = (effects: OwnerEffect[]): string[] => effects.flatMap((effect) => (effect.type === 'task/execute' ? [effect.spec.taskId] : []));

function readyActor(): ThreeWays {
  const run = new ThreeWays();
  run.step(worker);
  run.step(delivered({ type: 'actor/creation-pushed', spec: actorSpec, restartCount: 0 }, 'gcs', 0));
  run.step({ type: 'actor/constructed', actorId: 'n1.d1.a1', restartCount: 0 });
  return run;
}

void test("an actor runs each caller's calls in sequence order, one at a time, whatever order they arrive in", () => {
  const run = readyActor();
  assert.deepEqual(executed(run.step(call('n1.d1', 3, 2, 0))), [], 'call 2 waits for calls 0 and 1');
  assert.deepEqual(executed(run.step(call('n1.d1', 1, 0, 1))), ['n1.d1.t1']);
  assert.deepEqual(executed(run.step(call('n1.d1', 2, 1, 2))), [], 'call 1 is admitted, and call 2 behind it, but one runs at a time');
  for (const state of [run.live, run.own, run.patched]) {
    assert.deepEqual(
      state.actor?.runnable.map((waiting) => waiting.key),
      ['n1.d1.t2', 'n1.d1.t3'],
    );
    assert.deepEqual(state.actor?.callers['n1.d1'], { nextSeqNo: 3, buffered: {} });
  }
  assert.deepEqual(executed(run.step(returned('n1.d1.t1'))), ['n1.d1.t2']);
  assert.deepEqual(executed(run.step(returned('n1.d1.t2'))), ['n1.d1.t3']);
  assert.deepEqual(executed(run.step(returned('n1.d1.t3'))), []);
  for (const state of [run.live, run.own, run.patched]) assert.deepEqual(state.actor?.runnable, []);
});

void test('a duplicate push of an actor call that replied is answered from the cache, to its caller', () => {
  const run = readyActor();
  run.step(call('n1.w2', 1, 0, 0));
  const first = run.step(returned('n1.w2.t1'));
  const reply = first.find((effect) => effect.type === 'message/sent' && effect.message.type === 'task/replied');
  assert.ok(reply?.type === 'message/sent');
  assert.equal(reply.to, 'worker:n1.w2');
  const again = run.step(call('n1.w2', 1, 0, 1));
  assert.deepEqual(again, [{ type: 'message/sent', to: 'worker:n1.w2', message: reply.message }], 'the same reply, to the caller, and nothing runs');
});
