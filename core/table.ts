/**
 * A keyed table as plain data, so that it hashes, replays and drafts under immer like the rest of a
 * state. Under immer, writing one entry of a record copies, freezes and diffs the whole record, so a
 * table that grew past `splitAt` entries hangs its buckets from a fixed four-level tree of 16-slot
 * nodes (65,536 buckets, placed by the key's counter: see `hashOf`): a write copies four nodes of
 * 16 slots and one small bucket (about size / 65,536 entries; one or two at 100k entries). A small
 * table is one flat bucket, because a lookup there is faster than a walk down the tree, and the live
 * reducers look entries up on every event (splitting at 64 entries instead made them a quarter slower).
 *
 * Why this shape, measured in V8 (frozen objects, as immer leaves them): immer's cost per write
 * grows with the width of every object it copies, and a bucket (a record without a prototype) is
 * copied key by key; so buckets stay small and nodes are short packed arrays. With three levels
 * (4,096 buckets), a write at 100k entries copied a bucket of 25 keys, and a write under immer took
 * about 57 µs; with four, about 38 µs. The price is memory while most buckets hold one entry:
 * measured on an owner's tasks and objects, about 150 bytes more per entry at 20k entries than with
 * three levels, 65 at 100k, 26 at 300k (keys placed by a hash then: placed by their counters,
 * consecutive ids fill one level-3 node before the next, so a table of 20k makes a third of the nodes).
 *
 * `Object.isFrozen` of a record with hundreds of keys checks every key, which immer asks of every
 * child of what it freezes: another reason nodes are small, and why a bucket is a one-field object
 * whose `entries` record sits one level down.
 *
 * Nodes are made with their first entry and then kept, even when emptied (there are at most 4,369);
 * a bucket of the tree goes when its last entry does (except under immer with patches: see
 * `unhangsBuckets`), and a flat table's bucket stays (telling that a record of thousands of keys is
 * empty costs O(keys) in V8). A flat table iterates in insertion order; a split one slot
 * by slot, and within a bucket in insertion order. Either way the order is a fixed function of the
 * operations applied, the same whether the table was mutated in place or under immer; it is not
 * the table's insertion order once split, so callers that owe an order to their users (listings)
 * sort by what they mean. The state hash (core/hash.ts) reads a table by its content, as the flat
 * table of the same entries, so that the tree's shape (and `splitAt`) can change without changing
 * any state's hash.
 *
 * In a step under immer without patches, the functions below copy their own nodes instead of having
 * immer draft them (see core/own-copies.ts): a write at 100k entries then costs a few short copies
 * rather than seven drafts.
 */
import { isDraft } from 'immer';
import { mayBeDraft, noteEntered, ownCopiesFor, readField, thawedDeep, writableField } from './own-copies.js';

/**
 * A tree node: 16 slots (4 bits of the hash per level), all present from the start (undefined
 * until used), so that every node is a packed array of one shape and a lookup is four indexed
 * loads. (Nodes as records keyed by letters made each lookup a megamorphic keyed load, and halved
 * the speed of the live reducers.)
 * A slot read back from JSON is null rather than undefined; the code treats both as empty, and the
 * state hash writes both as null.
 */
export type Slots<T> = (T | undefined)[];

/**
 * How many entries a table holds in one flat bucket before it splits into the tree. Small tables
 * stay flat because a lookup in one record is faster than a walk down the tree, and the live
 * reducers look up entries on every event; a step under immer copies at most this many entries of
 * a flat table.
 */
export const splitAt = 4096;

/**
 * The table's data. While it is small (`splitAt`), `flat.entries[key]` holds the entry of `key` and
 * `nodes` is null; once it grew past that, `flat` is null and `nodes[d1][d2][d3][d4].entries[key]`
 * holds it, where d1 to d4 are 4-bit digits of a hash of `key`. A table never goes back to flat.
 */
export interface Table<V> {
  /** How many entries the table holds. */
  size: number;
  /** The one bucket of a small table, iterated in insertion order. */
  flat: Bucket<V> | null;
  /** The four-level tree of buckets of a large table. */
  nodes: Slots<Slots<Slots<Slots<Bucket<V>>>>> | null;
}

/**
 * One bucket. The entries sit one level down so that the bucket itself is a one-field object (see
 * above: V8 checks every key of a large record when asked whether it is frozen).
 */
export interface Bucket<V> {
  entries: Record<string, V>;
}

/** A node with every slot empty. */
function emptySlots<T>(): Slots<T> {
  // A literal, not `new Array(16)`: that would be a holey array, slower to read and copied differently.
  return [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
}

/**
 * A bucket's `entries` record: one without a prototype. V8 keeps such a record in dictionary mode,
 * and immer copies it (on a write under a draft) with `Object.create(null)` and `Object.assign`,
 * which stays in dictionary mode. A plain `{}` would be copied with a spread, which gives the copy a
 * hidden class per key; since no two buckets share their keys (task and object ids), every copy
 * built a chain of new hidden classes off the empty object's, which grew with every id ever seen:
 * with 100k live tasks, copying a bucket of 25 entries took about 0.3 ms.
 */
function newEntries<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/** An empty table. */
export function emptyTable<V>(): Table<V> {
  return { size: 0, flat: { entries: newEntries<V>() }, nodes: null };
}

/** How many characters before a key's counter (or at the end of a key without one) the hash reads: ids differ there, and every lookup pays for each. */
const hashedChars = 8;

/** The most trailing digits read as a key's counter: nine always fit in a 32-bit integer. */
const maxCounterDigits = 9;

/** The 16-bit golden-ratio multiplier, which spreads the returns of one task (`….r<i>`) over the tree. */
const returnIndexSpread = 0x9e37;

/** An FNV-1a hash of `key`'s UTF-16 code units from `from` to `to`, high bits folded in. */
function fnvOf(key: string, from: number, to: number): number {
  let hash = 0x811c9dc5;
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619);
  return hash ^ (hash >>> 16);
}

