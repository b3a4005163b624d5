/**
 * A worker that went idle while it holds refs it borrowed collects garbage once. A borrowed ref (or
 * actor handle) that a task or an actor method decoded is given back to its owner when its object
 * here is collected, and V8 collects when the thread allocates, or (its memory reducer) about 8 s
 * after an isolate went idle. So an actor that once received another actor's handle kept that actor
 * alive until then after every other handle was dropped (100 actors that each called a neighbour's
 * handle were all still ALIVE 3 s after the driver dropped half of them). Now once a worker has run
 * nothing for a whole period, holds a borrowed ref that only its JavaScript objects hold, and has run
 * a body since it last collected, it collects (a full collection costs an idle worker about 20 ms of
 * CPU here), once per idle spell.
 */
import { tableSome } from '../../core/table.js';
import type { OwnerState } from '../../core/owner/index.js';
import { collectGarbage } from './collect.js';

/** How long a worker must have run no body before it collects (the period of the check). */
export const idleCollectMs = 1000;

/** What the check reads of the worker's executor: how many bodies it started, ever, and runs now. */
export interface WorkerBodies {
  readonly bodiesStarted: number;
  readonly runningCount: number;
}

/** Whether `state` borrows a ref that some decoded value of this thread holds (which a collection may give back). */
export function holdsDecodedBorrows(state: OwnerState): boolean {
  return tableSome(state.borrowed, (entry) => entry.localRefs > 0);
}

/**
 * Checks every `idleCollectMs` (an unref'd timer: it keeps no worker alive), and collects when the
 * worker ran no body since the last check, has started one since its last collection, and its owner
 * `state` holds decoded borrows. `collect` and `periodMs` are a test's window on it; returns the stop.
 */
export function collectWhenIdle(bodies: WorkerBodies, state: () => OwnerState, collect: () => void = collectGarbage, periodMs = idleCollectMs): () => void {
  let startedAtLastCheck = bodies.bodiesStarted;
  let startedAtLastCollection = bodies.bodiesStarted;
  const timer = setInterval(() => {
    const started = bodies.bodiesStarted;
    const quiet = started === startedAtLastCheck && bodies.runningCount === 0;
    startedAtLastCheck = started;
    if (!quiet || started === startedAtLastCollection) return;
    startedAtLastCollection = started;
    if (holdsDecodedBorrows(state())) collect();
  }, periodMs);
  timer.unref();
  return () => clearInterval(timer);
}
