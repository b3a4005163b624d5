// Tests for the deterministic serialisation and state hash that replay relies on to detect divergence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextHasher, hashState, hashStateSized, hashString, stableStringify } from '../../../core/hash.js';

void test('key order does not change the text or the hash', () => {
  const a = { b: 1, a: { y: [1, 2, { q: 1, p: 2 }], x: 's' } };
  const b = { a: { x: 's', y: [1, 2, { p: 2, q: 1 }] }, b: 1 };
  assert.equal(stableStringify(a), stableStringify(b));
  assert.equal(stableStringify(a), '{"a":{"x":"s","y":[1,2,{"p":2,"q":1}]},"b":1}');
  assert.equal(hashState(a), hashState(b));
  assert.match(hashState(a), /^[0-9a-f]{16}$/);
});

void test('hashState hashes exactly the text of stableStringify', () => {
  const value = { s: 'plain', t: 'quo"te\\ é \u0001', m: new Map<number, unknown>([[2, 'b'], [1, { a: [undefined, NaN] }]]), set: new Set(['y', 'x']), u: undefined };
  assert.equal(hashState(value), hashString(stableStringify(value)));
  assert.deepEqual(hashStateSized(value), { hash: hashState(value), chars: stableStringify(value).length });
  assert.equal(stableStringify(value), '{"m":{"$map":[[1,{"a":[null,null]}],[2,"b"]]},"s":"plain","set":{"$set":["x","y"]},"t":"quo\\"te\\\\ é \\u0001"}');
});

void test('a string is hashed as JSON writes it, at every edge of the characters written as they are', () => {
  // The hash checks a string and hashes it in one pass, falling back to JSON's text at the first
  // character JSON escapes (or writes as more than one printable ASCII unit): each edge, alone and
  // inside text, as a key and as a value.
  const edges = [0x00, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0xe9, 0xd83d, 0x2028].map((code) => String.fromCharCode(code));
  for (const edge of edges) {
    for (const text of [edge, `id.${edge}`, `${edge}.t1`, `a${edge}b${edge}`]) {
      const value = { [text]: text, list: [text, 'plain'], '': '' };
      assert.equal(stableStringify(value), JSON.stringify(value, Object.keys(value).sort()), JSON.stringify(text));
      assert.equal(hashState(value), hashString(stableStringify(value)), JSON.stringify(text));
    }
  }
  assert.equal(hashState('plain'), hashString('"plain"'));
  assert.equal(hashState(''), hashString('""'));
});

void test('a number is hashed as JSON writes it, whole numbers digit by digit and any other through its text', () => {
  // Whole numbers from 0 to 2^31 - 1 are hashed without their text; each edge of that range, and
  // numbers on either side of it, must hash as the text JSON gives them.
  const numbers = [0, -0, 1, 9, 10, 11, 99, 100, 101, 999_999_999, 1_000_000_000, 2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -(2 ** 31), 0.5, 1.5, 10.25, 1e-7, 1e21, 123e-20, -0.0001];
  for (const number of numbers) {
    const value = { n: number, list: [number, 7], [String(number)]: number };
    assert.equal(stableStringify(value), JSON.stringify(value, Object.keys(value).sort()), String(number));
    assert.equal(hashState(value), hashString(stableStringify(value)), String(number));
    assert.equal(hashStateSized(value).chars, stableStringify(value).length, String(number));
  }
});

