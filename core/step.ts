/**
 * The two ways to apply a recipe. The live shell mutates its own state in place, because immer costs
 * O(size) per event; the simulator, the tests and the debugger run the same recipe under immer, for
 * per-event patches and frozen snapshots that catch accidental aliasing. Both must give the same state.
 */
import { Immer, enableMapSet, enablePatches, freeze, isDraft, isDraftable, produceWithPatches, setAutoFreeze } from 'immer';
import type { Patch } from 'immer';
import { InvariantViolation } from './assert.js';
import type { AnyEvent, ComponentCore } from './component.js';
import { duringImmerStep, settleOwnCopies, withOwnCopies } from './own-copies.js';
import { counted } from './counted.js';

// Patches feed the debugger's per-event diffs; frozen results make any later write to a snapshot
// throw at once; reducers may keep Maps and Sets, which immer drafts only with its MapSet plugin.
enablePatches();
enableMapSet();
setAutoFreeze(true);

/**
 * The immer of steps with own copies: it leaves the state it produced unfrozen, for `freezeMade` to
 * freeze (plugins are shared by every immer, so Maps and Sets draft here too).
 */
const immerLeavingUnfrozen = new Immer({ autoFreeze: false });

/** What a step under immer produced: the next (frozen) state, the effects and the patches from the previous state. */
export interface ImmerStep<S, F> {
  readonly state: S;
  readonly effects: F[];
  /** Empty when the step was asked for no patches. */
  readonly patches: Patch[];
}

/** How to run a step under immer. */
export interface ImmerStepOptions {
  /**
   * Whether to make the step's patches (default true), for the debugger's diff of one event. Without
   * them, tables and queues copy their own nodes instead of having immer draft them (see
   * core/own-copies.ts), which makes a step at 100k live tasks several times faster; the state is
   * the same either way.
   */
  readonly patches?: boolean;
}

/** The live shell's hot path: applies `event` to `state` in place and returns the recipe's effects. */
export function applyDirect<S, E extends AnyEvent, F>(core: ComponentCore<S, E, F>, state: S, event: E): F[] {
  return core.apply(state, event);
}

/**
 * Applies `event` to `state` under immer, leaving `state` itself unchanged (its untouched parts are
 * shared with, and frozen along with, the result; without patches, `state` is frozen whole first,
 * as own copies take frozen for "from an earlier state").
 *
 * @throws InvariantViolation when the recipe leaks a draft into an effect: the draft would be revoked
 *   once the step ends, so the effect would fail far from its cause.
 */
export function applyUnderImmer<S, E extends AnyEvent, F>(core: ComponentCore<S, E, F>, state: S, event: E, options: ImmerStepOptions = {}): ImmerStep<S, F> {
  let effects: F[] = [];
  // The producer returns nothing so that immer takes the draft as the result; the effects leave
  // through the closure, and are checked while the drafts are still alive to be recognised.
  const recipe = (draft: object): void => {
    effects = core.apply(draft as S, event);
    const steps = draftSteps(effects, new Set());
    if (steps !== undefined) {
      const leak = steps.length === 0 ? '(the effects array)' : steps.reverse().join('');
      throw new InvariantViolation(
        `recipe of ${core.kind} leaked an immer draft into effect ${leak} on event '${event.type}'; copy the value (spread or current()) before returning it`,
      );
    }
  };
  return duringImmerStep(() => {
    if (options.patches ?? true) {
      const [next, patches] = produceWithPatches(state as object, recipe);
      return { state: next as S, effects, patches };
    }
    return { state: produceWithOwnCopies(state as object, recipe) as S, effects, patches: [] };
  });
}

/**
 * Immer's `produce` with own copies (core/own-copies.ts): tables and queues in `base` copy their own
 * nodes instead of having immer draft them. No patches; `base` is frozen whole first, as own copies
 * take frozen for "from an earlier state".
 */
export function produceWithOwnCopies<T extends object>(base: T, recipe: (draft: T) => void): T {
  // Immer freezes every state it makes, so only a state made otherwise (the initial one, one built
  // in place or read from JSON) is not frozen yet; this walks it once and stops at frozen parts.
  if (!Object.isFrozen(base)) freeze(base, true);
  const next = duringImmerStep(() =>
    withOwnCopies(() =>
      immerLeavingUnfrozen.produce(base, (draft) => {
        recipe(draft as T);
        settleOwnCopies();
      }),
    ),
  );
  if (next !== base) freezeMade(next, base);
  return next;
}

