/**
 * The plain-data FIFO of the owner's queues, against an array model: any sequence of pushes, front
 * pushes, takes and removals leaves the same items in the same order, and chunking never loses one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { emptyFifo, fifoIndexOf, fifoItems, fifoPeek, fifoPush, fifoPushFront, fifoRemove, fifoSize, fifoTake, fifoTakeAll } from '../../../core/fifo.js';
import { assertProperty } from '../../support/property-harness.js';

type Operation = { kind: 'push'; items: number[] } | { kind: 'front'; items: number[] } | { kind: 'take'; count: number } | { kind: 'remove'; item: number } | { kind: 'clear' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('push' as const), items: fc.array(fc.nat(50), { maxLength: 3000 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('front' as const), items: fc.array(fc.nat(50), { maxLength: 5 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('take' as const), count: fc.nat(3000) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('remove' as const), item: fc.nat(50) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('clear' as const) }), weight: 1 },
);

void test('the FIFO behaves as an array used as a queue, across chunks', () => {
  assertProperty(
    'fifo',
    fc.property(fc.array(operation, { maxLength: 30 }), (operations) => {
      const queue = emptyFifo<number>();
      let model: number[] = [];
      for (const op of operations) {
        switch (op.kind) {
          case 'push':
            fifoPush(queue, ...op.items);
            model.push(...op.items);
            break;
          case 'front':
            fifoPushFront(queue, op.items);
            model = [...op.items, ...model];
            break;
          case 'take':
            for (let index = 0; index < op.count; index += 1) {
              assert.equal(fifoPeek(queue), model[0]);
              assert.equal(fifoTake(queue), model.shift());
            }
            break;
          case 'remove': {
            const at = model.indexOf(op.item);
            assert.equal(fifoIndexOf(queue, op.item), at);
            assert.equal(fifoRemove(queue, op.item), at >= 0);
            if (at >= 0) model.splice(at, 1);
            break;
          }
          case 'clear':
            assert.deepEqual(fifoTakeAll(queue), model);
            model = [];
            break;
        }
        assert.equal(fifoSize(queue), model.length);
        assert.deepEqual(fifoItems(queue), model);
        assert.ok(queue.chunks.every((chunk) => chunk.length > 0) && (queue.chunks.length === 0 ? queue.head === 0 : queue.head < (queue.chunks[0]?.length ?? 0)), 'no chunk is empty and the head lies in the first');
      }
    }),
    200,
  );
});
