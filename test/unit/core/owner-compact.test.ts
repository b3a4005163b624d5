/**
 * A pending task's owner records carry no empty collections: the fields most tasks and objects never
 * use are absent until first used, because a driver may hold a million pending tasks (P5 in bench/).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerCore } from '../../../core/owner/index.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';
import type { OwnerEvent } from '../../../core/owner/index.js';
import { checkInvariants } from '../../../core/step.js';
import { tableGet } from '../../../core/table.js';

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
});

void test('an object one get waits for is indexed by that get id alone; a second get makes a list, and timed-out gets leave the index', () => {
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
  assert.equal(state.retrievalsByObject['n1.d1.t1.r0'], 'g1');
  assert.deepEqual(Object.keys(state.gets['g1'] ?? {}).sort(), ['getId', 'refs'], 'a pending get of the driver keeps no flags it has not set');
  step({ type: 'get/requested', getId: 'g2', refs: [ref], timeoutMs: 10 });
  assert.deepEqual(state.retrievalsByObject['n1.d1.t1.r0'], ['g1', 'g2']);
  const timedOut = step({ type: 'timer/fired', timerId: 'get:g1', nowMs: 10 });
  assert.ok(timedOut.some((effect) => (effect as { type: string; getId?: string }).type === 'get/failed' && (effect as { getId?: string }).getId === 'g1'), 'the first get fails with its timeout');
  assert.deepEqual(state.retrievalsByObject['n1.d1.t1.r0'], ['g2']);
  step({ type: 'timer/fired', timerId: 'get:g2', nowMs: 10 });
  assert.equal('n1.d1.t1.r0' in state.retrievalsByObject, false);
});
