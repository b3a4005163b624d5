/**
 * Large binary data travels out of band: encode hands over the caller's own views, decode returns
 * views of the given blobs' memory (zero copy), and copies only what alignment forbids viewing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeValue, defaultBlobThresholdBytes, encodeValue, plainDataHooks as hooks } from '../../../node/codec/index.js';

const thresholdBytes = 1024;
const options = { blobThresholdBytes: thresholdBytes };

/** Copies a blob into a fresh buffer at `offsetBytes`, as a store would place it in shared memory. */
function placeAt(blob: ArrayBufferView, offsetBytes: number, shared = false): Uint8Array {
  const size = offsetBytes + blob.byteLength;
  const memory = shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size);
  const placed = new Uint8Array(memory, offsetBytes, blob.byteLength);
  placed.set(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength));
  return placed;
}

void describe('codec blobs', () => {
  void test('binary data of the threshold and up goes out of band, uncopied and in order', () => {
    const floats = new Float64Array(thresholdBytes / 8).map((_, i) => i + 0.5);
    const view = new DataView(new ArrayBuffer(4096), 1024, 2048);
    const bytes = new Uint8Array(thresholdBytes - 1);
    const value = { floats, small: bytes, more: [view] };
    const encoded = encodeValue(value, hooks, options);
    assert.equal(encoded.blobs.length, 2);
    assert.equal(encoded.blobs[0], floats);
    assert.equal(encoded.blobs[1], view);
    assert.ok(encoded.body.byteLength > bytes.byteLength && encoded.body.byteLength < bytes.byteLength + 128);
    assert.equal(encoded.sizeBytes, encoded.body.byteLength + floats.byteLength + view.byteLength);
    assert.deepStrictEqual(decodeValue(encoded.body, encoded.blobs, hooks), value);
  });

  void test('the default threshold is 1 MiB', () => {
    assert.equal(defaultBlobThresholdBytes, 1024 * 1024);
    assert.equal(encodeValue(new Uint8Array(defaultBlobThresholdBytes - 1), hooks).blobs.length, 0);
    assert.equal(encodeValue(new Uint8Array(defaultBlobThresholdBytes), hooks).blobs.length, 1);
  });

  void test('decode views the given blob without copying: changing the blob changes the value', () => {
    const original = new Int32Array(1024).map((_, i) => i);
    const encoded = encodeValue({ data: original }, hooks, options);
    const placed = placeAt(encoded.blobs[0]!, 64, true);
    const out = decodeValue(encoded.body, [placed], hooks) as { data: Int32Array };
    assert.ok(out.data instanceof Int32Array);
    assert.equal(out.data.buffer, placed.buffer);
    assert.equal(out.data.byteOffset, 64);
    assert.deepStrictEqual([...out.data], [...original]);
    new Int32Array(placed.buffer, 64, 1)[0] = -7;
    assert.equal(out.data[0], -7);
  });

  void test('every binary class comes back as its class over the blob', () => {
    const values: ArrayBufferView[] = [
      new Int8Array(2048),
      new Uint8Array(2048),
      new Uint8ClampedArray(2048),
      new Int16Array(1024),
      new Uint16Array(1024),
      new Int32Array(512),
      new Uint32Array(512),
      new Float32Array(512),
      new Float64Array(256),
      new BigInt64Array(256),
      new BigUint64Array(256),
      new DataView(new ArrayBuffer(2048)),
      Buffer.alloc(2048, 1),
    ];
    const encoded = encodeValue(values, hooks, options);
    assert.equal(encoded.blobs.length, values.length);
    const placed = encoded.blobs.map((blob) => placeAt(blob, 8));
    const out = decodeValue(encoded.body, placed, hooks) as ArrayBufferView[];
    out.forEach((view, i) => {
      assert.equal(Object.getPrototypeOf(view), Object.getPrototypeOf(values[i]));
      assert.equal(view.buffer, placed[i]!.buffer);
      assert.equal(view.byteOffset, 8);
      assert.equal(view.byteLength, values[i]!.byteLength);
    });
  });

  void test('a blob not aligned to its element size is copied into an aligned buffer', () => {
    const original = new Float64Array(256).map((_, i) => i / 3);
    const encoded = encodeValue(original, hooks, options);
    const placed = placeAt(encoded.blobs[0]!, 3);
    const out = decodeValue(encoded.body, [placed], hooks) as Float64Array;
    assert.ok(out instanceof Float64Array);
    assert.notEqual(out.buffer, placed.buffer);
    assert.equal(out.byteOffset, 0);
    assert.deepStrictEqual(out, original);
    // Byte-sized classes and DataViews never need alignment, so they stay views.
    const bytes = encodeValue([new Uint8Array(2048), new DataView(new ArrayBuffer(2048))], hooks, options);
    const odd = bytes.blobs.map((blob) => placeAt(blob, 3));
    const views = decodeValue(bytes.body, odd, hooks) as ArrayBufferView[];
    assert.equal(views[0]!.buffer, odd[0]!.buffer);
    assert.equal(views[1]!.buffer, odd[1]!.buffer);
  });

  void test('an ArrayBuffer is the blob buffer itself when the blob spans it, else a copy', () => {
    const original = new Uint8Array(2048).map((_, i) => i % 251).buffer;
    const encoded = encodeValue(original, hooks, options);
    const blob = encoded.blobs[0]!;
    assert.ok(blob instanceof Uint8Array);
    assert.equal(blob.buffer, original);
    assert.equal(decodeValue(encoded.body, [blob], hooks), original);
    const placed = placeAt(blob, 16);
    const copy = decodeValue(encoded.body, [placed], hooks) as ArrayBuffer;
    assert.equal(Object.getPrototypeOf(copy), ArrayBuffer.prototype);
    assert.deepStrictEqual(new Uint8Array(copy), new Uint8Array(original));
  });

  void test('a view of a larger buffer sends only its own bytes', () => {
    const backing = new Uint16Array(10_000);
    const view = backing.subarray(100, 100 + thresholdBytes);
    const encoded = encodeValue(view, hooks, options);
    assert.equal(encoded.blobs[0], view);
    assert.equal(encoded.sizeBytes, encoded.body.byteLength + view.byteLength);
  });

  void test('small binary data stays inline and decodes as a fresh, aligned copy', () => {
    const value = new Float32Array([1, 2, 3]);
    const encoded = encodeValue(value, hooks, options);
    assert.equal(encoded.blobs.length, 0);
    const out = decodeValue(encoded.body, [], hooks) as Float32Array;
    assert.deepStrictEqual(out, value);
    assert.notEqual(out.buffer, encoded.body.buffer);
  });

  void test('a body that names a missing blob fails with a RangeError', () => {
    const encoded = encodeValue(new Uint8Array(thresholdBytes), hooks, options);
    assert.throws(() => decodeValue(encoded.body, [], hooks), RangeError);
  });
});
