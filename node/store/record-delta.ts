/**
 * Events of one type follow each other nearly unchanged: every push of a tiny task repeats its
 * function's ~160-character id, name, resources, retry options and owner, and differs from the push
 * before it in its task id, return id, argument and envelope seq. So a log may store an event as the
 * changes from an earlier event of its type, its base, stored whole (version 3 in
 * event-log-codec.ts). That cut the bytes of a tiny task's four records by more than half, and the
 * time to encode them, since comparing a field with the base's costs less than writing it.
 *
 * A change is a path and the value found there: the path is the list of positions (of a key in an
 * object, of an item in an array) from the event down to the value, so no key is written at all. The
 * walk goes into an object only when its keys are the base's in the same order, and into an array only
 * when it has the base's length; anything else that differs is written whole at its place. Typed arrays
 * are always written whole. Applied to a copy of the base, the changes give back the event with its
 * keys in their order, which state hashes depend on.
 *
 * The base is kept as a copy made when it was written, so an event changed after it was logged never
 * changes what later records are compared against.
 */

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

/** A value of the base, as kept for comparing: a leaf, an object, an array, or something never compared. */
type BaseNode = Leaf | ObjectNode | ArrayNode | Opaque;

class Leaf {
  constructor(readonly value: string | number | boolean | null | undefined) {}
}

class ObjectNode {
  constructor(
    readonly keys: readonly string[],
    readonly children: readonly BaseNode[],
  ) {}
}

class ArrayNode {
  constructor(readonly children: readonly BaseNode[]) {}
}

class Opaque {}
const opaque = new Opaque();

/** The base an event of one type is compared with: the seq of its record, and its value as kept. */
export interface DeltaBase {
  readonly seq: number;
  readonly root: BaseNode;
}

/** A copy of `value` to compare later events with; the root must be a plain object (an event). */
export function baseOf(seq: number, value: unknown): DeltaBase | undefined {
  const root = nodeOf(value, 0);
  return root instanceof ObjectNode ? { seq, root } : undefined;
}

function nodeOf(value: unknown, depth: number): BaseNode {
  if (typeof value !== 'object' || value === null) {
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined ? new Leaf(value) : opaque;
  }
  if (depth >= maxBaseDepth || ArrayBuffer.isView(value)) return opaque;
  if (Array.isArray(value)) {
    if (value.length > maxBaseArrayLength) return opaque;
    const children: BaseNode[] = [];
    for (let index = 0; index < value.length; index += 1) children.push(nodeOf(value[index], depth + 1));
    return new ArrayNode(children);
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return opaque;
  const keys: string[] = [];
  const children: BaseNode[] = [];
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    keys.push(key);
    children.push(nodeOf((value as Record<string, unknown>)[key], depth + 1));
  }
  return new ObjectNode(keys, children);
}

/**
 * The changes that turn `base` into `event`, as `[path, value, path, value, ...]`, or undefined when
 * the event should be stored whole and become its type's base: its keys are not the base's, another
 * long string (another function's id) differs, or too much differs.
 */
export function changesFrom(base: DeltaBase, event: object): unknown[] | undefined {
  const diff = new Diff();
  if (!diff.object(event as Record<string, unknown>, base.root as ObjectNode)) return undefined;
  return diff.changes;
}

/** One comparison of an event with a base: the changes found so far and the path being walked. */
class Diff {
  readonly changes: unknown[] = [];
  private readonly path: number[] = [];

  /** Compares an object whose keys must be the base's; false when they are not, or the event should be a base. */
  object(value: Record<string, unknown>, node: ObjectNode): boolean {
    const keys = node.keys;
    let index = 0;
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      if (index >= keys.length || keys[index] !== key) return false;
      this.path.push(index);
      const ok = this.value(value[key], node.children[index] as BaseNode);
      this.path.pop();
      if (!ok) return false;
      index += 1;
    }
    return index === keys.length;
  }

  /** Compares a value with its place in the base; false when the event should be stored whole. */
  private value(value: unknown, node: BaseNode): boolean {
    if (node instanceof Leaf) {
      if (value === node.value) return true;
      if (typeof value === 'string' && value.length >= rebaseStringLength) return false;
      return this.changed(value);
    }
    if (typeof value === 'object' && value !== null) {
      if (node instanceof ObjectNode && !Array.isArray(value) && !ArrayBuffer.isView(value) && Object.getPrototypeOf(value) === Object.prototype) {
        const mark = this.changes.length;
        if (this.object(value as Record<string, unknown>, node)) return true;
        // Its keys differ from the base's (the changes found inside it are dropped): written whole here.
        this.changes.length = mark;
        return this.changed(value);
      }
      if (node instanceof ArrayNode && Array.isArray(value) && value.length === node.children.length) {
        for (let index = 0; index < value.length; index += 1) {
          this.path.push(index);
          const ok = this.value(value[index], node.children[index] as BaseNode);
          this.path.pop();
          if (!ok) return false;
        }
        return true;
      }
    }
    return this.changed(value);
  }

  private changed(value: unknown): boolean {
    if (this.changes.length >= 2 * maxChanges) return false;
    this.changes.push(this.path.slice(), value);
    return true;
  }
}

/**
 * The event that `changes` (as `changesFrom` made them, decoded) turn `base` (the decoded event of the
 * base record) into; `base` is not changed. Undefined when a path does not lead to a place in the base.
 */
export function applyChanges(base: unknown, changes: unknown): unknown {
  if (!Array.isArray(changes) || changes.length % 2 !== 0) return undefined;
  const event = copyOf(base);
  for (let at = 0; at < changes.length; at += 2) {
    const path = changes[at] as unknown;
    if (!Array.isArray(path) || path.length === 0) return undefined;
    let container: unknown = event;
    for (let step = 0; step < path.length; step += 1) {
      const position = path[step] as unknown;
      if (typeof position !== 'number' || typeof container !== 'object' || container === null) return undefined;
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