/** Where the run of digits that ends at `end` (exclusive) starts, at most `maxCounterDigits` back; `end` when there is none. */
function digitsStart(key: string, end: number): number {
  let start = end;
  while (start > 0 && end - start < maxCounterDigits) {
    const code = key.charCodeAt(start - 1);
    if (code < 48 || code > 57) break;
    start -= 1;
  }
  return start;
}

/** The decimal number `key` spells from `from` to `to` (digits only, at most `maxCounterDigits`). */
function numberIn(key: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) value = value * 10 + (key.charCodeAt(i) - 48);
  return value;
}

/** Four well-mixed bits of `value` (Fibonacci hashing: the top bits of a product with the golden ratio). */
function spreadOf(value: number): number {
  return Math.imul(value, 0x9e3779b1) >>> 28;
}

/**
 * Where `key` goes in the tree, 4 bits per level (the root's slot in the lowest 4, the bucket's in
 * bits 12-15). An id ends in a counter its owner counts up (`n1.d1.t7`, `n1.d1.t7.r0`, `n1.w3`), and
 * the counter picks the slots: its bits above the lowest 4 pick the path (the root's slot from the
 * highest), and its lowest 4 the bucket. So the ids an owner mints one after another go into the
 * same level-3 node, and the same path above it, 16 at a time, and 65,536 consecutive ids fill every
 * bucket once. A step under immer copies the path to what it writes (core/own-copies.ts): with a
 * hash of the whole key, every new id took a path through nodes no recent step had touched, each one
 * a cache miss at 100k live tasks, and immer replay of submissions ran about 30% slower (P7b in
 * bench/). Each slot's digit is mixed with the digits above it (and the lowest 16 bits with the
 * counter's higher ones), which keeps a run of 16 together but spreads counters that are multiples
 * of a power of 16 (the one task in 16 still live, say) over the whole tree. A hash of the characters
 * before the counter (the owner, and the kind of id) is folded into every slot, so that the same
 * counter of different owners or kinds lands elsewhere. A key without a trailing counter is hashed whole.
 */
function hashOf(key: string): number {
  let end = key.length;
  let start = digitsStart(key, end);
  if (start === end) return fnvOf(key, Math.max(0, end - hashedChars), end);
  let returnSpread = 0;
  // A return id, `<taskId>.r<i>`: placed by its task's counter, with the index spread over the tree.
  if (start >= 3 && key.charCodeAt(start - 1) === 0x72 /* r */ && key.charCodeAt(start - 2) === 0x2e /* . */) {
    const taskStart = digitsStart(key, start - 2);
    if (taskStart < start - 2) {
      returnSpread = Math.imul(numberIn(key, start, end), returnIndexSpread) & 0xffff;
      end = start - 2;
      start = taskStart;
    }
  }
  const value = numberIn(key, start, end) + returnSpread;
  const counter = (value ^ (Math.imul(Math.floor(value / 0x10000), 0x9e3779b1) >>> 16)) & 0xffff;
  const slots = (counter >>> 12) | ((((counter >>> 8) & 15) ^ spreadOf(counter >>> 12)) << 4) | ((((counter >>> 4) & 15) ^ spreadOf(counter >>> 8)) << 8) | (((counter & 15) ^ spreadOf(counter >>> 4)) << 12);
  return (slots ^ fnvOf(key, Math.max(0, start - hashedChars), start)) & 0xffff;
}

/** The bucket `key` belongs in, or undefined when it was never made. */
function bucketOf<V>(table: Table<V>, key: string): Bucket<V> | undefined {
  if (table.flat !== null) return table.flat;
  const hash = hashOf(key);
  return nodesOf(table)[hash & 15]?.[(hash >>> 4) & 15]?.[(hash >>> 8) & 15]?.[(hash >>> 12) & 15] ?? undefined;
}

