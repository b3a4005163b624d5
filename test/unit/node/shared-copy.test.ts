/**
 * Copies into and out of shared memory: every byte lands where `set` would put it, whatever the
 * size (both sides of the memcpy threshold), offset, source kind and buffer, and overlapping ranges of
 * one buffer copy as memmove would.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyBytes, copyOf } from '../../../node/store/shared-copy.js';

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (index * 31 + seed) & 0xff);
}

void test('copyBytes puts every byte where set would, for small and large copies into shared and private memory', () => {
  for (const length of [0, 1, 100, 16 * 1024 - 1, 16 * 1024, 300_001]) {
    for (const target of [new Uint8Array(new SharedArrayBuffer(length + 4096)), new Uint8Array(length + 4096)]) {
      const source = pattern(length, length);
      const expected = new Uint8Array(target.byteLength).fill(0xee);
      expected.set(source, 777);
      target.fill(0xee);
      copyBytes(target, 777, source);
      assert.deepEqual(target, expected, `${length} bytes into ${target.buffer.constructor.name}`);
    }
  }
});

void test('copyBytes takes any view as its source, and a target that is itself a view at an offset', () => {
  const doubles = Float64Array.from({ length: 5000 }, (_, index) => index / 3);
  const shared = new SharedArrayBuffer(100_000);
  const window = new Uint8Array(shared, 1000, 60_000);
  copyBytes(window, 8, doubles);
  assert.deepEqual(new Float64Array(shared, 1008, 5000), doubles);
  assert.equal(new Uint8Array(shared)[1007], 0, 'nothing before the copy is written');
  assert.equal(new Uint8Array(shared)[1008 + 40_000], 0, 'nothing after it is written');
  assert.throws(() => copyBytes(window, 30_000, doubles), /40000 bytes do not fit at 30000 of 60000/);
});

void test('overlapping ranges of one buffer copy as memmove would', () => {
  const shared = new Uint8Array(new SharedArrayBuffer(200_000));
  shared.set(pattern(200_000, 3));
  const expected = shared.slice();
  expected.copyWithin(1000, 0, 100_000);
  copyBytes(shared, 1000, shared.subarray(0, 100_000));
  assert.deepEqual(shared, expected);
});

void test('copyOf gives a private copy in an ArrayBuffer of its own', () => {
  for (const length of [10, 50_000]) {
    const shared = new Uint8Array(new SharedArrayBuffer(length + 64), 64, length);
    shared.set(pattern(length, 9));
    const copy = copyOf(shared);
    assert.ok(copy.buffer instanceof ArrayBuffer && copy.byteOffset === 0 && copy.byteLength === length);
    assert.deepEqual(copy, shared.slice());
    shared[0] = (shared[0] ?? 0) ^ 0xff;
    assert.notEqual(copy[0], shared[0], 'the copy does not follow later writes');
  }
});
