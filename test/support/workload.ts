/**
 * A small workload language as data: a list of driver operations that fast-check can generate and
 * shrink. Indices inside operations are picks among what exists at that point of the driver script
 * (taken modulo), so that every generated or shrunk list is a valid workload. `resolveWorkload`
 * turns the picks into concrete result and actor numbers; both the interpreter and the reference
 * model read that resolved plan, so they cannot disagree on what a pick means.
 */
import fc from 'fast-check';

/** The task bodies of the fixed library (see `workload-program.ts` for what each does). */
export const bodyNames = ['add', 'fail', 'flaky', 'exit', 'big', 'nested', 'returnsRef', 'pair'] as const;

/** A task body name. */
export type BodyName = (typeof bodyNames)[number];

/** A task or call argument before resolution: a literal, a top-level ref, or refs nested in an array. */
export type ArgSpec = { readonly kind: 'lit'; readonly n: number } | { readonly kind: 'ref'; readonly pick: number } | { readonly kind: 'nested'; readonly picks: readonly number[] };

/** One driver operation as generated. */
export type OpSpec =
  | { readonly op: 'task'; readonly body: BodyName; readonly args: readonly ArgSpec[]; readonly maxRetries: number; readonly retryExceptions: boolean; readonly numReturns: 1 | 2 }
  | { readonly op: 'put'; readonly n: number; readonly big: boolean }
  | { readonly op: 'actor'; readonly start: number; readonly maxRestarts: number; readonly maxTaskRetries: number; readonly maxConcurrency: 1 | 2 }
  | { readonly op: 'call'; readonly actor: number; readonly arg: ArgSpec }
  | { readonly op: 'kill'; readonly actor: number; readonly noRestart: boolean }
  | { readonly op: 'cancel'; readonly target: number; readonly force: boolean }
  | { readonly op: 'release'; readonly target: number }
  | { readonly op: 'sleep'; readonly ms: number };

/** A generated workload. */
export type Workload = readonly OpSpec[];

/** An argument after resolution: result numbers instead of picks. */
export type PlanArg = { readonly kind: 'lit'; readonly n: number } | { readonly kind: 'ref'; readonly result: number } | { readonly kind: 'nested'; readonly results: readonly number[] };

/** One driver step after resolution; `results` are the result numbers the step creates. */
export type Step =
  | { readonly kind: 'task'; readonly body: BodyName; readonly args: readonly PlanArg[]; readonly maxRetries: number; readonly retryExceptions: boolean; readonly numReturns: 1 | 2; readonly results: readonly number[] }
  | { readonly kind: 'put'; readonly value: { readonly v: number; readonly $padBytes?: number }; readonly results: readonly number[] }
  | { readonly kind: 'actor'; readonly actor: number; readonly start: number; readonly maxRestarts: number; readonly maxTaskRetries: number; readonly maxConcurrency: 1 | 2 }
  | { readonly kind: 'call'; readonly actor: number; readonly arg: PlanArg; readonly results: readonly number[] }
  | { readonly kind: 'kill'; readonly actor: number; readonly noRestart: boolean }
  | { readonly kind: 'cancel'; readonly result: number; readonly force: boolean }
  | { readonly kind: 'release'; readonly result: number }
  | { readonly kind: 'sleep'; readonly ms: number };

/** A resolved workload: the steps, how many results they make, and which results the driver never gets. */
export interface Plan {
  readonly steps: readonly Step[];
  readonly resultCount: number;
  readonly actorCount: number;
  readonly released: ReadonlySet<number>;
}

/** The padding that makes a value large enough for the node's shared-memory store (the inline limit is 100 KiB). */
export const bigPadBytes = 200_000;

const literal = fc.integer({ min: 0, max: 9 });
const pick = fc.nat({ max: 20 });

const argSpec: fc.Arbitrary<ArgSpec> = fc.oneof(
  { weight: 2, arbitrary: literal.map((n): ArgSpec => ({ kind: 'lit', n })) },
  { weight: 3, arbitrary: pick.map((p): ArgSpec => ({ kind: 'ref', pick: p })) },
  { weight: 1, arbitrary: fc.array(pick, { minLength: 1, maxLength: 2 }).map((picks): ArgSpec => ({ kind: 'nested', picks })) },
);

const taskOp: fc.Arbitrary<OpSpec> = fc
  .record({
    body: fc.constantFrom(...bodyNames),
    args: fc.array(argSpec, { maxLength: 3 }),
    maxRetries: fc.integer({ min: 0, max: 3 }),
    retryExceptions: fc.boolean(),
    // One task in five asks for the other number of returns than its body gives: a pair as one value,
    // or two returns from a body that returns one (which the runtime reports as a RayTaskError).
    oddReturns: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
  })
  .map(({ oddReturns, ...task }): OpSpec => {
    const natural = task.body === 'pair' ? 2 : 1;
    return { op: 'task', ...task, numReturns: oddReturns ? (natural === 2 ? 1 : 2) : natural };
  });

const opSpec: fc.Arbitrary<OpSpec> = fc.oneof(
  { weight: 6, arbitrary: taskOp },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('put' as const), n: literal, big: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('actor' as const),
      start: literal,
      maxRestarts: fc.integer({ min: 0, max: 2 }),
      maxTaskRetries: fc.integer({ min: 0, max: 2 }),
      maxConcurrency: fc.constantFrom(1 as const, 2 as const),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('call' as const), actor: pick, arg: fc.oneof(literal.map((n): ArgSpec => ({ kind: 'lit', n })), pick.map((p): ArgSpec => ({ kind: 'ref', pick: p }))) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('kill' as const), actor: pick, noRestart: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), target: pick, force: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), target: pick }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sleep' as const), ms: fc.integer({ min: 1, max: 120 }) }) },
);

