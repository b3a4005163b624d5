/**
 * put and `.remote()` arguments capture their values at the call: binary data of 1 MiB and more
 * (typed arrays, Buffers, ArrayBuffers, DataViews, bare or inside objects) written to in the same turn,
 * after a put or a submit, reads back as it was at the call, in the driver and in a worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import * as tsray from '../../node/index.js';
import { propertySeed } from '../support/property-harness.js';

const mib = 1024 * 1024;
const kinds = ['Uint8Array', 'Float64Array', 'Int32Array', 'Buffer', 'ArrayBuffer', 'DataView'] as const;
type Kind = (typeof kinds)[number];
/** Where the value goes: a driver put, a task argument, or a put made inside a worker's task. */
const routes = ['put', 'argument', 'worker-put'] as const;

/** A binary value of `kind` over `byteLength` bytes, filled from `seed`. */
function binary(kind: Kind, byteLength: number, seed: number): ArrayBuffer | ArrayBufferView {
  const bytes = new Uint8Array(byteLength);
  for (let i = 0; i < byteLength; i += 1) bytes[i] = (i * 31 + seed) & 0xff;
  switch (kind) {
    case 'Uint8Array':
      return bytes;
    case 'Float64Array':
      return new Float64Array(bytes.buffer);
    case 'Int32Array':
      return new Int32Array(bytes.buffer);
    case 'Buffer':
      return Buffer.from(bytes.buffer);
    case 'ArrayBuffer':
      return bytes.buffer;
    case 'DataView':
      return new DataView(bytes.buffer);
  }
}

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`not binary data: ${typeof value}`);
}

/** Writes `byte` at `at` (and at the first and last byte) of the value's memory. */
function scribble(value: ArrayBuffer | ArrayBufferView, at: number, byte: number): void {
  const bytes = bytesOf(value);
  bytes[0] = byte;
  bytes[at % bytes.length] = byte;
  bytes[bytes.length - 1] = byte;
}

const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-capture-'));

before(async () => {
  await tsray.init({ numCpus: 2, sessionDir, objectStoreMemory: 256 * mib });
});

after(async () => {
  await tsray.shutdown();
  rmSync(sessionDir, { recursive: true, force: true });
});

const echo = tsray.remote((value: unknown) => value);
/** Puts the value in the worker, writes to it in the same turn, checks it still has it, and returns the ref. */
const putInWorker = tsray.remote(async (kind: Kind, byteLength: number, seed: number, at: number, byte: number) => {
  const source = new Uint8Array(byteLength);
  for (let i = 0; i < byteLength; i += 1) source[i] = (i * 31 + seed) & 0xff;
  const views: Record<Kind, () => ArrayBuffer | ArrayBufferView> = {
    Uint8Array: () => source,
    Float64Array: () => new Float64Array(source.buffer),
    Int32Array: () => new Int32Array(source.buffer),
    Buffer: () => Buffer.from(source.buffer),
    ArrayBuffer: () => source.buffer,
    DataView: () => new DataView(source.buffer),
  };
  const value = views[kind]();
  const ref = tsray.put({ value });
  source[0] = byte;
  source[at % byteLength] = byte;
  source[byteLength - 1] = byte;
  // The put's bytes leave this thread meanwhile; the caller's array stays its own.
  await new Promise((resolve) => setTimeout(resolve, 5));
  if (source.byteLength !== byteLength || source[byteLength - 1] !== byte) throw new Error('the put took the array from its caller');
  return [ref];
});

void test('writes after put and after submit, in the same turn, do not change the object or the argument', async () => {
  const seed = propertySeed();
  console.log('property seed', seed);
  const sample = fc.record({
    kind: fc.constantFrom(...kinds),
    route: fc.constantFrom(...routes),
    // Whole 8-byte elements, from 1 MiB to 3 MiB.
    byteLength: fc.integer({ min: mib / 8, max: (3 * mib) / 8 }).map((elements) => elements * 8),
    fill: fc.integer({ min: 0, max: 255 }),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
    wrapped: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(sample, async ({ kind, route, byteLength, fill, at, byte, wrapped }) => {
      const expected = bytesOf(binary(kind, byteLength, fill)).slice();
      // A write that does not change the byte would prove nothing.
      if (expected[0] === byte || expected[byteLength - 1] === byte || expected[at % byteLength] === byte) byte = (byte + 1) & 0xff;
      let got: unknown;
      if (route === 'worker-put') {
        const [ref] = await tsray.get(putInWorker.remote(kind, byteLength, fill, at, byte) as tsray.ObjectRef<[tsray.ObjectRef<{ value: unknown }>]>);
        got = (await tsray.get(ref as tsray.ObjectRef<{ value: unknown }>)).value;
      } else {
        const value = binary(kind, byteLength, fill);
        const sent = wrapped ? { value } : value;
        const ref = route === 'put' ? tsray.put(sent) : echo.remote(sent);
        scribble(value, at, byte);
        const back = await tsray.get(ref);
        got = wrapped ? (back as { value: unknown }).value : back;
      }
      const actual = bytesOf(got);
      assert.equal(actual.byteLength, byteLength);
      assert.ok(Buffer.compare(actual, expected) === 0, `the ${kind} (${route}${wrapped ? ', in an object' : ''}) read back differs from the value at the call`);
    }),
    { seed, numRuns: 12 },
  );
});
