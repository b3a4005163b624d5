/**
 * The plain-data FIFO of the owner's queues, against an array model: any sequence of pushes (of many
 * items or one at a time), front pushes, takes and removals leaves the same items in the same order,
 * in place, under immer and under immer with own copies alike, and chunking never loses one; a push
 * under immer copies a bounded number of slots.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { produce } from 'immer';
import { hashState } from '../../../core/hash.js';
import { produceWithOwnCopies } from '../../../core/step.js';
import { chunkLength, emptyFifo, pageLength, fifoChanges, fifoIndexOf, fifoItems, fifoPeek, fifoPush, fifoPushFront, fifoPushOne, fifoRemove, fifoSize, fifoTake, fifoTakeAll } from '../../../core/fifo.js';
import type { Fifo } from '../../../core/fifo.js';
import { assertProperty } from '../../support/property-harness.js';

type Operation = { kind: 'push'; items: number[] } | { kind: 'pushOne'; items: number[] } | { kind: 'front'; items: number[] } | { kind: 'take'; count: number } | { kind: 'remove'; item: number } | { kind: 'clear' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('push' as const), items: fc.array(fc.nat(50), { maxLength: 3000 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('pushOne' as const), items: fc.array(fc.nat(50), { maxLength: 3000 }) }), weight: 2 },
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
      let drafted = emptyFifo<number>();
      let owned = emptyFifo<number>();
      let model: number[] = [];
      for (const op of operations) {
        drafted = produce(drafted, (draft) => {
          applyTo(draft, op);
        });
        const before = owned;
        const beforeItems = fifoItems(before);
        owned = produceWithOwnCopies(owned, (draft) => {
          applyTo(draft, op);
        });
        assert.deepEqual(fifoItems(before), beforeItems, 'own copies leave the previous queue as it was');
        switch (op.kind) {
          case 'push':
            fifoPush(queue, ...op.items);
            model.push(...op.items);
            break;
          case 'pushOne':
            for (const item of op.items) fifoPushOne(queue, item);
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
        assert.ok(queue.later === undefined || (queue.chunks.length > 0 && queue.later.length > 0 && queue.later.every((page) => page.length > 0 && page.every((chunk) => chunk.length > 0))), 'later pages follow a front page, and none is empty');
        assert.ok(queue.back === undefined || (queue.chunks.length > 0 && queue.back.length > 0 && queue.back.every((chunk) => chunk.length > 0)), 'a back page follows a front page, and is not empty');
        assert.deepEqual(fifoItems(drafted), model, 'under immer too');
        assert.equal(hashState(drafted), hashState(queue), 'with the same data');
        assert.deepEqual(fifoItems(owned), model, 'with own copies too');
        assert.equal(hashState(owned), hashState(queue), 'with the same data');
        assert.ok(deepFrozen(owned), 'and a frozen queue, as immer leaves it');
      }
    }),
    200,
  );
});

void test('fifoChanges gives what a step under immer added and removed, visiting only what it copied', () => {
  assertProperty(
    'fifo changes',
    fc.property(fc.array(operation, { maxLength: 30 }), fc.boolean(), (operations, ownCopies) => {
      let queue = emptyFifo<number>();
      for (const op of operations) {
        const before = queue;
        queue = ownCopies ? produceWithOwnCopies(queue, (draft) => applyTo(draft, op)) : produce(queue, (draft) => applyTo(draft, op));
        const changed = new Map<number, number>();
        let visits = 0;
        fifoChanges(before, queue, (item, count) => {
          visits += 1;
          changed.set(item, (changed.get(item) ?? 0) + count);
        });
        const expected = new Map<number, number>();
        for (const item of fifoItems(queue)) expected.set(item, (expected.get(item) ?? 0) + 1);
        for (const item of fifoItems(before)) expected.set(item, (expected.get(item) ?? 0) - 1);
        const nonZero = (counts: Map<number, number>): [number, number][] => [...counts].filter(([, count]) => count !== 0).sort((a, b) => a[0] - b[0]);
        assert.deepEqual(nonZero(changed), nonZero(expected), `after ${op.kind}`);
        // One push or take copies the chunks at an end of the queue, not the queue.
        if ((op.kind === 'pushOne' && op.items.length === 1) || (op.kind === 'take' && op.count === 1)) assert.ok(visits <= 4 * chunkLength, `${visits} items visited for one ${op.kind}`);
      }
    }),
    200,
  );
});

/** Every object in `value` is frozen. */
function deepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(deepFrozen);
}

/** What `fifoPush` and the others do to a queue, without checking: the immer half of the model test. */
function applyTo(queue: Fifo<number>, op: Operation): void {
  switch (op.kind) {
    case 'push':
      fifoPush(queue, ...op.items);
      return;
    case 'pushOne':
      for (const item of op.items) fifoPushOne(queue, item);
      return;
    case 'front':
      fifoPushFront(queue, op.items);
      return;
    case 'take':
      for (let index = 0; index < op.count; index += 1) fifoTake(queue);
      return;
    case 'remove':
      fifoRemove(queue, op.item);
      return;
    case 'clear':
      fifoTakeAll(queue);
      return;
  }
}

/** How many slots (array items and object fields) of `next` are not shared with `before`. */
function copiedSlots(before: unknown, next: unknown): number {
  return copiedSlotCounter(before)(next);
}

/**
 * `copiedSlots` for a run of steps from `first`, each step's state made from the one before: the
 * objects of every state seen so far are kept, so a step walks only what it made (and the edges into
 * what it kept), not the whole state before it again. An object of an earlier state hung again in a
 * later one would count as kept; no queue function does that.
 */