/**
 * Each table mutated in place, with a `Map` of its entries by key beside it: a lookup there costs one
 * hash of the key, where the table's own path costs four node loads, a bucket and a record lookup,
 * and each of them is a cache miss in a table of 100k entries (about 600 ns a lookup, against 100
 * in a `Map`). A record lookup also has V8 intern a key it has not seen (an id just decoded from a
 * message), about 300 ns more, which a `Map` never does.
 *
 * The index hangs off the table under a symbol that is not enumerable (`indexKey`), outside what the
 * state's fields show, so the state's shape, hash and iteration order are what they were. It is made
 * at the first lookup of a table that is neither frozen nor read during a step under immer (nor a
 * draft), and kept in step by `tableSet` and `tableDelete`; nothing else writes a table's entries.
 * A frozen table (an earlier state, read by the debugger) never changes, so it needs none, and a
 * step under immer writes copies, never the table an index was made for.
 *
 * A live shell's tables go further (`keepTablesInMaps`): their entries are kept in the index only,
 * and the table's own tree is dropped (`flat` and `nodes` both null, a shape no other table has).
 * Writing an entry into the tree cost the driver about 2 µs per new id in a split table (a bucket
 * made, and the key interned), twice per tiny task and per actor call; a `Map` does neither. Such a
 * table reads, hashes (core/hash.ts) and iterates as the tree of the same operations would: `split`
 * says whether that tree would have split, and iteration sorts the entries into its order. It can
 * never be a base for immer: the table functions throw when they meet one under a draft.
 */
class LiveIndex<V> {
  /**
   * The entries by key, in the order they were added (as a record keeps its keys), after `floor`,
   * which every index holds first and never gives up (see there): walks skip it.
   */
  readonly entries = indexMap<V>();
  /** Whether the table's entries are here only (see `keepTablesInMaps`). */
  backed = false;

  constructor(
    /**
     * The table this index was made for. A read of `indexKey` through a draft of that table (made by
     * immer's own `produce`, outside core/step.ts's steps) finds this index too; it is not the draft's.
     */
    readonly table: object,
    /** For a backed table: whether the tree of the same operations would have split (it grew past `splitAt`). */
    public split: boolean,
  ) {}
}

/**
 * The key under which a table holds its live index, as a property of its own that is not enumerable:
 * spreads, `Object.assign`, JSON, the state hash and immer's copies never carry it. A property read
 * where a `WeakMap` of tables cost a lookup by the table's identity: 13 per tiny task on a driver's
 * main thread, beside its 7 lookups of keys (`tableGet` alone measured 13 ns a call against 23). An
 * index is a class instance, which immer never drafts, so a draft's read of it returns it as it is,
 * and `indexHeldBy` tells it is the table's, not the draft's.
 */
const indexKey: unique symbol = Symbol('tsray table index');

/** A table as it may hold its live index. */
type Indexed<V> = Table<V> & { readonly [indexKey]?: LiveIndex<V> };

/**
 * The live index `table` holds, if any. During a step under immer, a draft is not asked: the read
 * would be a call of immer's trap.
 */
function indexHeldBy<V>(table: Table<V>): LiveIndex<V> | undefined {
  return mayBeDraft() && isDraft(table) ? undefined : ownIndex(table);
}

/** The index under `indexKey` when it was made for `table` itself (a draft reads its base's through). */
function ownIndex<V>(table: Table<V>): LiveIndex<V> | undefined {
  const index = (table as Indexed<V>)[indexKey];
  return index !== undefined && index.table === table ? index : undefined;
}

/**
 * A key no table has (a symbol, where every table key is a string), held first by every index's
 * `Map` so that the `Map` never runs empty. V8 shrinks a `Map` whose deletes leave it under a quarter
 * of its capacity, and grows it again when it fills, each a call into the runtime that makes a new
 * backing store: a table that goes from one entry to none and back (a worker's one execution at a
 * time, a driver's task awaited alone) paid both on every entry, about 0.5 µs per delete measured.
 * With the floor's entry, the smallest `Map` (capacity 4) never falls under its quarter.
 */
const floor: unique symbol = Symbol('tsray table floor');

/** A new index `Map`, holding `floor`. */
function indexMap<V>(): Map<string | typeof floor, V> {
  return new Map<string | typeof floor, V>([[floor, undefined as V]]);
}

/** The live index of `table` (made now if it has none), or undefined when `table` may be a draft or is frozen. */
function liveIndex<V>(table: Table<V>): LiveIndex<V> | undefined {
  if (mayBeDraft()) return undefined;
  const index = ownIndex(table);
  if (index !== undefined) return index;
  // Asked only here: `Object.isExtensible` is a call into the runtime (about 150 ns), and a table
  // frozen after its index was made never changes again, so the index stays right. A draft of
  // immer's own `produce` gets none: its writes land in immer's copies, which no index would follow.
  if (!Object.isExtensible(table) || isDraft(table)) return undefined;
  return indexTable(table);
}

/** Makes and keeps `table`'s index, from its tree. */
function indexTable<V>(table: Table<V>): LiveIndex<V> {
  const made = new LiveIndex<V>(table, table.flat === null);
  const entries = made.entries;
  eachBucket(table, (bucket) => {
    const record = bucket.entries;
    for (const key in record) entries.set(key, record[key] as V);
  });
  Object.defineProperty(table, indexKey, { value: made, enumerable: false });
  return made;
}

/**
 * Keeps every table among `state`'s own fields in a `Map` only, from now on (see `LiveIndex`): for
 * a live shell's state, which is applied to in place and never handed to immer. The entries, size,
 * hash and iteration order stay what they were.
 *
 * @throws TypeError when a table is frozen (an earlier state, which must stay as it is).
 */
