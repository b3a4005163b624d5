/**
 * Events of one type follow each other nearly unchanged: every push of a tiny task repeats its
 * function's ~160-character id, name, resources, retry options and owner, and differs from the push
 * before it in its task id, return id, argument and envelope seq. So a log may store an event as the
 * changes from an earlier event of its type, its base, stored whole (version 3 in
 * event-log-codec.ts). That cut the bytes of a tiny task's four records (submitted, pushed, executed,
 * replied) from about 1,430 to about 300, and the time to encode one by about 40%, since comparing a
 * field with the base's costs less than writing its key and value.
 *
 * A change is a path and the value found there: the path is the list of positions (of a key in an
 * object, of an item in an array) from the event down to the value, so no key is written at all. The
 * walk goes into an object only when its keys are the base's in the same order, and into an array only
 * when it has the base's length; anything else that differs is written whole at its place. Typed arrays
 * are always written whole. Applied to a copy of the base, the changes give back the event with its
 * keys in their order, which state hashes depend on.
 *
 * The base is kept as a copy made when it was written, so an event changed after it was logged never
 * changes what later records are compared against. A base that events are compared with often gets
 * the comparison compiled to code of its own (`compiledDiff`), which finds the walk's changes in about
 * a quarter of its time: a tiny task's pushed event went from about 900 to 260 ns.
 */
import { assertNever } from '../../core/assert.js';
import { prototypeIsPolluted } from './plain-record-writer.js';

/** How deep a base is kept before what lies below is treated as opaque (always written whole). */
const maxBaseDepth = 24;
/**
 * A longer array of the base is opaque: a get of many refs differs from the last in most of them, and
 * walking them only to find that would cost more than writing them.
 */
const maxBaseArrayLength = 64;
/** A string at least this long that differs from the base's (another function's id) makes the event a new base. */
const rebaseStringLength = 48;
/** An event with more changes than this is written whole and becomes the new base of its type. */
const maxChanges = 32;
/**
 * A path is written as one integer while it fits: each step's position plus one, in base
 * `pathRadix`, the first step in the lowest digit. A deeper path, or a position past `pathRadix - 2`,
 * is written as the list of its positions.
 */
const pathRadix = 64;
/** The deepest path written as one integer (64^8 = 2^48, an exact integer). */
const maxPackedDepth = 8;

/** How a value of the base is kept: a leaf compared by `===`, an object, an array, or opaque (never equal). */
const enum Kind {
  Leaf,
  Object,
  Array,
  Opaque,
}

/** A value of the base, as kept for comparing. One shape for every kind, so the walk's accesses stay monomorphic. */
class BaseNode {
  constructor(
    readonly kind: Kind,
    readonly value: unknown,
    /** An object's keys, in order (empty otherwise). */
    readonly keys: readonly string[],
    /** An object's values in the order of `keys`, or an array's items. */
    readonly children: readonly BaseNode[],
  ) {}
}

const none: readonly never[] = [];
const opaque = new BaseNode(Kind.Opaque, undefined, none, none);

/**
 * The comparison of events with bases of one shape, compiled to code of its own (see `compiledDiff`),
 * given a base's values (`DeltaBase.constants`): false when the event's keys are not the base's, or
 * the walk stopped (`Diff.rebase`).
 */
type CompiledDiff = (event: object, diff: Diff, constants: readonly unknown[]) => boolean;

/** The base an event of one type is compared with: the seq of its record, and its value as kept. */
export class DeltaBase {
  /** How many events were compared with it, until it is compiled. */
  uses = 0;
  /** Its comparison as code once it has been used `compileAfterUses` times; null when it is always walked. */
  compiled: CompiledDiff | null | undefined = undefined;
  /** The values its compiled comparison compares with (and the keys and paths it reads them by). */
  constants: readonly unknown[] = none;

  constructor(
    readonly seq: number,
    readonly root: BaseNode,
  ) {}
}

/** A copy of `value` to compare later events with; the root must be a plain object (an event). */
export function baseOf(seq: number, value: unknown): DeltaBase | undefined {
  const root = nodeOf(value, 0);
  return root.kind === Kind.Object ? new DeltaBase(seq, root) : undefined;
}

function nodeOf(value: unknown, depth: number): BaseNode {
  if (typeof value !== 'object' || value === null) {
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined ? new BaseNode(Kind.Leaf, value, none, none) : opaque;
  }
  if (depth >= maxBaseDepth || ArrayBuffer.isView(value)) return opaque;
  if (Array.isArray(value)) {
    if (value.length > maxBaseArrayLength) return opaque;
    const children: BaseNode[] = [];
    for (let index = 0; index < value.length; index += 1) children.push(nodeOf(value[index], depth + 1));
    return new BaseNode(Kind.Array, undefined, none, children);
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return opaque;
  const keys: string[] = [];
  const children: BaseNode[] = [];
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    keys.push(key);
    children.push(nodeOf((value as Record<string, unknown>)[key], depth + 1));
  }
  return new BaseNode(Kind.Object, undefined, keys, children);
}


