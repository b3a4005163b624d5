/**
 * The bucketed table of the owner's state, against a Map model: any sequence of sets, deletes and
 * changes to entries in place leaves the same entries, mutated in place, under immer's drafts or
 * under immer with own copies (with the same state hash and order), and a write under immer shares
 * every bucket but the one it touched with the previous state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { enablePatches, isDraft, produce } from 'immer';
import { hashState, stableStringify } from '../../../core/hash.js';
import { produceWithOwnCopies } from '../../../core/step.js';
import {
  emptyTable,
  flatTableChanges,
  flatTablePath,
  flatTables,
  tableChanges,
  tableDelete,
  tableEntries,
  tableForEach,
  tableGet,
  tableHas,
  tableKeys,
  tableSet,
  tableSome,
  tableValues,
  splitAt,
  keepTablesInMaps,
} from '../../../core/table.js';
import type { Table } from '../../../core/table.js';
import { assertProperty } from '../../support/property-harness.js';

enablePatches();

type Operation =
  | { kind: 'set'; key: string; value: number }
  | { kind: 'delete'; key: string }
  | { kind: 'bump'; key: string; then: 'set' | 'delete' | 'none' }
  | { kind: 'bumpAll' };

const key = fc.oneof(fc.nat(300).map((n) => `n1.d1.t${n}`), fc.string({ maxLength: 6 }));
const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), key }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('bump' as const), key, then: fc.constantFrom('set' as const, 'delete' as const, 'none' as const) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('bumpAll' as const) }), weight: 1 },
);

/** Applies `op` to `table` (and `model`), as a recipe would: entries read back are changed in place. */
function apply(table: Table<{ value: number; log: number[] }>, op: Operation): boolean | undefined {
  switch (op.kind) {
    case 'set':
      tableSet(table, op.key, { value: op.value, log: [] });
      return undefined;
    case 'delete':
      return tableDelete(table, op.key);
    case 'bump': {
      // An entry read and changed, nested array and all, then written again, removed or left.
      const entry = tableGet(table, op.key);
      if (entry === undefined) return undefined;
      entry.value += 1;
      entry.log.push(entry.value);
      if (op.then === 'set') tableSet(table, op.key, entry);
      if (op.then === 'delete') tableDelete(table, op.key);
      // Read again after the change: the same (changed) entry, or none.
      return tableGet(table, op.key)?.value === (op.then === 'delete' ? undefined : entry.value);
    }
    case 'bumpAll':
      for (const entry of tableValues(table)) entry.value += 1;
      return undefined;
  }
}

function modelApply(model: Map<string, number>, op: Operation): void {
  switch (op.kind) {
    case 'set':
      model.set(op.key, op.value);
      return;
    case 'delete':
      model.delete(op.key);
      return;
    case 'bump': {
      const value = model.get(op.key);
      if (value === undefined) return;
      if (op.then === 'delete') model.delete(op.key);
      else model.set(op.key, value + 1);
      return;
    }
    case 'bumpAll':
      for (const [k, v] of model) model.set(k, v + 1);
      return;
  }
}

/** Every object in `value` is frozen. */
function deepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(deepFrozen);
}

/**
 * `tableChanges` between two states of a table, one stepped from the other under immer, visits
 * exactly the keys whose entries differ, each once, with both entries.
 */
function assertChanges<V>(before: Table<V>, after: Table<V>): void {
  const visited = new Map<string, [V | undefined, V | undefined]>();
  assert.ok(tableChanges(before, after, (key, was, now) => {
    assert.ok(!visited.has(key), `${key} visited twice`);
    visited.set(key, [was, now]);
  }));
  const expected = new Map<string, [V | undefined, V | undefined]>();
  for (const key of new Set([...tableKeys(before), ...tableKeys(after)])) {
    const [was, now] = [tableGet(before, key), tableGet(after, key)];
    if (was !== now) expected.set(key, [was, now]);
  }
  assert.deepEqual([...visited.keys()].sort(), [...expected.keys()].sort(), 'the keys changed');
  for (const [key, [was, now]] of expected) {
    const seen = visited.get(key);
    assert.ok(seen !== undefined && seen[0] === was && seen[1] === now, `${key} visited with its entries before and after`);
  }
}

