/**
 * The version 2 record writer (node/store/plain-record-writer.ts) writes exactly msgpackr's bytes for
 * plain data, so a log reads the same whichever wrote it; and it leaves everything else to msgpackr.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr, unpack } from 'msgpackr';
import { recordRun } from '../../../bench/recipes.js';
import { RecordCodec } from '../../../node/store/event-log-codec.js';
import { PlainRecordWriter } from '../../../node/store/plain-record-writer.js';

/** The layout the writer must match: the codec's version 2 Packr. */
const reference = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, copyBuffers: true });

function expected(seq: number, atMs: number, parent: number | undefined, event: unknown): Buffer {
  return Buffer.from(reference.pack([2, seq, atMs, parent ?? null, event]));
}

function assertSameBytes(writer: PlainRecordWriter, seq: number, atMs: number, parent: number | undefined, event: unknown): Buffer {
  const written = writer.write(2, seq, atMs, parent, event);
  assert.ok(written !== undefined, `the writer refused ${describe(event)}`);
  assert.deepEqual(Buffer.from(written), expected(seq, atMs, parent, event), `different bytes for ${describe(event)}`);
  return written;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'string' && item.length > 40 ? `${item.slice(0, 40)}… (${item.length})` : item))?.slice(0, 200) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Strings at every header boundary, in ASCII, two- and three-byte characters, pairs and lone surrogates. */
function edgeStrings(): string[] {
  const lengths = [0, 1, 10, 11, 21, 31, 32, 33, 63, 64, 65, 85, 86, 255, 256, 21_845, 21_846, 65_535, 65_536, 70_000];
  const units = ['a', 'é', '€', '😀', '\ud800', '\udc00x'];
  const strings: string[] = [];
  for (const length of lengths) for (const unit of units) strings.push(unit.repeat(Math.ceil(length / unit.length)).slice(0, length));
  strings.push('a\ud800', '\ud83d', 'x\ud83d\ude00y', `${'a'.repeat(40)}\ud800${'b'.repeat(40)}`);
  return strings;
}

function edgeNumbers(): number[] {
  const numbers = [0, -0, 1, 31, 32, 63, 64, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1)];
  numbers.push(-1, -31, -32, -33, -127, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -0.5, 1e300, Number.MIN_VALUE, Number.NaN, Infinity, -Infinity);
  return numbers;
}

function edgeTypedArrays(): ArrayBufferView[] {
  const views: ArrayBufferView[] = [];
  for (const length of [0, 1, 253, 254, 255, 256, 65_533, 65_534, 65_535, 65_536, 70_000]) {
    const bytes = new Uint8Array(length + 3).map((_, index) => (index * 7) & 0xff);
    views.push(bytes.subarray(3), Buffer.from(bytes.buffer, 1, length), new Uint8ClampedArray(bytes.buffer, 2, length));
  }
  const eight = new ArrayBuffer(64);
  views.push(new Int8Array(eight, 1, 5), new Int16Array(eight, 2, 3), new Uint16Array(eight, 4, 2), new Int32Array(eight, 4, 3), new Uint32Array(eight, 8, 1));
  views.push(new Float32Array([0.5, -1]), new Float64Array([Math.PI]), new BigInt64Array([-5n]), new BigUint64Array([5n]));
  return views;
}

/** A seeded random plain value: objects, arrays, strings, numbers, typed arrays, nested a few levels. */
function randomPlain(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return undefined;
    case 3:
      return Math.floor((next() - 0.5) * 2 ** (next() * 40));
    case 4:
      return (next() - 0.5) * 1e6;
    case 5:
      return String.fromCharCode(...Array.from({ length: Math.floor(next() * 80) }, () => (next() < 0.9 ? 32 + Math.floor(next() * 90) : Math.floor(next() * 0xffff))));
    case 6:
      return Array.from({ length: Math.floor(next() * 20) }, () => randomPlain(next, depth + 1));
    case 7:
      return Object.fromEntries(Array.from({ length: Math.floor(next() * 20) }, (_, index) => [`k${index}${String.fromCharCode(97 + Math.floor(next() * 26))}`, randomPlain(next, depth + 1)]));
    default:
      return new Uint8Array(Math.floor(next() * 300)).map(() => Math.floor(next() * 256));
  }
}

