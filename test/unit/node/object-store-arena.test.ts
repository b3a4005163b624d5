/**
 * The arena's allocator: no two live allocations overlap, freed memory is reused and coalesced,
 * every offset is 64-byte aligned, and pre-faulting never disturbs what writers stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALIGNMENT_BYTES, ObjectArena, reservedBytes, viewOf } from '../../../node/store/arena.js';

const mib = 1024 * 1024;

/** A small seeded generator, so that a failing sequence can be replayed. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

/** Live intervals [start, end), sorted by start; `add` fails on any overlap. */
class IntervalSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  add(start: number, end: number): void {
    const index = this.lowerBound(start);
    const previousEnd = this.ends[index - 1];
    const nextStart = this.starts[index];
    assert.ok(previousEnd === undefined || previousEnd <= start, `[${start}, ${end}) overlaps one ending at ${previousEnd}`);
    assert.ok(nextStart === undefined || end <= nextStart, `[${start}, ${end}) overlaps one starting at ${nextStart}`);
    this.starts.splice(index, 0, start);
    this.ends.splice(index, 0, end);
  }

  remove(start: number): void {
    const index = this.lowerBound(start);
    assert.equal(this.starts[index], start);
    this.starts.splice(index, 1);
    this.ends.splice(index, 1);
  }

  private lowerBound(value: number): number {
    let low = 0;
    let high = this.starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.starts[middle] ?? 0) < value) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

void test('10k random allocations and frees never overlap, stay aligned, and return usedBytes to 0', () => {
  const arena = new ObjectArena({ capacityBytes: 64 * mib, prefault: 'none' });
  const random = xorshift(42);
  const live: { offset: number; sizeBytes: number }[] = [];
  const intervals = new IntervalSet();
  let expectedUsed = 0;
  let failures = 0;
  for (let step = 0; step < 10_000; step += 1) {
    if (live.length > 0 && random() < 0.45) {
      const [freed] = live.splice(Math.floor(random() * live.length), 1);
      assert.ok(freed !== undefined);
      arena.free(freed.offset);
      intervals.remove(freed.offset);
      expectedUsed -= reservedBytes(freed.sizeBytes);
    } else {
      // Sizes from a few bytes to a few MiB, skewed small as real objects are.
      const sizeBytes = Math.floor(random() ** 4 * 4 * mib);
      const allocation = arena.allocate(sizeBytes);
      if (allocation === undefined) {
        failures += 1;
        assert.ok(arena.largestFreeBytes < reservedBytes(sizeBytes), 'allocate failed although a free range was long enough');
        continue;
      }
      assert.equal(allocation.offset % ALIGNMENT_BYTES, 0);
      assert.ok(allocation.offset + reservedBytes(sizeBytes) <= arena.capacityBytes);
      intervals.add(allocation.offset, allocation.offset + reservedBytes(sizeBytes));
      live.push(allocation);
      expectedUsed += reservedBytes(sizeBytes);
    }
    assert.equal(arena.usedBytes, expectedUsed);
  }
  assert.ok(failures < 1000, `${failures} allocations failed`);
  for (const allocation of live) arena.free(allocation.offset);
  assert.equal(arena.usedBytes, 0);
  assert.equal(arena.allocationCount, 0);
  assert.equal(arena.freeRangeCount, 1);
  assert.equal(arena.largestFreeBytes, arena.capacityBytes);
});

void test('freed neighbours coalesce into one range that a larger allocation can use', () => {
  const quarter = 4 * mib;
  const arena = new ObjectArena({ capacityBytes: 4 * quarter, prefault: 'none' });
  const [a, b, c, d] = [0, 1, 2, 3].map(() => arena.allocate(quarter));
  assert.ok(a !== undefined && b !== undefined && c !== undefined && d !== undefined);
  assert.equal(arena.allocate(1), undefined);
  arena.free(a.offset);
  arena.free(c.offset);
  assert.equal(arena.freeRangeCount, 2);
  assert.equal(arena.largestFreeBytes, quarter);
  assert.equal(arena.allocate(2 * quarter), undefined, 'two separate quarters are not a half');
  arena.free(b.offset);
  assert.equal(arena.freeRangeCount, 1);
  assert.equal(arena.largestFreeBytes, 3 * quarter);
  assert.deepEqual(arena.allocate(3 * quarter), { offset: 0, sizeBytes: 3 * quarter });
});

