/**
 * An event log's pending records, kept as places in their buffers, come back in order with their
 * bytes, whichever buffers held them (chunks of the record writer, or records forwarded one by one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecordBuffer } from '../../../node/store/record-buffer.js';

void test('records come back in push order, each with its own bytes, across buffers', () => {
  const chunk = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const other = new Uint8Array([9, 10, 11]);
  const records = new RecordBuffer();
  assert.equal(records.length, 0);
  assert.deepEqual([...records.records()], []);
  records.push(chunk.subarray(0, 2));
  records.push(chunk.subarray(2, 5));
  records.push(other);
  records.push(chunk.subarray(5, 8));
  records.push(other.subarray(1, 1));
  assert.equal(records.length, 5);
  const back = [...records.records()].map((record) => [...record]);
  assert.deepEqual(back, [[1, 2], [3, 4, 5], [9, 10, 11], [6, 7, 8], []]);
});
