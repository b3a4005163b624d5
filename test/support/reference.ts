/**
 * The reference model: what each result of a workload may be, computed directly from the plan with
 * no simulator. Each result gets a list of possible outcomes whose first entry is the canonical one
 * (no faults, every cancel a no-op, every kill landing where the driver issued it); the rest come from
 * the rules table (`outcome-rules.ts`) and from inputs that may themselves be several things.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ErrorClass } from '../../core/values.js';
import type { Possible, Situation, World } from './outcome-rules.js';
import { callMayHaveRun, extraOutcomes } from './outcome-rules.js';
import type { BodyName, Plan, PlanArg, Step } from './workload.js';
import { bigPadBytes, num } from './workload.js';

/** What the oracle expects of one result. */
export interface Expectation {
  readonly result: number;
  /** Whether the driver released it (and so never gets it). */
  readonly released: boolean;
  /** The outcomes the runtime may give, canonical first. */
  readonly outcomes: readonly Possible[];
  /** For a `returnsRef` result: what the ref inside its value may give. */
  readonly inner?: readonly Possible[];
  /** For an actor call: the earlier calls to the same actor; its total assumes each ended canonically. */
  readonly earlierCalls?: readonly number[];
}

/** Beyond this many combinations of input outcomes, values are no longer predicted (any value passes). */
const maxCombinations = 256;

const anyValue: Possible = { anyValue: true };
const error = (errorClass: ErrorClass): Possible => ({ error: errorClass });

function isError(p: Possible): p is { error: ErrorClass } {
  return 'error' in p;
}

function isValue(p: Possible): p is { value: unknown } {
  return 'value' in p;
}

/** Drops repeated outcomes, keeping the first of each (so the canonical one stays first). */
function unique(list: readonly Possible[]): Possible[] {
  const out: Possible[] = [];
  for (const p of list) if (!out.some((q) => isDeepStrictEqual(p, q))) out.push(p);
  return out;
}

/** Adds what the rules table allows for `situation`. */
function withExtras(list: readonly Possible[], situation: Situation): Possible[] {
  const extra = extraOutcomes(situation);
  return unique([...list, ...extra.errors.map(error), ...(extra.anyValue ? [anyValue] : [])]);
}

/** Every combination of one outcome per list, the all-canonical one first; undefined when there are too many. */
function combinations(lists: readonly (readonly Possible[])[]): Possible[][] | undefined {
  let count = 1;
  for (const list of lists) count *= Math.max(1, list.length);
  if (count > maxCombinations) return undefined;
  let out: Possible[][] = [[]];
  for (const list of lists) out = out.flatMap((prefix) => list.map((p) => [...prefix, p]));
  return out;
}

/** A list whose values are all replaced by `anyValue`, for inputs too varied to enumerate. */
function blur(list: readonly Possible[]): Possible[] {
  return unique(list.map((p) => (isValue(p) ? anyValue : p)));
}

/** What summing the arguments may give: a number, any number, or a failed get of a nested ref. */
type SumOutcome = { readonly sum: number } | { readonly anySum: true } | { readonly fetchFailed: true };

/** The model's run-time context while it walks the plan. */
interface Model {
  readonly world: World;
  readonly outcomes: Map<number, Possible[]>;
  readonly cancelled: Set<number>;
  readonly workloadEndsWorkers: boolean;
}

function outcomesOf(model: Model, result: number): Possible[] {
  return model.outcomes.get(result) ?? [anyValue];
}

/** Beyond this many distinct sums, a sum is no longer predicted (any number passes). */
const maxSums = 64;

/**
 * The sums a body may compute, given top-level values (already resolved) and refs nested in array
 * args, canonical first. Any nested ref that may fail makes a failed get possible; the possible sums
 * are every way of adding one value per nested ref.
 */