void test('objects at one depth are written by their own keys, whether or not they share the last one\'s', () => {
  // The walk reuses the sorted keys of the last object at a depth when the next one has the same
  // keys in the same order: every other object here differs from the one before it in one way.
  const inherited: Record<string, unknown> = Object.create({ inheritedKey: 'not written' }) as Record<string, unknown>;
  inherited['b'] = 2;
  inherited['a'] = 1;
  const bare = Object.create(null) as Record<string, unknown>;
  bare['b'] = 2;
  bare['a'] = 1;
  const items = [{ b: 2, a: 1 }, { b: 2, a: 1 }, { a: 1, b: 2 }, { b: 2, a: 1, c: 3 }, { b: 2 }, { b: 2, a: 1 }, inherited, { b: 2, a: 1 }, bare, { b: 2, c: 1 }, {}, { b: 2, a: 1 }, { c: 3, a: 1 }];
  const text = stableStringify({ items });
  assert.equal(text, `{"items":[${items.map((item) => JSON.stringify(item, Object.keys(item).sort())).join(',')}]}`);
  assert.ok(!text.includes('inheritedKey'));
  assert.equal(hashState({ items }), hashString(text));
});

void test('undefined properties are omitted and the text is JSON', () => {
  assert.equal(stableStringify({ a: 1, b: undefined }), stableStringify({ a: 1 }));
  assert.equal(stableStringify([1, undefined, 'x\n"']), '[1,null,"x\\n\\""]');
  const value = { z: [true, false, null], n: -2.5, s: 'é\u2028' };
  assert.deepEqual(JSON.parse(stableStringify(value)), value);
});

void test('different states hash differently', () => {
  const hashes = new Set<string>();
  for (let i = 0; i < 2000; i++) hashes.add(hashState({ tasks: { [`t${i % 50}`]: { attempt: i, state: i % 3 === 0 ? 'RUNNING' : 'PENDING' } } }));
  assert.equal(hashes.size, 2000);
  assert.notEqual(hashState({ a: 1 }), hashState({ a: '1' }));
  assert.notEqual(hashState([1, 2]), hashState([2, 1]));
});

void test('Maps and Sets hash by content, not insertion order', () => {
  const a = new Map<string, unknown>([['x', 1], ['y', new Set([1, 2])]]);
  const b = new Map<string, unknown>([['y', new Set([2, 1])], ['x', 1]]);
  assert.equal(hashState({ m: a }), hashState({ m: b }));
  assert.notEqual(hashState({ m: a }), hashState({ m: new Map([['x', 1]]) }));
});

void test('a shared object is fine but functions, symbols, bigints and cycles are rejected', () => {
  const shared = { k: 1 };
  assert.equal(stableStringify({ a: shared, b: shared }), '{"a":{"k":1},"b":{"k":1}}');
  assert.throws(() => stableStringify({ a: { f: () => 1 } }), (error: unknown) => error instanceof TypeError && /function at \$\.a\.f/.test(error.message));
  assert.throws(() => stableStringify({ s: Symbol('x') }), TypeError);
  assert.throws(() => stableStringify({ n: 1n }), TypeError);
  const cyclic: Record<string, unknown> = { x: [] };
  (cyclic['x'] as unknown[]).push(cyclic);
  assert.throws(() => hashState(cyclic), (error: unknown) => error instanceof TypeError && /cycle at \$\.x\[0\]/.test(error.message));
  assert.throws(() => stableStringify(undefined), TypeError);
});

void test('TextHasher over ASCII bytes gives hashString of their text, and tells non-ASCII bytes apart', () => {
  const text = '{"seq":1,"address":"gcs","event":{"type":"gcs/started"}}';
  const bytes = new TextEncoder().encode(`xx${text}yy`);
  const hasher = new TextHasher();
  assert.equal(hasher.put('0123456789abcdef\n').putAscii(bytes, 2, 2 + text.length), true);
  assert.equal(hasher.put('}').digest(), hashString(`0123456789abcdef\n${text}}`));
  const digest = new TextEncoder().encode(hashString(`0123456789abcdef\n${text}}`));
  assert.equal(hasher.matchesHex(digest, 0), true);
  digest[15] = digest[15] === 0x30 ? 0x31 : 0x30;
  assert.equal(hasher.matchesHex(digest, 0), false);
  // The same hasher serves again after a reset, as a new one.
  assert.equal(hasher.reset().put('abc').digest(), hashString('abc'));
  assert.equal(hasher.reset().putAscii(new TextEncoder().encode('é'), 0, 2), false);
});