void test("every event of a recorded run is written with msgpackr's bytes, and reads back through the codec", () => {
  const writer = new PlainRecordWriter();
  const codec = new RecordCodec('logs/test');
  const entries = recordRun(200, 20);
  assert.ok(entries.length > 500, `the recorded run has ${entries.length} events`);
  let seq = 0;
  for (const { event } of entries) {
    seq += 1;
    const written = assertSameBytes(writer, seq, seq * 1.5, seq % 3 === 0 ? seq - 1 : undefined, event);
    assert.deepEqual(codec.checkEvent(seq, codec.lmdbEncoder.decode(written)), seq % 3 === 0 ? { seq, atMs: seq * 1.5, parent: seq - 1, event } : { seq, atMs: seq * 1.5, event });
  }
});

void test('strings, numbers and typed arrays at every header boundary are written as msgpackr writes them', () => {
  const writer = new PlainRecordWriter();
  let seq = 0;
  for (const value of [...edgeStrings(), ...edgeNumbers(), ...edgeTypedArrays(), true, false, null, undefined]) {
    seq += 1;
    assertSameBytes(writer, seq, 0, undefined, value);
    assertSameBytes(writer, seq, -seq, seq, { value, list: [value, value] });
  }
  for (const length of [0, 15, 16, 65_535, 65_536]) {
    assertSameBytes(writer, 1, 0, undefined, Array.from({ length }, (_, index) => index));
    assertSameBytes(writer, 1, 0, undefined, Object.fromEntries(Array.from({ length: Math.min(length, 65_535) }, (_, index) => [`key${index}`, index])));
  }
  // Holes in an array are written as undefined, as msgpackr does.
  assertSameBytes(writer, 1, 0, undefined, [1, , 3]); // eslint-disable-line no-sparse-arrays
});

void test('records written one after another stay intact: each is a view that later records, and chunk changes, never touch', () => {
  const writer = new PlainRecordWriter();
  const next = seeded(42);
  const records: { written: Buffer; bytes: Buffer }[] = [];
  for (let seq = 1; seq <= 3000; seq += 1) {
    // Now and then a record far larger than a chunk, so that it moves while it is written.
    const event = seq % 500 === 0 ? { big: 'x'.repeat(200_000), list: [randomPlain(next, 0)] } : randomPlain(next, 0);
    records.push({ written: assertSameBytes(writer, seq, seq, undefined, event), bytes: expected(seq, seq, undefined, event) });
  }
  for (const { written, bytes } of records) assert.deepEqual(Buffer.from(written), bytes);
});

void test('values that are not plain data are refused, and the codec then writes them in the structured-clone layout', () => {
  const writer = new PlainRecordWriter();
  class Point {
    x = 1;
  }
  class Bytes extends Uint8Array {}
  let deep: unknown = 'bottom';
  for (let level = 0; level < 30; level += 1) deep = [deep];
  const refused: unknown[] = [new Map([[1, 2]]), new Set([1]), new Date(5), 5n, new Point(), Object.create(null), () => 1, Symbol('s'), new DataView(new ArrayBuffer(4)), new Bytes(2), deep];
  const codec = new RecordCodec('logs/test');
  for (const value of refused) {
    assert.equal(writer.write(2, 1, 0, undefined, { inner: [value] }), undefined, `the writer took ${String(typeof value)} ${describe(value)}`);
    // A refused event leaves nothing behind: the next record is still exact.
    assertSameBytes(writer, 2, 0, undefined, { after: 'refusal' });
  }
  const withMap = { type: 'x', table: new Map([['a', 1]]) };
  const record = codec.encodeEvent(1, 0, undefined, withMap);
  assert.equal(record[1], 1, 'an event with a Map keeps the structured-clone layout (version 1)');
  assert.deepEqual((unpack(record) as unknown[])[0], 1);
  assert.deepEqual(codec.checkEvent(1, codec.lmdbEncoder.decode(record)), { seq: 1, atMs: 0, event: withMap });
});

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}
