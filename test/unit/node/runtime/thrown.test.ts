/**
 * A thrown value as data and back: fields, causes and aggregate errors survive as plain data (it
 * structured-clones and goes through JSON), every bound holds and says what it cut.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RemoteError } from '../../../../node/errors.js';
import { maxAggregateErrors, maxCauseDepth, maxErrorFields, maxFieldJsonChars, thrownInfo } from '../../../../node/runtime/thrown.js';

/** The record after a trip through structured clone and JSON, as messages and logs carry it. */
function travelled(thrown: unknown): RemoteError {
  const info = thrownInfo(thrown);
  const copied = structuredClone(info);
  assert.deepEqual(JSON.parse(JSON.stringify(copied)), copied, 'the record is plain JSON data');
  return new RemoteError(copied);
}

void test('fields come back as own properties; what JSON cannot hold is converted, dropped or noted', () => {
  const cyclic: Record<string, unknown> = { label: 'loop' };
  cyclic['self'] = cyclic;
  const error = Object.assign(new Error('boom'), {
    code: 'E_X',
    count: 3,
    when: new Date(0),
    big: 10n ** 20n,
    fn: () => 1,
    cyclic,
    huge: 'x'.repeat(maxFieldJsonChars + 10),
  });
  Object.defineProperty(error, '__proto__', { value: { polluted: true }, enumerable: true });
  const back = travelled(error) as RemoteError & Record<string, unknown>;
  assert.equal(back.message, 'boom');
  assert.equal(back['code'], 'E_X');
  assert.equal(back['count'], 3);
  assert.equal(back['when'], '1970-01-01T00:00:00.000Z');
  assert.equal(back['big'], '100000000000000000000');
  assert.ok(!('fn' in back), 'a function field is dropped');
  assert.match(String(back['cyclic']), /label: 'loop'/, 'a cyclic value comes back printed');
  assert.match(String(back['huge']), /over the 4096-character limit/);
  assert.equal(Object.getPrototypeOf(back), RemoteError.prototype, 'a __proto__ field changes no prototype');
  assert.equal((back as { polluted?: unknown }).polluted, undefined);
});

void test('a long cause chain is cut at the bound, with a note', () => {
  let error = new Error('level 0');
  for (let level = 1; level < 20; level += 1) error = new Error(`level ${level}`, { cause: error });
  let current: unknown = travelled(error);
  const names: string[] = [];
  while (current instanceof Error) {
    names.push(current.name);
    current = current.cause;
  }
  assert.equal(names.length, maxCauseDepth + 1);
  assert.equal(names.at(-1), 'CauseOmitted');
});

void test('an AggregateError keeps its first errors and notes the rest; too many fields are noted', () => {
  const aggregate = new AggregateError(
    Array.from({ length: maxAggregateErrors + 4 }, (_, index) => Object.assign(new Error(`e${index}`), { index })),
    'many',
  );
  const back = travelled(aggregate) as RemoteError & { errors: (Error & { index?: number })[] };
  assert.equal(back.errors.length, maxAggregateErrors + 1);
  assert.equal(back.errors[1]?.index, 1);
  assert.equal(back.errors.at(-1)?.name, 'ErrorsOmitted');

  const crowded = Object.assign(new Error('crowded'), Object.fromEntries(Array.from({ length: maxErrorFields + 5 }, (_, index) => [`f${index}`, index])));
  const crowdedBack = travelled(crowded) as RemoteError & Record<string, unknown>;
  assert.equal(crowdedBack['f0'], 0);
  assert.equal(crowdedBack[`f${maxErrorFields + 1}`], undefined);
  assert.match(String(crowdedBack['tsrayOmittedFields']), /kept 32 of the 37 fields/);
});

void test('a thrown non-Error object keeps its fields', () => {
  const back = travelled({ code: 'E_PLAIN', retry: false }) as RemoteError & Record<string, unknown>;
  assert.equal(back.name, 'NonErrorThrown');
  assert.equal(back['code'], 'E_PLAIN');
  assert.equal(back['retry'], false);
});
