/**
 * The object codec round-trips every kind of value API.md lists, keeps classes and prototypes, and
 * carries the runtime's handles through its hooks. It also prints its throughput (not asserted).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RefMarker } from '../../../core/values.js';
import { decodeValue, encodeValue, plainDataHooks, type ActorHandleData, type CodecHooks, type ShippedCodeData } from '../../../node/codec/index.js';

/** Tiny stand-ins for the runtime's classes. */
class FakeRef {
  constructor(readonly marker: RefMarker) {}
}
class FakeActor {
  constructor(readonly data: ActorHandleData) {}
}
class FakeActorClass {
  constructor(readonly data: ShippedCodeData) {}
}
/** A RemoteFunction is callable in the runtime, so the fake is a function too. */
type FakeFunction = (() => void) & { data: ShippedCodeData };
function fakeFunction(data: ShippedCodeData): FakeFunction {
  return Object.assign(() => undefined, { data });
}
const fakeFunctions = new WeakSet<object>();

const hooks: CodecHooks = {
  refOf: (value) => (value instanceof FakeRef ? value.marker : undefined),
  makeRef: (marker) => new FakeRef(marker),
  actorOf: (value) => (value instanceof FakeActor ? value.data : undefined),
  makeActor: (data) => new FakeActor(data),
  functionOf: (value) => (fakeFunctions.has(value) ? (value as FakeFunction).data : undefined),
  makeFunction: (data) => {
    const fn = fakeFunction(data);
    fakeFunctions.add(fn);
    return fn;
  },
  actorClassOf: (value) => (value instanceof FakeActorClass ? value.data : undefined),
  makeActorClass: (data) => new FakeActorClass(data),
};

function roundTrip<T>(value: T): T {
  const encoded = encodeValue(value, hooks);
  return decodeValue(encoded.body, encoded.blobs, hooks) as T;
}

function same<T>(value: T): T {
  const out = roundTrip(value);
  assert.deepStrictEqual(out, value);
  return out;
}

