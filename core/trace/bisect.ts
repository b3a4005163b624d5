/**
 * The invariant breakpoint: the first event after which a predicate over one component's state
 * holds, found by bisection over the replayed states of that component. Replay is deterministic, so
 * the state after any of its events is fixed; bisection asks the predicate about O(log n) of them
 * instead of every one, which matters when the predicate is a user's expression over a large state.
 *
 * Bisection assumes that once the predicate holds it keeps holding, as a broken invariant usually
 * does; for one that comes and goes it finds a point where it starts to hold, not necessarily the
 * first, and `mode: 'linear'` asks every state instead. `bisectFirst` is the search alone, for a
 * caller (the debugger) that reaches states through its own snapshots.
 */
import type { Address } from '../ids.js';
import type { AnyEvent, ComponentCore } from '../component.js';
import type { Trace } from './format.js';
import { replayTrace } from './replay.js';
import type { ReplayCores } from './replay.js';

/** A predicate over a component's state; a throw counts as "does not hold" (see `BreakpointResult`). */
export type StatePredicate = (state: unknown) => boolean;

/**
 * The smallest position in [0, count) at which `holdsAt` is true, assuming it stays true from there
 * on, or undefined when it holds at none (it is asked about the last position first). Asks
 * O(log count) positions.
 */
export function bisectFirst(count: number, holdsAt: (position: number) => boolean): number | undefined {
  if (count <= 0 || !holdsAt(count - 1)) return undefined;
  let low = 0;
  let high = count - 1;
  // Invariant: it holds at `high`; it does not hold anywhere below `low`.
  while (low < high) {
    const middle = low + Math.floor((high - low) / 2);
    if (holdsAt(middle)) high = middle;
    else low = middle + 1;
  }
  return high;
}

/** The states of one component after each of its events, in trace order. */
export interface ComponentHistory {
  readonly address: Address;
  /** Its state before its first event. */
  readonly initial: unknown;
  /** The seq of each of its events. */
  readonly seqs: readonly number[];
  /** Its (frozen) state after each of those events. */
  readonly states: readonly unknown[];
  /** Why replay stopped before the end of the trace, if it did: the history ends there. */
  readonly stoppedAt?: string;
}

/**
 * Replays `trace` once and keeps the states of the component at `address` (immer shares what each
 * event leaves unchanged, so keeping them all costs about the size of the changes). The Left-like
 * string is for an address the trace does not have, naming those it has.
 */
export function componentHistory(trace: Trace, cores: ReplayCores, address: Address): ComponentHistory | string {
  const first = trace.entries.find((entry) => entry.address === address);
  if (first === undefined) {
    const addresses = [...new Set(trace.entries.map((entry) => entry.address))];
    const shown = addresses.length > 8 ? `${addresses.slice(0, 8).join(', ')} and ${addresses.length - 8} more` : addresses.join(', ');
    return `the trace has no component at '${address}'; its components are ${shown}`;
  }
  const seqs: number[] = [];
  const states: unknown[] = [];
  const result = replayTrace(trace, cores, (entry, state) => {
    if (entry.address !== address) return;
    seqs.push(entry.seq);
    states.push(state);
  });
  const initial = (cores[first.component] as ComponentCore<unknown, AnyEvent, unknown>).initial();
  return { address, initial, seqs, states, ...(result.ok ? {} : { stoppedAt: result.reason }) };
}

/** How the search went. */
export type BreakpointResult =
  /** The first event of the component after which the predicate holds. */
  | { readonly kind: 'found'; readonly seq: number; readonly evaluations: number }
  /** It already holds on the component's state before its first event. */
  | { readonly kind: 'from-start'; readonly evaluations: number }
  /** It holds after none of the component's events; `error` is the last throw of the predicate, if any. */
  | { readonly kind: 'never'; readonly evaluations: number; readonly error?: string };

/** How to search. */
export interface BreakpointOptions {
  /** 'bisect' (the default) asks O(log n) states; 'linear' asks each state in order and is exact for any predicate. */
  readonly mode?: 'bisect' | 'linear';
}

/** Searches a component's history for the first event after which `predicate` holds. */
export function findBreakpoint(history: ComponentHistory, predicate: StatePredicate, options: BreakpointOptions = {}): BreakpointResult {
  let evaluations = 0;
  let error: string | undefined;
  const holds = (state: unknown): boolean => {
    evaluations++;
    try {
      return predicate(state);
    } catch (thrown) {
      // A path that does not exist yet (state.tasks[id].state before the task is submitted) throws; it does not hold yet.
      error = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
      return false;
    }
  };
  if (holds(history.initial)) return { kind: 'from-start', evaluations };
  const count = history.states.length;
  let position: number | undefined;
  if (options.mode === 'linear') {
    for (let at = 0; at < count && position === undefined; at++) if (holds(history.states[at])) position = at;
  } else {
    position = bisectFirst(count, (at) => holds(history.states[at]));
  }
  if (position === undefined) return { kind: 'never', evaluations, ...(error === undefined ? {} : { error: error.replace(/[\r\n]+/g, ' ') }) };
  return { kind: 'found', seq: history.seqs[position] ?? 0, evaluations };
}

/** Replays `trace` and finds the first event of the component at `address` after which `predicate` holds. */
export function firstEventWhere(trace: Trace, cores: ReplayCores, address: Address, predicate: StatePredicate, options: BreakpointOptions = {}): BreakpointResult | string {
  const history = componentHistory(trace, cores, address);
  return typeof history === 'string' ? history : findBreakpoint(history, predicate, options);
}