export function keepTablesInMaps(state: unknown): void {
  if (typeof state !== 'object' || state === null) return;
  for (const value of Object.values(state)) {
    if (!isTable(value) || isBacked(value)) continue;
    if (!Object.isExtensible(value)) throw new TypeError('keepTablesInMaps: a table of this state is frozen; keep tables in maps only for a live shell\'s own state');
    const index = indexHeldBy(value) ?? indexTable(value);
    index.backed = true;
    index.split = value.flat === null;
    value.flat = null;
    value.nodes = null;
    // So that `JSON.stringify` of the state still shows the entries: as the flat table of them, as
    // the state hash reads any table. Not enumerable, so the table's own fields are still its three.
    Object.defineProperty(value, 'toJSON', {
      value(this: Table<unknown>) {
        return flatTableOf(this);
      },
      enumerable: false,
    });
  }
}

/**
 * The flat table holding `table`'s entries, however it keeps them: how the state hash reads a table
 * (core/hash.ts), and the JSON of a table kept in a `Map`.
 */
export function flatTableOf<V>(table: Table<V>): Table<V> {
  const entries = newEntries<V>();
  for (const [key, value] of tableEntries(table)) entries[key] = value;
  return { size: table.size, flat: { entries }, nodes: null };
}

/**
 * Calls `visit` with each of `table`'s entries in ascending order of their keys' UTF-16 code units
 * (the order `Array.prototype.sort` gives strings): how the state hash (core/hash.ts) writes a split
 * or Map-kept table, in the order the sorted keys of its flat record would come. The record itself
 * is never built: made for a driver's table of 200k entries, it interned every key anew and cost
 * about a second of its shutdown. Only the list of keys is made; each value is looked up as it is
 * visited.
 */
export function forEachEntryByKey<V>(table: Table<V>, visit: (key: string, value: V) => void): void {
  const entries = indexHeldBy(table)?.entries;
  const keys: string[] = [];
  if (entries !== undefined) {
    for (const key of entries.keys()) if (key !== floor) keys.push(key);
  } else {
    eachBucket(table, (bucket) => {
      for (const key in bucket.entries) keys.push(key);
    });
  }
  // Sorted without a comparator: the engine's own string order, with no call into script per comparison.
  keys.sort();
  for (const key of keys) visit(key, (entries === undefined ? (bucketOf(table, key) as Bucket<V>).entries[key] : entries.get(key)) as V);
}

/** Whether `table` keeps its entries in its live index only (`keepTablesInMaps`). */
function isBacked<V>(table: Table<V>): boolean {
  return table.flat === null && table.nodes === null;
}

/** The tree of a split table; throws for a table kept in a `Map`, met where only a tree will do (under immer). */
function nodesOf<V>(table: Table<V>): NonNullable<Table<V>['nodes']> {
  const nodes = table.nodes;
  if (nodes === null || nodes === undefined) {
    throw new TypeError("a live shell's table (kept in a Map, see keepTablesInMaps) was read during a step under immer; step a state the reducers built from events instead");
  }
  return nodes;
}

/**
 * A backed table's keys in the order its tree would iterate them: insertion order while it would be
 * flat; once split, bucket by bucket in slot order, and within a bucket in insertion order. Either
 * way keys that are array indices come first in a record, in ascending order, so they do here.
 */
function backedKeys<V>(index: LiveIndex<V>): string[] {
  const keys: string[] = [];
  for (const key of index.entries.keys()) if (key !== floor) keys.push(key);
  const ranked = keys.map((key, position) => ({ key, bucket: index.split ? bucketRank(key) : 0, position: isArrayIndex(key) ? Number(key) - 2 ** 32 : position }));
  // Array.prototype.sort is stable, but the positions make every rank distinct anyway.
  ranked.sort((a, b) => a.bucket - b.bucket || a.position - b.position);
  return ranked.map((entry) => entry.key);
}

/** Whether some key of `entries` is an array index. */
function hasArrayIndexKey(entries: Map<string | typeof floor, unknown>): boolean {
  for (const key of entries.keys()) if (key !== floor && isArrayIndex(key)) return true;
  return false;
}

/** Where `key`'s bucket comes in a walk of the tree: its four digits, the first level's most significant. */
function bucketRank(key: string): number {
  const hash = hashOf(key);
  return ((hash & 15) << 12) | (((hash >>> 4) & 15) << 8) | (((hash >>> 8) & 15) << 4) | ((hash >>> 12) & 15);
}

