/**
 * Copy-on-write without immer's drafts, for the big structures of a state (tables, queues) during a
 * step under immer that needs no patches (the simulator, replay without a debugger).
 *
 * Immer drafts every object on the way to what a recipe reads or writes, and each draft costs a
 * proxy, a shallow copy of its parent, a pass of the final freeze over its children and a
 * finalisation callback: about 2-3 µs per level. A write to a table at 100k entries goes down seven
 * levels (table, four tree nodes, bucket, entries) and cost about 24 µs; a push to a queue of 100k
 * items about the same. With own copies, the table and queue functions read down the path without
 * drafting (immer's record behind a draft holds the raw values), copy each frozen node on the way
 * to what they write, and hang the copy in its parent: in the draft of the table or queue itself
 * (one immer write), or in a copy made earlier in the step. Frozen is the sign of a node from an
 * earlier state, because immer freezes every state it produces and `applyUnderImmer` freezes the
 * state it starts from; a node that is not frozen was made in this step and is written in place.
 * Immer's final freeze then reaches the new nodes through the draft that holds them, and freezes
 * them like any other new object.
 *
 * The patches immer makes would name a whole replaced node, not the entries that changed in it, so
 * a step that wants patches (the debugger's diff) leaves own copies off and lets immer draft.
 */
import { isDraft } from 'immer';

/** Whether a step with own copies is running. */
let active = false;

/**
 * How many steps under immer are running (core/step.ts is the only maker of drafts): with none, no
 * value is a draft, and `readField` and `writableField` skip asking (a symbol-keyed read that misses
 * on every plain object, about 7% of the live reducers' time in P7a of bench/).
 */
let immerSteps = 0;

/**
 * Whether a value may be an immer draft now: false while no step under immer runs (core/step.ts makes
 * every draft), where asking `isDraft` is a symbol-keyed read that misses on every plain object.
 */
export function mayBeDraft(): boolean {
  return immerSteps > 0;
}

/** Runs `run`, a step under immer (with own copies or not): while it runs, values may be drafts. */
export function duringImmerStep<T>(run: () => T): T {
  immerSteps += 1;
  try {
    return run();
  } finally {
    immerSteps -= 1;
  }
}

/** The copies this step hung in a draft, for `settleOwnCopies`. */
let hung: object[] = [];

/**
 * Every copy this step made, for `settleOwnCopies` to freeze. A list, not a map from each copy to
 * its original: registering every copy in a map cost about 6% of a step at 100k live tasks (P7b of
 * bench/), more than the slot-by-slot comparisons it saved the walk of what is new (which now asks
 * `Object.isFrozen` of a copy's slots, and is rarely led into a copy at all).
 */
let copies: object[] = [];

/**
 * What this step wrote into its own copies that may hold objects made in the step (see
 * `noteEntered`): every other slot of a copy holds what its original held there (frozen) or another
 * copy, so `settleOwnCopies` walks only these.
 */
let entered: object[] = [];

/**
 * Tells the step's own copies that `value` was written into one of them (a table entry set or
 * thawed, a node or chunk made, a queue item), so that `settleOwnCopies` freezes what is new in it.
 * Every write of a value that may be new into a copy passes here; copies (`writableField`) and
 * removals need not. Nothing happens outside a step with own copies.
 */
export function noteEntered(value: unknown): void {
  if (active && typeof value === 'object' && value !== null) entered.push(value);
}

/**
 * Runs `run` (a step under immer) with own copies: the tables and queues it writes copy their own
 * nodes instead of having immer draft them. `run` calls `settleOwnCopies` once the recipe is done.
 */
export function withOwnCopies<T>(run: () => T): T {
  const was = active;
  const wasHung = hung;
  const wasCopies = copies;
  const wasEntered = entered;
  active = true;
  hung = [];
  entered = [];
  // A new list per step, not one kept and cleared: a kept one ends up in the old generation, where
  // every copy put in it costs the garbage collector a remembered reference (measured slower).
  copies = [];
  try {
    return run();
  } finally {
    active = was;
    hung = wasHung;
    copies = wasCopies;
    entered = wasEntered;
  }
}

/**
 * Freezes what the step's own copies made, once the recipe is done and before immer finishes the
 * step. Immer would walk every copy hung in a draft looking for drafts inside (its check of each
 * child costs about 0.2 µs, and a queue's copies alone have hundreds of children), then walk it again
 * to freeze it; frozen here, immer's walks stop at them. The copies themselves are frozen as they are,
 * and only what `noteEntered` was told of is walked for new objects: a walk of the copies from the
 * ones hung in drafts, comparing every slot with the original's, cost about a quarter of a step at
 * 100k live tasks (P7b). When something entered holds a draft (a recipe moved part of a record into
 * a table entry), a Map or a Set, the step falls back to that walk, which leaves every copy on the
 * way to it to immer, which swaps the draft for its final value.
 */
export function settleOwnCopies(): void {
  const made: object[] = [];
  let settled = true;
  for (const value of entered) {
    if (!collectNew(value, made)) {
      settled = false;
      break;
    }
  }
  if (settled) {
    for (const copy of copies) Object.freeze(copy);
    for (const value of made) Object.freeze(value);
  } else {
    for (const copy of hung) {
      made.length = 0;
      if (collectNew(copy, made)) for (const value of made) Object.freeze(value);
    }
  }
  hung = [];
  entered = [];
  copies = [];
}

