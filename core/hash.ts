/**
 * Deterministic serialisation and state hashing. Replay compares the hash of a replayed state with
 * the one recorded in the trace, so the same state must give the same text whatever order its keys
 * were inserted in, and whether it was built by plain mutation or under immer.
 *
 * The simulator hashes states of hundreds of KB, so `hashState` walks the state once and feeds the
 * text straight into the hash instead of building the string: the same characters, no garbage.
 *
 * A keyed table (core/table.ts) is written by its content: as the flat table of the same entries,
 * whatever tree it has grown, so that how tables are laid out can change without changing a hash.
 */
import { forEachEntryByKey, isTable } from './table.js';
import type { Table } from './table.js';

/** Objects nested deeper than this are taken for a cycle and searched for one (JSON state is shallow). */
const maxDepth = 1000;

/**
 * Deterministic JSON: object keys sorted, arrays in order, `undefined` object properties omitted and
 * `undefined` array items written as `null`, as `JSON.stringify` does. Non-finite numbers are written
 * as `null`, again as JSON does. A `Map` is written as `{"$map":[[key,value],...]}` and a `Set` as
 * `{"$set":[...]}`, both ordered by the text of their members, because JSON would silently turn
 * either into `{}` and so hide a difference between two states. A table split into its tree is
 * written as the flat table of its entries: `{"flat":{"entries":{...}},"nodes":null,"size":n}`.
 *
 * @throws TypeError on a function, symbol, bigint or cycle (or nesting deeper than 1000 levels), and
 *   on `undefined` at the top level, naming the path where it was found.
 */
export function stableStringify(value: unknown): string {
  const sink = new TextSink();
  walkRoot(value, sink);
  return sink.text;
}

/**
 * A 64-bit non-cryptographic hash of `stableStringify(value)`, as 16 lowercase hex digits (equal to
 * `hashString(stableStringify(value))`, computed without building the text).
 *
 * @throws TypeError as `stableStringify` does.
 */
export function hashState(value: unknown): string {
  return hashStateSized(value).hash;
}

/**
 * How many characters of a state its recorded hashes may cost per event, at most about: a big state
 * is hashed every `chars / hashedCharsPerEvent` of its events rather than at a fixed interval (by
 * `tsray trace collect` and the simulator). A driver with 100,000 tasks in flight has a state of
 * some 90 MB, and hashing it every eighth of its log took 25 of the 63 s that a 408,000-event session
 * took to collect; a simulated script holding 3,000 tasks spent 18% of its run hashing every 50 events.
 */
export const hashedCharsPerEvent = 512;

/**
 * `hashState(value)`, and the length of the text it hashed (that of `stableStringify(value)`), for
 * callers that space their hashes out by the size of what they hash.
 *
 * @throws TypeError as `stableStringify` does.
 */
export function hashStateSized(value: unknown): { readonly hash: string; readonly chars: number } {
  const sink = new HashSink();
  walkRoot(value, sink);
  return { hash: sink.digest(), chars: sink.chars };
}

/**
 * The 64-bit hash used by `hashState`: two independent 32-bit multiply-xor lanes over the UTF-16
 * code units (as cyrb53), mixed at the end. It detects divergence in replay; it does not resist an
 * adversary.
 */
export function hashString(text: string): string {
  const sink = new HashSink();
  sink.put(text);
  return sink.digest();
}

/** Where the walk writes its text. */
interface Sink {
  put(text: string): void;
  /** Writes `text` as a JSON string, quotes and escapes included. */
  putString(text: string): void;
  /** Writes a finite number as JSON does (`String(value)`). */
  putNumber(value: number): void;
}

/** Collects the text. */
class TextSink implements Sink {
  private readonly parts: string[] = [];
  put(text: string): void {
    this.parts.push(text);
  }
  putString(text: string): void {
    this.parts.push(plainText.test(text) ? `"${text}"` : JSON.stringify(text));
  }
  putNumber(value: number): void {
    this.parts.push(String(value));
  }
  get text(): string {
    return this.parts.join('');
  }
}

/** Hashes the text as it arrives. */
class HashSink implements Sink {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;
  /** Code units hashed so far. */
  chars = 0;

  /** Back to the hash of no text. */
  reset(): void {
    this.h1 = 0xdeadbeef;
    this.h2 = 0x41c6ce57;
    this.chars = 0;
  }

  put(text: string): void {
    this.chars += text.length;
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
  }