function sums(model: Model, args: readonly PlanArg[], top: readonly Possible[]): SumOutcome[] {
  let base = 0;
  let unknown = false;
  let topIndex = 0;
  const nested: Possible[][] = [];
  for (const arg of args) {
    if (arg.kind === 'lit') base += arg.n;
    else if (arg.kind === 'ref') {
      const p = top[topIndex++];
      if (p === undefined || !isValue(p)) unknown = true;
      else base += num(p.value);
    } else for (const r of arg.results) nested.push(outcomesOf(model, r));
  }
  const canonicals = nested.map((list) => list[0] ?? anyValue);
  const canonical: SumOutcome = canonicals.some(isError)
    ? { fetchFailed: true }
    : unknown || canonicals.some((p) => 'anyValue' in p)
      ? { anySum: true }
      : { sum: canonicals.reduce((total, p) => total + (isValue(p) ? num(p.value) : 0), base) };
  const out: SumOutcome[] = [canonical];
  if (nested.some((list) => list.some(isError))) out.push({ fetchFailed: true });
  let totals: number[] | undefined = unknown ? undefined : [base];
  for (const list of nested) {
    const values = list.filter(isValue).map((p) => num(p.value));
    if (list.some((p) => 'anyValue' in p)) totals = undefined;
    if (totals === undefined || values.length === 0) continue;
    const next = [...new Set(totals.flatMap((t) => values.map((v) => t + v)))];
    totals = next.length > maxSums ? undefined : next;
  }
  const everyListHasValue = nested.every((list) => list.some((p) => !isError(p)));
  if (everyListHasValue) out.push(...(totals === undefined ? [{ anySum: true } as const] : totals.map((sum) => ({ sum }))));
  return out.filter((item, index) => out.findIndex((other) => isDeepStrictEqual(other, item)) === index);
}

/** A body's outcome for a sum: a value made from it, any value, or a RayTaskError from a failed nested get. */
function fromSums(list: readonly SumOutcome[], make: (sum: number) => unknown): Possible[] {
  return list.map((s): Possible => ('fetchFailed' in s ? error('RayTaskError') : 'anySum' in s ? anyValue : { value: make(s.sum) }));
}

/** What the `add` body gives, and what it may also give as a task of its own (the child of `nested`). */
function addAsTask(model: Model, list: readonly SumOutcome[]): Possible[] {
  return withExtras(fromSums(list, (s) => s), { kind: 'task', body: 'add', crashes: model.world.crashes });
}

/** The single value a body returns (before numReturns splits it), and the inner outcomes of `returnsRef`. */
function bodyOutcomes(model: Model, step: Extract<Step, { kind: 'task' }>, list: readonly SumOutcome[]): { outcomes: Possible[]; inner?: Possible[] } {
  const { crashes } = model.world;
  switch (step.body) {
    case 'add':
      return { outcomes: fromSums(list, (s) => s) };
    case 'fail':
      return { outcomes: [error('RayTaskError')] };
    case 'flaky': {
      const retried = fromSums(list, (s) => 100 + s);
      if (step.retryExceptions && step.maxRetries >= 1) return { outcomes: retried };
      // Without exception retries the first attempt's error stands, unless a crash ended that
      // attempt first and the retry that followed got past it.
      return { outcomes: [error('RayTaskError'), ...(crashes && step.maxRetries >= 1 ? retried : [])] };
    }
    case 'exit':
      return { outcomes: step.maxRetries >= 1 ? fromSums(list, (s) => 200 + s) : [error('WorkerCrashedError')] };
    case 'big':
      return { outcomes: fromSums(list, (s) => ({ v: s, $padBytes: bigPadBytes })) };
    case 'pair':
      return { outcomes: fromSums(list, (s) => [s, s + 1]) };
    case 'nested':
      return { outcomes: addAsTask(model, list).map((p): Possible => (isValue(p) ? { value: 10 * num(p.value) } : isError(p) ? error('RayTaskError') : p)) };
    case 'returnsRef':
      return { outcomes: [{ value: { inner: '$ref' } }], inner: fromSums(list, (s) => s) };
  }
}

/**
 * Splits a body's value into `numReturns` results. One return is the value as it is (a pair as an
 * array); two returns need a body that returns a pair, any other value is a RayTaskError.
 */
function splitReturns(body: BodyName, numReturns: number, p: Possible): Possible[] {
  if (numReturns === 1) return [p];
  if (body !== 'pair') return [p, p].map((q) => (isError(q) ? q : error('RayTaskError')));
  if (!isValue(p)) return [p, p];
  const pair = p.value as [number, number];
  return [{ value: pair[0] }, { value: pair[1] }];
}