/**
 * Freezes every object of `next` that a step made, `base` being what stood at the same place before
 * the step (frozen whole, as every state a step starts from is). Immer's own freeze of a state it
 * produced asks every field of every object it copied whether it is frozen, with several calls
 * each: the root of an owner's state alone has 37 fields, and that walk cost about a tenth of a step
 * at 100k live tasks (P7b of bench/). Here a field that still holds what it held in `base` is passed
 * over at the cost of a comparison. Maps and Sets are frozen as immer freezes them, and what immer
 * leaves unfrozen (whatever it does not draft) is left so here too.
 */
function freezeMade(next: unknown, base: unknown): void {
  if (typeof next !== 'object' || next === null || Object.isFrozen(next)) return;
  const proto: unknown = Object.getPrototypeOf(next);
  if (proto !== Object.prototype && proto !== null && !Array.isArray(next)) {
    // Anything but a plain record or an array (rare in a state) is frozen as immer freezes it: a Map
    // or a Set with its members, and what immer does not draft (a class instance, a typed array, on
    // which Object.freeze throws once it has elements) not at all.
    if (isDraftable(next)) freeze(next, true);
    return;
  }
  Object.freeze(next);
  const before = typeof base === 'object' && base !== null ? (base as Record<string | number, unknown>) : undefined;
  if (Array.isArray(next)) {
    for (let index = 0; index < next.length; index++) {
      const item: unknown = next[index];
      if (before === undefined) freezeMade(item, undefined);
      else if (item !== before[index]) freezeMade(item, before[index]);
    }
    return;
  }
  // for...in, not Object.keys: the objects here are immer's copies, in V8's fast mode, where for...in
  // reads each field through the enumeration cache and makes no array of keys (measured faster).
  for (const key in next) {
    const item = (next as Record<string, unknown>)[key];
    if (before === undefined) freezeMade(item, undefined);
    else if (item !== before[key]) freezeMade(item, before[key]);
  }
}

/**
 * `state`, built by direct steps, frozen deep so that steps under immer can take it as their base:
 * in a step with own copies (core/own-copies.ts), what is not frozen counts as made in that step and
 * is changed in place, which would change the state before the step. O(state), once per state.
 */
export function readyForImmer<S>(state: S): S {
  return freeze(state, true);
}

/**
 * Every broken invariant of `state`: from what changed since `checkedBefore` (a state a step under
 * immer made `state` from, in which every invariant held) where the core can tell, else over the
 * whole state. A step under immer that changed nothing gives back the state it started from, which
 * was checked: none is broken. (Under faults, a duplicate message changes nothing, and each walked
 * a driver's whole state: a third of a simulated script with 200 actors under chaos faults.)
 */
export function brokenInvariants<S, E extends AnyEvent, F>(core: ComponentCore<S, E, F>, state: S, checkedBefore?: { readonly state: S }): string[] {
  if (checkedBefore?.state === state) return [];
  return checkedBefore !== undefined && core.invariantsSince !== undefined ? core.invariantsSince(checkedBefore.state, state) : core.invariants(state);
}

/**
 * Checks every invariant of `state` and fails with all of the broken ones at once.
 *
 * @param context names the step, e.g. `seq 12 raylet:n1 lease/requested`, so the failure says where.
 * @param checkedBefore the state a step under immer made `state` from, in which every invariant
 *   held: only what the step changed is checked (`invariantsSince`), where the core can tell.
 * @throws InvariantViolation listing every broken invariant.
 */
export function checkInvariants<S, E extends AnyEvent, F>(core: ComponentCore<S, E, F>, state: S, context: string, checkedBefore?: { readonly state: S }): void {
  const broken = brokenInvariants(core, state, checkedBefore);
  if (broken.length === 0) return;
  throw new InvariantViolation(`${context}: ${counted(broken.length, `${core.kind} invariant`)} broken: ${broken.join('; ')}`);
}

/**
 * The steps of the path (e.g. `[0]`, `.message`, `.spec`) to the first draft inside `value`, the
 * innermost first, or undefined if there is none. The steps are written only once a draft is found:
 * every step under immer walks its effects, which almost never hold one.
 */
function draftSteps(value: unknown, seen: Set<object>): string[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (isDraft(value)) return [];
  if (seen.has(value)) return undefined;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = draftSteps(value[i], seen);
      if (found !== undefined) return found.concat(`[${i}]`);
    }
    return undefined;
  }
  if (value instanceof Map || value instanceof Set) {
    for (const [key, item] of value.entries()) {
      const inKey = draftSteps(key, seen);
      if (inKey !== undefined) return inKey.concat('<key>');
      const inItem = draftSteps(item, seen);
      if (inItem !== undefined) return inItem.concat(`<${String(key)}>`);
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = draftSteps((value as Record<string, unknown>)[key], seen);
    if (found !== undefined) return found.concat(`.${key}`);
  }
  return undefined;
}