void describe('codec round trips', () => {
  void test('undefined, null and booleans', () => {
    for (const value of [undefined, null, true, false]) assert.equal(roundTrip(value), value);
    same({ u: undefined, n: null, t: true, f: false });
  });

  void test('numbers, including NaN, -0 and the infinities', () => {
    for (const value of [0, -0, 1, -1, 1.5, -2.25, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, -(2 ** 53), 1e300, 5e-324, NaN, Infinity, -Infinity]) {
      assert.ok(Object.is(roundTrip(value), value), `${value}`);
    }
    const out = roundTrip({ z: -0, list: [1, -0, 0], m: new Map([['k', -0]]) });
    assert.ok(Object.is(out.z, -0));
    assert.ok(Object.is(out.list[1], -0) && Object.is(out.list[2], 0));
    assert.ok(Object.is(out.m.get('k'), -0));
  });

  void test('bigints of any size', () => {
    for (const value of [0n, 5n, -5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, -(2n ** 200n) + 7n]) assert.equal(roundTrip(value), value);
  });

  void test('strings, including astral characters and lone surrogates', () => {
    for (const value of ['', 'a', 'héllo ✓ 😀', 'x'.repeat(100_000), 'a\uD800b', '\uDFFF', `${'y'.repeat(20_000)}\uD83D`]) assert.equal(roundTrip(value), value);
    same({ s: 'lone \uDC00 surrogate', t: 'ok' });
  });

  void test('arrays, nested and empty', () => {
    same([]);
    same([1, 'two', [3, [4, []]], { five: 5 }]);
    same(Array.from({ length: 100_000 }, (_, i) => i));
  });

  void test('sparse arrays decode their holes as undefined and keep their length', () => {
    // eslint-disable-next-line no-sparse-arrays
    const out = roundTrip([1, , 3, , ,]);
    assert.equal(out.length, 5);
    assert.deepStrictEqual(out, [1, undefined, 3, undefined, undefined]);
    assert.ok(1 in out);
    assert.deepStrictEqual(roundTrip(new Array<unknown>(3)), [undefined, undefined, undefined]);
  });

  void test('plain objects, with odd keys', () => {
    const out = same({ a: 1, 'b-c': 2, '': 3, 4: 'four', nested: { deep: { deeper: [] } } });
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    same({ constructor: 'not a class', toString: 'text', toJSON: 'not a method' });
    const withProtoKey = JSON.parse('{"__proto__": {"x": 1}, "b": 2}') as Record<string, unknown>;
    const back = same(withProtoKey);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepStrictEqual(Object.keys(back), ['__proto__', 'b']);
  });

  void test('many object shapes in one value', () => {
    same(Array.from({ length: 300 }, (_, i) => ({ [`key${i}`]: i, shared: { [`inner${i % 70}`]: [i] } })));
  });

  void test('a Map or an object with an own constructor property', () => {
    const map = Object.defineProperty(new Map([[1, 'one']]), 'constructor', { value: Object });
    const out = roundTrip(map);
    assert.ok(out instanceof Map);
    assert.deepStrictEqual([...out], [[1, 'one']]);
    same({ constructor: Object.prototype.constructor.name, hasOwnProperty: 1 });
  });

  void test('null-prototype objects', () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, inner: Object.assign(Object.create(null) as object, { b: 2 }) });
    const out = same(value);
    assert.equal(Object.getPrototypeOf(out), null);
    assert.equal(Object.getPrototypeOf(out.inner), null);
  });

  void test('Maps keep insertion order and any keys', () => {
    const objectKey = { id: 1 };
    const value = new Map<unknown, unknown>([
      ['z', 1],
      [2, 'two'],
      [objectKey, new Map([['inner', [1]]])],
      [undefined, null],
    ]);
    const out = same(value);
    assert.ok(out instanceof Map);
    assert.deepStrictEqual([...out.keys()], ['z', 2, { id: 1 }, undefined]);
    same(new Map());
  });

  void test('Sets keep insertion order', () => {
    const out = same(new Set<unknown>(['b', 'a', 3, { x: 1 }, new Set([1])]));
    assert.ok(out instanceof Set);
    assert.deepStrictEqual([...out][0], 'b');
  });

  void test('Dates, including invalid and negative ones', () => {
    for (const time of [0, 1_700_000_000_123, -1500, -62_135_596_800_000, 8.64e15]) {
      const out = roundTrip(new Date(time));
      assert.ok(out instanceof Date);
      assert.equal(out.getTime(), time);
    }
    assert.ok(Number.isNaN(roundTrip(new Date(NaN)).getTime()));
  });

  void test('RegExps keep source and flags', () => {
    const out = same(/a+(b|c)?\/\d/gimsuy);
    assert.ok(out instanceof RegExp);
    assert.equal(out.flags, 'dgimsuy'.replace('d', ''));
    assert.equal(roundTrip(/x/d).flags, 'd');
  });

  void test('Errors keep name, message and stack', () => {
    const error = new Error('it broke');
    const out = roundTrip(error);
    assert.equal(Object.getPrototypeOf(out), Error.prototype);
    assert.equal(out.message, 'it broke');
    assert.equal(out.stack, error.stack);

    const typeError = roundTrip(new TypeError('bad type'));
    assert.equal(Object.getPrototypeOf(typeError), TypeError.prototype);
    assert.equal(typeError.name, 'TypeError');
    assert.ok(roundTrip(new RangeError('r')) instanceof RangeError);

    class QuotaError extends Error {
      override name = 'QuotaError';
      readonly limit = 3;
    }
    const quota = new QuotaError('over quota');
    const subclass = roundTrip(quota) as Error;
    assert.equal(Object.getPrototypeOf(subclass), Error.prototype);
    assert.equal(subclass.name, 'QuotaError');
    assert.equal(subclass.message, 'over quota');
    assert.equal(subclass.stack, quota.stack);
  });

  void test('Errors keep their cause, and AggregateErrors their errors', () => {
    const out = roundTrip(new Error('outer', { cause: { code: 7, inner: new RangeError('inner') } }));
    assert.deepStrictEqual(out.cause, { code: 7, inner: new RangeError('inner') });
    const aggregate = roundTrip(new AggregateError([new Error('a'), 2], 'many'));
    assert.ok(aggregate instanceof AggregateError);
    assert.deepStrictEqual(aggregate.errors, [new Error('a'), 2]);
  });

  void test('ArrayBuffers', () => {
    const buffer = new Uint8Array([1, 2, 3, 250]).buffer;
    const out = same(buffer);
    assert.equal(Object.getPrototypeOf(out), ArrayBuffer.prototype);
    same(new ArrayBuffer(0));
  });

  void test('every typed array class and DataView, same class out as in', () => {
    const values = [
      new Int8Array([-128, 0, 127]),
      new Uint8Array([0, 255]),
      new Uint8ClampedArray([0, 128, 255]),
      new Int16Array([-32768, 32767]),
      new Uint16Array([65535]),
      new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5, NaN, -Infinity]),
      new Float64Array([Math.PI, -0]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      new BigUint64Array([2n ** 64n - 1n]),
      new DataView(new Uint8Array([9, 8, 7]).buffer),
      Buffer.from('a Node buffer'),
    ];
    for (const value of values) {
      const out = same(value);
      assert.equal(Object.getPrototypeOf(out), Object.getPrototypeOf(value), value.constructor.name);
    }
    assert.ok(Object.is(roundTrip(new Float64Array([-0]))[0], -0));
  });

  void test('typed array views encode only their own bytes', () => {
    const backing = new Float64Array(10_000).map((_, i) => i);
    const view = backing.subarray(10, 14);
    const encoded = encodeValue(view, hooks);
    assert.ok(encoded.body.byteLength < 64, `body of ${encoded.body.byteLength} bytes`);
    const out = decodeValue(encoded.body, encoded.blobs, hooks) as Float64Array;
    assert.ok(out instanceof Float64Array);
    assert.deepStrictEqual([...out], [10, 11, 12, 13]);
    const dataView = same(new DataView(backing.buffer, 8, 16));
    assert.equal(dataView.byteLength, 16);
    assert.equal(dataView.getFloat64(0, true), 1);
  });

  void test('any nesting of all of these', () => {
    same({
      list: [new Map([['set', new Set([new Date(5), /re/g])]]), { bytes: new Uint16Array([1, 2]) }],
      errors: [new SyntaxError('s')],
      deep: { big: 10n ** 30n, nothing: undefined, buffer: new ArrayBuffer(3) },
    });
  });

  void test('encoded values own their bodies, and sizes add up', () => {
    const first = encodeValue({ a: 1 }, hooks);
    const second = encodeValue({ b: 2 }, hooks);
    assert.notEqual(first.body.buffer, second.body.buffer);
    assert.equal(first.body.byteLength, first.body.buffer.byteLength);
    assert.equal(first.sizeBytes, first.body.byteLength);
    assert.deepStrictEqual(decodeValue(first.body, [], hooks), { a: 1 });
  });
});

