/**
 * Idle task workers past the node's soft limit end, as Ray's raylet ends idle workers past
 * `num_workers_soft_limit`. Tasks blocked in `get` let the pool grow past `maxWorkers` (nested tasks
 * would deadlock a full pool otherwise), and once those tasks finish their workers sit idle, each
 * holding a thread and its heap (about 13 MB here), for as long as the node lives. A worker idle for
 * `idleWorkerExitMs` while the node has more task workers than its soft limit is asked to end; it
 * agrees only when it owns nothing (an object it owns would be lost with it, as Ray's worker declines
 * its raylet's exit request while it owns objects), and the raylet then ends it, if it is still idle
 * in the same spell and still surplus.
 */
import { send } from '../effects.js';
import { workerAddress } from '../ids.js';
import type { MessageOf } from '../protocol.js';
import type { RayletEffect } from './events.js';
import type { RayletState, RayletWorker } from './state.js';
import { servesActor } from './worker-pool.js';

/** The prefix of an idle exit's timer id, `idle-exit:<workerId>:<idleTurn>:<ask>`. */
export const idleExitTimerPrefix = 'idle-exit:';

/**
 * How many times a worker is asked in one idle spell, `idleWorkerExitMs` apart, before it is left
 * alone until its next one. A worker's decoded refs are given back only when its thread collects
 * garbage, which an idle worker does once after a second of rest (node/runtime/idle-collect.ts): a
 * worker that declined the first ask has usually given them back by the second.
 */
export const maxIdleExitAsks = 3;

/** How many task workers the node keeps however long they are idle: its CPU count (Ray's `num_workers_soft_limit`). */
export function idleSoftLimit(state: RayletState): number {
  return Math.floor(state.total['CPU'] ?? 0);
}

/**
 * How many idle task workers the node could end: those past its soft limit, counting every task
 * worker alive, not ending and not serving an actor (workers blocked in `get` count: each is a thread
 * that will be back, and a worker that went idle while the tasks above it were still blocked would
 * otherwise never be surplus), and past the `prestartWorkers` it keeps ready (idle, or starting for
 * no lease). Without the second bound, a node whose CPUs were all busy would end its prestarted
 * workers and start them again, a thread boot every second.
 */
export function idleSurplus(state: RayletState): number {
  let workers = 0;
  let ready = 0;
  for (const worker of Object.values(state.workers)) {
    if (worker.kind !== 'worker' || worker.state === 'dead' || worker.state === 'dying' || servesActor(state, worker)) continue;
    workers += 1;
    if (worker.state === 'idle' || (worker.state === 'starting' && worker.leaseId === null)) ready += 1;
  }
  return Math.min(workers - idleSoftLimit(state), ready - state.config.prestartWorkers);
}

/** Makes `worker` idle, in a new spell, and arms its exit's timer when the node has surplus workers. */
export function makeIdle(state: RayletState, worker: RayletWorker, effects: RayletEffect[]): void {
  worker.state = 'idle';
  worker.idleTurn += 1;
  if (state.config.idleWorkerExitMs > 0 && idleSurplus(state) > 0) armAsk(state, worker.workerId, worker.idleTurn, 1, effects);
}

function armAsk(state: RayletState, workerId: string, turn: number, ask: number, effects: RayletEffect[]): void {
  effects.push({ type: 'timer/armed', timerId: `${idleExitTimerPrefix}${workerId}:${turn}:${ask}`, delayMs: state.config.idleWorkerExitMs });
}

/** Whether `worker` is a task worker still idle in spell `turn`. */
function idleIn(worker: RayletWorker | undefined, turn: number): worker is RayletWorker {
  return worker !== undefined && worker.kind === 'worker' && worker.state === 'idle' && worker.idleTurn === turn;
}

/** An idle exit's timer fired: ask the worker, if it is still idle in that spell and surplus, and ask again later. */
export function onIdleExitTimer(state: RayletState, timerId: string, effects: RayletEffect[]): void {
  const [workerId = '', turnText = '', askText = ''] = timerId.slice(idleExitTimerPrefix.length).split(':');
  const turn = Number(turnText);
  const ask = Number(askText);
  if (!idleIn(state.workers[workerId], turn) || idleSurplus(state) <= 0) return;
  effects.push(send(workerAddress(workerId), { type: 'worker/exit-requested', workerId, turn }));
  if (ask < maxIdleExitAsks) armAsk(state, workerId, turn, ask + 1, effects);
}

/** `worker/exit-agreed`: end the worker, if it is still idle in the spell asked about and still surplus. */
export function onExitAgreed(state: RayletState, message: MessageOf<'worker/exit-agreed'>, effects: RayletEffect[]): void {
  const worker = state.workers[message.workerId];
  if (!idleIn(worker, message.turn) || idleSurplus(state) <= 0) return;
  worker.state = 'dying';
  effects.push({ type: 'worker/kill', workerId: worker.workerId, reason: 'idle' });
}
