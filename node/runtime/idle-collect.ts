/**
 * A worker that went idle while it holds refs that only its JavaScript values hold (borrowed ones, or
 * refs to objects it owns) collects garbage once. A borrowed ref (or
 * actor handle) that a task or an actor method decoded is given back to its owner when its object
 * here is collected, and V8 collects when the thread allocates, or (its memory reducer) about 8 s
 * after an isolate went idle. So an actor that once received another actor's handle kept that actor
 * alive until then after every other handle was dropped (100 actors that each called a neighbour's
 * handle were all still ALIVE 3 s after the driver dropped half of them). Now once a worker has run
 * nothing for a whole period, holds such a ref, and has run
 * a body since it last collected, it collects (a full collection costs an idle worker about 20 ms of
 * CPU here), once per idle spell.
 */
import { tableSome } from '../../core/table.js';
import type { OwnerState } from '../../core/owner/index.js';
import { collectGarbage } from './collect.js';

/** How long a worker must have run no body before it collects (the period of the check). */
export const idleCollectMs = 1000;

/**
 * The most of a worker's time its idle collections may take: after one that took `t` ms, the next
 * waits at least `t * idleCollectSpacing` ms. A collection of an actor's large heap is not ~20 ms
 * but can be hundreds, and an actor called with a borrowed ref every second or two would otherwise
 * collect after every call.
 */
export const idleCollectSpacing = 20;

/** What the check reads of the worker's executor: how many bodies it started, ever, and runs now. */
export interface WorkerBodies {
  readonly bodiesStarted: number;
  readonly executingCount: number;
}

/** A test's window on the check: its collection, its clock, and what calls it each period. */
export interface IdleCollectOptions {
  readonly collect?: () => void;
  readonly nowMs?: () => number;
  /** Calls `check` every period until the returned stop is called (default: an unref'd interval of `idleCollectMs`). */
  readonly every?: (check: () => void) => () => void;
}

/** An unref'd interval of `idleCollectMs`: it keeps no worker alive. */
function everyPeriod(check: () => void): () => void {
  const timer = setInterval(check, idleCollectMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Whether some JavaScript value of this thread holds a ref that a collection may give back: a
 * borrowed one decoded here, or one of this worker's own objects (a task's nested submissions, whose
 * refs its body dropped). A task worker that owns an object cannot end when idle (core/raylet/idle-exit.ts),
 * so the refs its finished bodies dropped are what keep the pool from shrinking after nested tasks.
 */
export function holdsDecodedRefs(state: OwnerState): boolean {
  return tableSome(state.borrowed, (entry) => entry.localRefs > 0) || tableSome(state.objects, (object) => object.localRefs > 0);
}

/**
 * Checks every `idleCollectMs` (an unref'd timer: it keeps no worker alive), and collects when the
 * worker ran no body since the last check, has started one since its last collection, its owner
 * `state` holds decoded borrows, and its last collection is far enough behind (`idleCollectSpacing`).
 * Returns the stop.
 */
export function collectWhenIdle(bodies: WorkerBodies, state: () => OwnerState, options: IdleCollectOptions = {}): () => void {
  const collect = options.collect ?? collectGarbage;
  const nowMs = options.nowMs ?? (() => performance.now());
  let startedAtLastCheck = bodies.bodiesStarted;
  let startedAtLastCollection = bodies.bodiesStarted;
  let nextAllowedMs = -Infinity;
  return (options.every ?? everyPeriod)(() => {
    const started = bodies.bodiesStarted;
    const quiet = started === startedAtLastCheck && bodies.executingCount === 0;
    startedAtLastCheck = started;
    if (!quiet || started === startedAtLastCollection || nowMs() < nextAllowedMs) return;
    startedAtLastCollection = started;
    if (!holdsDecodedRefs(state())) return;
    const startMs = nowMs();
    collect();
    const endMs = nowMs();
    nextAllowedMs = endMs + (endMs - startMs) * idleCollectSpacing;
  });
}