void describe('codec hooks', () => {
  void test('ObjectRefs are collected in encounter order, once per occurrence', () => {
    const a = new FakeRef({ objectId: 'n1.d1.p1', owner: 'n1.d1' });
    const b = new FakeRef({ objectId: 'n1.d1.t2.r0', owner: 'n1.d1' });
    const c = new FakeRef({ objectId: 'n2.w1.p1', owner: 'n2.w1' });
    const value = { first: a, nested: [{ b }, new Map([['c', c]])], again: a, set: new Set([b]), error: new Error('e', { cause: c }) };
    const encoded = encodeValue(value, hooks);
    assert.deepStrictEqual(encoded.refs, [a.marker, b.marker, c.marker, a.marker, b.marker, c.marker]);
    const out = decodeValue(encoded.body, encoded.blobs, hooks) as typeof value;
    assert.ok(out.first instanceof FakeRef && out.again instanceof FakeRef);
    assert.deepStrictEqual(out.first.marker, a.marker);
    const inner = out.nested[1] as Map<string, FakeRef>;
    assert.deepStrictEqual(inner.get('c')?.marker, c.marker);
    assert.deepStrictEqual((out.error.cause as FakeRef).marker, c.marker);
  });

  void test('a top-level ObjectRef', () => {
    const ref = new FakeRef({ objectId: 'o', owner: 'w' });
    const encoded = encodeValue(ref, hooks);
    assert.deepStrictEqual(encoded.refs, [ref.marker]);
    assert.deepStrictEqual(decodeValue(encoded.body, encoded.blobs, hooks), ref);
  });

  void test('ActorHandles, RemoteFunctions and ActorClasses travel as their data', () => {
    const actor = new FakeActor({ actorId: 'n1.d1.a2', className: 'Counter', methods: ['incr'] });
    const fn = fakeFunction({ descriptor: { module: 'file:///m.js', name: 'work' } });
    fakeFunctions.add(fn);
    const actorClass = new FakeActorClass({ descriptor: { source: 'class Counter {}' }, options: { maxRestarts: 1 } });
    const encoded = encodeValue({ actor, fn, actorClass, list: [actor] }, hooks);
    assert.deepStrictEqual(encoded.refs, []);
    const out = decodeValue(encoded.body, encoded.blobs, hooks) as { actor: FakeActor; fn: FakeFunction; actorClass: FakeActorClass; list: FakeActor[] };
    assert.ok(out.actor instanceof FakeActor && out.list[0] instanceof FakeActor);
    assert.deepStrictEqual(out.actor.data, actor.data);
    assert.equal(typeof out.fn, 'function');
    assert.deepStrictEqual(out.fn.data, fn.data);
    assert.ok(out.actorClass instanceof FakeActorClass);
    assert.deepStrictEqual(out.actorClass.data, actorClass.data);
  });

  void test('a handle that is a Proxy is recognized when its target has a class', () => {
    const handleIds = new WeakMap<object, string>();
    class HandleTarget {}
    const proxyHooks: CodecHooks = {
      ...hooks,
      actorOf: (value) => {
        const actorId = handleIds.get(value);
        return actorId === undefined ? undefined : { actorId };
      },
      makeActor: (data) => data.actorId,
    };
    const handle = new Proxy(new HandleTarget(), { get: (_target, key) => (key === 'actorId' ? 'a7' : undefined) });
    handleIds.set(handle, 'a7');
    const encoded = encodeValue({ handle }, proxyHooks);
    assert.deepStrictEqual(decodeValue(encoded.body, encoded.blobs, proxyHooks), { handle: 'a7' });
  });

  void test('refs inside handle data are collected too', () => {
    const ref = new FakeRef({ objectId: 'o9', owner: 'w9' });
    const actor = new FakeActor({ actorId: 'a', pinned: ref });
    const encoded = encodeValue([actor], hooks);
    assert.deepStrictEqual(encoded.refs, [ref.marker]);
  });

  void test('plainDataHooks reject runtime instances as class instances', () => {
    assert.throws(() => encodeValue({ r: new FakeRef({ objectId: 'o', owner: 'w' }) }, plainDataHooks), {
      name: 'TypeError',
      message: /^value\.r is an instance of class FakeRef;/,
    });
  });
});

