/**
 * The interpreter of the workload language: a resolved plan becomes a `SimProgram` whose driver runs
 * the steps in order, then gets every result it still holds, one by one, and returns what each gave.
 */
import type { SimActor, SimContext, SimProgram, SimRef, Yielded } from '../../core/sim/index.js';
import { SimGetError, isSimRef } from '../../core/sim/index.js';
import type { PlanArg, Plan } from './workload.js';
import { bigPadBytes, num } from './workload.js';

/** What one `get` gave: a value (refs inside it written as '$ref') or the error class. */
export type Observed = { readonly value: unknown } | { readonly error: string };

/** What the driver reports for one result; `inner` is the value behind the ref a `returnsRef` result holds. */
export interface ObservedResult {
  readonly result: number;
  readonly outcome: Observed;
  readonly inner?: Observed;
}

/**
 * Sums the arguments as `num` does, getting refs nested inside array arguments first (they arrive as
 * refs, as API.md says of refs nested in an argument).
 */
function* sumArgs(ctx: SimContext, args: readonly unknown[]): Generator<Yielded, number, unknown> {
  let total = 0;
  for (const arg of args) {
    if (!Array.isArray(arg)) {
      total += num(arg);
      continue;
    }
    for (const item of arg) total += isSimRef(item) ? num(yield ctx.get(item)) : num(item);
  }
  return total;
}

/** The fixed body library; each one's behaviour is mirrored by the reference model. */
const bodies: SimProgram['bodies'] = {
  add: function* (ctx, ...args) {
    return yield* sumArgs(ctx, args);
  },
  fail: () => {
    throw new Error('boom');
  },
  flaky: function* (ctx, ...args) {
    if (ctx.attempt <= 1) throw new Error('flaky on its first attempt');
    return 100 + (yield* sumArgs(ctx, args));
  },
  exit: function* (ctx, ...args) {
    if (ctx.attempt <= 1) ctx.exit();
    return 200 + (yield* sumArgs(ctx, args));
  },
  big: function* (ctx, ...args) {
    return { v: yield* sumArgs(ctx, args), $padBytes: bigPadBytes };
  },
  nested: function* (ctx, ...args) {
    const child = ctx.submit('add', args) as SimRef;
    return 10 * num(yield ctx.get(child));
  },
  returnsRef: (ctx, ...args) => ({ inner: ctx.submit('add', args) }),
  pair: function* (ctx, ...args) {
    const sum = yield* sumArgs(ctx, args);
    return [sum, sum + 1];
  },
};

const actors: SimProgram['actors'] = {
  Counter: {
    init: (_ctx, start) => ({ total: num(start) }),
    methods: {
      add: (_ctx, state, n) => {
        state['total'] = num(state['total']) + num(n);
        return state['total'];
      },
    },
  },
};

/** Replaces ref markers inside a value by '$ref', since object ids are not part of what the reference predicts. */
export function normalizeValue(value: unknown): unknown {
  if (isSimRef(value)) return '$ref';
  if (Array.isArray(value)) return value.map(normalizeValue);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normalizeValue(item)]));
  return value;
}

/** Turns a resolved plan into a simulator program. */
export function toProgram(plan: Plan, name = 'property-workload'): SimProgram {
  const driver = function* (ctx: SimContext): Generator<Yielded, unknown, unknown> {
    const refs = new Map<number, SimRef>();
    const handles = new Map<number, SimActor>();
    const argOf = (arg: PlanArg): unknown => {
      if (arg.kind === 'lit') return arg.n;
      if (arg.kind === 'ref') return refs.get(arg.result);
      return arg.results.map((r) => refs.get(r));
    };
    const remember = (results: readonly number[], made: SimRef | SimRef[]): void => {
      const list = Array.isArray(made) ? made : [made];
      results.forEach((r, index) => {
        const ref = list[index];
        if (ref !== undefined) refs.set(r, ref);
      });
    };
    for (const step of plan.steps) {
      switch (step.kind) {
        case 'task':
          remember(step.results, ctx.submit(step.body, step.args.map(argOf), { maxRetries: step.maxRetries, retryExceptions: step.retryExceptions, numReturns: step.numReturns }));
          break;
        case 'put':
          remember(step.results, ctx.put(step.value));
          break;
        case 'actor':
          handles.set(step.actor, ctx.createActor('Counter', [step.start], { maxRestarts: step.maxRestarts, maxTaskRetries: step.maxTaskRetries, maxConcurrency: step.maxConcurrency }));
          break;
        case 'call': {
          const handle = handles.get(step.actor);
          if (handle !== undefined) remember(step.results, ctx.call(handle, 'add', [argOf(step.arg)]));
          break;
        }
        case 'kill': {
          const handle = handles.get(step.actor);
          if (handle !== undefined) ctx.kill(handle, { noRestart: step.noRestart });
          break;
        }
        case 'cancel': {
          const ref = refs.get(step.result);
          if (ref !== undefined) ctx.cancel(ref, { force: step.force });
          break;
        }
        case 'release': {
          const ref = refs.get(step.result);
          if (ref !== undefined) ctx.release(ref);
          break;
        }
        case 'sleep':
          yield ctx.sleep(step.ms);
          break;
      }
    }
    const observed: ObservedResult[] = [];
    for (let result = 0; result < plan.resultCount; result++) {
      const ref = refs.get(result);
      if (ref === undefined || plan.released.has(result)) continue;
      const outcome: Observed = yield* getOne(ctx, ref);
      const innerRef = 'value' in outcome ? innerRefOf(outcome.value) : undefined;
      const inner = innerRef === undefined ? undefined : yield* getOne(ctx, innerRef);
      observed.push({ result, outcome: 'value' in outcome ? { value: normalizeValue(outcome.value) } : outcome, ...(inner === undefined ? {} : { inner: 'value' in inner ? { value: normalizeValue(inner.value) } : inner }) });
    }
    return observed;
  };
  return { name, bodies, actors, driver, otherDrivers: [sideJob] };
}

/**
 * A second job beside the workload, so that `driver-death` faults end a driver with work in flight:
 * its leases, its actors (one detached) and its objects must all be cleaned up, and it must not
 * disturb the main driver's results.
 */
function* sideJob(ctx: SimContext): Generator<Yielded, unknown, unknown> {
  const counter = ctx.createActor('Counter', [0], { name: 'side-counter' });
  const keeper = ctx.createActor('Counter', [0], { name: 'side-keeper', lifetime: 'detached' });
  const big = ctx.submit('big', [1]) as SimRef;
  const sums = [1, 2, 3].map((n) => ctx.submit('nested', [n]) as SimRef);
  const calls = [1, 2].map((n) => ctx.call(counter, 'add', [n]) as SimRef);
  const kept = ctx.call(keeper, 'add', [big]) as SimRef;
  for (const ref of [big, ...sums, ...calls, kept]) yield* getOne(ctx, ref);
  return null;
}

/** Gets one ref; an error the runtime reports becomes data, anything else is the driver's own bug and propagates. */
function* getOne(ctx: SimContext, ref: SimRef): Generator<Yielded, Observed, unknown> {
  try {
    return { value: yield ctx.get(ref) };
  } catch (error) {
    if (error instanceof SimGetError) return { error: error.info.errorClass };
    throw error;
  }
}

/** The ref a `returnsRef` value holds, if the value is one. */
function innerRefOf(value: unknown): SimRef | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const inner = (value as { inner?: unknown }).inner;
  return isSimRef(inner) ? inner : undefined;
}
