/**
 * The object store in one thread: the create/seal/get life of an object, ObjectStoreFull with its
 * sizes, and reader pins (shared counts in each object's header) that keep deleted objects' memory
 * alive until the views over it are gone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ObjectStoreFullError, TsrayError } from '../../../node/errors.js';
import { ObjectArena } from '../../../node/store/arena.js';
import { ObjectStore, ObjectStoreFull } from '../../../node/store/object-store.js';
import { pinHeaderBytes, readerPins } from '../../../node/store/reader-pins.js';

const kib = 1024;
const mib = 1024 * kib;

function storeOf(capacityBytes: number): ObjectStore {
  return new ObjectStore(new ObjectArena({ capacityBytes, prefault: 'none' }));
}

void test('an object is readable only once sealed, with its metadata', () => {
  const store = storeOf(mib);
  const { offset } = store.create('a', 100);
  assert.equal(store.get('a'), undefined);
  assert.equal(store.contains('a'), false);
  assert.equal(offset % 64, 0, 'the data after the pin header stays 64-byte aligned');
  store.seal('a', { type: 'Float64Array', length: 12 });
  assert.deepEqual(store.get('a'), { offset, sizeBytes: 100, metadata: { type: 'Float64Array', length: 12 } });
  assert.equal(store.contains('a'), true);
  assert.throws(() => store.create('a', 1), /already exists/);
  assert.throws(() => store.seal('a', null), /already sealed/);
  assert.throws(() => store.seal('b', null), /was not created/);
});

void test('an object that cannot fit throws ObjectStoreFull with the sizes in its message', () => {
  const store = storeOf(mib);
  store.create('big', 768 * kib - pinHeaderBytes);
  const error = (() => {
    try {
      store.create('more', 512 * kib);
    } catch (thrown) {
      return thrown;
    }
    return undefined;
  })();
  assert.ok(error instanceof ObjectStoreFull);
  assert.ok(error instanceof ObjectStoreFullError);
  assert.ok(error instanceof TsrayError);
  assert.equal(error.name, 'ObjectStoreFullError');
  assert.equal(error.message, 'need 524288 bytes, 786432 of 1048576 in use; free objects or raise objectStoreMemory');
  assert.deepEqual([error.sizeBytes, error.usedBytes, error.capacityBytes], [512 * kib, 768 * kib, mib]);
  assert.equal(store.get('more'), undefined);
  assert.equal(store.usedBytes, 768 * kib);
});

void test('when fragmentation is what stops an object, the message says so', () => {
  const store = storeOf(4 * mib);
  for (const objectId of ['a', 'b', 'c', 'd']) store.create(objectId, mib - pinHeaderBytes);
  store.delete('a');
  store.delete('c');
  assert.throws(
    () => store.create('e', 2 * mib - pinHeaderBytes),
    (error: unknown) => error instanceof ObjectStoreFull && error.message.includes(`need ${2 * mib - pinHeaderBytes} bytes, 2097152 of 4194304 in use (enough in total, but the largest free range is 1048576 bytes)`),
  );
});

void test('a deleted object whose views are pinned keeps its memory until the pins end', () => {
  const store = storeOf(mib);
  const { offset } = store.create('a', 4 * kib - pinHeaderBytes);
  store.seal('a', null);
  const counts = new Int32Array(store.buffer);
  Atomics.add(counts, (offset - pinHeaderBytes) / 4, 2);
  assert.equal(readerPins(store.buffer, offset), 2);
  assert.equal(store.delete('a'), true);
  assert.equal(store.get('a'), undefined, 'deleted objects are invisible at once');
  assert.equal(store.usedBytes, 4 * kib, 'but their memory stays while pinned');
  assert.equal(store.lingeringCount, 1);
  // The id may be rebuilt (lineage) while the old copy is still pinned; the two never mix.
  const rebuilt = store.create('a', 4 * kib - pinHeaderBytes);
  assert.notEqual(rebuilt.offset, offset);
  assert.equal(readerPins(store.buffer, rebuilt.offset), 0, 'a fresh object starts unpinned');
  Atomics.sub(counts, (offset - pinHeaderBytes) / 4, 1);
  assert.equal(store.sweep(), 0);
  assert.equal(store.usedBytes, 8 * kib);
  Atomics.sub(counts, (offset - pinHeaderBytes) / 4, 1);
  assert.equal(store.sweep(), 1);
  assert.equal(store.usedBytes, 4 * kib);
  assert.equal(store.lingeringCount, 0);
  assert.equal(store.delete('a'), true);
  assert.equal(store.usedBytes, 0);
  assert.equal(store.delete('a'), false);
  store.close();
});

void test('a create that does not fit first frees lingering objects whose pins have ended', () => {
  const store = storeOf(mib);
  const { offset } = store.create('a', 768 * kib);
  store.seal('a', null);
  const counts = new Int32Array(store.buffer);
  Atomics.add(counts, (offset - pinHeaderBytes) / 4, 1);
  store.delete('a');
  assert.throws(() => store.create('b', 768 * kib), ObjectStoreFull);
  Atomics.sub(counts, (offset - pinHeaderBytes) / 4, 1);
  assert.equal(store.create('b', 768 * kib).offset, offset, 'the memory came back without waiting for the sweep timer');
  store.close();
});

void test('a create that would fit in fresh memory still takes the warm memory of a lingering object whose pins have ended', () => {
  const store = storeOf(4 * mib);
  const { offset } = store.create('a', mib);
  store.seal('a', null);
  const counts = new Int32Array(store.buffer);
  Atomics.add(counts, (offset - pinHeaderBytes) / 4, 1);
  store.delete('a');
  // The view's pin ends (its finalizer ran) before the sweep timer comes round.
  Atomics.sub(counts, (offset - pinHeaderBytes) / 4, 1);
  assert.equal(store.create('b', mib).offset, offset, "'b' reuses the range 'a' had rather than memory never written");
  assert.equal(store.lingeringCount, 0);
  store.close();
});

void test("a dead reader's slot is cleared in every header, live and lingering", () => {
  const store = storeOf(mib);
  const live = store.create('live', kib).offset;
  const gone = store.create('gone', kib).offset;
  const counts = new Int32Array(store.buffer);
  for (const offset of [live, gone]) {
    Atomics.add(counts, (offset - pinHeaderBytes) / 4 + 5, 1);
    Atomics.add(counts, (offset - pinHeaderBytes) / 4 + 6, 1);
  }
  store.delete('gone');
  store.dropReaderSlot(5);
  assert.equal(readerPins(store.buffer, live), 1, "slot 6's pin stays");
  assert.equal(store.lingeringCount, 1);
  store.dropReaderSlot(6);
  assert.equal(readerPins(store.buffer, live), 0);
  assert.equal(store.lingeringCount, 0, 'the deleted object is freed once its last reader is gone');
  store.close();
});

void test("a new object's pin count starts at zero even where a freed object's data was", () => {
  const store = storeOf(mib);
  const { offset } = store.create('x', 8 * kib);
  new Uint8Array(store.buffer, offset, 8 * kib).fill(7);
  store.delete('x');
  store.create('y', kib);
  const z = store.create('z', kib);
  assert.ok(z.offset > offset && z.offset < offset + 8 * kib, "z's header lies where x's data was");
  assert.equal(readerPins(store.buffer, z.offset), 0);
});
