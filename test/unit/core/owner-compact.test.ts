/**
 * A pending task's owner records carry no empty collections: the fields most tasks and objects never
 * use are absent until first used, because a driver may hold a million pending tasks (P5 in bench/).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerCore, taskSpecOf } from '../../../core/owner/index.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';
import type { OwnerEvent } from '../../../core/owner/index.js';
import { checkInvariants } from '../../../core/step.js';
import { tableGet, tableHas } from '../../../core/table.js';

void test('a submitted task and its return object hold no empty arrays or records they do not use', () => {
  const state = ownerCore.initial();
  const step = (event: OwnerEvent): void => {
    ownerCore.apply(state, event);
    checkInvariants(ownerCore, state, event.type);
  };
  step(driverStarted);
  step(tinySubmission);
  const task = tableGet(state.tasks, 'n1.d1.t1');
  const object = tableGet(state.objects, 'n1.d1.t1.r0');
  assert.equal(task?.state, 'PENDING_NODE');
  assert.equal(object?.state, 'pending');
  assert.ok(!('resolved' in task), 'a task with no ref args resolves nothing');
  assert.equal(task.waitingFor, undefined, 'a task with no ref args waits for nothing');
  for (const field of ['borrowers', 'borrowerSeqs', 'statusWaiters', 'contains', 'containedIn', 'dependents']) assert.ok(!(field in object), `a pending return object has no ${field}`);
  assert.equal(task.spec.returnIds, 'n1.d1.t1.r0', 'a task with one return keeps its id as itself, not in a list of one');
  assert.ok(!Array.isArray(task.spec.args), 'a task with one argument keeps it as itself, not in a list of one');
  assert.deepEqual(task.spec.args, { kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } });
});

void test('tasks of one function share the part of their specs it repeats, until a field differs; pushes carry whole specs', () => {
  const state = ownerCore.initial();
  ownerCore.apply(state, driverStarted);
  ownerCore.apply(state, tinySubmission);
  ownerCore.apply(state, tinySubmission);
  ownerCore.apply(state, { ...tinySubmission, maxRetries: 0 } as OwnerEvent);
  ownerCore.apply(state, { ...tinySubmission, functionId: 'mul', name: 'mul' } as OwnerEvent);
  ownerCore.apply(state, { ...tinySubmission, maxRetries: 0 } as OwnerEvent);
  checkInvariants(ownerCore, state, 'task/submitted');
  const fnOf = (taskId: string): unknown => tableGet(state.tasks, taskId)?.spec.fn;
  assert.equal(fnOf('n1.d1.t2'), fnOf('n1.d1.t1'), 'the second task of a function shares the first one\'s');
  assert.notEqual(fnOf('n1.d1.t3'), fnOf('n1.d1.t2'), 'other options make another');
  assert.equal(tableGet(state.tasks, 'n1.d1.t3')?.spec.fn.maxRetries, 0);
  assert.equal(tableGet(state.tasks, 'n1.d1.t4')?.spec.fn.name, 'mul');
  assert.equal(fnOf('n1.d1.t5'), fnOf('n1.d1.t3'), 'a task matching the latest kept for its function shares that one (another function between them)');
  const task = tableGet(state.tasks, 'n1.d1.t1');
  assert.ok(task !== undefined);
  assert.deepEqual(taskSpecOf(task.spec), {
    taskId: 'n1.d1.t1',
    jobId: '',
    owner: 'n1.d1',
    returnIds: ['n1.d1.t1.r0'],
    name: 'add',
    functionId: 'add',
    args: [{ kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } }],
    resources: { CPU: 1 },
    maxRetries: 3,
    retryExceptions: false,
    strategy: 'DEFAULT',
  });
});

void test('an owned object one get waits for is indexed, in its own record, by that get id alone; a second get makes a list, and timed-out gets leave the index', () => {
  const state = ownerCore.initial();
  const step = (event: OwnerEvent): unknown[] => {
    const effects = ownerCore.apply(state, event);
    checkInvariants(ownerCore, state, event.type);
    return effects;
  };
  step(driverStarted);
  step({ type: 'task/submitted', functionId: 'f', name: 'f', args: [], numReturns: 1, maxRetries: 0, retryExceptions: false, resources: { CPU: 1 }, strategy: 'DEFAULT' });
  const ref = { objectId: 'n1.d1.t1.r0', owner: 'n1.d1' };
  step({ type: 'get/requested', getId: 'g1', refs: [ref], timeoutMs: 10 });
  const indexOf = (): unknown => tableGet(state.objects, 'n1.d1.t1.r0')?.retrievals;
  assert.equal(indexOf(), 'g1');
  assert.equal(tableHas(state.retrievalsByObject, 'n1.d1.t1.r0'), false, 'an owned object needs no entry in the shared index');
  assert.deepEqual(Object.keys(tableGet(state.gets, 'g1') ?? {}).sort(), ['getId', 'refs'], 'a pending get of the driver keeps no flags it has not set');
  assert.deepEqual(tableGet(state.gets, 'g1')?.refs, ref, 'a get on one ref keeps that ref as itself, not in a list of one');
  step({ type: 'get/requested', getId: 'g2', refs: [ref], timeoutMs: 10 });
  assert.deepEqual(indexOf(), ['g1', 'g2']);
  const timedOut = step({ type: 'timer/fired', timerId: 'get:g1', nowMs: 10 });
  assert.ok(timedOut.some((effect) => (effect as { type: string; getId?: string }).type === 'get/failed' && (effect as { getId?: string }).getId === 'g1'), 'the first get fails with its timeout');
  assert.deepEqual(indexOf(), ['g2']);
  step({ type: 'timer/fired', timerId: 'get:g2', nowMs: 10 });
  assert.equal(indexOf(), undefined);
});

void test('a get of an object owned elsewhere is indexed in the shared index', () => {
  const state = ownerCore.initial();
  ownerCore.apply(state, driverStarted);
  const ref = { objectId: 'n2.w1.t1.r0', owner: 'n2.w1' };
  ownerCore.apply(state, { type: 'get/requested', getId: 'g1', refs: [ref] });
  checkInvariants(ownerCore, state, 'get/requested');
  assert.equal(tableGet(state.retrievalsByObject, 'n2.w1.t1.r0'), 'g1');
});

void test('a get on two refs keeps them as a list', () => {
  const state = ownerCore.initial();
  ownerCore.apply(state, driverStarted);
  ownerCore.apply(state, tinySubmission);
  ownerCore.apply(state, tinySubmission);
  const refs = [{ objectId: 'n1.d1.t1.r0', owner: 'n1.d1' }, { objectId: 'n1.d1.t2.r0', owner: 'n1.d1' }];
  ownerCore.apply(state, { type: 'get/requested', getId: 'g1', refs });
  checkInvariants(ownerCore, state, 'get/requested');
  assert.deepEqual(tableGet(state.gets, 'g1')?.refs, refs);
});
