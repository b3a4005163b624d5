/**
 * A task worker's answer to its raylet's idle exit (core/raylet/idle-exit.ts): it may be ended only
 * when it owns nothing and is part of nothing under way, since what it owns (objects and their
 * lineage, actors it created, leases) would go with it, and borrowers and callers would then see an
 * owner die. Ray's worker declines its raylet's exit request on the same grounds.
 */
import { send } from '../effects.js';
import { rayletAddress } from '../ids.js';
import { fifoSize } from '../fifo.js';
import { isEmptyRecord } from '../table.js';
import type { Ctx } from './context.js';
import { emit } from './context.js';
import type { OwnerState } from './state.js';

/**
 * `worker/exit-requested`: agree (`worker/exit-agreed`, for spell `turn`) when this worker owns
 * nothing; otherwise remember the spell, and agree once it owns nothing (`agreeOnceFree`): the refs
 * that hold what it owns are often dropped by others later (a driver that let go of a nested ref), and
 * the raylet asks only a few times per spell.
 */
export function onExitRequested(ctx: Ctx, turn: number): void {
  const s = ctx.s;
  if (s.isDriver || s.actor !== undefined) return;
  if (ownsNothing(s)) agree(ctx, turn);
  else s.exitDeclinedTurn = turn;
}

/**
 * After every step of a worker that declined an idle exit: agree now if it owns nothing any more.
 * The raylet ends it only if it is still idle in that spell (a lease since makes the answer stale).
 */
export function agreeOnceFree(ctx: Ctx): void {
  const turn = ctx.s.exitDeclinedTurn;
  if (turn === undefined || !ownsNothing(ctx.s)) return;
  agree(ctx, turn);
}

function agree(ctx: Ctx, turn: number): void {
  const s = ctx.s;
  if (s.exitDeclinedTurn !== undefined) s.exitDeclinedTurn = undefined;
  emit(ctx, send(rayletAddress(s.nodeId), { type: 'worker/exit-agreed', workerId: s.workerId, turn }));
}

/**
 * Whether `state` owns, borrows, runs and waits for nothing: no task, object (actor handles
 * included), borrowed ref, lease, execution, get, wait, fetch, acknowledgement or put under way.
 */
export function ownsNothing(state: OwnerState): boolean {
  return (
    state.tasks.size === 0 &&
    state.objects.size === 0 &&
    state.borrowed.size === 0 &&
    state.executions.size === 0 &&
    state.gets.size === 0 &&
    state.waits.size === 0 &&
    fifoSize(state.queuedExecutions) === 0 &&
    isEmptyRecord(state.leases) &&
    isEmptyRecord(state.fetches) &&
    isEmptyRecord(state.acks) &&
    isEmptyRecord(state.storing)
  );
}
