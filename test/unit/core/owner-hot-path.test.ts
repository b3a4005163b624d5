/**
 * The owner's hot path (P7 in bench/) reads a task's scheduling class key from a cache by shared spec
 * part, hands a return's record on from settling it to the gets that wait for it instead of looking
 * it up again, and under immer with own copies copies the id counters rather than drafting them:
 * these tests pin what that must keep, applied in place and under immer (with own copies, and with
 * patches) alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultOwnerConfig } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent } from '../../../core/owner/index.js';
import { fifoItems } from '../../../core/fifo.js';
import { tableGet, tableKeys } from '../../../core/table.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';
import type { Delivered, Message } from '../../../core/protocol.js';
import { packBatch, unpackBatch } from '../../../node/runtime/packed-batch.js';

void test('tasks are grouped into scheduling classes by their resource shape and strategy, whatever function they run, also when a function changes its resources', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step(tinySubmission);
  run.step({ ...tinySubmission, functionId: 'mul', name: 'mul' } as OwnerEvent);
  assert.deepEqual(Object.keys(run.live.classes), ['CPU:1|DEFAULT'], 'two functions of one shape share a class');
  // The same function with another shape makes another shared spec part, and so another class: a
  // key kept by function id would put these tasks in the class of one CPU.
  run.step({ ...tinySubmission, resources: { CPU: 2 } } as OwnerEvent);
  run.step({ ...tinySubmission, resources: { CPU: 1 }, strategy: { nodeId: 'n2', soft: true } } as OwnerEvent);
  run.step({ ...tinySubmission, resources: { GPU: 1, CPU: 0.5 } } as OwnerEvent);
  assert.deepEqual(Object.keys(run.live.classes).sort(), ['CPU:0.5,GPU:1|DEFAULT', 'CPU:1|DEFAULT', 'CPU:1|node:n2:soft', 'CPU:2|DEFAULT']);
  const queued = Object.fromEntries(Object.entries(run.live.classes).map(([key, cls]) => [key, fifoItems(cls.queue)]));
  assert.deepEqual(queued, {
    'CPU:1|DEFAULT': ['n1.d1.t1', 'n1.d1.t2'],
    'CPU:2|DEFAULT': ['n1.d1.t3'],
    'CPU:1|node:n2:soft': ['n1.d1.t4'],
    'CPU:0.5,GPU:1|DEFAULT': ['n1.d1.t5'],
  });
  // Under immer with own copies, the id counters are copied rather than drafted: each step must
  // still count on from the last one, and leave them frozen with the rest of the state.
  assert.equal(run.own.counters.task, 5);
  assert.ok(Object.isFrozen(run.own.counters), 'the counters a step copied are frozen with the state it returns');
  assert.equal(tableGet(run.own.tasks, 'n1.d1.t5')?.spec.taskId, 'n1.d1.t5');
});

void test('a reply settles the get waiting for its return at once, and the finished task is forgotten once its return is released', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step(tinySubmission);
  run.step({ type: 'get/requested', getId: 'g1', refs: [{ objectId: 'n1.d1.t1.r0', owner: 'n1.d1' }] });
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1')?.state, 'RUNNING');
  const effects = run.step(
    delivered(
      { type: 'task/replied', taskId: 'n1.d1.t1', attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 2, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] },
      'worker:n1.w1',
      0,
    ),
  );
  const settled = effects.find((effect) => effect.type === 'get/settled');
  assert.deepEqual(settled, { type: 'get/settled', getId: 'g1', outcomes: [{ kind: 'value', value: { data: 2, sizeBytes: 1, refs: [] } }] });
  assert.equal(tableGet(run.live.gets, 'g1'), undefined, 'the settled get is gone');
  assert.equal(tableGet(run.live.objects, 'n1.d1.t1.r0')?.retrievals, undefined, 'and out of its object\'s index');
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1')?.state, 'FINISHED', 'a finished task stays as lineage while its return exists');
  run.step({ type: 'refs/released', objectIds: ['n1.d1.t1.r0'] });
  assert.equal(tableGet(run.live.objects, 'n1.d1.t1.r0'), undefined);
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1'), undefined, 'the task goes with its last return');
});

void test('a task that fails is forgotten with its returns, and a get of its return fails with its error', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step({ ...tinySubmission, maxRetries: 0 } as OwnerEvent);
  run.step({ type: 'get/requested', getId: 'g1', refs: [{ objectId: 'n1.d1.t1.r0', owner: 'n1.d1' }] });
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  const error = { errorClass: 'RayTaskError', message: 'boom' };
  const effects = run.step(delivered({ type: 'task/replied', taskId: 'n1.d1.t1', attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'threw', error }, releasedBorrows: [] }, 'worker:n1.w1', 0));
  const settled = effects.find((effect) => effect.type === 'get/settled');
  assert.deepEqual(settled, { type: 'get/settled', getId: 'g1', outcomes: [{ kind: 'error', error }] });
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1')?.state, 'FAILED');
  run.step({ type: 'refs/released', objectIds: ['n1.d1.t1.r0'] });
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1'), undefined, 'the failed task goes with its last return');
});

void test('a function whose resources gain a key gets a class of its own: the shape comparison counts the keys of both sides', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step(tinySubmission);
  // Every key of the first shape is in the second with the same amount; only a count of the
  // second's keys tells them apart (a comparison that walked the first shape alone would share).
  run.step({ ...tinySubmission, resources: { CPU: 1, GPU: 1 } } as OwnerEvent);
  run.step({ ...tinySubmission, resources: { CPU: 1 } } as OwnerEvent);
  assert.deepEqual(Object.keys(run.live.classes).sort(), ['CPU:1,GPU:1|DEFAULT', 'CPU:1|DEFAULT']);
  assert.deepEqual(fifoItems(run.live.classes['CPU:1|DEFAULT']!.queue), ['n1.d1.t1', 'n1.d1.t3']);
  assert.deepEqual(fifoItems(run.live.classes['CPU:1,GPU:1|DEFAULT']!.queue), ['n1.d1.t2']);
});

void test('the ids a submission mints come in a list of their own, which the state does not share', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  for (const numReturns of [1, 2]) {
    const minted = run.step({ ...tinySubmission, numReturns } as OwnerEvent).find((effect) => effect.type === 'ids/minted');
    assert.ok(minted?.type === 'ids/minted');
    const taskId = minted.taskId ?? '';
    const expected = Array.from({ length: numReturns }, (_, index) => `${taskId}.r${index}`);
    assert.deepEqual(minted.objectIds, expected);
    // The shell may keep or change the list it is given; the spec's own must stay as it was.
    minted.objectIds.push('changed');
    const returnIds = tableGet(run.live.tasks, taskId)?.spec.returnIds;
    assert.deepEqual(typeof returnIds === 'string' ? [returnIds] : returnIds, expected);
  }
});

void test('a step without effects returns an empty list, and a step with several returns them in order', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  assert.deepEqual(run.step({ type: 'refs/released', objectIds: ['n1.d1.t9.r0'] }), []);
  const effects = run.step(tinySubmission);
  assert.deepEqual(
    effects.map((effect) => effect.type === 'message/sent' ? `${effect.type} ${effect.message.type}` : effect.type),
    ['ids/minted', 'message/sent lease/requested'],
  );
});

void test('gets that share a ref settle one by one, each leaving the other in the ref\'s index until it settles too', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step(tinySubmission);
  run.step(tinySubmission);
  const first = { objectId: 'n1.d1.t1.r0', owner: 'n1.d1' };
  const second = { objectId: 'n1.d1.t2.r0', owner: 'n1.d1' };
  run.step({ type: 'get/requested', getId: 'both', refs: [first, second] });
  run.step({ type: 'get/requested', getId: 'one', refs: [first] });
  assert.deepEqual(tableGet(run.live.objects, first.objectId)?.retrievals, ['both', 'one']);
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l2', workerId: 'n1.w2', nodeId: 'n1' }, 'raylet:n1', 1));
  const reply = (taskId: string, workerId: string, data: number): OwnerEvent =>
    delivered({ type: 'task/replied', taskId, attempt: 1, workerId, nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] }, `worker:${workerId}`, 0);
  const settledFirst = run.step(reply('n1.d1.t1', 'n1.w1', 10)).filter((effect) => effect.type === 'get/settled');
  assert.deepEqual(settledFirst, [{ type: 'get/settled', getId: 'one', outcomes: [{ kind: 'value', value: { data: 10, sizeBytes: 1, refs: [] } }] }]);
  assert.deepEqual(tableGet(run.live.objects, first.objectId)?.retrievals, ['both'], 'the get still waiting stays in the index of the ref it shared');
  assert.deepEqual(tableKeys(run.live.retrievalsByObject), []);
  const settledBoth = run.step(reply('n1.d1.t2', 'n1.w2', 20)).filter((effect) => effect.type === 'get/settled');
  assert.deepEqual(settledBoth, [
    { type: 'get/settled', getId: 'both', outcomes: [{ kind: 'value', value: { data: 10, sizeBytes: 1, refs: [] } }, { kind: 'value', value: { data: 20, sizeBytes: 1, refs: [] } }] },
  ]);
  assert.equal(tableGet(run.live.objects, first.objectId)?.retrievals, undefined);
  assert.equal(tableGet(run.live.objects, second.objectId)?.retrievals, undefined);
});

void test('a push carries value args as the spec holds them and ref args with their resolved payload, applied every way alike', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step({ type: 'object/put', value: { data: 7, sizeBytes: 1, refs: [] } });
  const put = { objectId: 'n1.d1.p1', owner: 'n1.d1' };
  run.step(tinySubmission);
  run.step({ ...tinySubmission, args: [{ kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } }, { kind: 'ref', ref: put }] } as OwnerEvent);
  const pushes = (effects: OwnerEffect[]): unknown[] => effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'task/pushed' ? [effect.message] : []));
  const first = pushes(run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0)));
  const second = pushes(run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l2', workerId: 'n1.w2', nodeId: 'n1' }, 'raylet:n1', 1)));
  const value = { kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } };
  assert.deepEqual((first[0] as { args: unknown }).args, [value]);
  assert.deepEqual((first[0] as { spec: { args: unknown } }).spec.args, [value]);
  assert.deepEqual((second[0] as { args: unknown }).args, [value, { kind: 'ref', ref: put, payload: { kind: 'inline', data: 7, sizeBytes: 1, refs: [] } }]);
  assert.deepEqual((second[0] as { spec: { args: unknown } }).spec.args, [value, { kind: 'ref', ref: put }], 'the spec keeps the ref as submitted');
});

void test('a worker replies at once with returns small enough to travel inline, and stores a large one first', () => {
  const run = new ThreeWays();
  run.step({ ...driverStarted, workerId: 'n1.w1', isDriver: false } as OwnerEvent);
  const push = (taskId: string, seq: number): OwnerEvent =>
    delivered(
      {
        type: 'task/pushed',
        spec: { taskId, jobId: 'j1', owner: 'n1.d1', returnIds: [`${taskId}.r0`, `${taskId}.r1`], name: 'pair', functionId: 'pair', args: [], resources: { CPU: 1 }, maxRetries: 0, retryExceptions: false, strategy: 'DEFAULT' },
        attempt: 1,
        leaseId: 'n1.d1.l1',
        args: [],
      },
      'worker:n1.d1',
      seq,
    );
  const replies = (effects: OwnerEffect[]): unknown[] => effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'task/replied' ? [effect.message.result] : []));
  const large = defaultOwnerConfig.inlineThresholdBytes;
  run.step(push('n1.d1.t1', 0));
  const small = run.step({ type: 'task/executed', taskId: 'n1.d1.t1', attempt: 1, result: { kind: 'returned', values: [{ data: 1, sizeBytes: 1, refs: [] }, { data: 2, sizeBytes: 2, refs: [] }] } });
  assert.deepEqual(replies(small), [{ kind: 'returned', payloads: [{ kind: 'inline', data: 1, sizeBytes: 1, refs: [] }, { kind: 'inline', data: 2, sizeBytes: 2, refs: [] }] }]);
  run.step(push('n1.d1.t2', 1));
  const mixed = run.step({ type: 'task/executed', taskId: 'n1.d1.t2', attempt: 1, result: { kind: 'returned', values: [{ data: 1, sizeBytes: 1, refs: [] }, { data: 'big', sizeBytes: large, refs: [] }] } });
  assert.deepEqual(replies(mixed), [], 'no reply before the large return is stored');
  assert.deepEqual(
    mixed.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'object/put-requested' ? [effect.message.objectId] : [])),
    ['n1.d1.t2.r1'],
  );
  const acked = run.step(delivered({ type: 'object/put-acked', objectId: 'n1.d1.t2.r1' }, 'raylet:n1', 0));
  assert.deepEqual(replies(acked), [{ kind: 'returned', payloads: [{ kind: 'inline', data: 1, sizeBytes: 1, refs: [] }, { kind: 'stored', nodeIds: ['n1'], sizeBytes: large, refs: [] }] }]);
});

/** The driver's steps up to a call of `add` on the actor `n2.w1.a1`, alive on worker `n2.w2`: the effects of the submission. */
function callOnLiveActor(run: ThreeWays): OwnerEffect[] {
  run.step(driverStarted);
  run.step({ type: 'actor/handle-acquired', actorId: 'n2.w1.a1' });
  run.step(delivered({ type: 'actor/state-changed', actorId: 'n2.w1.a1', state: 'ALIVE', restartCount: 0, workerId: 'n2.w2', nodeId: 'n2' }, 'gcs', 0));
  return run.step({ type: 'actor-task/submitted', actorId: 'n2.w1.a1', method: 'add', name: 'add', args: [{ kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } }], numReturns: 1 });
}