/** A table holding `count` entries `pre<n>` (and the Map of them), to start a run near the split. */
function prefilled(count: number): { table: Table<{ value: number; log: number[] }>; model: Map<string, number> } {
  const table = emptyTable<{ value: number; log: number[] }>();
  const model = new Map<string, number>();
  for (let n = 0; n < count; n++) {
    tableSet(table, `pre${n}`, { value: n, log: [] });
    model.set(`pre${n}`, n);
  }
  return { table, model };
}

for (const [name, start, runs] of [
  ['small (flat)', 0, 200],
  ['around the split into the tree', splitAt - 30, 25],
  ['split into the tree', splitAt + 200, 8],
] as const) {
void test(`the table holds what a Map holds, in place, under immer and with own copies alike: ${name}`, () => {
  assertProperty(
    `table ${name}`,
    fc.property(fc.array(operation, { maxLength: 400 }), (operations) => {
      const direct = prefilled(start).table;
      // As a live shell keeps its tables: in a Map only, from the start of the run on.
      const backed = prefilled(start).table;
      keepTablesInMaps({ backed });
      let drafted = prefilled(start).table;
      // One empty step first freezes the starting table, as the first step of a replay does.
      let owned = produceWithOwnCopies(prefilled(start).table, () => undefined);
      const initial = owned;
      const initialHash = hashState(initial);
      const model = prefilled(start).model;
      for (const op of operations) {
        const result = apply(direct, op);
        assert.equal(apply(backed, op), result);
        const draftedBefore = drafted;
        const ownedBefore = owned;
        drafted = produce(drafted, (draft) => {
          assert.equal(apply(draft, op), result);
        });
        assertChanges(draftedBefore, drafted);
        owned = produceWithOwnCopies(owned, (draft) => {
          assert.equal(apply(draft, op), result);
          // A read of another entry in the same step (drafted by immer, or copied below a node this
          // step copied), so that steps mix both ways.
          assert.equal(tableGet(draft, 'pre3')?.value, tableGet(direct, 'pre3')?.value);
        });
        assertChanges(ownedBefore, owned);
        if (op.kind === 'delete') assert.equal(result, model.has(op.key));
        if (op.kind === 'bump' && model.has(op.key)) assert.equal(result, true, 'an entry changed in place reads back changed');
        modelApply(model, op);
      }
      for (const table of [direct, drafted, owned, backed]) {
        assert.equal(table.size, model.size);
        assert.deepEqual(new Map(tableEntries(table).map(([k, v]) => [k, v.value])), model);
        assert.deepEqual(tableKeys(table), tableEntries(table).map(([k]) => k));
        assert.deepEqual(tableValues(table), tableEntries(table).map(([, v]) => v));
        const visited: number[] = [];
        tableForEach(table, (v) => visited.push(v.value));
        assert.deepEqual(visited, tableValues(table).map((v) => v.value));
        for (const [k, v] of model) {
          assert.equal(tableGet(table, k)?.value, v);
          assert.ok(tableHas(table, k));
        }
        assert.equal(tableHas(table, 'absent key'), model.has('absent key'));
        assert.equal(tableSome(table, (v) => v.value === 7), [...model.values()].includes(7));
      }
      assert.equal(hashState(drafted), hashState(direct), 'the same operations give the same data in place and under immer');
      assert.equal(hashState(owned), hashState(direct), 'and with own copies');
      assert.deepEqual(tableKeys(drafted), tableKeys(direct), 'and the same iteration order');
      assert.deepEqual(tableKeys(owned), tableKeys(direct), 'with own copies too');
      assert.equal(hashState(backed), hashState(direct), 'a table kept in a Map hashes as its tree would');
      assert.deepEqual(tableKeys(backed), tableKeys(direct), 'and iterates in its order');
      assert.equal(backed.flat === null && backed.nodes === null, true, 'with no tree of its own');
      assert.deepEqual(JSON.parse(JSON.stringify(backed)), JSON.parse(JSON.stringify({ size: direct.size, flat: { entries: Object.fromEntries(tableEntries(direct)) }, nodes: null })), 'its JSON is the flat table of its entries');
      assert.ok(deepFrozen(owned), 'a step with own copies leaves its state frozen, as immer does');
      assert.equal(hashState(initial), initialHash, 'and the states before it as they were');
    }),
    runs,
  );
});
}