/**
 * The changes that turn `base` into `event`, as `[path, value, path, value, ...]`, or undefined when
 * the event should be stored whole and become its type's base: its keys are not the base's, another
 * long string (another function's id) differs, or too much differs. Found by walking the base, never
 * by its compiled code: the reference that code is tested against.
 */
export function changesFrom(base: DeltaBase, event: object): unknown[] | undefined {
  const found = findChanges(base, event, null);
  if (found === undefined) return undefined;
  const changes = found.items.slice(0, found.count);
  found.clear();
  return changes;
}

/**
 * `changesFrom` without a list of its own: the changes are the first `count` of `items`, in a list
 * that the next comparison reuses (a list per event was garbage made at every record of a tiny task).
 * The caller writes them, then calls `clear` so that the list does not keep the event's values alive.
 * A base used often is compared by code compiled from it (see `compiledDiff`), which finds the same.
 */
export function collectChanges(base: DeltaBase, event: object): FoundChanges | undefined {
  return findChanges(base, event, base.compiled === undefined ? compileWhenUsed(base) : base.compiled);
}

/** The changes from `base` to `event`, found by `compiled`, or by walking the base when null. */
function findChanges(base: DeltaBase, event: object, compiled: CompiledDiff | null): FoundChanges | undefined {
  if (prototypeIsPolluted()) return undefined;
  // One walker for every event; setting an array's length is a slow builtin call, so a walk that
  // stopped early leaves its path for the next to clear.
  const diff = walker;
  if (diff.path.length !== 0) diff.path.length = 0;
  diff.clear();
  diff.rebase = false;
  const same = compiled === null ? diff.object(event as Record<string, unknown>, base.root) : compiled(event, diff, base.constants);
  if (!same || diff.rebase) {
    diff.clear();
    return undefined;
  }
  return diff;
}

/** The changes a comparison found: `items[0]` to `items[count - 1]`, path and value in turn. */
export interface FoundChanges {
  readonly items: readonly unknown[];
  readonly count: number;
  /** Lets go of the values found (the list stays, for the next comparison). */
  clear(): void;
}

/** One comparison of an event with a base: the changes found so far and the path being walked. */
class Diff implements FoundChanges {
  /** The changes found so far: the first `count` items, path and value in turn; past them, only `undefined`. */
  readonly items: unknown[] = [];
  count = 0;
  /** Set when the event should be stored whole and become the base; the walk then stops. */
  rebase = false;
  /** The positions from the root to the value being compared. */
  readonly path: number[] = [];

  clear(): void {
    const items = this.items;
    for (let index = 0; index < this.count; index += 1) items[index] = undefined;
    this.count = 0;
  }

  /** Compares an object whose keys must be the base's; false when they are not, or the walk stopped (`rebase`). */
  object(value: Record<string, unknown>, node: BaseNode): boolean {
    const keys = node.keys;
    const children = node.children;
    const path = this.path;
    let index = 0;
    // Own keys only, as Object.prototype has no enumerable ones (changesFrom checks).
    for (const key in value) {
      if (index >= keys.length || keys[index] !== key) return false;
      path.push(index);
      const ok = this.value(value[key], children[index] as BaseNode);
      path.pop();
      if (!ok) return false;
      index += 1;
    }
    return index === keys.length;
  }

  /** Compares a value with its place in the base; false when the walk stopped (`rebase`). */
  value(value: unknown, node: BaseNode): boolean {
    switch (node.kind) {
      case Kind.Leaf:
        if (value === node.value) return true;
        if (typeof value === 'string' && value.length >= rebaseStringLength) {
          this.rebase = true;
          return false;
        }
        return this.changed(value);
      case Kind.Object:
        if (isPlainObject(value)) {
          const mark = this.count;
          if (this.object(value, node)) return true;
          if (this.rebase) return false;
          // Its keys differ from the base's (the changes found inside it are dropped): written whole here.
          for (let index = mark; index < this.count; index += 1) this.items[index] = undefined;
          this.count = mark;
        }
        return this.changed(value);
      case Kind.Array:
        if (Array.isArray(value) && value.length === node.children.length) {
          const children = node.children;
          for (let index = 0; index < value.length; index += 1) {
            this.path.push(index);
            const ok = this.value(value[index], children[index] as BaseNode);
            this.path.pop();
            if (!ok) return false;
          }
          return true;
        }
        return this.changed(value);
      case Kind.Opaque:
        return this.changed(value);
      default:
        return assertNever(node.kind, 'base node kind');
    }
  }