void test('a finished actor call keeps no record (nothing re-runs it), while its return lives on for its gets and its ref', () => {
  const run = new ThreeWays();
  const effects = callOnLiveActor(run);
  const pushed = effects.find((effect) => effect.type === 'message/sent' && effect.message.type === 'actor-task/pushed');
  assert.ok(pushed?.type === 'message/sent' && pushed.message.type === 'actor-task/pushed', 'the call goes out to the live actor at once');
  // The pushed spec is one literal with `actor` last, the fields in the order submissions always made them.
  assert.deepEqual(Object.keys(pushed.message.spec), ['taskId', 'jobId', 'owner', 'returnIds', 'name', 'functionId', 'args', 'resources', 'maxRetries', 'retryExceptions', 'strategy', 'actor']);
  assert.deepEqual(pushed.message.spec.actor, { actorId: 'n2.w1.a1', method: 'add' });
  run.step({ type: 'get/requested', getId: 'g1', refs: [{ objectId: 'n1.d1.t1.r0', owner: 'n1.d1' }] });
  const replied = run.step(
    delivered({ type: 'task/replied', taskId: 'n1.d1.t1', attempt: 1, workerId: 'n2.w2', nodeId: 'n2', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 2, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] }, 'worker:n2.w2', 0),
  );
  assert.deepEqual(
    replied.find((effect) => effect.type === 'get/settled'),
    { type: 'get/settled', getId: 'g1', outcomes: [{ kind: 'value', value: { data: 2, sizeBytes: 1, refs: [] } }] },
  );
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1'), undefined, 'the finished call is forgotten at once, not kept as lineage while its return exists');
  assert.equal(run.live.tasks.size, 0);
  assert.equal(tableGet(run.live.objects, 'n1.d1.t1.r0')?.state, 'ready', 'its return stays, held by the caller');
  assert.deepEqual(run.live.actors['n2.w1.a1']?.inflight, []);
  run.step({ type: 'refs/released', objectIds: ['n1.d1.t1.r0'] });
  assert.equal(run.live.objects.size, 0, 'the return goes with its last ref');
});

