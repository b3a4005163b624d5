/**
 * What a queued tiny task keeps is shared where it can be: a driver may hold a million pending tasks
 * (P5 in bench/), so each keeping its own empty lists and default resources record would cost it
 * about 100 bytes a task.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeValue, plainDataHooks } from '../../../node/codec/index.js';
import { validateTaskOptions } from '../../../node/runtime/validate.js';

void test('values without blobs or refs share one frozen empty list of each', () => {
  const first = encodeValue(1, plainDataHooks);
  const second = encodeValue({ a: 'text' }, plainDataHooks);
  assert.equal(first.blobs, second.blobs);
  assert.equal(first.refs, second.refs);
  assert.ok(Object.isFrozen(first.blobs) && Object.isFrozen(first.refs), 'the shared lists are frozen, so no value can change another');
  assert.deepEqual([first.blobs.length, first.refs.length], [0, 0]);
  const big = new Uint8Array(2 * 1024 * 1024);
  const withBlob = encodeValue(big, plainDataHooks);
  assert.equal(withBlob.blobs.length, 1);
  assert.ok(!Object.isFrozen(withBlob.blobs));
});

void test('tasks with default resources share one frozen record; others get their own', () => {
  const first = validateTaskOptions({});
  const second = validateTaskOptions({ maxRetries: 0 });
  assert.equal(first.resources, second.resources);
  assert.ok(Object.isFrozen(first.resources));
  assert.deepEqual(first.resources, { CPU: 1 });
  assert.deepEqual(validateTaskOptions({ numCpus: 2 }).resources, { CPU: 2 });
  assert.deepEqual(validateTaskOptions({ resources: { GPU: 1 } }).resources, { CPU: 1, GPU: 1 });
  assert.deepEqual(validateTaskOptions({ numCpus: 0 }).resources, {});
  assert.notEqual(validateTaskOptions({ resources: {} }).resources, first.resources);
});