/** Whether a record treats `key` as an array index (listed first, in ascending order). */
function isArrayIndex(key: string): boolean {
  // Ids start with a letter: one character tells, where the pattern would cost a match per key.
  const first = key.charCodeAt(0);
  if (first < 48 || first > 57) return false;
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/**
 * The entry of `key`, or undefined. In a step with own copies (core/own-copies.ts), an entry read
 * through nodes this step has not copied comes as immer's draft, as without own copies: a draft
 * copies nothing until written, where a copy of the entry (about ten objects for a task) costs more
 * than the drafts on its way. Below a node this step copied, immer cannot draft, so the entry is
 * copied, deep, to be changed in place.
 */
export function tableGet<V>(table: Table<V>, key: string): V | undefined {
  const index = liveIndex(table);
  if (index !== undefined) return index.entries.get(key);
  const value = bucketOf(table, key)?.entries[key];
  // A draft, an entry made in this step, or none: as it is.
  if (!ownCopiesFor(table) || typeof value !== 'object' || value === null || !Object.isFrozen(value)) return value;
  const entries = writablePath(table, key);
  if (entries === undefined || isDraft(entries)) return entries?.[key];
  const copy = thawedDeep(value);
  entries[key] = copy;
  noteEntered(copy);
  return copy;
}

/** Whether `key` has an entry. */
export function tableHas<V>(table: Table<V>, key: string): boolean {
  const index = liveIndex(table);
  if (index !== undefined) return index.entries.has(key);
  const bucket = bucketOf(ownCopiesFor(table) ? rawView(table) : table, key);
  return bucket !== undefined && Object.hasOwn(bucket.entries, key);
}

/** Sets the entry of `key` (added at the end of its bucket when new, left in place when replaced). */
export function tableSet<V>(table: Table<V>, key: string, value: V): void {
  const index = indexHeldBy(table);
  if (index !== undefined) {
    const entries = index.entries;
    if (index.backed) {
      const before = entries.size;
      entries.set(key, value);
      // A new entry: the tree of the same operations would split as it grew past `splitAt`.
      if (entries.size !== before && ++table.size > splitAt) index.split = true;
      return;
    }
    entries.set(key, value);
  }
  const owned = ownCopiesFor(table);
  if (owned) {
    // Where the bucket exists and no split is due, the write goes straight into the entries record
    // that `writablePath` made writable: reading `flat` and `nodes` again through the table's draft
    // would cost a proxy trap each, and hashing the key twice. Below, the entry may land in a copy too.
    noteEntered(value);
    const entries = writablePath(table, key);
    if (entries !== undefined && !isDraft(entries)) {
      if (Object.hasOwn(entries, key)) {
        entries[key] = value;
        return;
      }
      // The size is read past the draft too (a number, never drafted): the proxy's get trap was two
      // of the four a submission's step at 100k live tasks went through per table.
      const size = readField(table, 'size') as number;
      if (size < splitAt || readField(table, 'flat') === null) {
        entries[key] = value;
        table.size = size + 1;
        return;
      }
    }
  }
  const flat = table.flat;
  if (flat !== null) {
    if (Object.hasOwn(flat.entries, key)) {
      flat.entries[key] = value;
      return;
    }
    if (table.size < splitAt) {
      flat.entries[key] = value;
      table.size += 1;
      return;
    }
    split(table, flat);
  }
  const hash = hashOf(key);
  const level1 = (nodesOf(table)[hash & 15] ??= newSlots(owned));
  const level2 = (level1[(hash >>> 4) & 15] ??= newSlots(owned));
  const level3 = (level2[(hash >>> 8) & 15] ??= newSlots(owned));
  const fourth = (hash >>> 12) & 15;
  const bucket = level3[fourth];
  if (bucket === undefined || bucket === null) {
    const entries = newEntries<V>();
    entries[key] = value;
    const made = { entries };
    level3[fourth] = made;
    // With own copies, the node it hangs in may be one of the step's copies.
    if (owned) noteEntered(made);
    table.size += 1;
    return;
  }
  if (!Object.hasOwn(bucket.entries, key)) table.size += 1;
  bucket.entries[key] = value;
}

/** A node with every slot empty, to be hung in the tree; told to own copies (`owned`), whose copy may hold it. */
function newSlots<T>(owned: boolean): Slots<T> {
  const slots = emptySlots<T>();
  if (owned) noteEntered(slots);
  return slots;
}

/** Moves a flat table's entries into the tree, in their order. */
function split<V>(table: Table<V>, flat: Bucket<V>): void {
  const entries = flat.entries;
  table.flat = null;
  table.nodes = emptySlots();
  table.size = 0;
  for (const key in entries) tableSet(table, key, entries[key] as V);
}

/** Removes the entry of `key`; returns whether there was one. */
export function tableDelete<V>(table: Table<V>, key: string): boolean {
  const index = indexHeldBy(table);
  if (index?.backed === true) {
    if (!index.entries.delete(key)) return false;
    table.size -= 1;
    return true;
  }
  if (ownCopiesFor(table)) {
    if (!tableHas(table, key)) return false;
    writablePath(table, key);
  }
  const bucket = bucketOf(table, key);
  if (bucket === undefined || !Object.hasOwn(bucket.entries, key)) return false;
  index?.entries.delete(key);
  table.size -= 1;
  delete bucket.entries[key];
  if (unhangsBuckets(table) && isEmptyRecord(bucket.entries)) dropBucket(table, key);
  return true;
}

/**
 * Whether a delete unhangs its emptied bucket: in a split table, written in place (the live shells)
 * or with own copies (immer without patches: the simulator and tests). Under immer with patches (the
 * debugger's replay), the bucket stays, so that the entry's removal is a patch of its own, which
 * names the key; unhung, the bucket's changes would not be recorded. Either way the table holds and
 * iterates the same entries, and hashes the same.
 */
function unhangsBuckets<V>(table: Table<V>): boolean {
  if (ownCopiesFor(table)) return readField(table, 'flat') === null;
  return !isDraft(table) && table.flat === null;
}

/** Whether `record` has no keys: O(1) whatever its size (the first key ends the walk). */
export function isEmptyRecord(record: object): boolean {
  for (const _ in record) return false;
  return true;
}

/**
 * Unhangs the emptied bucket of `key` from the tree. A split table's keys spread over 65,536
 * buckets by hash, and ids are never reused: kept, emptied buckets piled up as a long-running
 * driver's tasks came and went (about 240 bytes each, 6 MiB per 20k tasks over the owner's tables,
 * until every bucket existed). A bucket made again later gets its keys in the same order, so the
 * table iterates as before. Nodes stay: there are at most 4,369 of them.
 */
function dropBucket<V>(table: Table<V>, key: string): void {
  const hash = hashOf(key);
  const level3 = table.nodes?.[hash & 15]?.[(hash >>> 4) & 15]?.[(hash >>> 8) & 15];
  if (level3 !== undefined && level3 !== null) level3[(hash >>> 12) & 15] = undefined;
}

/** Calls `visit` with each bucket, in the table's iteration order. */
function eachBucket<V>(table: Table<V>, visit: (bucket: Bucket<V>) => void): void {
  if (table.flat !== null) {
    visit(table.flat);
    return;
  }
  for (const level1 of nodesOf(table)) {
    if (level1 === undefined || level1 === null) continue;
    for (const level2 of level1) {
      if (level2 === undefined || level2 === null) continue;
      for (const level3 of level2) {
        if (level3 === undefined || level3 === null) continue;
        for (const bucket of level3) if (bucket !== undefined && bucket !== null) visit(bucket);
      }
    }
  }
}

/**
 * Calls `visit` with each entry, in the table's iteration order, until it returns true. A table kept
 * in a `Map` is walked in the order its tree would have (`backedKeys`).
 */
function eachEntry<V>(table: Table<V>, visit: (key: string, value: V) => boolean | void): void {
  // Outside a step under immer, a table changed in place gets its index here if no lookup made one
  // yet, as `tableGet` would: a simulated driver's flat tables of up to 4,096 entries were walked
  // record by record after each of its direct steps, 2,048 walks of about 3,000 entries in one run.
  const index = mayBeDraft() ? indexHeldBy(table) : liveIndex(table);
  if (index !== undefined && (index.backed ? !index.split : table.flat !== null) && !hasArrayIndexKey(index.entries)) {
    // A flat table's order is its record's, which is the Map's own: walked in place, with no list of
    // keys made (the owner walks its few executions at every push and reply), and without a walk of
    // the record, which V8 keeps in dictionary mode: 41-142 ns per key against 7-19 in a Map, measured
    // at 1,000 and 3,000 keys (the simulator's invariants walk every task after every direct step).
    // `visit` adds and removes nothing.
    for (const [key, value] of index.entries) if (key !== floor && visit(key, value) === true) return;
    return;
  }
  if (index?.backed === true) {
    for (const key of backedKeys(index)) if (visit(key, index.entries.get(key) as V) === true) return;
    return;
  }
  let stopped = false;
  eachBucket(table, (bucket) => {
    const entries = bucket.entries;
    // The keys as a list rather than for...in, in the same order: a bucket is a record without a
    // prototype in V8's dictionary mode, where for...in cost 152 ns a bucket of one to three keys
    // and Object.keys 117. A walk of a frozen split table of 10,000 entries (as the simulator's
    // driver walks its objects at every worker's exit) took 0.96 ms against 1.13-1.21 (three
    // alternated runs of each).
    const keys = Object.keys(entries);
    for (let index = 0; index < keys.length && !stopped; index++) {
      const key = keys[index] as string;
      stopped = visit(key, entries[key] as V) === true;
    }
  });
}

/**
 * Calls `visit` with each key whose entry differs (by identity) between `before` and `after`: two
 * states of one table where `after` shares with `before` every node, bucket and entry it did not
 * change (a step under immer). Unchanged nodes and buckets are skipped without a walk, so a step
 * that wrote two entries of a split table costs a few comparisons of 16 slots; a flat table's
 * changed bucket is walked whole (at most `splitAt` entries). A key added has `was` undefined, a key
 * removed `now` undefined. How the owner's invariants check only what a step changed.
 *
 * @returns false, having visited nothing, when either table keeps its entries in a `Map` (a live
 * shell's, see `keepTablesInMaps`): it shares nothing with an earlier state.
 */
export function tableChanges<V>(before: Table<V>, after: Table<V>, visit: (key: string, was: V | undefined, now: V | undefined) => void): boolean {
  if (before === after) return true;
  if (isBacked(before) || isBacked(after)) return false;
  if (before.flat !== null && after.flat !== null) bucketChanges(before.flat, after.flat, before.size, visit);
  else if (before.nodes !== null && after.nodes !== null) nodeChanges(before.nodes, after.nodes, 4, visit);
  else {
    // The table split in this step: every entry of each is looked up in the other.
    eachBucket(after, (bucket) => {
      for (const key in bucket.entries) {
        const now = bucket.entries[key] as V;
        const was = bucketOf(before, key)?.entries[key];
        if (was !== now) visit(key, was, now);
      }
    });
    eachBucket(before, (bucket) => {
      for (const key in bucket.entries) if (bucketOf(after, key)?.entries[key] === undefined) visit(key, bucket.entries[key], undefined);
    });
  }
  return true;
}

/** `tableChanges` between two states of a node `levels` above the buckets (a missing node is empty). */
function nodeChanges<V>(before: Slots<unknown> | null | undefined, after: Slots<unknown> | null | undefined, levels: number, visit: (key: string, was: V | undefined, now: V | undefined) => void): void {
  if (before === after) return;
  for (let digit = 0; digit < 16; digit++) {
    const was = before?.[digit] ?? undefined;
    const now = after?.[digit] ?? undefined;
    if (was === now) continue;
    if (levels > 1) nodeChanges(was as Slots<unknown> | undefined, now as Slots<unknown> | undefined, levels - 1, visit);
    else bucketChanges(was as Bucket<V> | undefined, now as Bucket<V> | undefined, undefined, visit);
  }
}

/**
 * `tableChanges` between two states of a bucket (a missing bucket is empty). `sizeBefore`, when
 * known, is how many entries `before` holds: the walk of `before` for removed keys is skipped when
 * every one of them is still in `after`.
 */
function bucketChanges<V>(before: Bucket<V> | undefined, after: Bucket<V> | undefined, sizeBefore: number | undefined, visit: (key: string, was: V | undefined, now: V | undefined) => void): void {
  const was = before?.entries;
  const now = after?.entries;
  if (was === now) return;
  let kept = 0;
  if (now !== undefined) {
    for (const key in now) {
      const value = now[key];
      const old = was?.[key];
      if (old !== undefined) kept += 1;
      if (old !== value) visit(key, old, value);
    }
  }
  if (was === undefined || kept === sizeBefore) return;
  for (const key in was) if (now?.[key] === undefined) visit(key, was[key], undefined);
}

/** The keys, in the table's iteration order (a copy: the table may change while the caller walks it). */
export function tableKeys<V>(table: Table<V>): string[] {
  const keys: string[] = [];
  eachEntry(ownCopiesFor(table) ? rawView(table) : table, (key) => {
    keys.push(key);
  });
  return keys;
}

/** The entries' values, in the table's iteration order (a copy). */
export function tableValues<V>(table: Table<V>): V[] {
  if (ownCopiesFor(table)) thawAll(table);
  const values: V[] = [];
  eachEntry(table, (_key, value) => {
    values.push(value);
  });
  return values;
}

/**
 * Calls `visit` with each key and entry as they are, in the table's iteration order, for reading
 * only: in a step with own copies nothing is copied (`tableForEach` copies every entry, so that it
 * may be changed). For walks that read every entry to find the few to change, each then got with
 * `tableGet`. `visit` must not add or remove entries.
 */
export function tableForEachAsIs<V>(table: Table<V>, visit: (key: string, value: V) => void): void {
  eachEntry(ownCopiesFor(table) ? rawView(table) : table, (key, value) => {
    visit(key, value);
  });
}

/** The `[key, value]` pairs, in the table's iteration order (a copy). */
export function tableEntries<V>(table: Table<V>): [string, V][] {
  if (ownCopiesFor(table)) thawAll(table);
  const entries: [string, V][] = [];
  eachEntry(table, (key, value) => {
    entries.push([key, value]);
  });
  return entries;
}

/**
 * Calls `visit` with each entry's value, in the table's iteration order, without copying them into
 * an array first (for walks over every entry after every event, as the invariants do). `visit` must
 * not add or remove entries.
 */
export function tableForEach<V>(table: Table<V>, visit: (value: V) => void): void {
  if (ownCopiesFor(table)) thawAll(table);
  eachEntry(table, (_key, value) => {
    visit(value);
  });
}

/** Whether some entry's value satisfies `predicate` (stops at the first that does). */
export function tableSome<V>(table: Table<V>, predicate: (value: V) => boolean): boolean {
  if (ownCopiesFor(table)) thawAll(table);
  let found = false;
  eachEntry(table, (_key, value) => (found = predicate(value)));
  return found;
}

/**
 * The table's fields as they are, without immer drafting them (for reads in a step with own copies;
 * a node immer drafted earlier in the step is still read through its draft).
 */
function rawView<V>(table: Table<V>): Table<V> {
  return { size: readField(table, 'size') as number, flat: readField(table, 'flat') as Bucket<V> | null, nodes: readField(table, 'nodes') as Table<V>['nodes'] };
}

/**
 * In a step with own copies: copies the frozen nodes on the way to `key`'s bucket (as far as they
 * exist), each hung in its parent, and returns the bucket's entries record, now writable in place
 * (or the draft of it, when immer drafted it earlier in the step); undefined when the bucket does
 * not exist yet.
 */
function writablePath<V>(table: Table<V>, key: string): Record<string, V> | undefined {
  const flat = writableField(table, 'flat') as Bucket<V> | null;
  if (flat !== null && flat !== undefined) return writableField(flat, 'entries') as Record<string, V>;
  const hash = hashOf(key);
  const root = writableField(table, 'nodes') as object | null | undefined;
  const level1 = root === null || root === undefined ? undefined : (writableField(root, hash & 15) as object | null | undefined);
  const level2 = level1 === null || level1 === undefined ? undefined : (writableField(level1, (hash >>> 4) & 15) as object | null | undefined);
  const level3 = level2 === null || level2 === undefined ? undefined : (writableField(level2, (hash >>> 8) & 15) as object | null | undefined);
  const bucket = level3 === null || level3 === undefined ? undefined : (writableField(level3, (hash >>> 12) & 15) as object | null | undefined);
  return bucket === null || bucket === undefined ? undefined : (writableField(bucket, 'entries') as Record<string, V>);
}

/**
 * In a step with own copies: copies every frozen node and entry of the table, so that a walk over
 * its entries can hand them out to be changed in place. O(entries), as immer's drafts of them were.
 */
function thawAll<V>(table: Table<V>): void {
  const thawEntries = (bucket: object | null | undefined): void => {
    if (bucket === null || bucket === undefined) return;
    const entries = writableField(bucket, 'entries') as Record<string, unknown>;
    if (isDraft(entries)) return;
    for (const key of Object.keys(entries)) {
      const value = entries[key];
      const copy = thawedDeep(value);
      if (copy !== value) {
        entries[key] = copy;
        noteEntered(copy);
      }
    }
  };
  const thawNode = (node: object | null | undefined, levels: number): void => {
    if (node === null || node === undefined) return;
    if (levels === 0) {
      thawEntries(node);
      return;
    }
    for (let digit = 0; digit < 16; digit++) thawNode(writableField(node, digit) as object | null | undefined, levels - 1);
  };
  const flat = writableField(table, 'flat') as object | null;
  if (flat !== null && flat !== undefined) thawEntries(flat);
  else thawNode(writableField(table, 'nodes') as object | null | undefined, 4);
}

/** A table holding `record`'s entries (for states written as flat records, e.g. in tests). */
export function tableFrom<V>(record: Record<string, V>): Table<V> {
  const table = emptyTable<V>();
  for (const [key, value] of Object.entries(record)) tableSet(table, key, value);
  return table;
}

/** Whether `value` has a table's shape (for code that walks a state without knowing its type). */
export function isTable(value: unknown): value is Table<unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  const fields = value as Partial<Table<unknown>>;
  return keys.length === 3 && typeof fields.size === 'number' && fields.flat !== undefined && fields.nodes !== undefined;
}