void test('with own copies, a write and a changed entry leave the tree undrafted, and copy one path', () => {
  let table = emptyTable<{ value: number; log: number[] }>();
  for (let n = 0; n < 20_000; n++) tableSet(table, `n1.d1.t${n}`, { value: n, log: [] });
  table = produceWithOwnCopies(table, () => undefined);
  const before = objectsIn(table);
  const next = produceWithOwnCopies(table, (draft) => {
    tableSet(draft, 'n1.d1.t20000', { value: 20_000, log: [] });
    const entry = tableGet(draft, 'n1.d1.t5');
    assert.ok(entry !== undefined && !isDraft(entry), 'an entry to change is a copy of its own, not a draft');
    entry.log.push(1);
    assert.equal(isDraft(Reflect.getOwnPropertyDescriptor(draft, 'nodes')?.value), false, 'immer never drafted the tree');
  });
  const fresh = [...objectsIn(next)].filter((object) => !before.has(object));
  const copiedKeys = fresh.reduce((sum, object) => sum + Object.keys(object).length, 0);
  assert.ok(copiedKeys < 200, `${copiedKeys} keys copied`);
  assert.deepEqual(tableGet(next, 'n1.d1.t5')?.log, [1]);
  assert.deepEqual(tableGet(table, 'n1.d1.t5')?.log, [], 'the previous state is unchanged');
  assert.ok(deepFrozen(next));
});

/** Every object reachable from `value`. */
function objectsIn(value: unknown, into = new Set<object>()): Set<object> {
  if (typeof value !== 'object' || value === null || into.has(value)) return into;
  into.add(value);
  for (const child of Object.values(value)) objectsIn(child, into);
  return into;
}

void test('a write under immer copies one path of the tree and shares the rest', () => {
  let table = emptyTable<{ value: number }>();
  table = produce(table, (draft) => {
    for (let n = 0; n < 20_000; n++) tableSet(draft, `n1.d1.t${n}`, { value: n });
  });
  const before = objectsIn(table);
  const next = produce(table, (draft) => {
    tableSet(draft, 'n1.d1.t20000', { value: 20_000 });
    tableDelete(draft, 'n1.d1.t5');
  });
  const fresh = [...objectsIn(next)].filter((object) => !before.has(object));
  // A flat record would be copied whole (20k keys); here two paths of four 16-way nodes and buckets of an entry or two.
  const copiedKeys = fresh.reduce((sum, object) => sum + Object.keys(object).length, 0);
  assert.ok(copiedKeys < 200, `${copiedKeys} keys copied`);
  assert.equal(next.size, 20_000);
  assert.equal(tableGet(next, 'n1.d1.t20000')?.value, 20_000);
  assert.equal(tableGet(next, 'n1.d1.t5'), undefined);
  assert.equal(tableGet(table, 'n1.d1.t5')?.value, 5, 'the previous state is unchanged');
  // Buckets copied under immer stay without a prototype (see newEntries in core/table.ts: a plain
  // record was copied with a spread, whose hidden classes made each copy cost ~0.3 ms at 100k ids).
  const buckets = fresh.filter((object): object is { entries: object } => !Array.isArray(object) && Object.keys(object).join() === 'entries');
  assert.ok(buckets.length >= 2, 'the written and the deleted entries each copied a bucket');
  for (const bucket of buckets) assert.equal(Object.getPrototypeOf(bucket.entries), null);
});

void test('people read tables as flat records: states, breakpoints and patch paths', () => {
  const tasks = emptyTable<{ state: string }>();
  tableSet(tasks, 'n1.d1.t3', { state: 'FAILED' });
  tableSet(tasks, 'n1.d1.t4', { state: 'RUNNING' });
  const flat = flatTables({ tasks, started: true }) as { tasks: Record<string, { state: string }>; started: boolean };
  assert.deepEqual(flat.tasks, { 'n1.d1.t3': { state: 'FAILED' }, 'n1.d1.t4': { state: 'RUNNING' } });
  assert.equal(flat.started, true);
  assert.deepEqual(flatTablePath(['tasks', 'nodes', 1, 2, 3, 4, 'entries', 'n1.d1.t3', 'state']), ['tasks', 'n1.d1.t3', 'state']);
  assert.deepEqual(flatTablePath(['tasks', 'size']), ['tasks', 'size']);
  const changes: { path: (string | number)[]; value: unknown }[] = [];
  produce(
    { tasks: emptyTable<{ state: string }>() },
    (draft) => {
      tableSet(draft.tasks, 'n1.d1.t3', { state: 'FAILED' });
    },
    (forward) => {
      for (const patch of forward) changes.push(...flatTableChanges(patch.path, patch.value));
    },
  );
  // The write made the node path the entry hangs from; it reads as the one entry added.
  assert.deepEqual(
    changes.filter((change) => change.path[1] !== 'size'),
    [{ path: ['tasks', 'n1.d1.t3'], value: { state: 'FAILED' } }],
  );
});

