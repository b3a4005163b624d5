/**
 * The ids an event names: each once, in the order met, whether the event names a few or many.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entitiesOf } from '../../../debugger/entities.js';

void test('each id an event names comes once, in order, for a few ids and for many', () => {
  assert.deepEqual(entitiesOf({ type: 'task/submitted', taskId: 'n1.d1.t1', objectIds: ['n1.d1.t1.r0', 'n1.d1.t1.r0'], nodeId: 'n1' }, 'raylet:n1'), [
    { kind: 'task', id: 'n1.d1.t1' },
    { kind: 'object', id: 'n1.d1.t1.r0' },
    { kind: 'node', id: 'n1' },
  ]);
  const many = Array.from({ length: 40 }, (_unused, index) => `n1.d1.p${index % 25}`);
  const named = entitiesOf({ type: 'get/requested', objectIds: many, ready: many.slice(0, 30) }, 'worker:n1.d1');
  assert.deepEqual(
    named.map((entity) => entity.id),
    [...Array.from({ length: 25 }, (_unused, index) => `n1.d1.p${index}`), 'n1.d1'],
  );
  assert.equal(named.at(-1)?.kind, 'worker');
});