function copiedSlotCounter(first: unknown): (next: unknown) => number {
  const seen = new Set<object>();
  const walk = (value: unknown, into: (object: object) => boolean): void => {
    if (typeof value !== 'object' || value === null || !into(value)) return;
    for (const child of Object.values(value)) walk(child, into);
  };
  walk(first, (object) => !seen.has(object) && Boolean(seen.add(object)));
  return (next) => {
    let slots = 0;
    walk(next, (object) => {
      if (seen.has(object)) return false;
      seen.add(object);
      slots += Object.keys(object).length;
      return true;
    });
    return slots;
  };
}

void test('a push or a take under immer copies a few short arrays, however long the queue', () => {
  let queue = emptyFifo<string>();
  queue = produce(queue, (draft) => {
    for (let n = 0; n < 100_000; n++) fifoPush(draft, `n1.d1.t${n}`);
  });
  const pushed = produce(queue, (draft) => {
    fifoPush(draft, 'n1.d1.t100000');
  });
  // A list of 256-item chunks copied about 520 slots here (391 chunks and the last chunk).
  assert.ok(copiedSlots(queue, pushed) < 250, `${copiedSlots(queue, pushed)} slots copied by a push`);
  let taken = pushed;
  for (let n = 0; n < chunkLength * 40; n++) {
    const before = taken;
    taken = produce(taken, (draft) => {
      assert.equal(fifoTake(draft), `n1.d1.t${n}`);
    });
    assert.ok(copiedSlots(before, taken) < 250, `${copiedSlots(before, taken)} slots copied by take ${n}`);
  }
  assert.equal(fifoSize(taken), 100_001 - chunkLength * 40);
  assert.equal(fifoPeek(taken), `n1.d1.t${chunkLength * 40}`);
});

/** What a step does to the queues in the test below: `pushes` pushes one at a time, then `takes` takes. */
interface Round {
  readonly pushes: number;
  readonly takes: number;
}

void test('pushes and takes across many pages keep the order, in place and under both immer modes, with the same hashes', () => {
  // Rounds that fill several back pages into `later`, drain them through the front page, let
  // `later` and `back` run out and start again, with the counts off the page and chunk sizes.
  const page = chunkLength * pageLength;
  const rounds: Round[] = [
    { pushes: 4 * page + 7, takes: 3 },
    { pushes: 1, takes: page + 1 },
    { pushes: page - 1, takes: 2 * page + 5 },
    { pushes: 3 * page, takes: 4 * page - 2 },
    { pushes: 2, takes: page + 100 },
    { pushes: 5 * page + chunkLength, takes: chunkLength + 1 },
  ];
  const queue = emptyFifo<number>();
  let drafted = emptyFifo<number>();
  let owned = emptyFifo<number>();
  const model: number[] = [];
  let next = 0;
  let levels = { later: 0, back: 0 };
  for (const round of rounds) {
    const pushed = Array.from({ length: round.pushes }, () => next++);
    const apply = (target: Fifo<number>): number[] => {
      for (const item of pushed) fifoPushOne(target, item);
      const taken: number[] = [];
      for (let n = 0; n < round.takes; n++) {
        const item = fifoTake(target);
        if (item !== undefined) taken.push(item);
      }
      return taken;
    };
    model.push(...pushed);
    const expected = model.splice(0, round.takes);
    assert.deepEqual(apply(queue), expected, 'in place');
    let takenDrafted: number[] = [];
    drafted = produce(drafted, (draft) => {
      takenDrafted = apply(draft);
    });
    assert.deepEqual(takenDrafted, expected, 'under immer');
    let takenOwned: number[] = [];
    owned = produceWithOwnCopies(owned, (draft) => {
      takenOwned = apply(draft);
    });
    assert.deepEqual(takenOwned, expected, 'with own copies');
    for (const [name, target] of [['in place', queue], ['under immer', drafted], ['with own copies', owned]] as const) {
      assert.equal(fifoSize(target), model.length, name);
      assert.deepEqual(fifoItems(target), model, name);
      assert.equal(fifoPeek(target), model[0], name);
    }
    assert.equal(hashState(drafted), hashState(queue), 'the same data under immer');
    assert.equal(hashState(owned), hashState(queue), 'the same data with own copies');
    assert.ok(deepFrozen(owned), 'and a frozen queue with own copies');
    levels = { later: Math.max(levels.later, queue.later?.length ?? 0), back: Math.max(levels.back, queue.back === undefined ? 0 : 1) };
  }
  assert.ok(levels.later >= 3 && levels.back === 1, `the rounds went through several pages of later (${levels.later}) and a back page`);
});

void test('a push under immer copies about two short arrays, however many pages the queue holds', () => {
  let queue = emptyFifo<string>();
  queue = produceWithOwnCopies(queue, (draft) => {
    for (let n = 0; n < 300_000; n++) fifoPushOne(draft, `n1.d1.t${n}`);
  });
  // At 300k items, the shape that copied a list of every page at each push copied about 360 slots.
  const copiedByStep = copiedSlotCounter(queue);
  for (let n = 300_000; n < 300_000 + 2 * chunkLength * pageLength; n++) {
    queue = produceWithOwnCopies(queue, (draft) => {
      fifoPushOne(draft, `n1.d1.t${n}`);
    });
    const slots = copiedByStep(queue);
    // A back page and its last chunk (at most 32 slots each) and the queue's five fields; and, once
    // every chunkLength * pageLength pushes, `later` (about 300 pages here).
    const movesPage = n % (chunkLength * pageLength) === 0;
    assert.ok(slots <= 2 * chunkLength + 5 || (movesPage && slots < 400), `${slots} slots copied by push ${n}`);
  }
  assert.equal(fifoSize(queue), 300_000 + 2 * chunkLength * pageLength);
  assert.equal(fifoPeek(queue), 'n1.d1.t0');
});
