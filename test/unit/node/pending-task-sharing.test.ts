/**
 * What a queued tiny task keeps is shared where it can be: a driver may hold a million pending tasks
 * (P5 in bench/), so each keeping its own empty lists, default resources record and argument
 * buffer would cost it about 200 bytes a task.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeValue, plainDataHooks } from '../../../node/codec/index.js';
import { compactedData } from '../../../node/runtime/stored-values.js';
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

void test('a task that sets no options shares one frozen set of defaults; options it sets, or names wrongly, are its own', () => {
  const first = validateTaskOptions({});
  assert.equal(validateTaskOptions({}), first, 'two `.remote()` calls without options share the checked defaults');
  assert.ok(Object.isFrozen(first));
  assert.deepEqual({ ...first }, { numReturns: 1, resources: { CPU: 1 }, maxRetries: 3, retryExceptions: false, schedulingStrategy: 'DEFAULT' });
  const named = validateTaskOptions({ name: 'step', maxRetries: 0 });
  assert.deepEqual({ ...named }, { numReturns: 1, resources: { CPU: 1 }, maxRetries: 0, retryExceptions: false, schedulingStrategy: 'DEFAULT', name: 'step' });
  // Inherited names are not the options' own, as with Object.keys; a wrong own one still fails.
  assert.equal(validateTaskOptions(Object.create({ bogus: 1 }) as object), first);
  assert.throws(() => validateTaskOptions({ numReturn: 2 } as object), /unknown task option 'numReturn'; allowed: numReturns/);
});

void test('small argument bodies share a slab and keep their own bytes; large ones and blobs are copied alone', () => {
  const first = compactedData({ body: Uint8Array.of(1, 2, 3), blobs: [] });
  const second = compactedData({ body: Uint8Array.of(4, 5), blobs: [] });
  assert.equal(first.body.buffer, second.body.buffer, 'two small bodies share one buffer');
  assert.deepEqual([...first.body], [1, 2, 3]);
  assert.deepEqual([...second.body], [4, 5]);
  const source = Uint8Array.of(7, 8);
  const copied = compactedData({ body: source, blobs: [] });
  source[0] = 0;
  assert.deepEqual([...copied.body], [7, 8], 'the body is a copy, not the caller\'s bytes');
  const large = new Uint8Array(1000).fill(9);
  const alone = compactedData({ body: large, blobs: [] });
  assert.notEqual(alone.body.buffer, first.body.buffer);
  const blob = new Uint8Array(4).fill(3);
  const withBlob = compactedData({ body: Uint8Array.of(1), blobs: [blob] });
  assert.notEqual(withBlob.blobs[0], blob, 'blobs are captured as captureData does');
  blob[0] = 0;
  assert.deepEqual([...new Uint8Array((withBlob.blobs[0] as Uint8Array).buffer)], [3, 3, 3, 3]);
});
