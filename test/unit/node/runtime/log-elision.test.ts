/**
 * What an owner's log keeps of a task's values (node/runtime/log-elision.ts): a value at or over the
 * inline threshold is logged as a stand-in naming the task and return, its size and the SHA-1 of its
 * bytes; the event of a task whose values are all small is logged as it is, the very object (no copy).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { OwnerEvent } from '../../../../core/owner/index.js';
import { loggedOwnerEvent } from '../../../../node/runtime/log-elision.js';

const thresholdBytes = 100;
const noPut = (): string => assert.fail('no put is logged here');

function executed(sizes: readonly number[]): OwnerEvent {
  const values = sizes.map((size) => ({ data: { body: new Uint8Array(size).fill(size % 251), blobs: [] }, sizeBytes: size, refs: [] }));
  return { type: 'task/executed', taskId: 'n1.d1.t7', attempt: 1, result: { kind: 'returned', values } };
}

void test("a task's small values are logged as they are, in the event itself", () => {
  const event = executed([1, 99, 50]);
  assert.equal(loggedOwnerEvent(event, thresholdBytes, noPut), event);
});

void test("a task's value at the threshold or over is logged as a stand-in, and its small values as they are", () => {
  const event = executed([3, 100, 250]);
  const logged = loggedOwnerEvent(event, thresholdBytes, noPut);
  assert.notEqual(logged, event);
  assert.ok(logged.type === 'task/executed' && logged.result.kind === 'returned' && event.type === 'task/executed' && event.result.kind === 'returned');
  const [small, atThreshold, over] = logged.result.values;
  assert.equal(small, event.result.values[0]);
  for (const [index, value] of [atThreshold, over].entries()) {
    const size = index === 0 ? 100 : 250;
    const sha1 = createHash('sha1').update(new Uint8Array(size).fill(size % 251)).digest('hex');
    assert.deepEqual(value?.data, { elided: 'payload', taskId: 'n1.d1.t7', returnIndex: index + 1, sizeBytes: size, sha1 });
  }
  // The live event keeps its bytes: only the logged form changed.
  assert.ok(event.result.values.every((value) => (value.data as { body?: unknown }).body instanceof Uint8Array));
});
