// Tests for the two ways of applying a recipe: in place (the live shell) and under immer (sim, tests, debugger).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantViolation } from '../../../core/assert.js';
import type { ComponentCore } from '../../../core/component.js';
import { hashState } from '../../../core/hash.js';
import { freeze, isDraft, produce } from 'immer';
import { ownerCore } from '../../../core/owner/index.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';
import { applyDirect, applyUnderImmer, brokenInvariants, checkInvariants, produceWithOwnCopies } from '../../../core/step.js';
import { duringImmerStep, readField } from '../../../core/own-copies.js';
import { splitAt, tableGet } from '../../../core/table.js';

interface CounterState {
  total: number;
  byTag: Record<string, number>;
  history: { by: number; tag: string }[];
}
type CounterEvent = { type: 'counter/added'; by: number; tag: string } | { type: 'counter/leaked' } | { type: 'counter/broken' };
type CounterEffect = { type: 'counted'; total: number; last: { by: number; tag: string } } | { type: 'leaked'; tags: unknown };

/** A tiny core: counts, by tag, with a history whose sum must equal the total. */
const counter: ComponentCore<CounterState, CounterEvent, CounterEffect> = {
  kind: 'gcs',
  version: 1,
  initial: () => ({ total: 0, byTag: {}, history: [] }),
  apply: (state, event) => {
    switch (event.type) {
      case 'counter/added': {
        state.total += event.by;
        state.byTag[event.tag] = (state.byTag[event.tag] ?? 0) + event.by;
        state.history.push({ by: event.by, tag: event.tag });
        return [{ type: 'counted', total: state.total, last: { by: event.by, tag: event.tag } }];
      }
      case 'counter/leaked':
        // The bug under test: the draft of byTag escapes the step.
        return [{ type: 'leaked', tags: { inner: [state.byTag] } }];
      case 'counter/broken':
        state.total += 1;
        return [];
    }
  },
  invariants: (state) => {
    const sum = state.history.reduce((acc, entry) => acc + entry.by, 0);
    const broken: string[] = [];
    if (sum !== state.total) broken.push(`total ${state.total} is not the sum of the history (${sum})`);
    if (state.total < 0) broken.push('total is negative');
    return broken;
  },
};

const events: CounterEvent[] = [
  { type: 'counter/added', by: 2, tag: 'b' },
  { type: 'counter/added', by: 3, tag: 'a' },
  { type: 'counter/added', by: -1, tag: 'b' },
];

void test('in place and under immer give equal hashes and effects at every step', () => {
  const direct = counter.initial();
  let immutable = counter.initial();
  for (const event of events) {
    const directEffects = applyDirect(counter, direct, event);
    const step = applyUnderImmer(counter, immutable, event);
    immutable = step.state;
    assert.deepEqual(step.effects, directEffects);
    assert.equal(hashState(step.state), hashState(direct));
    assert.ok(step.patches.length > 0);
  }
  assert.equal(direct.total, 4);
  checkInvariants(counter, immutable, 'after the events');
});

void test('under immer the previous state is untouched', () => {
  const before = counter.initial();
  const step = applyUnderImmer(counter, before, events[0]!);
  assert.equal(before.total, 0);
  assert.equal(step.state.total, 2);
  assert.deepEqual(step.patches.find((patch) => patch.path.join('/') === 'total'), { op: 'replace', path: ['total'], value: 2 });
});

void test('a recipe that leaks a draft into an effect is caught, naming the event', () => {
  const state = applyUnderImmer(counter, counter.initial(), events[0]!).state;
  assert.throws(
    () => applyUnderImmer(counter, state, { type: 'counter/leaked' }),
    (error: unknown) => error instanceof InvariantViolation && /counter\/leaked/.test(error.message) && /\[0\]\.tags\.inner\[0\]/.test(error.message),
  );
});

void test('the state produced under immer is frozen', () => {
  const { state, effects } = applyUnderImmer(counter, counter.initial(), events[0]!);
  assert.throws(() => {
    state.total = 99;
  }, TypeError);
  assert.throws(() => {
    state.history.push({ by: 1, tag: 'x' });
  }, TypeError);
  assert.throws(() => {
    state.byTag['b'] = 7;
  }, TypeError);
  // Effects are the recipe's own fresh objects, not part of the state.
  assert.equal(Object.isFrozen(effects), false);
});

void test('a step with own copies freezes what it made, deep, and leaves frozen what it kept, as immer does', () => {
  class Tally {
    count = 0;
  }
  interface Holder {
    kept: { items: number[] };
    made?: { nested: { list: { at: number }[] }; bytes: Uint8Array; tally: Tally; byKey: Map<string, { n: number }> };
    total: number;
  }
  const base = produceWithOwnCopies<Holder>({ kept: { items: [1, 2] }, total: 0 }, () => undefined);
  const keptBefore = base.kept;
  const next = produceWithOwnCopies(base, (draft) => {
    draft.total = 1;
    draft.made = { nested: { list: [{ at: 1 }] }, bytes: new Uint8Array([1, 2, 3]), tally: new Tally(), byKey: new Map([['a', { n: 1 }]]) };
  });
  const made = next.made!;
  // Everything the step made that immer would freeze is frozen, however deep.
  for (const value of [next, made, made.nested, made.nested.list, made.nested.list[0], made.byKey, made.byKey.get('a')]) assert.ok(Object.isFrozen(value));
  assert.throws(() => made.byKey.set('b', { n: 2 }), /frozen/);
  // What immer does not draft it does not freeze (Object.freeze throws on a typed array with elements).
  assert.equal(Object.isFrozen(made.bytes), false);
  assert.equal(Object.isFrozen(made.tally), false);
  // What the step did not touch is the earlier state's own object.
  assert.equal(next.kept, keptBefore);
  // And the state is the one immer's own produce gives.
  assert.deepEqual(next, produce(base, (draft) => {
    draft.total = 1;
    draft.made = { nested: { list: [{ at: 1 }] }, bytes: new Uint8Array([1, 2, 3]), tally: new Tally(), byKey: new Map([['a', { n: 1 }]]) };
  }));
});

