/**
 * The working context of one owner step: its state and the effects produced so far. Every function
 * of the owner's recipe takes it, mutates the state and appends effects.
 */
import type { ErrorClass, ErrorInfo, RefMarker } from '../values.js';
import type { OwnerEffect } from './events.js';
import type { OwnerState } from './state.js';

/** State plus the effects of the step in progress. */
export interface Ctx {
  readonly s: OwnerState;
  /**
   * The effects so far; undefined until the first (written only through `emit`). Most steps emit
   * one effect or none, and an empty list grown by its first push reserves 16 slots (144 bytes),
   * where a list made with its first effect holds just that one.
   */
  out: OwnerEffect[] | undefined;
}

/** Appends `effect` to the step's effects. */
export function emit(ctx: Ctx, effect: OwnerEffect): void {
  const out = ctx.out;
  if (out === undefined) ctx.out = [effect];
  else out.push(effect);
}

/** Builds an error record. */
export function errorOf(errorClass: ErrorClass, message: string, extra: Omit<ErrorInfo, 'errorClass' | 'message'> = {}): ErrorInfo {
  return { errorClass, message, ...extra };
}

/** Removes the first occurrence of `value` from `list` in place; true if it was there. */
export function removeOne<T>(list: T[], value: T): boolean {
  const index = list.indexOf(value);
  if (index < 0) return false;
  list.splice(index, 1);
  return true;
}

/** Removes every occurrence of `value` from `list` in place. */
export function removeAll<T>(list: T[], value: T): void {
  for (let index = list.indexOf(value); index >= 0; index = list.indexOf(value)) list.splice(index, 1);
}

/**
 * Copies of ref markers, for a list that state, an event and an effect must not share. An empty list
 * (nearly every value's) is made as it is, and the copies by a function made once: a `map` with an
 * arrow written at the call made a closure per call, and values are copied several times per task.
 */
export function copiedRefs(refs: readonly RefMarker[]): RefMarker[] {
  return refs.length === 0 ? [] : refs.map(copiedRef);
}

function copiedRef(ref: RefMarker): RefMarker {
  return { ...ref };
}