  /**
   * Adds `text` as JSON writes it. A plain string (see `plainText`) is hashed with its quotes in the
   * pass that checks it: nearly every string of a state is an id or a name, and a check by the
   * pattern, then three puts, cost a third of a large state's hash. Anything else goes through
   * `JSON.stringify`, from the lanes as they were before this string.
   */
  putString(text: string): void {
    let h1 = Math.imul(this.h1 ^ 0x22, 2654435761);
    let h2 = Math.imul(this.h2 ^ 0x22, 1597334677);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) {
        this.put(JSON.stringify(text));
        return;
      }
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    this.h1 = Math.imul(h1 ^ 0x22, 2654435761);
    this.h2 = Math.imul(h2 ^ 0x22, 1597334677);
    this.chars += text.length + 2;
  }

  /**
   * Adds `String(value)` of a finite number. A whole number from 0 to 2^31 - 1 (counts, attempts,
   * sizes, times in simulated ms: nearly every number of a state, several to each task's record) is
   * hashed digit by digit, without the string that `String` would make for it.
   */
  putNumber(value: number): void {
    if (!(value >= 0 && value <= 0x7fffffff && value === Math.floor(value))) {
      this.put(String(value));
      return;
    }
    let place = 1;
    let digits = 1;
    while (place <= value / 10) {
      place *= 10;
      digits += 1;
    }
    let h1 = this.h1;
    let h2 = this.h2;
    let rest = value;
    for (; place >= 1; place /= 10) {
      const digit = Math.floor(rest / place);
      rest -= digit * place;
      const code = 48 + digit;
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
    this.chars += digits;
  }

  /** Adds bytes as code units; returns all of them or-ed, so the caller can tell whether they were ASCII. */
  putBytes(bytes: Uint8Array, start: number, end: number): number {
    this.chars += end - start;
    let h1 = this.h1;
    let h2 = this.h2;
    let any = 0;
    for (let i = start; i < end; i++) {
      const code = bytes[i] ?? 0;
      any |= code;
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
    return any;
  }

  /** The two mixed lanes, unsigned, in the order the digest prints them. */
  lanes(): [number, number] {
    let h1 = this.h1;
    let h2 = this.h2;
    // The final avalanche makes every input bit reach every output bit of both lanes.
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return [h2 >>> 0, h1 >>> 0];
  }

  digest(): string {
    const [high, low] = this.lanes();
    return hex32(high) + hex32(low);
  }
}

function hex32(lane: number): string {
  return (lane >>> 0).toString(16).padStart(8, '0');
}

/**
 * `hashString` fed in pieces, where a piece may be bytes that stand for ASCII text (one code unit per
 * byte, as a UTF-16 string of them has): a trace's checksum chain is checked from the file's bytes
 * without building a string per line. The lanes it ends with are those `hashString` prints.
 */
export class TextHasher {
  private readonly sink = new HashSink();

  /** Starts again, as a new hasher (so one serves many lines). */
  reset(): this {
    this.sink.reset();
    return this;
  }

  /** Adds `text`'s code units. */
  put(text: string): this {
    this.sink.put(text);
    return this;
  }

  /**
   * Adds `bytes[start..end)` as code units; false when one is not ASCII (the hash is then spoiled,
   * since such bytes are not one code unit each: hash their decoded text instead).
   */
  putAscii(bytes: Uint8Array, start: number, end: number): boolean {
    return this.sink.putBytes(bytes, start, end) < 0x80;
  }

  /** Whether the digest equals the 16 lowercase hex digits at `bytes[at..at+16)`, without building a string. */
  matchesHex(bytes: Uint8Array, at: number): boolean {
    const [high, low] = this.sink.lanes();
    return readHex32(bytes, at) === high && readHex32(bytes, at + 8) === low;
  }

  /** The digest, as `hashString` gives it. */
  digest(): string {
    return this.sink.digest();
  }
}

/** Each byte's value as a lowercase hex digit, or -1. */
const hexDigit = new Int8Array(256).fill(-1);
for (let digit = 0; digit < 16; digit++) hexDigit['0123456789abcdef'.charCodeAt(digit)] = digit;

/**
 * The 8 lowercase hex digits at `bytes[at..at+8)` as an unsigned number, or -1 when they are not
 * that. A table and no branch per digit: the replay pass reads two of these on each of a million lines.
 */
function readHex32(bytes: Uint8Array, at: number): number {
  let value = 0;
  let bad = 0;
  for (let i = at; i < at + 8; i++) {
    const digit = hexDigit[bytes[i] ?? 0] ?? -1;
    bad |= digit;
    value = (value << 4) | digit;
  }
  return bad < 0 ? -1 : value >>> 0;
}

/** Printable ASCII but `"` and `\`: JSON writes such strings as they are, between quotes; anything else goes through `JSON.stringify`. */
const plainText = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** The walk's bookkeeping: the root (to search for a cycle) and the keys leading to the current value. */
interface Walk {
  readonly root: unknown;
  readonly trail: (string | number)[];
  /**
   * Per depth, the keys of the last few kinds of object written there (up to `keyListsPerDepth`),
   * as `Object.keys` gave them, and sorted. The entries of a table (a driver's 200k tasks) sit at one
   * depth and mostly share their keys in the same order, and so do the records inside them, so an
   * object whose keys are a cached list reuses its sorted one rather than sorting its own. With one
   * list per depth, records of different kinds nested in the entries took turns at a depth: the
   * final hash of a driver's state at shutdown (400k tasks run, 100k refs held) spent about 9% of
   * its time getting and sorting keys, and 3% with 8 lists.
   */
  readonly keysByDepth: { unsorted: string[]; sorted: string[] }[][];
}

/** How many lists of keys the walk keeps per depth (see `Walk.keysByDepth`). */
const keyListsPerDepth = 8;

function walkRoot(value: unknown, sink: Sink): void {
  if (value === undefined) throw new TypeError('stableStringify: the value is undefined, which has no JSON form; pass null or an object instead');
  write(value, sink, { root: value, trail: [], keysByDepth: [] });
}

/**
 * The own enumerable keys of `object` (as `Object.keys` gives them), sorted, through the cache of
 * its depth (see `Walk.keysByDepth`): when they are one of the cached lists, in the same order, its
 * sorted list is used.
 */
function sortedKeysOf(object: Record<string, unknown>, walk: Walk): string[] {
  const keys = Object.keys(object);
  if (keys.length < 2) return keys;
  const depth = walk.trail.length;
  let cached = walk.keysByDepth[depth];
  if (cached === undefined) {
    cached = [];
    walk.keysByDepth[depth] = cached;
  }
  for (let index = 0; index < cached.length; index++) {
    const lists = cached[index] as { unsorted: string[]; sorted: string[] };
    if (sameKeys(lists.unsorted, keys)) return lists.sorted;
  }
  const sorted = [...keys].sort();
  // The oldest list gives way once the depth holds its share.
  if (cached.length === keyListsPerDepth) cached.shift();
  cached.push({ unsorted: keys, sorted });
  return sorted;
}

/** Whether two lists of keys are equal, in order. */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Writes one value that is not `undefined`. */
function write(value: unknown, sink: Sink, walk: Walk): void {
  switch (typeof value) {
    case 'string':
      sink.putString(value);
      return;
    case 'number':
      if (Number.isFinite(value)) sink.putNumber(value);
      else sink.put('null');
      return;
    case 'boolean':
      sink.put(value ? 'true' : 'false');
      return;
    case 'undefined':
      sink.put('null');
      return;
    case 'function':
      throw new TypeError(`stableStringify: a function at ${where(walk)} has no JSON form; keep only data in state, events and effects`);
    case 'symbol':
      throw new TypeError(`stableStringify: a symbol at ${where(walk)} has no JSON form; use a string instead`);
    case 'bigint':
      throw new TypeError(`stableStringify: a bigint at ${where(walk)} has no JSON form; store it as a decimal string instead`);
    case 'object':
      break;
  }
  if (value === null) {
    sink.put('null');
    return;
  }
  // Depth stands in for cycle detection, which would cost a set operation per object on the hot path.
  if (walk.trail.length > maxDepth) throw tooDeep(walk);
  if (Array.isArray(value)) writeArray(value as unknown[], sink, walk);
  else if (ArrayBuffer.isView(value)) writeBytes(value, sink);
  else if (value instanceof Map) writeMap(value as Map<unknown, unknown>, sink, walk);
  else if (value instanceof Set) writeSet(value as Set<unknown>, sink, walk);
  else if (isSplitTable(value)) writeSplitTable(value, sink, walk);
  else writeObject(value as Record<string, unknown>, sink, walk);
}

/**
 * Binary data (message bodies in the live runtime) is written as `{"$bytes":"<hex>"}` of its bytes,
 * whatever its view class: a Uint8Array and the Buffer that a log hands back for it are the same state.
 */
function writeBytes(view: ArrayBufferView, sink: Sink): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  sink.put(`{"$bytes":"${hex}"}`);
}