void test('a failed actor call stays listed with its error while its return lives, as a failed task does', () => {
  const run = new ThreeWays();
  callOnLiveActor(run);
  const error = { errorClass: 'RayTaskError', message: 'boom' };
  run.step(delivered({ type: 'task/replied', taskId: 'n1.d1.t1', attempt: 1, workerId: 'n2.w2', nodeId: 'n2', result: { kind: 'threw', error }, releasedBorrows: [] }, 'worker:n2.w2', 0));
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1')?.state, 'FAILED');
  run.step({ type: 'refs/released', objectIds: ['n1.d1.t1.r0'] });
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1'), undefined, 'the failed call goes with its last return');
});

void test("an actor call of one value pushes its spec's own list of args, and so crosses threads packed as that value's data alone", () => {
  const run = new ThreeWays();
  const pushed = callOnLiveActor(run).find((effect) => effect.type === 'message/sent' && effect.message.type === 'actor-task/pushed');
  assert.ok(pushed?.type === 'message/sent' && pushed.message.type === 'actor-task/pushed');
  // The spec keeps one argument as itself (OwnedSpec), and a list made for the push at each ask was two lists for one.
  assert.equal(pushed.message.args, pushed.message.spec.args, 'the push carries the list its spec carries');
  const stamped = { ...pushed.message, via: { from: 'worker:n1.d1', incarnation: 0, seq: 0 }, to: pushed.to } as unknown as Delivered<Message>;
  const packed = packBatch([stamped]);
  assert.ok(packed !== undefined);
  assert.equal(packed.fields.some((field) => Array.isArray(field)), false, 'no list of args crosses: the one value goes as its data and size');
  assert.deepEqual(unpackBatch(structuredClone(packed)), [stamped]);
});