function evaluateTask(model: Model, step: Extract<Step, { kind: 'task' }>): { perReturn: Possible[][]; inner?: Possible[] } {
  const topLists = step.args.filter((a): a is Extract<PlanArg, { kind: 'ref' }> => a.kind === 'ref').map((a) => outcomesOf(model, a.result));
  const perReturn: Possible[][] = step.results.map(() => []);
  let inner: Possible[] | undefined;
  // A failed top-level argument fails the task with the same error, before the body runs.
  const failWith = (errors: readonly Possible[]): void => {
    for (const list of perReturn) list.push(...errors);
  };
  const canonicalError = topLists.map((list) => list[0]).find((p) => p !== undefined && isError(p));
  if (canonicalError !== undefined) failWith([canonicalError]);
  const valueLists = topLists.map((list) => list.filter((p) => !isError(p)));
  if (valueLists.every((list) => list.length > 0)) {
    const combos = combinations(valueLists) ?? combinations(valueLists.map(blur)) ?? [valueLists.map(() => anyValue)];
    for (const combo of combos) {
      const body = bodyOutcomes(model, step, sums(model, step.args, combo));
      for (const p of body.outcomes) splitReturns(step.body, step.numReturns, p).forEach((q, index) => perReturn[index]?.push(q));
      if (body.inner !== undefined && step.numReturns === 1) inner = [...(inner ?? []), ...body.inner];
    }
  }
  failWith(topLists.flatMap((list) => list.filter(isError)));
  const cancelled = step.results.some((r) => model.cancelled.has(r));
  const situation: Situation = { kind: 'task', body: step.body, retryExceptions: step.retryExceptions, crashes: model.world.crashes, cancelled };
  return {
    perReturn: perReturn.map((list) => withExtras(list, situation)),
    ...(inner === undefined ? {} : { inner: withExtras(inner, { kind: 'inner', crashes: model.world.crashes, cancelled, workloadEndsWorkers: model.workloadEndsWorkers }) }),
  };
}

/** Whether an actor call may end otherwise than its canonical outcome says, or may have run though it failed. */
export function mayDeviate(outcomes: readonly Possible[]): boolean {
  const canonical = outcomes[0];
  if (canonical === undefined) return true;
  return outcomes.some((p) => isError(p) !== isError(canonical) || (isError(p) && callMayHaveRun(p.error)));
}

/** What the model keeps of one Counter actor. */
interface ActorModel {
  readonly start: number;
  readonly maxConcurrency: number;
  restartsLeft: number;
  dead: boolean;
  total: number;
  /** Totals from here on cannot be predicted (an increment that may take several values). */
  uncertain: boolean;
  readonly killed: boolean;
  readonly mayRestart: boolean;
  readonly calls: number[];
}

function isStored(p: Possible): boolean {
  return isValue(p) && typeof p.value === 'object' && p.value !== null && '$padBytes' in p.value;
}