function writeArray(items: unknown[], sink: Sink, walk: Walk): void {
  sink.put('[');
  for (let i = 0; i < items.length; i++) {
    if (i > 0) sink.put(',');
    walk.trail.push(i);
    write(items[i], sink, walk);
    walk.trail.pop();
  }
  sink.put(']');
}

/** Whether `value` is a table that has split into its tree, or keeps its entries in a Map (a flat one is written as it is). */
function isSplitTable(value: object): value is Table<unknown> {
  // The cheap field checks first: every object of a state passes here.
  const fields = value as Partial<Table<unknown>>;
  // A live shell's table keeps its entries in a Map, with neither tree nor flat bucket (core/table.ts).
  return fields.flat === null && (fields.nodes === null || Array.isArray(fields.nodes)) && isTable(value);
}

/**
 * A split or Map-kept table, as `writeObject` would write the flat table of its entries
 * (`{"flat":{"entries":{...}},"nodes":null,"size":n}`), from its entries sorted by key rather than
 * from that record: building the record interned every key of a large table.
 */
function writeSplitTable(table: Table<unknown>, sink: Sink, walk: Walk): void {
  sink.put('{"flat":{"entries":{');
  walk.trail.push('flat', 'entries');
  let first = true;
  forEachEntryByKey(table, (key, item) => {
    first = writeMember(key, item, first, sink, walk);
  });
  walk.trail.pop();
  walk.trail.pop();
  sink.put('}},"nodes":null,"size":');
  write(table.size, sink, walk);
  sink.put('}');
}