void test("an actor call's record is made with every slot its push fills, so that sending it adds no field to the record", () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  run.step({ type: 'actor/handle-acquired', actorId: 'n2.w1.a1' });
  // Submitted before the actor is alive: the call waits in the actor's queue, not yet pushed.
  run.step({ type: 'actor-task/submitted', actorId: 'n2.w1.a1', method: 'add', name: 'add', args: [{ kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } }], numReturns: 1 });
  const queued = tableGet(run.live.tasks, 'n1.d1.t1');
  assert.ok(queued !== undefined);
  const keysBefore = Object.keys(queued);
  const pushedNow = run.step(delivered({ type: 'actor/state-changed', actorId: 'n2.w1.a1', state: 'ALIVE', restartCount: 0, workerId: 'n2.w2', nodeId: 'n2' }, 'gcs', 0));
  assert.ok(pushedNow.some((effect) => effect.type === 'message/sent' && effect.message.type === 'actor-task/pushed'), 'the call goes out once the actor is alive');
  const sent = tableGet(run.live.tasks, 'n1.d1.t1');
  assert.equal(sent, queued, 'the same record, changed in place');
  assert.equal(sent?.sentToRestart, 0);
  // A field added at the push gave every call's record a property array and a hidden-class
  // transition (P3 in bench/); made with the record, the slot is only written.
  assert.deepEqual(Object.keys(sent), keysBefore);
});