void test("a split table's patches read as flat paths too, through all four levels of its tree", () => {
  const tasks = emptyTable<{ state: string }>();
  for (let n = 0; n <= splitAt; n++) tableSet(tasks, `n1.d1.t${n}`, { state: 'RUNNING' });
  assert.equal(tasks.flat, null);
  const changes: { path: (string | number)[]; value: unknown }[] = [];
  const removed: (string | number)[][] = [];
  produce(
    { tasks },
    (draft) => {
      // A new key in a bucket that may not exist yet, a field of an existing entry, and a removal.
      tableSet(draft.tasks, 'n1.d1.t999999', { state: 'FAILED' });
      const entry = tableGet(draft.tasks, 'n1.d1.t7');
      if (entry !== undefined) entry.state = 'FINISHED';
      tableDelete(draft.tasks, 'n1.d1.t8');
    },
    (forward) => {
      for (const patch of forward) {
        if (patch.op === 'remove') removed.push(flatTablePath(patch.path));
        else changes.push(...flatTableChanges(patch.path, patch.value));
      }
    },
  );
  assert.deepEqual(
    changes.filter((change) => change.path[1] !== 'size').sort((a, b) => String(a.path[1]).localeCompare(String(b.path[1]))),
    [
      { path: ['tasks', 'n1.d1.t7', 'state'], value: 'FINISHED' },
      { path: ['tasks', 'n1.d1.t999999'], value: { state: 'FAILED' } },
    ],
  );
  assert.deepEqual(removed, [['tasks', 'n1.d1.t8']]);
});

void test('a table hashes by its content: split into its tree, as the flat table of the same entries', () => {
  const split = emptyTable<{ value: number }>();
  const entries = Object.create(null) as Record<string, { value: number }>;
  // Inserted in an order that is neither sorted nor the tree's, so that only the content can match.
  for (let n = splitAt * 3; n > 0; n--) {
    const key = `n1.d1.t${(n * 7919) % (splitAt * 4)}`;
    tableSet(split, key, { value: n });
    entries[key] = { value: n };
  }
  assert.equal(split.flat, null, 'the table split into its tree');
  const flat: Table<{ value: number }> = { size: split.size, flat: { entries }, nodes: null };
  assert.equal(hashState({ tasks: split }), hashState({ tasks: flat }));
  assert.notEqual(hashState({ tasks: split }), hashState({ tasks: { ...flat, size: flat.size + 1 } }));
  tableSet(split, 'n1.d1.t0', { value: -1 });
  assert.notEqual(hashState({ tasks: split }), hashState({ tasks: flat }), 'a changed entry changes the hash');
});

void test('a split, a frozen and a Map-kept table write the very text of the flat record of their entries', () => {
  // Keys a record orders its own way (array indices first) and keys JSON escapes: the text sorts them all as strings.
  const keys = ['12', '7', 'n1.d1.t10', 'n1.d1.t9', 'quo"te', 'é', ...Array.from({ length: splitAt + 50 }, (_, n) => `n2.d1.t${(n * 7919) % (splitAt * 4)}`)];
  const tree = emptyTable<{ value: number; absent?: number }>();
  const kept = emptyTable<{ value: number; absent?: number }>();
  keepTablesInMaps({ kept });
  const entries = Object.create(null) as Record<string, { value: number; absent?: number }>;
  keys.forEach((key, n) => {
    for (const table of [tree, kept]) tableSet(table, key, { value: n, absent: undefined });
    entries[key] = { value: n, absent: undefined };
  });
  const flatText = stableStringify({ tasks: { size: tree.size, flat: { entries }, nodes: null } });
  assert.equal(tree.flat, null, 'the tree split');
  assert.equal(stableStringify({ tasks: tree }), flatText);
  assert.equal(stableStringify({ tasks: kept }), flatText);
  assert.equal(stableStringify(Object.freeze({ tasks: Object.freeze(tree) })), flatText, 'a frozen table (no live index) too');
  // A value with no JSON form is named by its path through the flat record, as before.
  tableSet(kept, 'n1.d1.t9', { value: 1, bad: () => 0 } as unknown as { value: number });
  assert.throws(() => stableStringify({ tasks: kept }), /a function at \$\.tasks\.flat\.entries\.n1\.d1\.t9\.bad /);
});