  private changed(value: unknown): boolean {
    return this.add(packedPath(this.path), value);
  }

  /** Records that the value at `path` is `value`; false when there are too many changes (`rebase`). */
  add(path: number | readonly number[], value: unknown): boolean {
    const count = this.count;
    if (count >= 2 * maxChanges) {
      this.rebase = true;
      return false;
    }
    this.items[count] = path;
    this.items[count + 1] = value;
    this.count = count + 2;
    return true;
  }

  /** A leaf of the base that `value` differs from, at `path`; false when the walk stops (`rebase`). */
  leaf(path: number | readonly number[], value: unknown): boolean {
    if (typeof value === 'string' && value.length >= rebaseStringLength) {
      this.rebase = true;
      return false;
    }
    return this.add(path, value);
  }

  /**
   * Compares `value` with `node` at `path` by walking them, for compiled code that met a value whose
   * keys are not the node's (or that is no object): the walk gives what it gives for such a value.
   */
  walkAt(value: unknown, node: BaseNode, path: readonly number[]): boolean {
    const steps = this.path;
    steps.length = 0;
    for (let index = 0; index < path.length; index += 1) steps.push(path[index] as number);
    const ok = this.value(value, node);
    steps.length = 0;
    return ok;
  }
}

const walker = new Diff();

/** A base compared this many times gets its comparison compiled: bases that change often are only walked. */
const compileAfterUses = 16;
/** A base with more values than this is always walked: its code would be long, and few events are so large. */
const maxCompiledNodes = 400;

/**
 * The code of each shape of base compiled so far, by its text: bases of one shape (the pushes of two
 * functions, say) share it, each with its own values, so that bases that take turns are not compiled
 * again and again (a `new Function` and its optimising cost more than a thousand walks).
 */
const compiledShapes = new Map<string, CompiledDiff>();
/** The most shapes kept; past it, they are all forgotten and compiled again as they come. */
const maxCompiledShapes = 128;

/** The base's compiled comparison once it has been used `compileAfterUses` times, else null (walk it). */
function compileWhenUsed(base: DeltaBase): CompiledDiff | null {
  base.uses += 1;
  if (base.uses < compileAfterUses) return null;
  const compiled = compiledDiff(base.root);
  base.compiled = compiled === null ? null : compiled.code;
  base.constants = compiled === null ? none : compiled.constants;
  return base.compiled;
}

/** Whether `value` is an object the walk goes into (`Diff.value`, and the compiled code likewise): not an array, a typed array, or of another class. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Whether the keys of `value` are `keys`, in their order. */
function keysAre(value: object, keys: readonly string[]): boolean {
  let index = 0;
  for (const key in value) {
    if (keys[index] !== key) return false;
    index += 1;
  }
  return index === keys.length;
}

/**
 * The comparison of events with the base `root` as code of its own, or null when the base is too
 * large (it is then walked). It finds what `Diff.object` finds, change for change, in about a
 * quarter of the time: the walk reads each key through a list and calls itself for every value,
 * where the code reads each value by its name and compares it with the base's in place, so each
 * read sees one shape of object. An object whose keys are not the base's is handed to the walk,
 * from its place (`Diff.walkAt`), so what is recorded for it is the walk's own.
 */