/**
 * Adds to `made` every object in `value` that is not frozen (reached through objects that are not
 * frozen either: a frozen one is from an earlier state, and holds nothing new; a copy is not frozen
 * yet, and is walked like a new object); false when one of them is a draft, a Map or a Set, which
 * immer must finish.
 */
function collectNew(value: unknown, made: object[]): boolean {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return true;
  if (isDraft(value) || value instanceof Map || value instanceof Set) return false;
  made.push(value);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) if (!collectNew(value[index], made)) return false;
    return true;
  }
  // Object.keys rather than for...in, which measured slower on the dictionary-mode records of a table's buckets.
  for (const key of Object.keys(value)) if (!collectNew((value as Record<string, unknown>)[key], made)) return false;
  return true;
}

/** Whether `value` (a table or a queue) is written with own copies: it is a draft, in a step with own copies. */
export function ownCopiesFor(value: object): boolean {
  return active && isDraft(value);
}

/**
 * The key under which a draft answers with immer's record of it (immer's `DRAFT_STATE`, a
 * registered symbol; `isDraft` reads the same key).
 */
const draftStateKey = Symbol.for('immer-state');

/**
 * The record immer keeps behind a draft: the object it started from and, once the draft was
 * written or a child of it drafted, its copy. Only these two fields are read.
 */
interface DraftRecord {
  readonly base_: unknown;
  readonly copy_: unknown;
}

/**
 * The object that holds the current fields of the draft behind `record` (immer's copy once it made
 * one, else the object the draft started from), as the proxy's own traps read them; undefined when
 * the record does not have the shape expected (another version of immer), where callers read the
 * property descriptor instead. Reading this way skips the proxy's descriptor trap, which built a
 * descriptor object per read (about a tenth of a step at 100k live tasks). A test in
 * test/unit/core/step.test.ts checks that both ways read the same.
 */
function fieldsOf(record: DraftRecord): Record<string | number, unknown> | undefined {
  const fields = record.copy_ ?? record.base_;
  return typeof fields === 'object' && fields !== null ? (fields as Record<string | number, unknown>) : undefined;
}

/** Immer's record of `value` when it is a draft (see `isDraft`), else undefined. */
function draftRecordOf(value: object): DraftRecord | undefined {
  if (immerSteps === 0) return undefined;
  return (value as { [draftStateKey]?: DraftRecord })[draftStateKey] ?? undefined;
}

/** `container[key]` without immer drafting it: a draft's copy (or base) holds the raw value. */
export function readField(container: object, key: string | number): unknown {
  const record = draftRecordOf(container);
  if (record === undefined) return (container as Record<string | number, unknown>)[key];
  return draftField(container, record, key);
}

/** Field `key` of draft `container`, whose immer record is `record`, without drafting it. */
function draftField(container: object, record: DraftRecord, key: string | number): unknown {
  const fields = fieldsOf(record);
  return fields === undefined ? Reflect.getOwnPropertyDescriptor(container, key)?.value : fields[key];
}

/**
 * `container[key]` ready to be written in place: a frozen object there (from an earlier state) is
 * replaced by a shallow copy first. Anything else (a draft, a node made in this step, a primitive,
 * nothing) is returned as it is.
 */
export function writableField(container: object, key: string | number): unknown {
  const record = draftRecordOf(container);
  const drafted = record !== undefined;
  const value: unknown = drafted ? draftField(container, record, key) : (container as Record<string | number, unknown>)[key];
  // A draft is never frozen (its target is immer's own record), so a frozen value is plain data.
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return value;
  const copy = shallowCopy(value);
  (container as Record<string | number, unknown>)[key] = copy;
  copies.push(copy);
  if (drafted) hung.push(copy);
  return copy;
}

/**
 * A copy of a frozen value that can be written anywhere inside (every frozen array and plain object
 * in it copied); a value that is not frozen is returned as it is. For an entry a recipe may change.
 */
export function thawedDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return value;
  if (Array.isArray(value)) return value.map(thawedDeep) as T;
  const proto: unknown = Object.getPrototypeOf(value);
  // Only plain records are state; anything else is left as it is, as immer leaves it.
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = proto === null ? (Object.create(null) as Record<string, unknown>) : {};
  for (const key of Object.keys(value)) copy[key] = thawedDeep((value as Record<string, unknown>)[key]);
  return copy as T;
}

/**
 * A shallow copy keeping the prototype: a record without one (a table's entries) stays without one,
 * and so stays in V8's dictionary mode, which copies fast whatever its keys (see core/table.ts).
 */
function shallowCopy(value: object): object {
  if (Array.isArray(value)) return [...(value as unknown[])];
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null) {
    // A loop over its keys rather than `Object.assign`, which took about twice as long on a
    // dictionary-mode record of a key or two (a table's bucket at 100k entries).
    const copy = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value)) copy[key] = (value as Record<string, unknown>)[key];
    return copy;
  }
  return { ...value };
}