/** Workloads of 1 to `maxOps` operations (12 by default). */
export function workloadArbitrary(maxOps = 12): fc.Arbitrary<Workload> {
  return fc.array(opSpec, { minLength: 1, maxLength: maxOps });
}

/** Picks among `items`, counting back from the most recent, so that a pick shrinks towards the latest one. */
function choose<T>(items: readonly T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[items.length - 1 - (index % items.length)];
}

/**
 * Resolves picks into result and actor numbers. Refs are only taken among results the driver still
 * holds (using a released ref would be a bug of the workload, not of the runtime); an operation with
 * nothing to pick from (a call before any actor, a cancel before any task) is left out.
 */
export function resolveWorkload(workload: Workload): Plan {
  const steps: Step[] = [];
  const held: number[] = [];
  const taskResults = new Set<number>();
  const released = new Set<number>();
  let resultCount = 0;
  let actorCount = 0;
  const fresh = (count: number): number[] => {
    const made: number[] = [];
    for (let i = 0; i < count; i++) made.push(resultCount++);
    return made;
  };
  const resolveArg = (arg: ArgSpec): PlanArg => {
    if (arg.kind === 'lit') return arg;
    if (arg.kind === 'ref') {
      const result = choose(held, arg.pick);
      return result === undefined ? { kind: 'lit', n: arg.pick % 10 } : { kind: 'ref', result };
    }
    const results = arg.picks.map((p) => choose(held, p)).filter((r): r is number => r !== undefined);
    return results.length === 0 ? { kind: 'lit', n: 0 } : { kind: 'nested', results };
  };
  for (const op of workload) {
    switch (op.op) {
      case 'task': {
        const args = op.args.map(resolveArg);
        const results = fresh(op.numReturns);
        steps.push({ kind: 'task', body: op.body, args, maxRetries: op.maxRetries, retryExceptions: op.retryExceptions, numReturns: op.numReturns, results });
        for (const r of results) {
          held.push(r);
          taskResults.add(r);
        }
        break;
      }
      case 'put': {
        const results = fresh(1);
        steps.push({ kind: 'put', value: op.big ? { v: op.n, $padBytes: bigPadBytes } : { v: op.n }, results });
        held.push(...results);
        break;
      }
      case 'actor':
        steps.push({ kind: 'actor', actor: actorCount++, start: op.start, maxRestarts: op.maxRestarts, maxTaskRetries: op.maxTaskRetries, maxConcurrency: op.maxConcurrency });
        break;
      case 'call': {
        if (actorCount === 0) break;
        const arg = resolveArg(op.arg);
        const results = fresh(1);
        steps.push({ kind: 'call', actor: op.actor % actorCount, arg, results });
        held.push(...results);
        break;
      }
      case 'kill':
        if (actorCount > 0) steps.push({ kind: 'kill', actor: op.actor % actorCount, noRestart: op.noRestart });
        break;
      case 'cancel': {
        const result = choose(
          held.filter((r) => taskResults.has(r)),
          op.target,
        );
        if (result !== undefined) steps.push({ kind: 'cancel', result, force: op.force });
        break;
      }
      case 'release': {
        const result = choose(held, op.target);
        if (result === undefined) break;
        steps.push({ kind: 'release', result });
        held.splice(held.indexOf(result), 1);
        released.add(result);
        break;
      }
      case 'sleep':
        steps.push({ kind: 'sleep', ms: op.ms });
        break;
    }
  }
  return { steps, resultCount, actorCount, released };
}

/** The number a value counts as in sums: numbers as they are, `{ v }` as v, arrays as the sum of their items. */
export function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + num(item), 0);
  if (typeof value === 'object' && value !== null && typeof (value as { v?: unknown }).v === 'number') return (value as { v: number }).v;
  return 0;
}

/** A short, readable line per step, for failure reports. */
export function describePlan(plan: Plan): string {
  const arg = (a: PlanArg): string => (a.kind === 'lit' ? String(a.n) : a.kind === 'ref' ? `r${a.result}` : `[${a.results.map((r) => `r${r}`).join(',')}]`);
  return plan.steps
    .map((s) => {
      switch (s.kind) {
        case 'task':
          return `${s.results.map((r) => `r${r}`).join(',')} = ${s.body}(${s.args.map(arg).join(', ')}) retries=${s.maxRetries}${s.retryExceptions ? ' retryExceptions' : ''}${s.numReturns === 2 ? ' numReturns=2' : ''}`;
        case 'put':
          return `r${s.results[0] ?? '?'} = put(${JSON.stringify(s.value)})`;
        case 'actor':
          return `a${s.actor} = Counter(${s.start}) maxRestarts=${s.maxRestarts} maxTaskRetries=${s.maxTaskRetries} maxConcurrency=${s.maxConcurrency}`;
        case 'call':
          return `r${s.results[0] ?? '?'} = a${s.actor}.add(${arg(s.arg)})`;
        case 'kill':
          return `kill(a${s.actor}, noRestart=${s.noRestart})`;
        case 'cancel':
          return `cancel(r${s.result}, force=${s.force})`;
        case 'release':
          return `release(r${s.result})`;
        case 'sleep':
          return `sleep(${s.ms})`;
      }
    })
    .join('\n');
}
