/**
 * What the codec cannot carry is rejected at encode with a TypeError naming the path of the value
 * and what it is; cycles too. A failed encode leaves nothing behind: the next one works.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeValue, encodeValue, maxDepth, plainDataHooks as hooks, type CodecHooks } from '../../../node/codec/index.js';

/** Asserts that encoding `value` under `rootPath` throws a TypeError with exactly `message`. */
function rejects(value: unknown, message: string | RegExp, rootPath?: string): void {
  assert.throws(
    () => encodeValue(value, hooks, rootPath === undefined ? {} : { rootPath }),
    (error: unknown) => {
      assert.ok(error instanceof TypeError, `not a TypeError: ${String(error)}`);
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
  assertStillWorks();
}

function assertStillWorks(): void {
  const value = { fine: [1, 'two', new Map([[3, new Set([4])]])], bytes: new Uint8Array(2048) };
  const encoded = encodeValue(value, hooks, { blobThresholdBytes: 1024 });
  assert.deepStrictEqual(encoded.refs, []);
  assert.equal(encoded.blobs.length, 1);
  assert.deepStrictEqual(decodeValue(encoded.body, encoded.blobs, hooks), value);
}

const functionReason = 'is a function; tasks take data: pass a RemoteFunction or move the logic into the task';

void describe('codec rejections', () => {
  void test('functions, with the path from the root the runtime gives', () => {
    rejects({ cfg: { onDone: () => undefined } }, `args[1].cfg.onDone ${functionReason}`, 'args[1]');
    rejects([1, 2, function named() {}], `value[2] ${functionReason}`);
    rejects(class Thing {}, `value ${functionReason}`);
  });

  void test('paths through arrays, Maps, Sets, errors and odd keys', () => {
    const fn = (): void => undefined;
    rejects({ a: [0, 1, { b: fn }] }, `value.a[2].b ${functionReason}`);
    rejects({ m: new Map([['k', fn]]) }, `value.m.get("k") ${functionReason}`);
    rejects({ m: new Map<unknown, unknown>([[1, 'one'], [2n, fn]]) }, `value.m.get(2n) ${functionReason}`);
    rejects({ m: new Map([[{ id: 1 }, fn]]) }, `value.m.values()[0] ${functionReason}`);
    rejects({ m: new Map([[fn, 1]]) }, `value.m.keys()[0] ${functionReason}`);
    rejects({ s: new Set([fn]) }, `value.s[0] ${functionReason}`);
    rejects({ 'a-b': { 'c d': fn } }, `value["a-b"]["c d"] ${functionReason}`);
    rejects({ e: new Error('x', { cause: { fn } }) }, `value.e.cause.fn ${functionReason}`);
    rejects(Object.assign(Object.create(null) as object, { fn }), `value.fn ${functionReason}`);
  });

  void test('symbols as values and as keys', () => {
    rejects({ tag: Symbol('t') }, 'value.tag is a symbol (Symbol(t)); symbols cannot be copied to another process: use a string');
    rejects({ list: [{ [Symbol('k')]: 1 }] }, 'value.list[0] has a symbol key (Symbol(k)); symbol-keyed properties cannot be copied to another process: use a string key');
    // A non-enumerable symbol key is invisible, as non-enumerable string keys are.
    const hidden = Object.defineProperty({ a: 1 }, Symbol('hidden'), { value: 1, enumerable: false });
    assert.deepStrictEqual(decodeValue(encodeValue(hidden, hooks).body, [], hooks), { a: 1 });
  });

  void test('class instances name their class', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    rejects({ at: new Point(1, 2) }, 'value.at is an instance of class Point; tasks take plain data: pass a plain object with its fields, or make the class an actor');
    class Items extends Array<number> {}
    rejects({ items: Items.from([1]) }, /^value\.items is an instance of class Items;/);
    class Bytes extends Uint8Array {}
    rejects({ bytes: new Bytes(2) }, /^value\.bytes is an instance of class Bytes;/);
    rejects({ boxed: new Number(3) }, /^value\.boxed is an instance of class Number;/);
    rejects({ odd: Object.create({ inherited: 1 }) as object }, 'value.odd is an object whose prototype is not Object.prototype; tasks take plain data: pass a plain object');
  });

  void test('weak collections, promises and shared memory', () => {
    rejects({ w: new WeakMap() }, 'value.w is a WeakMap; weak references cannot be copied to another process: use a Map, a Set or plain data');
    rejects({ w: new WeakSet() }, /^value\.w is a WeakSet;/);
    rejects({ w: new WeakRef({}) }, /^value\.w is a WeakRef;/);
    rejects({ p: Promise.resolve(1) }, 'value.p is a Promise; await it before passing it, or pass an ObjectRef');
    rejects({ shared: new SharedArrayBuffer(8) }, /^value\.shared is a SharedArrayBuffer;/);
  });

  void test('getters that throw are reported, not crashed on', () => {
    const value = {
      get broken(): number {
        throw new RangeError('no value today');
      },
    };
    rejects({ outer: [value] }, 'value.outer[0].broken could not be read: reading it threw RangeError: no value today');
  });

  void test('a hook that throws is reported with the path', () => {
    class Odd {}
    const throwing: CodecHooks = {
      ...hooks,
      refOf: () => {
        throw new Error('hook failed');
      },
    };
    assert.throws(() => encodeValue({ x: [new Odd()] }, throwing), { name: 'TypeError', message: 'value.x[0] could not be read: reading it threw Error: hook failed' });
    assertStillWorks();
  });

  void test('a hook that calls encodeValue is refused, and leaves nothing behind', () => {
    class Nested {}
    const reentrant: CodecHooks = {
      ...hooks,
      refOf: (value) => (value instanceof Nested ? encodeValue(1, hooks).refs[0] ?? { objectId: 'o', owner: 'w' } : undefined),
    };
    assert.throws(() => encodeValue({ n: new Nested() }, reentrant), {
      name: 'TypeError',
      message: 'value.n could not be read: reading it threw Error: encodeValue is not re-entrant: a codec hook must not call it',
    });
    assertStillWorks();
  });

  void test('cycles are rejected with the path of the first repeat', () => {
    const self: Record<string, unknown> = { a: 1 };
    self.self = self;
    rejects(self, 'value.self is a cycle: it is the same object as value, which contains it; values must not contain themselves');
    const list: unknown[] = [1];
    const holder = { data: { list } };
    list.push({ back: holder.data });
    rejects(holder, 'value.data.list[1].back is a cycle: it is the same object as value.data, which contains it; values must not contain themselves');
    const map = new Map<string, unknown>();
    map.set('me', [map]);
    rejects({ map }, /^args\[0\]\.map\.get\("me"\)\[0\] is a cycle: it is the same object as args\[0\]\.map,/, 'args[0]');
  });

  void test('shared but acyclic objects are fine, and are encoded twice', () => {
    const shared = { n: 1 };
    const out = decodeValue(encodeValue({ a: shared, b: [shared, shared] }, hooks).body, [], hooks) as { a: object; b: object[] };
    assert.deepStrictEqual(out, { a: { n: 1 }, b: [{ n: 1 }, { n: 1 }] });
    assert.notEqual(out.a, out.b[0]);
  });

  void test('deep nesting is accepted up to maxDepth and rejected beyond', () => {
    const nest = (depth: number): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < depth; i++) value = [value];
      return value;
    };
    const deep = nest(maxDepth);
    assert.deepStrictEqual(decodeValue(encodeValue(deep, hooks).body, [], hooks), deep);
    rejects(nest(maxDepth + 1), new RegExp(`^value(\\[0\\]){${maxDepth}} nests more than ${maxDepth} levels deep$`));
  });

  void test('a value changed by a getter during the encode is still rejected, and leaves nothing behind', () => {
    let reads = 0;
    const sneaky = {
      get later(): unknown {
        reads++;
        return reads === 1 ? 'data' : () => undefined;
      },
    };
    assert.throws(() => encodeValue({ sneaky }, hooks), { name: 'TypeError', message: /^value could not be encoded: changed while it was being encoded/ });
    assertStillWorks();
    let instanceReads = 0;
    const swapsToInstance = {
      get later(): unknown {
        instanceReads++;
        return instanceReads === 1 ? 'data' : new (class Late {})();
      },
    };
    assert.throws(() => encodeValue(swapsToInstance, hooks), { name: 'TypeError', message: /^value could not be encoded: changed while it was being encoded/ });
    assertStillWorks();
  });

  void test('a failed encode leaves no refs or blobs behind for the next one', () => {
    class Ref {
      constructor(readonly id: string) {}
    }
    const refHooks: CodecHooks = {
      ...hooks,
      refOf: (value) => (value instanceof Ref ? { objectId: value.id, owner: 'w' } : undefined),
      makeRef: (marker) => new Ref(marker.objectId),
    };
    let reads = 0;
    const changing = {
      get later(): unknown {
        return ++reads === 1 ? 1 : Symbol('late');
      },
    };
    // The ref and the blob are taken out before msgpackr reaches the value that fails.
    assert.throws(() => encodeValue([new Ref('r1'), new Uint8Array(4096), changing], refHooks, { blobThresholdBytes: 1024 }), TypeError);
    const encoded = encodeValue([new Ref('r2')], refHooks, { blobThresholdBytes: 1024 });
    assert.deepStrictEqual(encoded.refs, [{ objectId: 'r2', owner: 'w' }]);
    assert.deepStrictEqual(encoded.blobs, []);
    assert.deepStrictEqual(decodeValue(encoded.body, encoded.blobs, refHooks), [new Ref('r2')]);
  });
});
