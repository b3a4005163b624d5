/**
 * The rules of the oracle, as one table: beyond what its inputs and its body give, which outcomes a
 * result may also have, and why. A row applies when its condition holds for the result's situation;
 * the reference model adds what every applying row allows, and dependents inherit it through their
 * arguments. Everything not allowed here is a failure, GetTimeoutError always (no get has a timeout).
 */
import type { ErrorClass } from '../../core/values.js';
import type { BodyName } from './workload.js';

/** One outcome a result may have: a value, an error class, or any value at all (a total we cannot predict). */
export type Possible = { readonly value: unknown } | { readonly error: ErrorClass } | { readonly anyValue: true };

/** What a run went through, read from its fault log. */
export interface World {
  /** A worker, an owner or a node died (message faults, healed partitions and GCS restarts are not crashes). */
  readonly crashes: boolean;
}

/** What the oracle knows about one result when it decides what else it may be. */
export interface Situation {
  /** What made it: a task, a put, an actor call, or the inner task a `returnsRef` body submitted. */
  readonly kind: 'task' | 'put' | 'call' | 'inner';
  readonly body?: BodyName;
  readonly retryExceptions?: boolean;
  readonly crashes: boolean;
  /** A cancel op targets the task (for `inner`: the `returnsRef` task that submitted it). */
  readonly cancelled?: boolean;
  /** A kill op targets the actor the call went to. */
  readonly actorKilled?: boolean;
  /** The actor may have restarted (and so started its total again) before the call ran. */
  readonly actorMayRestart?: boolean;
  /** The workload itself ends workers: an `exit` body, a force cancel, or a kill. */
  readonly workloadEndsWorkers?: boolean;
}

/** One row of the table. */
export interface Rule {
  readonly when: (s: Situation) => boolean;
  readonly allow: readonly ErrorClass[];
  readonly anyValue?: boolean;
  readonly why: string;
}

/** The table. The driver's own node never dies in the simulator, so puts have no row. */
export const outcomeRules: readonly Rule[] = [
  { when: (s) => s.kind === 'task' && s.cancelled === true, allow: ['TaskCancelledError'], why: 'a cancel lands before the task ends, or after (then it is a no-op)' },
  {
    when: (s) => s.kind === 'task' && s.cancelled === true && s.body === 'flaky' && s.retryExceptions === true,
    allow: ['RayTaskError'],
    why: 'a cancel that lands after the first attempt threw stops the retry, so that error stands',
  },
  { when: (s) => s.kind === 'inner' && s.cancelled === true, allow: ['TaskCancelledError'], why: 'a recursive cancel reaches the task the body submitted' },
  {
    when: (s) => s.kind === 'inner' && s.workloadEndsWorkers === true,
    allow: ['OwnerDiedError'],
    why: 'the worker that owns the inner object may be reused, then ended by an exit body, a force cancel or a kill (with the workers it leased)',
  },
  { when: (s) => s.kind === 'call' && s.actorKilled === true, allow: ['ActorDiedError', 'ActorUnavailableError'], why: 'a kill reaches the actor at a time the driver does not control' },
  { when: (s) => s.kind === 'call' && s.actorMayRestart === true, allow: [], anyValue: true, why: 'a restarted actor counts from its start value again' },
  {
    when: (s) => s.crashes && s.kind === 'task',
    allow: ['WorkerCrashedError', 'ObjectLostError', 'ObjectReconstructionFailedError'],
    why: 'retries or lineage reconstruction may run out when workers and nodes die',
  },
  { when: (s) => s.crashes && s.kind === 'call', allow: ['ActorDiedError', 'ActorUnavailableError', 'ObjectLostError'], why: 'the actor, or a stored argument, may die with its worker or node' },
  {
    when: (s) => s.crashes && s.kind === 'inner',
    allow: ['OwnerDiedError', 'WorkerCrashedError', 'ObjectLostError', 'ObjectReconstructionFailedError'],
    why: 'the worker owning the inner object may die, or the inner task may run out of retries',
  },
];

/**
 * Whether an actor call that failed with `errorClass` may still have run: the actor died or restarted
 * after running it and before its reply arrived. Such a call may have added to the actor's total.
 */
export function callMayHaveRun(errorClass: string): boolean {
  return errorClass === 'ActorDiedError' || errorClass === 'ActorUnavailableError';
}

/** What the table allows for `situation` beyond the result's own outcomes, with the reasons. */
export function extraOutcomes(situation: Situation): { readonly errors: readonly ErrorClass[]; readonly anyValue: boolean; readonly why: readonly string[] } {
  const errors: ErrorClass[] = [];
  let anyValue = false;
  const why: string[] = [];
  for (const rule of outcomeRules) {
    if (!rule.when(situation)) continue;
    for (const error of rule.allow) if (!errors.includes(error)) errors.push(error);
    anyValue ||= rule.anyValue === true;
    why.push(rule.why);
  }
  return { errors, anyValue, why };
}

/** The world a run went through, from `SimResult.faults`. */
export function worldOf(faults: readonly string[]): World {
  return { crashes: faults.some((line) => /\b(crashed|died)\b/.test(line)) };
}