void describe('codec throughput', () => {
  function timeRoundTrips(label: string, value: unknown, minimumMs: number): void {
    // Warm up first, so that the figure is the steady state rather than the JIT's first attempts.
    for (let warm = performance.now(); performance.now() - warm < minimumMs / 2; ) {
      const encoded = encodeValue(value, hooks);
      decodeValue(encoded.body, encoded.blobs, hooks);
    }
    let count = 0;
    let bodyBytes = 0;
    const start = performance.now();
    let elapsedMs = 0;
    while (elapsedMs < minimumMs) {
      const encoded = encodeValue(value, hooks);
      decodeValue(encoded.body, encoded.blobs, hooks);
      bodyBytes = encoded.body.byteLength;
      count++;
      elapsedMs = performance.now() - start;
    }
    const perSecond = (count * 1000) / elapsedMs;
    const usEach = (elapsedMs * 1000) / count;
    console.log(`codec encode+decode, ${label} (${bodyBytes} B body): ${perSecond.toFixed(0)}/s, ${usEach.toFixed(1)} us each`);
  }

  void test('prints encode+decode throughput', () => {
    const kibObject = {
      id: 12345,
      name: 'a task argument',
      enabled: true,
      ratio: 0.75,
      created: new Date(0),
      tags: ['alpha', 'beta', 'gamma', 'delta'],
      owner: { id: 7, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'dev'] },
      items: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1, price: 9.99 + i, note: 'n' })),
      metrics: Array.from({ length: 20 }, (_, i) => i * 1.5),
    };
    assert.ok(Math.abs(JSON.stringify(kibObject).length - 1024) < 64);
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `row ${i}`, value: i * 0.5 }));
    const numbers = Array.from({ length: 10_000 }, (_, i) => i * 0.5);
    timeRoundTrips('1 KiB object', kibObject, 300);
    timeRoundTrips('10k-element array of {id, name, value}', rows, 1000);
    timeRoundTrips('10k-element array of numbers', numbers, 300);
    timeRoundTrips('16 MiB Float64Array (out of band)', new Float64Array(2 ** 21), 100);
  });
});