/** Whether one of `state`'s own fields is a table that has split into its tree (see `splitAt`). */
export function hasSplitTable(state: unknown): boolean {
  if (typeof state !== 'object' || state === null) return false;
  for (const key in state) {
    const value = (state as Record<string, unknown>)[key];
    if (isTable(value) && value.flat === null && value.nodes !== null) return true;
  }
  return false;
}

/**
 * `state` as people read it: a shallow copy whose table fields are flat records, key to entry, in
 * the tables' iteration order (so that `s.tasks['n1.d1.t3']` and `Object.keys(s.tasks)` work in a
 * breakpoint expression, and a state view shows entries, not buckets). O(entries); for views and
 * breakpoints, never for recipes.
 */
export function flatTables(state: unknown): unknown {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return state;
  const flat: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) flat[key] = isTable(value) ? Object.fromEntries(tableEntries(value)) : value;
  return flat;
}

/**
 * One patch's changes as `flatTables` shows the table: a patch that adds a whole new node (its path
 * stops above `entries`) becomes one change per entry under it, each with a flat path; any other
 * patch keeps its value, with `flatTablePath`.
 */
export function flatTableChanges(path: readonly (string | number)[], value: unknown): { path: (string | number)[]; value: unknown }[] {
  // A path [field, 'nodes', d1, d2, d3, d4, 'entries', key, ...] names an entry or something in it.
  const levels = path[1] === 'nodes' ? 6 - path.length : path[1] === 'flat' ? 2 - path.length : undefined;
  if (levels === undefined || levels < -1 || typeof value !== 'object' || value === null) return [{ path: flatTablePath(path), value }];
  const field = path[0] as string | number;
  const changes: { path: (string | number)[]; value: unknown }[] = [];
  const collect = (node: unknown, levelsLeft: number): void => {
    if (typeof node !== 'object' || node === null) return;
    if (levelsLeft < 0) {
      for (const [key, entry] of Object.entries(node)) changes.push({ path: [field, key], value: entry });
      return;
    }
    if (levelsLeft === 0) collect((node as Partial<Bucket<unknown>>).entries, -1);
    else for (const child of Object.values(node)) collect(child, levelsLeft - 1);
  };
  // The value of [field, 'nodes'] has four node levels above its buckets, [field, 'flat'] is a bucket;
  // each further path step takes one level.
  collect(value, levels);
  return changes;
}

/** A patch path with a table's tree steps (`nodes`, four node keys, `entries`) left out, as `flatTables` shows the table. */
export function flatTablePath(path: readonly (string | number)[]): (string | number)[] {
  const flat: (string | number)[] = [];
  for (let index = 0; index < path.length; index++) {
    const step = path[index] as string | number;
    flat.push(step);
    if (index === 0 && path[1] === 'nodes' && path[6] === 'entries') index = 6;
    else if (index === 0 && path[1] === 'flat' && path[2] === 'entries') index = 2;
  }
  return flat;
}