/** How many buckets hang in a split table's tree. */
function bucketCount(table: Table<unknown>): number {
  let count = 0;
  for (const level1 of table.nodes ?? []) for (const level2 of level1 ?? []) for (const level3 of level2 ?? []) for (const bucket of level3 ?? []) if (bucket !== undefined && bucket !== null) count += 1;
  return count;
}

void test('a split table unhangs emptied buckets: ids that come and go leave nothing behind, in place and with own copies', () => {
  // A long-running driver: the table once grew past the split, then ids come and go, a few live at once.
  const churn = (write: (step: (table: Table<{ value: number }>) => void) => void): void => {
    for (let n = 0; n < 30_000; n++) {
      write((table) => {
        tableSet(table, `n1.d1.t${n}`, { value: n });
        if (n >= 50) tableDelete(table, `n1.d1.t${n - 50}`);
      });
    }
  };
  const start = (): Table<{ value: number }> => {
    const table = emptyTable<{ value: number }>();
    for (let n = 0; n <= splitAt; n++) tableSet(table, `pre${n}`, { value: n });
    for (let n = 0; n <= splitAt; n++) tableDelete(table, `pre${n}`);
    return table;
  };
  const direct = start();
  assert.equal(direct.flat, null);
  assert.equal(bucketCount(direct), 0, 'deleting every entry of a split table leaves no bucket');
  churn((step) => step(direct));
  let owned = produceWithOwnCopies(start(), () => undefined);
  churn((step) => {
    owned = produceWithOwnCopies(owned, step);
  });
  for (const table of [direct, owned]) {
    assert.equal(table.size, 50);
    // Kept, emptied buckets made this about 30,000 (one per id ever seen, up to 65,536).
    assert.ok(bucketCount(table) <= 50, `${bucketCount(table)} buckets for 50 entries`);
  }
  assert.deepEqual(tableKeys(owned), tableKeys(direct));
  assert.equal(hashState(owned), hashState(direct));
  // Under immer with patches the buckets stay (the removal is a patch that names its key), and the
  // table still holds, iterates and hashes the same.
  let drafted = start();
  for (let n = 0; n < 2_000; n++) {
    drafted = produce(drafted, (draft) => {
      tableSet(draft, `n1.d1.t${n}`, { value: n });
      if (n >= 50) tableDelete(draft, `n1.d1.t${n - 50}`);
    });
  }
  const shortDirect = start();
  for (let n = 0; n < 2_000; n++) {
    tableSet(shortDirect, `n1.d1.t${n}`, { value: n });
    if (n >= 50) tableDelete(shortDirect, `n1.d1.t${n - 50}`);
  }
  assert.deepEqual(tableKeys(drafted), tableKeys(shortDirect));
  assert.equal(hashState(drafted), hashState(shortDirect));
});

