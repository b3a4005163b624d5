/**
 * The oracle: compares what the driver observed with what the reference model allows in the world
 * the run went through, and lists every disagreement in words.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Possible } from './outcome-rules.js';
import { callMayHaveRun } from './outcome-rules.js';
import type { Expectation } from './reference.js';
import { mayDeviate } from './reference.js';
import type { Observed, ObservedResult } from './workload-program.js';

/** One disagreement between the run and the model. */
export interface Mismatch {
  readonly result: number;
  readonly what: string;
}

/** Whether `observed` is one of `allowed`. */
export function allows(allowed: readonly Possible[], observed: Observed): boolean {
  return allowed.some((p) => {
    if ('error' in observed) return 'error' in p && p.error === observed.error;
    return 'anyValue' in p || ('value' in p && isDeepStrictEqual(p.value, observed.value));
  });
}

function show(p: Possible | Observed): string {
  if ('error' in p) return p.error;
  if ('anyValue' in p) return 'any value';
  return JSON.stringify(p.value);
}

const kind = (p: Possible | Observed | undefined): string => (p === undefined ? 'unseen' : 'error' in p ? 'error' : 'value');

/**
 * Whether an actor call's total may differ from the model's: some earlier call to the same actor was
 * did not end (or, unseen, may not have ended) the way the model's total assumes, so the increments differ.
 */
function totalExempt(expectation: Expectation, byResult: ReadonlyMap<number, ObservedResult>, expectations: readonly Expectation[]): boolean {
  return (expectation.earlierCalls ?? []).some((r) => {
    const outcomes = expectations[r]?.outcomes ?? [];
    const canonical = kind(outcomes[0]);
    const seen = byResult.get(r)?.outcome;
    // A call the driver released is unseen: it deviated if it could have. A call that failed
    // because its actor died or restarted may still have run (its reply was what got lost).
    if (seen === undefined) return mayDeviate(outcomes);
    return kind(seen) !== canonical || ('error' in seen && callMayHaveRun(seen.error));
  });
}

/** Every way the observed results disagree with the expectations; empty when the run is right. */
export function judge(expectations: readonly Expectation[], observed: readonly ObservedResult[]): Mismatch[] {
  const mismatches: Mismatch[] = [];
  const byResult = new Map(observed.map((o) => [o.result, o]));
  for (const expectation of expectations) {
    const { result } = expectation;
    const seen = byResult.get(result);
    if (expectation.released) {
      if (seen !== undefined) mismatches.push({ result, what: 'was released but the driver reported it' });
      continue;
    }
    if (seen === undefined) {
      mismatches.push({ result, what: 'the driver did not report it' });
      continue;
    }
    const allowedText = expectation.outcomes.map(show).join(' | ');
    if ('error' in seen.outcome && seen.outcome.error === 'GetTimeoutError') {
      mismatches.push({ result, what: 'GetTimeoutError, though no get has a timeout' });
    } else if (!allows(expectation.outcomes, seen.outcome)) {
      const exempt = 'value' in seen.outcome && expectation.earlierCalls !== undefined && totalExempt(expectation, byResult, expectations);
      if (!exempt) mismatches.push({ result, what: `got ${show(seen.outcome)}, expected ${allowedText}` });
    }
    if (expectation.inner !== undefined && 'value' in seen.outcome) {
      if (seen.inner === undefined) mismatches.push({ result, what: 'its value holds no ref to get' });
      else if (!allows(expectation.inner, seen.inner)) mismatches.push({ result, what: `inner ref got ${show(seen.inner)}, expected ${expectation.inner.map(show).join(' | ')}` });
    }
  }
  return mismatches;
}
