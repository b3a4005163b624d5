/**
 * The shape every component's core takes: a state, an event union, a recipe that mutates the state
 * and returns effects, and invariants checked after every step. The same recipe runs on plain mutable
 * state in the live shell and under immer in the simulator, the tests and the debugger.
 */

/** An event as every component's union spells it: a discriminant `type`. */
export interface AnyEvent {
  readonly type: string;
}

/** One component's pure core. */
export interface ComponentCore<S, E extends AnyEvent, F> {
  /** `gcs`, `raylet` or `owner`: names the reducer in traces. */
  readonly kind: 'gcs' | 'raylet' | 'owner';
  /** Bumped when a recipe changes behaviour; recorded in trace headers. */
  readonly version: number;
  /** The state before the first event. */
  readonly initial: () => S;
  /** The recipe: mutate `state` for `event`, return the effects to carry out. Never throws on bad input it can ignore. */
  readonly apply: (state: S, event: E) => F[];
  /** Every broken invariant of `state`, as sentences; empty when all hold. */
  readonly invariants: (state: S) => string[];
  /**
   * The same as `invariants(after)`, for a state a step under immer made from `before`, in which
   * every invariant held: checks only what the step changed where it can tell (structural sharing),
   * so that a check after every event does not walk the whole state. Absent: `invariants` serves.
   */
  readonly invariantsSince?: (before: S, after: S) => string[];
}