void test('lookups in place leave no trace in the state, and stay right across the split, deletes and a freeze', () => {
  const read = emptyTable<{ value: number }>();
  const unread = emptyTable<{ value: number }>();
  // Looked up from the start (the lookups of a live shell), across the split into the tree.
  for (let n = 0; n < splitAt + 500; n++) {
    for (const table of [read, unread]) tableSet(table, `n1.d1.t${n}`, { value: n });
    assert.equal(tableGet(read, `n1.d1.t${n}`)?.value, n);
    if (n % 3 === 0) {
      for (const table of [read, unread]) tableDelete(table, `n1.d1.t${n}`);
      assert.equal(tableHas(read, `n1.d1.t${n}`), false, 'a deleted key is gone from lookups');
    }
  }
  // A key made again from its characters, as a decoded message's ids are: the same entry.
  assert.equal(tableGet(read, JSON.parse('"n1.d1.t4001"') as string)?.value, 4001);
  tableSet(read, 'n1.d1.t1', { value: -1 });
  tableSet(unread, 'n1.d1.t1', { value: -1 });
  assert.equal(tableGet(read, 'n1.d1.t1')?.value, -1, 'a replaced entry reads as the new one');
  assert.deepEqual(Object.keys(read), Object.keys(unread), 'no field was added to the table');
  assert.equal(JSON.stringify(read), JSON.stringify(unread));
  assert.equal(hashState({ t: read }), hashState({ t: unread }));
  assert.deepEqual(tableKeys(read), tableKeys(unread), 'the same iteration order');
  // Frozen as the first step of a replay freezes it, then read and stepped from under immer.
  const frozen = produceWithOwnCopies(read, () => undefined);
  assert.equal(tableGet(frozen, 'n1.d1.t4001')?.value, 4001);
  const next = produceWithOwnCopies(frozen, (draft) => {
    tableDelete(draft, 'n1.d1.t4001');
    tableSet(draft, 'n1.d1.t7', { value: 70 });
  });
  assert.equal(tableGet(next, 'n1.d1.t4001'), undefined);
  assert.equal(tableGet(next, 'n1.d1.t7')?.value, 70);
  assert.equal(tableGet(frozen, 'n1.d1.t4001')?.value, 4001, 'the state before the step reads as it was');
  assert.equal(tableGet(frozen, 'n1.d1.t7')?.value, 7);
});

void test("a live shell's table kept in a Map cannot be stepped under immer or kept once frozen: it says so", () => {
  const state = { tasks: emptyTable<{ value: number }>(), name: 'owner' };
  tableSet(state.tasks, 'n1.d1.t1', { value: 1 });
  keepTablesInMaps(state);
  assert.equal(tableGet(state.tasks, 'n1.d1.t1')?.value, 1);
  assert.throws(
    () => produce(state, (draft) => void tableGet(draft.tasks, 'n1.d1.t1')),
    /a live shell's table \(kept in a Map, see keepTablesInMaps\) was read during a step under immer/,
  );
  assert.throws(() => produceWithOwnCopies(state, (draft) => tableSet(draft.tasks, 'n1.d1.t2', { value: 2 })), /kept in a Map/);
  assert.equal(tableGet(state.tasks, 'n1.d1.t2'), undefined, 'and the live table is as it was');
  const frozen = produceWithOwnCopies({ tasks: emptyTable<{ value: number }>() }, () => undefined);
  assert.throws(() => keepTablesInMaps(frozen), /a table of this state is frozen/);
});

void test("a table's live index stays its own: a draft of it under immer's own produce neither uses nor changes it, and no copy carries it", () => {
  const state = { tasks: emptyTable<number>() };
  tableSet(state.tasks, 'n1.d1.t1', 1);
  assert.equal(tableGet(state.tasks, 'n1.d1.t1'), 1, 'a lookup in place makes the live index');
  const next = produce(state, (draft) => {
    tableSet(draft.tasks, 'n1.d1.t2', 2);
    tableDelete(draft.tasks, 'n1.d1.t1');
    assert.equal(tableGet(draft.tasks, 'n1.d1.t2'), 2);
    assert.equal(tableHas(draft.tasks, 'n1.d1.t1'), false);
  });
  assert.deepEqual(tableEntries(state.tasks), [['n1.d1.t1', 1]], 'the table the draft started from, and its index, are as they were');
  assert.equal(tableGet(state.tasks, 'n1.d1.t2'), undefined);
  assert.deepEqual(tableEntries(next.tasks), [['n1.d1.t2', 2]]);
  assert.deepEqual(Object.getOwnPropertySymbols(next.tasks), [], "immer's copy carries no index");
  assert.deepEqual(Object.keys({ ...state.tasks }), ['size', 'flat', 'nodes'], 'nor does a spread');
  tableSet(state.tasks, 'n1.d1.t3', 3);
  assert.deepEqual(tableKeys(state.tasks), ['n1.d1.t1', 'n1.d1.t3']);
});