void test('checkInvariants lists every broken invariant with its context', () => {
  const state: CounterState = { total: -3, byTag: {}, history: [] };
  assert.throws(
    () => checkInvariants(counter, state, 'seq 7 gcs counter/broken'),
    (error: unknown) =>
      error instanceof InvariantViolation &&
      error.message.startsWith('seq 7 gcs counter/broken: 2 gcs invariants broken:') &&
      error.message.includes('total is negative') &&
      error.message.includes('not the sum'),
  );
});

void test('a step under immer that changed nothing leaves the state it started from, checked, with no invariant to walk again', () => {
  const walked: CounterState[] = [];
  // The watched core ignores `counter/leaked`, as a recipe ignores a duplicate message.
  const watched: ComponentCore<CounterState, CounterEvent, CounterEffect> = {
    ...counter,
    apply: (state, event) => (event.type === 'counter/leaked' ? [] : counter.apply(state, event)),
    invariants: (state) => (walked.push(state), counter.invariants(state)),
  };
  const before = applyUnderImmer(watched, watched.initial(), { type: 'counter/added', by: 2, tag: 'b' }, { patches: false }).state;
  // An event the recipe ignores: immer gives back the very state it started from.
  const same = applyUnderImmer(watched, before, { type: 'counter/leaked' }, { patches: false });
  assert.equal(same.state, before);
  assert.deepEqual(brokenInvariants(watched, same.state, { state: before }), []);
  assert.equal(walked.length, 0);
  // A state that differs from the checked one is walked, and what it breaks is reported.
  const broken = applyUnderImmer(watched, before, { type: 'counter/broken' }, { patches: false }).state;
  assert.deepEqual(brokenInvariants(watched, broken, { state: before }), ['total 3 is not the sum of the history (2)']);
  assert.deepEqual(walked, [broken]);
});

void test('a submission onto an owner with thousands of queued tasks drafts nothing it only reads, and agrees with the other ways', () => {
  const submission = tinySubmission;
  const direct = ownerCore.initial();
  applyDirect(ownerCore, direct, driverStarted);
  // Past the split into the tree, and more than a page of the class queue; no raylet answers, so
  // the class keeps its ten lease requests and every task waits.
  for (let n = 0; n < splitAt + 100; n++) applyDirect(ownerCore, direct, submission);
  const start = produceWithOwnCopies(structuredClone(direct), () => undefined);
  const drafted: string[] = [];
  const owned = produceWithOwnCopies(start, (draft) => {
    ownerCore.apply(draft, submission);
    // Read without drafting: what immer drafted here, it drafted because the step read it.
    for (const field of ['leases', 'config'] as const) if (isDraft(Reflect.getOwnPropertyDescriptor(draft, field)?.value)) drafted.push(field);
    for (const field of ['tasks', 'objects'] as const) if (isDraft(Reflect.getOwnPropertyDescriptor(draft[field], 'nodes')?.value)) drafted.push(`${field}.nodes`);
    const queue = Object.values(draft.classes)[0]?.queue;
    if (queue !== undefined && isDraft(Reflect.getOwnPropertyDescriptor(queue, 'later')?.value)) drafted.push('queue.later');
  });
  assert.deepEqual(drafted, [], 'the lease records, the config and the tables and queue were read or written without drafts');
  const withPatches = applyUnderImmer(ownerCore, start, submission);
  applyDirect(ownerCore, direct, submission);
  assert.equal(hashState(owned), hashState(direct));
  assert.equal(hashState(withPatches.state), hashState(direct));
  assert.ok(withPatches.patches.length > 0);
  const next = `n1.d1.t${splitAt + 101}`;
  assert.equal(tableGet(owned.tasks, next)?.state, 'PENDING_NODE');
  assert.equal(tableGet(start.tasks, next), undefined, 'the state before is unchanged');
});

void test("own copies read a draft's fields as its property descriptors give them, before and after immer copied it", () => {
  const base: { list: { n: number }[]; record: { a: number; b: number }; gone?: number } = { list: [{ n: 1 }], record: { a: 1, b: 2 }, gone: 3 };
  freeze(base, true);
  // As applyUnderImmer runs its steps: readField looks for drafts only during one.
  duringImmerStep(() => produce(base, (draft) => {
    const seen: string[] = [];
    const check = (container: object, key: string | number, label: string): void => {
      const expected: unknown = Reflect.getOwnPropertyDescriptor(container, key)?.value;
      assert.equal(readField(container, key), expected, `${label}: readField agrees with the descriptor`);
      seen.push(label);
    };
    // Unwritten: the fields are the base object's.
    check(draft, 'list', 'base list');
    check(draft, 'missing', 'a key the draft never had');
    // Written, a child drafted, and a key deleted: the fields are immer's copy's.
    draft.record.a = 5;
    delete draft.gone;
    check(draft, 'record', 'drafted child');
    check(draft.record, 'a', 'written field');
    check(draft, 'gone', 'deleted key');
    // An array draft, read and then written.
    check(draft.list, 0, 'array slot');
    draft.list.push({ n: 2 });
    check(draft.list, 1, 'pushed slot');
    check(draft.list, 'length', 'array length');
    assert.equal(readField(draft.record, 'a'), 5);
    assert.equal(readField(draft, 'gone'), undefined);
    assert.deepEqual(readField(draft.list, 1), { n: 2 });
    assert.equal(seen.length, 8);
  }));
});
