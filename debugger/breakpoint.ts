/**
 * The invariant breakpoint: a JS predicate over one component's state, and a search for the first
 * of its events after which the predicate holds. The search is a function the debugger is given
 * (`InvariantSearch`), so core/trace's bisection plugs in; `bisectFirst` is the default.
 */
import { flatTables } from '../core/table.js';


/**
 * The first position in `0..count-1` where `holds` is true, or undefined when it holds nowhere it
 * was probed. Assumes that once the predicate holds it keeps holding, as bisection does.
 */
export type InvariantSearch = (holds: (position: number) => boolean, count: number) => number | undefined;

/** Binary search for the first position where `holds` becomes true: about log2(count) probes. */
export const bisectFirst: InvariantSearch = (holds, count) => {
  if (count === 0 || !holds(count - 1)) return undefined;
  let low = 0;
  let high = count - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (holds(middle)) high = middle;
    else low = middle + 1;
  }
  return low;
};

/** A compiled predicate over a component's state. */
export type StatePredicate = (state: unknown) => boolean;

/**
 * Compiles `expression` (JavaScript, over `state`, also named `s`) into a predicate; a throw while
 * evaluating counts as false. The Left is a one-line reason when it does not compile.
 */
export function compilePredicate(expression: string): { ok: true; predicate: StatePredicate } | { ok: false; reason: string } {
  let compiled: (state: unknown, s: unknown) => unknown;
  try {
    // The user types the expression into their own debugger: running it is the point.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    compiled = new Function('state', 's', `"use strict"; return (${expression});`) as (state: unknown, s: unknown) => unknown;
  } catch (error) {
    return { ok: false, reason: `the predicate does not compile: ${error instanceof Error ? error.message : String(error)}` };
  }
  return {
    ok: true,
    predicate: (state) => {
      try {
        const readable = flatTables(state);
        return Boolean(compiled(readable, readable));
      } catch {
        return false;
      }
    },
  };
}