void test("a table kept in a Map that runs empty and fills again shows only its own entries (the Map's floor entry never leaks)", () => {
  const backed = emptyTable<number>();
  keepTablesInMaps({ backed });
  const fresh = emptyTable<number>();
  for (let round = 0; round < 3; round++) {
    tableSet(backed, `n1.d1.t${round}`, round);
    assert.deepEqual(tableEntries(backed), [[`n1.d1.t${round}`, round]]);
    tableDelete(backed, `n1.d1.t${round}`);
    assert.equal(backed.size, 0);
    assert.deepEqual(tableKeys(backed), []);
    assert.equal(tableSome(backed, () => true), false, 'a walk of an empty table visits nothing');
  }
  tableSet(backed, '7', 7);
  tableSet(fresh, '7', 7);
  assert.deepEqual(tableValues(backed), [7], 'a key that is an array index sorts as a record keeps it, and nothing else is walked');
  assert.equal(JSON.stringify(backed), JSON.stringify(fresh));
  assert.equal(hashState({ t: backed }), hashState({ t: fresh }));
});

/** Where each key of a split table sits: its level-3 node (as the path of slots) and its bucket's slot. */
function placements(table: Table<unknown>): Map<string, { node: string; slot: number }> {
  const placed = new Map<string, { node: string; slot: number }>();
  (table.nodes ?? []).forEach((level1, d1) =>
    (level1 ?? []).forEach((level2, d2) =>
      (level2 ?? []).forEach((level3, d3) =>
        (level3 ?? []).forEach((bucket, slot) => {
          for (const key of Object.keys(bucket?.entries ?? {})) placed.set(key, { node: `${d1}.${d2}.${d3}`, slot });
        }),
      ),
    ),
  );
  return placed;
}

/** The most entries one bucket of `table` holds. */
function fullestBucket(table: Table<unknown>): number {
  const perBucket = new Map<string, number>();
  for (const { node, slot } of placements(table).values()) perBucket.set(`${node}/${slot}`, (perBucket.get(`${node}/${slot}`) ?? 0) + 1);
  return Math.max(...perBucket.values());
}

void test("a split table keeps ids minted one after another on one path, and spreads ids of any stride", () => {
  const tasks = emptyTable<number>();
  for (let n = 1; n <= 100_000; n++) tableSet(tasks, `n1.d1.t${n}`, n);
  const placed = placements(tasks);
  // Each run of 16 consecutive ids from a multiple of 16 shares its level-3 node, one id per bucket:
  // a step under immer that adds the next id copies the path the last one copied.
  for (let first = 16; first + 16 <= 100_000; first += 4_016) {
    const run = Array.from({ length: 16 }, (_, offset) => placed.get(`n1.d1.t${first + offset}`));
    assert.equal(new Set(run.map((where) => where?.node)).size, 1, `ids ${first} to ${first + 15} share a level-3 node`);
    assert.equal(new Set(run.map((where) => where?.slot)).size, 16, `ids ${first} to ${first + 15} each have a bucket`);
  }
  assert.ok(fullestBucket(tasks) <= 2, `100k consecutive ids: at most 2 in a bucket (got ${fullestBucket(tasks)})`);
  // The returns of those tasks, and ids whose counters step by a power of 16 or by anything else,
  // still spread over the tree: a write copies one small bucket, whichever ids are live.
  const returns = emptyTable<number>();
  for (let n = 1; n <= 40_000; n++) for (let index = 0; index < 3; index++) tableSet(returns, `n1.d1.t${n}.r${index}`, n);
  assert.ok(fullestBucket(returns) <= 3, `3 returns of 40k tasks: at most 3 in a bucket (got ${fullestBucket(returns)})`);
  for (const stride of [16, 256, 4_096, 65_536, 7, 1_000]) {
    const strided = emptyTable<number>();
    for (let n = 0; n < 20_000; n++) tableSet(strided, `n1.d1.t${n * stride}`, n);
    assert.ok(fullestBucket(strided) <= 5, `20k ids ${stride} apart: at most 5 in a bucket (got ${fullestBucket(strided)})`);
  }
  // The same counters of different owners land apart.
  const owners = emptyTable<number>();
  for (let worker = 1; worker <= 8; worker++) for (let n = 1; n <= 20_000; n++) tableSet(owners, `n1.w${worker}.t${n}`, n);
  assert.ok(fullestBucket(owners) <= 4, `8 owners' 20k ids each: at most 4 in a bucket (got ${fullestBucket(owners)})`);
});