function compiledDiff(root: BaseNode): { readonly code: CompiledDiff; readonly constants: readonly unknown[] } | null {
  const constants: unknown[] = [];
  const lines: string[] = [];
  let nodes = 0;
  let names = 0;
  const constant = (value: unknown): string => `c[${constants.push(value) - 1}]`;
  const pathCode = (path: readonly number[]): string => {
    const packed = packedPath(path);
    // An unpacked path is a fresh list each time, as the walk's is.
    return typeof packed === 'number' ? String(packed) : `${constant(packed)}.slice()`;
  };
  const children = (node: BaseNode, name: string, path: readonly number[]): void => {
    node.children.forEach((child, index) => {
      const item = `v${names++}`;
      const read = node.kind === Kind.Array ? `${name}[${index}]` : `${name}[${JSON.stringify(node.keys[index])}]`;
      lines.push(`const ${item} = ${read};`);
      compare(child, item, [...path, index]);
    });
  };
  const compare = (node: BaseNode, name: string, path: readonly number[]): void => {
    nodes += 1;
    switch (node.kind) {
      case Kind.Leaf:
        lines.push(`if (${name} !== ${constant(node.value)} && !d.leaf(${pathCode(path)}, ${name})) return false;`);
        return;
      case Kind.Opaque:
        lines.push(`if (!d.add(${pathCode(path)}, ${name})) return false;`);
        return;
      case Kind.Array:
        lines.push(`if (Array.isArray(${name}) && ${name}.length === ${node.children.length}) {`);
        children(node, name, path);
        lines.push(`} else if (!d.add(${pathCode(path)}, ${name})) return false;`);
        return;
      case Kind.Object:
        lines.push(`if (isPlainObject(${name}) && keysAre(${name}, ${constant(node.keys)})) {`);
        children(node, name, path);
        lines.push(`} else if (!d.walkAt(${name}, ${constant(node)}, ${constant(path)})) return false;`);
        return;
      default:
        assertNever(node.kind, 'base node kind');
    }
  };
  lines.push(`if (!keysAre(e, ${constant(root.keys)})) return false;`);
  children(root, 'e', []);
  nodes += 1;
  // A key such as __proto__ is not read as the walk reads it; such a base is walked.
  if (nodes > maxCompiledNodes || hasSpecialKey(root)) return null;
  lines.push('return true;');
  const text = lines.join('\n');
  let code = compiledShapes.get(text);
  if (code === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- code made from a base's shape, its keys as string literals, its values passed in
      const make = new Function('isPlainObject', 'keysAre', `"use strict";\nreturn function compiledDiff(e, d, c) {\n${text}\n};`) as (plain: typeof isPlainObject, keys: typeof keysAre) => CompiledDiff;
      code = make(isPlainObject, keysAre);
    } catch {
      // Code made from strings is refused (node --disallow-code-generation-from-strings): the base is walked.
      return null;
    }
    if (compiledShapes.size >= maxCompiledShapes) compiledShapes.clear();
    compiledShapes.set(text, code);
  }
  return { code, constants };
}

/** Whether an object of the base has a key that reading it by name would not reach as an own property. */
function hasSpecialKey(node: BaseNode): boolean {
  if (node.keys.includes('__proto__')) return true;
  return node.children.some(hasSpecialKey);
}

/** A path as one integer when it fits (see `pathRadix`), else as a copy of its positions. */
function packedPath(path: readonly number[]): number | number[] {
  if (path.length > maxPackedDepth) return path.slice();
  let packed = 0;
  for (let step = path.length - 1; step >= 0; step -= 1) {
    const position = path[step] as number;
    if (position >= pathRadix - 1) return path.slice();
    packed = packed * pathRadix + position + 1;
  }
  return packed;
}

/** The positions of a path written by `packedPath`, or undefined when it is not one. */
function unpackedPath(path: unknown): readonly number[] | undefined {
  if (Array.isArray(path)) return path.length > 0 && path.every((position) => Number.isInteger(position) && (position as number) >= 0) ? (path as number[]) : undefined;
  if (typeof path !== 'number' || !Number.isInteger(path) || path <= 0) return undefined;
  const positions: number[] = [];
  for (let rest = path; rest > 0; rest = Math.floor(rest / pathRadix)) {
    const digit = rest % pathRadix;
    if (digit === 0) return undefined;
    positions.push(digit - 1);
  }
  return positions;
}

/**
 * The event that `changes` (as `changesFrom` made them, decoded) turn `base` (the decoded event of the
 * base record) into; `base` is not changed. Undefined when a path does not lead to a place in the base.
 */
export function applyChanges(base: unknown, changes: unknown): unknown {
  if (!Array.isArray(changes) || changes.length % 2 !== 0) return undefined;
  const event = copyOf(base);
  for (let at = 0; at < changes.length; at += 2) {
    const path = unpackedPath(changes[at]);
    if (path === undefined) return undefined;
    let container: unknown = event;
    for (let step = 0; step < path.length; step += 1) {
      const position = path[step] as number;
      if (typeof container !== 'object' || container === null) return undefined;
      const key = Array.isArray(container) ? position : Object.keys(container)[position];
      if (key === undefined || (Array.isArray(container) && (position < 0 || position >= container.length))) return undefined;
      if (step === path.length - 1) (container as Record<string | number, unknown>)[key] = changes[at + 1];
      else container = (container as Record<string | number, unknown>)[key];
    }
  }
  return event;
}

/**
 * A copy of decoded plain data, keys in their order. A typed array is not copied: the changes always
 * replace it (the walk never compares one), so the copy never hands it out.
 */
function copyOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(copyOf);
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = copyOf((value as Record<string, unknown>)[key]);
  return copy;
}