/** The expected outcome of every result of `plan` in `world`. */
export function expectations(plan: Plan, world: World): Expectation[] {
  const cancelled = new Set<number>();
  const killed = new Set<number>();
  const restartingKill = new Set<number>();
  let workloadEndsWorkers = false;
  const maxRestarts = new Map<number, number>();
  for (const step of plan.steps) {
    if (step.kind === 'actor') maxRestarts.set(step.actor, step.maxRestarts);
    if (step.kind === 'cancel') {
      // A cancel targets the whole task, so every return of it.
      const task = plan.steps.find((s) => s.kind === 'task' && s.results.includes(step.result));
      for (const r of task?.kind === 'task' ? task.results : [step.result]) cancelled.add(r);
      workloadEndsWorkers ||= step.force;
    }
    if (step.kind === 'task' && step.body === 'exit') workloadEndsWorkers = true;
    if (step.kind === 'kill') {
      // The actor's worker may have run tasks before it hosted the actor, and owns what they made.
      workloadEndsWorkers = true;
      killed.add(step.actor);
      if (!step.noRestart && (maxRestarts.get(step.actor) ?? 0) > 0) restartingKill.add(step.actor);
    }
  }
  const model: Model = { world, outcomes: new Map(), cancelled, workloadEndsWorkers };
  const inners = new Map<number, Possible[]>();
  const earlier = new Map<number, number[]>();
  const callOutcomes = new Map<number, Possible[]>();
  const actors = new Map<number, ActorModel>();
  for (const step of plan.steps) {
    switch (step.kind) {
      case 'task': {
        const { perReturn, inner } = evaluateTask(model, step);
        step.results.forEach((r, index) => model.outcomes.set(r, perReturn[index] ?? [anyValue]));
        if (inner !== undefined && step.results[0] !== undefined) inners.set(step.results[0], inner);
        break;
      }
      case 'put':
        for (const r of step.results) model.outcomes.set(r, [{ value: step.value }]);
        break;
      case 'actor':
        actors.set(step.actor, {
          start: step.start,
          maxConcurrency: step.maxConcurrency,
          restartsLeft: step.maxRestarts,
          dead: false,
          total: step.start,
          uncertain: false,
          killed: killed.has(step.actor),
          mayRestart: restartingKill.has(step.actor) || (world.crashes && step.maxRestarts > 0),
          calls: [],
        });
        break;
      case 'call': {
        const actor = actors.get(step.actor);
        const r = step.results[0];
        if (actor === undefined || r === undefined) break;
        const arg = step.arg.kind === 'lit' ? [{ value: step.arg.n }] : step.arg.kind === 'ref' ? outcomesOf(model, step.arg.result) : [anyValue];
        // With two calls at a time, one that first fetches a stored argument may run after the next.
        if (actor.maxConcurrency > 1 && arg.some(isStored)) actor.uncertain = true;
        const ifRuns = arg.map((p): Possible => (isError(p) ? p : isValue(p) && !actor.uncertain ? { value: actor.total + num(p.value) } : anyValue));
        const list = actor.dead ? [error('ActorDiedError'), ...ifRuns] : ifRuns;
        const outcomes = withExtras(list, { kind: 'call', crashes: world.crashes, actorKilled: actor.killed, actorMayRestart: actor.mayRestart });
        callOutcomes.set(r, outcomes);
        // The oracle excuses a total once an earlier call did not end as the model assumed; what
        // depends on such a total must then be excused too, so dependents see any value.
        const excusable = actor.calls.some((c) => mayDeviate(callOutcomes.get(c) ?? []));
        model.outcomes.set(r, excusable ? blur(outcomes) : outcomes);
        earlier.set(r, [...actor.calls]);
        actor.calls.push(r);
        const canonical = arg[0];
        if (!actor.dead && canonical !== undefined && isValue(canonical)) actor.total += num(canonical.value);
        if (new Set(arg.filter(isValue).map((p) => JSON.stringify(p.value))).size > 1 || arg.some((p) => 'anyValue' in p)) actor.uncertain = true;
        break;
      }
      case 'kill': {
        const actor = actors.get(step.actor);
        if (actor === undefined) break;
        if (step.noRestart || actor.restartsLeft === 0) actor.dead = true;
        else {
          actor.restartsLeft -= 1;
          actor.total = actor.start;
        }
        break;
      }
      case 'cancel':
      case 'release':
      case 'sleep':
        break;
    }
  }
  const out: Expectation[] = [];
  for (let result = 0; result < plan.resultCount; result++) {
    const inner = inners.get(result);
    const calls = earlier.get(result);
    out.push({
      result,
      released: plan.released.has(result),
      outcomes: callOutcomes.get(result) ?? model.outcomes.get(result) ?? [anyValue],
      ...(inner === undefined ? {} : { inner: unique(inner) }),
      ...(calls === undefined ? {} : { earlierCalls: calls }),
    });
  }
  return out;
}

/** The reference: each result's outcome in a fault-free world with every cancel a no-op and every kill landing at once. */
export function referenceOutcomes(plan: Plan): Possible[] {
  return expectations(plan, { crashes: false }).map((e) => e.outcomes[0] ?? anyValue);
}
