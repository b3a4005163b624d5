/**
 * The object store in one thread: the create/seal/get life of an object, ObjectStoreFull with its
 * sizes, pins that keep deleted objects' memory alive, and the server that serves worker threads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ObjectStoreFullError, TsrayError } from '../../../node/errors.js';
import { ObjectArena } from '../../../node/store/arena.js';
import { ObjectStore, ObjectStoreFull } from '../../../node/store/object-store.js';
import { ObjectStoreServer } from '../../../node/store/object-store-rpc.js';

const kib = 1024;
const mib = 1024 * kib;

function storeOf(capacityBytes: number): ObjectStore {
  return new ObjectStore(new ObjectArena({ capacityBytes, prefault: 'none' }));
}

void test('an object is readable only once sealed, with its metadata', () => {
  const store = storeOf(mib);
  const { offset } = store.create('a', 100);
  assert.equal(store.get('a'), undefined);
  assert.equal(store.pin('a'), undefined);
  assert.equal(store.contains('a'), false);
  store.seal('a', { type: 'Float64Array', length: 12 });
  assert.deepEqual(store.get('a'), { offset, sizeBytes: 100, metadata: { type: 'Float64Array', length: 12 } });
  assert.equal(store.contains('a'), true);
  assert.throws(() => store.create('a', 1), /already exists/);
  assert.throws(() => store.seal('a', null), /already sealed/);
  assert.throws(() => store.seal('b', null), /was not created/);
});

void test('an object that cannot fit throws ObjectStoreFull with the sizes in its message', () => {
  const store = storeOf(mib);
  store.create('big', 768 * kib);
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
  for (const objectId of ['a', 'b', 'c', 'd']) store.create(objectId, mib);
  store.delete('a');
  store.delete('c');
  assert.throws(
    () => store.create('e', 2 * mib),
    (error: unknown) => error instanceof ObjectStoreFull && /need 2097152 bytes, 2097152 of 4194304 in use \(enough in total, but the largest free range is 1048576 bytes\)/.test(error.message),
  );
});

void test('a pinned object survives delete until its last pin ends', () => {
  const store = storeOf(mib);
  const { offset } = store.create('a', 4 * kib);
  store.seal('a', null);
  assert.deepEqual(store.pin('a')?.offset, offset);
  store.pin('a');
  assert.equal(store.delete('a'), true);
  assert.equal(store.get('a'), undefined, 'deleted objects are invisible at once');
  assert.equal(store.pin('a'), undefined);
  assert.equal(store.usedBytes, 4 * kib, 'but their memory stays while pinned');
  // The id may be rebuilt (lineage) while the old copy is still pinned; the two never mix.
  const rebuilt = store.create('a', 4 * kib);
  assert.notEqual(rebuilt.offset, offset);
  store.unpin('a', offset);
  assert.equal(store.usedBytes, 8 * kib);
  store.unpin('a', offset);
  assert.equal(store.usedBytes, 4 * kib);
  assert.throws(() => store.unpin('a', offset), /not pinned/);
  assert.equal(store.delete('a'), true);
  assert.equal(store.usedBytes, 0);
  assert.equal(store.delete('a'), false);
});

void test('abort deletes only the unsealed object at the given offset', () => {
  const store = storeOf(mib);
  const { offset } = store.create('a', 100);
  assert.equal(store.abort('a', offset + 64), false);
  assert.equal(store.abort('a', offset), true);
  const sealed = store.create('a', 100);
  store.seal('a', null);
  assert.equal(store.abort('a', sealed.offset), false);
  assert.ok(store.contains('a'));
});

void test('the server answers requests and frees what a dropped client held', () => {
  const store = storeOf(mib);
  const server = new ObjectStoreServer(store);
  const created = server.handle('w1', { kind: 'objectStore.create', requestId: 1, objectId: 'x', sizeBytes: 1000 });
  assert.deepEqual(created, { kind: 'objectStore.reply', requestId: 1, result: { offset: 0 } });
  server.handle('w1', { kind: 'objectStore.seal', requestId: 2, objectId: 'x', metadata: 'm' });
  server.handle('w1', { kind: 'objectStore.create', requestId: 3, objectId: 'half-written', sizeBytes: 1000 });
  const pinned = server.handle('w2', { kind: 'objectStore.pin', requestId: 4, objectId: 'x' });
  assert.deepEqual(pinned, { kind: 'objectStore.reply', requestId: 4, result: { offset: 0, sizeBytes: 1000, metadata: 'm' } });
  const full = server.handle('w1', { kind: 'objectStore.create', requestId: 5, objectId: 'huge', sizeBytes: 2 * mib });
  assert.ok('failure' in full && full.failure.name === 'ObjectStoreFullError' && full.failure.sizes?.sizeBytes === 2 * mib);
  const wrongUnpin = server.handle('w1', { kind: 'objectStore.unpin', requestId: 6, objectId: 'x', offset: 0 });
  assert.ok('failure' in wrongUnpin && /not pinned by this worker/.test(wrongUnpin.failure.message));
  server.dropClient('w1');
  assert.equal(store.objectCount, 1, 'the unsealed object of the dead writer is gone');
  store.delete('x');
  assert.equal(store.usedBytes, 1024, 'w2 still pins x');
  server.dropClient('w2');
  assert.equal(store.usedBytes, 0);
});