void test('a freed allocation is reused by the next one of its size, so warm pages are written again', () => {
  const arena = new ObjectArena({ capacityBytes: 16 * mib, prefault: 'none' });
  const first = arena.allocate(mib);
  const keep = arena.allocate(mib);
  assert.ok(first !== undefined && keep !== undefined);
  arena.free(first.offset);
  assert.equal(arena.allocate(mib)?.offset, first.offset);
});

void test('with no free range of its own size, an allocation takes the lowest of the larger ones, not the one freed first', () => {
  // The arena fills from the bottom, so low memory is the most likely to have been written before,
  // and a first write to a page costs ~14 us here: a 64 MiB put that took a range freed at the top of
  // the store wrote fresh memory for 270 ms where the range at the bottom was warm.
  const unit = 4 * mib;
  const arena = new ObjectArena({ capacityBytes: 8 * unit, prefault: 'none' });
  const units = [0, 1, 2, 3, 4, 5, 6, 7].map(() => arena.allocate(unit)?.offset ?? assert.fail('the arena has room for eight'));
  // Freed first: the two units at the top, one range of two units.
  arena.free(units[6] ?? 0);
  arena.free(units[7] ?? 0);
  // Freed later: three units at the bottom, one range of three (of the same size class as two).
  for (const index of [0, 1, 2]) arena.free(units[index] ?? 0);
  assert.equal(arena.freeRangeCount, 2);
  assert.equal(arena.allocate(unit)?.offset, 0, 'the bottom range, although the top one was freed first');
});

void test('offsets are 64-byte aligned, so any typed array can view an allocation', () => {
  const arena = new ObjectArena({ capacityBytes: mib, prefault: 'none' });
  const small = arena.allocate(3);
  const doubles = arena.allocate(8 * 10);
  assert.ok(small !== undefined && doubles !== undefined);
  assert.equal(doubles.offset, ALIGNMENT_BYTES);
  const view = new Float64Array(arena.buffer, doubles.offset, 10);
  view[9] = 1.5;
  assert.equal(viewOf(arena.buffer, doubles.offset, doubles.sizeBytes).buffer, arena.buffer);
  assert.equal(new Float64Array(arena.buffer, doubles.offset, 10)[9], 1.5);
});

void test('bad sizes and double frees are errors; the capacity is rounded down to the granule', () => {
  const arena = new ObjectArena({ capacityBytes: 1000, prefault: 'none' });
  assert.equal(arena.capacityBytes, 960);
  assert.throws(() => arena.allocate(-1), RangeError);
  assert.throws(() => arena.allocate(1.5), RangeError);
  assert.equal(arena.allocate(961), undefined);
  const allocation = arena.allocate(0);
  assert.ok(allocation !== undefined);
  assert.equal(arena.usedBytes, ALIGNMENT_BYTES);
  arena.free(allocation.offset);
  assert.throws(() => arena.free(allocation.offset), /freed twice/);
  assert.throws(() => new ObjectArena({ capacityBytes: 10 }), RangeError);
});

void test('eager pre-faulting covers the whole arena at once', () => {
  const arena = new ObjectArena({ capacityBytes: 8 * mib, prefault: 'eager' });
  assert.equal(arena.prefaultedBytes, arena.capacityBytes);
});

void test('background pre-faulting finishes without disturbing bytes written meanwhile', async () => {
  const arena = new ObjectArena({ capacityBytes: 32 * mib, prefault: 'background', prefaultSliceMs: 1 });
  assert.ok(arena.prefaultedBytes < arena.capacityBytes);
  const allocation = arena.allocate(16 * mib);
  assert.ok(allocation !== undefined);
  const view = viewOf(arena.buffer, allocation.offset, allocation.sizeBytes);
  for (let index = 0; index < view.length; index += 1) view[index] = (index * 7 + 1) & 0xff;
  await arena.whenPrefaulted();
  assert.equal(arena.prefaultedBytes, arena.capacityBytes);
  for (let index = 0; index < view.length; index += 4093) assert.equal(view[index], (index * 7 + 1) & 0xff);
  arena.close();
});

void test('with prefaultAheadBytes, nothing is faulted in before the first allocation, then a step ahead of the highest', async () => {
  const arena = new ObjectArena({ capacityBytes: 32 * mib, prefault: 'background', prefaultSliceMs: 1, prefaultAheadBytes: 4 * mib });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(arena.prefaultedBytes, 0, 'a store nobody uses costs nothing');
  const allocation = arena.allocate(2 * mib);
  assert.ok(allocation !== undefined);
  for (let waited = 0; waited < 200 && arena.prefaultedBytes < 6 * mib; waited += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(arena.prefaultedBytes, 6 * mib, 'it stops aheadBytes beyond the highest allocation');
  arena.close();
});
