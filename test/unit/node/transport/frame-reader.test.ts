import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from 'fp-ts/lib/Either.js';
import { FrameReader, frameOf } from '../../../../node/transport/index.js';

void test('frames split across chunks at every byte come out whole and in order', () => {
  const bodies = [Buffer.from('a'), Buffer.alloc(300, 7), Buffer.from('hello world')];
  const stream = Buffer.concat(bodies.map((body) => frameOf(body)));
  for (let size = 1; size <= stream.byteLength; size += 1) {
    const reader = new FrameReader(1024);
    const out: Buffer[] = [];
    for (let at = 0; at < stream.byteLength; at += size) {
      const result = reader.pushAll(stream.subarray(at, at + size));
      assert.ok(E.isRight(result));
      out.push(...result.right);
    }
    assert.deepEqual(out, bodies, `chunk size ${size}`);
    assert.equal(reader.pendingBytes, 0);
  }
});

void test('a reader fed from one buffer that every read overwrites keeps its frames whole once it detaches after each read', () => {
  // As a socket of connectReusingReads feeds it: each read lands in the same buffer, so a length
  // prefix split across two reads must not be left pointing into that buffer.
  const bodies = [Buffer.from('a'), Buffer.alloc(300, 7), Buffer.from('hello world'), Buffer.alloc(70, 9)];
  const stream = Buffer.concat(bodies.map((body) => frameOf(body)));
  const reused = Buffer.alloc(stream.byteLength);
  for (let size = 1; size <= stream.byteLength; size += 1) {
    const reader = new FrameReader(1024);
    const out: Buffer[] = [];
    for (let at = 0; at < stream.byteLength; at += size) {
      const bytes = stream.copy(reused, 0, at, Math.min(stream.byteLength, at + size));
      const result = reader.pushAll(reused.subarray(0, bytes));
      assert.ok(E.isRight(result), `chunk size ${size}: ${E.isLeft(result) ? result.left : ''}`);
      out.push(...result.right);
      reader.detach();
      reused.fill(0xee);
    }
    assert.deepEqual(out, bodies, `chunk size ${size}`);
    assert.equal(reader.pendingBytes, 0);
  }
});

void test('raw bytes land whole in shared memory whatever the alignment of the chunks that bring them', () => {
  // takeInto copies into a store's SharedArrayBuffer with one memcpy (not V8's atomic copy), from
  // chunks that start anywhere: each byte must still land where it belongs.
  const raw = Buffer.alloc(200_000);
  for (let index = 0; index < raw.byteLength; index += 1) raw[index] = (index * 7 + 3) & 0xff;
  for (const size of [1, 3, 4099, 65_536, 70_001, raw.byteLength + 5]) {
    const store = new Uint8Array(new SharedArrayBuffer(raw.byteLength + 64));
    const reader = new FrameReader(1024 * 1024);
    reader.beginRaw(raw.byteLength, { target: store.subarray(5, 5 + raw.byteLength) });
    const stream = Buffer.concat([Buffer.alloc(size % 13, 1), raw]);
    let done = false;
    for (let at = size % 13; at < stream.byteLength; at += size) {
      reader.push(stream.subarray(at, at + size));
      done = reader.fillRaw();
    }
    assert.ok(done, `chunk size ${size}`);
    assert.ok(Buffer.from(store.buffer, 5, raw.byteLength).equals(raw), `chunk size ${size}`);
    assert.equal(store[4], 0);
    assert.equal(store[5 + raw.byteLength], 0);
  }
});

void test('each body owns its bytes: later chunks and writes to the chunk do not change it', () => {
  const reader = new FrameReader(64);
  const chunk = Buffer.concat([frameOf(Buffer.from('abc')), frameOf(Buffer.from('de'))]);
  const result = reader.pushAll(chunk);
  assert.ok(E.isRight(result));
  chunk.fill(0);
  assert.deepEqual(result.right.map((body) => body.toString()), ['abc', 'de']);
  assert.equal(result.right[0]?.buffer.byteLength, 3, 'a body is a buffer of exactly its frame, not a view of the read chunk');
});

void test('an oversize length prefix fails at once, naming the limit, and the claimed size is never allocated', () => {
  const reader = new FrameReader(64 * 1024 * 1024);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(0xffff_fff0, 0);
  const before = process.memoryUsage().arrayBuffers;
  const result = reader.pushAll(header);
  const grownBytes = process.memoryUsage().arrayBuffers - before;
  assert.ok(E.isLeft(result));
  assert.match(result.left, /^a frame of 4\.0 GiB \(4294967280 bytes\) is over the limit of 64 MiB \(maxFrameBytes\)$/);
  assert.ok(grownBytes < 1024 * 1024, `memory grew by ${grownBytes} bytes`);
});

void test('an empty frame is refused with its reason', () => {
  const result = new FrameReader(64).pushAll(Buffer.alloc(4));
  assert.ok(E.isLeft(result));
  assert.match(result.left, /empty frame/);
});

void test('a partial frame is reported for the close reason', () => {
  const reader = new FrameReader(64);
  const frame = frameOf(Buffer.alloc(10, 1));
  assert.ok(E.isRight(reader.pushAll(frame.subarray(0, 2))));
  assert.deepEqual(reader.partialFrame(), { receivedBytes: 2, expectedBytes: undefined });
  assert.ok(E.isRight(reader.pushAll(frame.subarray(2, 9))));
  assert.deepEqual(reader.partialFrame(), { receivedBytes: 5, expectedBytes: 10 });
});