function writeObject(object: Record<string, unknown>, sink: Sink, walk: Walk): void {
  const keys = sortedKeysOf(object, walk);
  sink.put('{');
  let first = true;
  for (const key of keys) first = writeMember(key, object[key], first, sink, walk);
  sink.put('}');
}

/**
 * Writes the member `"key":item` of an object, after a comma unless it is the `first`; a member
 * whose value is `undefined` is left out, as JSON leaves it. Returns whether the next member written
 * is still the first.
 */
function writeMember(key: string, item: unknown, first: boolean, sink: Sink, walk: Walk): boolean {
  if (item === undefined) return first;
  if (!first) sink.put(',');
  sink.putString(key);
  sink.put(':');
  walk.trail.push(key);
  write(item, sink, walk);
  walk.trail.pop();
  return false;
}

function writeMap(map: Map<unknown, unknown>, sink: Sink, walk: Walk): void {
  const entries: [string, unknown][] = [];
  for (const [key, item] of map) entries.push([textOf(key, '<key>', walk), item]);
  entries.sort((a, b) => compareText(a[0], b[0]));
  sink.put('{"$map":[');
  entries.forEach(([keyText, item], index) => {
    sink.put(index === 0 ? '[' : ',[');
    sink.put(keyText);
    sink.put(',');
    walk.trail.push(`<${keyText}>`);
    write(item, sink, walk);
    walk.trail.pop();
    sink.put(']');
  });
  sink.put(']}');
}

function writeSet(set: Set<unknown>, sink: Sink, walk: Walk): void {
  const members: string[] = [];
  for (const member of set) members.push(textOf(member, '<member>', walk));
  members.sort(compareText);
  sink.put('{"$set":[');
  sink.put(members.join(','));
  sink.put(']}');
}

/** The text of a Map key or Set member, which orders the entries. */
function textOf(value: unknown, key: string, walk: Walk): string {
  const text = new TextSink();
  walk.trail.push(key);
  write(value, text, walk);
  walk.trail.pop();
  return text.text;
}

/** Code-unit order, as `Array.prototype.sort` uses, without a locale that could differ by machine. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The JSONPath-like spelling of a trail, built only when an error needs it. */
function pathOf(trail: readonly (string | number)[]): string {
  return '$' + trail.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('');
}

/** The current path, clipped to its end so that the message stays one readable line. */
function where(walk: Walk): string {
  const path = pathOf(walk.trail);
  return path.length > 120 ? `...${path.slice(-117)}` : path;
}

/** The error for nesting past `maxDepth`: names the cycle if there is one, which is the usual cause. */
function tooDeep(walk: Walk): TypeError {
  const cycle = findCycle(walk.root, [], new Set());
  return cycle === undefined
    ? new TypeError(`stableStringify: nesting deeper than ${maxDepth} levels at ${where(walk)}; flatten the state`)
    : new TypeError(`stableStringify: a cycle at ${pathOf(cycle)} has no JSON form; state must be a tree`);
}

/** The trail to the first value that contains itself, or undefined. */
function findCycle(value: unknown, trail: (string | number)[], ancestors: Set<object>): (string | number)[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (ancestors.has(value)) return trail;
  ancestors.add(value);
  const children: [string | number, unknown][] =
    value instanceof Map
      ? [...value.entries()].flatMap(([key, item]): [string, unknown][] => [['<key>', key], [`<${String(key)}>`, item]])
      : value instanceof Set
        ? [...value].map((member): [string, unknown] => ['<member>', member])
        : Array.isArray(value)
          ? value.map((item, index): [number, unknown] => [index, item])
          : Object.entries(value);
  for (const [key, child] of children) {
    const found = findCycle(child, [...trail, key], ancestors);
    if (found !== undefined) return found;
  }
  ancestors.delete(value);
  return undefined;
}
