/**
 * Worker lifecycle as the raylet sees it: drivers connecting, spawned workers starting and exiting,
 * tasks blocking in `get` (lending their CPU back) and unblocking, and kills asked for by others.
 */
import { send } from '../effects.js';
import { gcsAddress } from '../ids.js';
import type { MessageOf } from '../protocol.js';
import { give, take } from '../resources.js';
import { bindWorker, dispatch, fitsHere, grantedMessage, leaseCpu, resumedMessage, unbindWorker } from './dispatch.js';
import type { DriverConnected, RayletEffect, WorkerExited, WorkerStarted } from './events.js';
import { briefNewProcess, forwardToLocal } from './cluster.js';
import { makeIdle } from './idle-exit.js';
import { finishLease } from './lease-end.js';
import { sweepDeadOwners } from './owner-death.js';
import type { RayletLease, RayletState, RayletWorker } from './state.js';
import { rememberDeadOwner, rememberDeadWorker } from './tombstones.js';

/** `driver/connected`: track the driver, so that it hears broadcasts and its death is reported. */
export function onDriverConnected(state: RayletState, event: DriverConnected, effects: RayletEffect[]): void {
  if (state.workers[event.workerId] !== undefined) return;
  state.workers[event.workerId] = { workerId: event.workerId, kind: 'driver', state: 'connected', leaseId: null, blocked: false, earlyUnblocks: 0, blockSpell: 0, heldResources: {}, idleTurn: 0 };
  briefNewProcess(state, event.workerId, effects);
}

/** `worker/started`: grant the lease it was spawned for, or make it idle and dispatch. */
export function onWorkerStarted(state: RayletState, event: WorkerStarted, effects: RayletEffect[]): void {
  const worker = state.workers[event.workerId];
  if (worker === undefined || worker.kind !== 'worker' || worker.state !== 'starting') return;
  state.prestartFailures = 0;
  briefNewProcess(state, event.workerId, effects);
  const lease = worker.leaseId === null ? undefined : state.leases[worker.leaseId];
  if (lease !== undefined && lease.state === 'spawning' && lease.workerId === worker.workerId) {
    worker.state = 'leased';
    lease.state = 'granted';
    effects.push(grantedMessage(state, lease));
    return;
  }
  unbindWorker(state, worker);
  makeIdle(state, worker, effects);
  dispatch(state, effects);
}

/**
 * A lease whose worker died before starting gets another worker (its resources were just given
 * back, so they fit again), up to `maxSpawnRetries` times; then it is turned away for now.
 */
function rebindSpawningLease(state: RayletState, lease: RayletLease, effects: RayletEffect[]): void {
  lease.failedSpawns += 1;
  lease.workerId = null;
  lease.state = 'queued';
  if (lease.failedSpawns > state.config.maxSpawnRetries) {
    delete state.leases[lease.leaseId];
    const reason = `workers for lease ${lease.leaseId} died before starting ${lease.failedSpawns} times`;
    effects.push(send(lease.requester, { type: 'lease/rejected', leaseId: lease.leaseId, reason, permanent: false }));
    return;
  }
  if (fitsHere(state, lease) && bindWorker(state, lease, effects)) return;
  // Only reachable if the pool shrank under it; the lease then waits its turn again.
  if (state.queue.length < state.config.maxLeaseQueue) {
    state.queue.unshift(lease.leaseId);
    return;
  }
  delete state.leases[lease.leaseId];
  effects.push(send(lease.requester, { type: 'lease/rejected', leaseId: lease.leaseId, reason: 'lease queue full', permanent: false }));
}

/**
 * `worker/exited`: the worker is dead. Its granted lease ends (the requester hears `lease/worker-died`),
 * a lease waiting for it gets another worker, the GCS hears of the death, and leases and objects the
 * worker owned go as for any dead owner.
 */
export function onWorkerExited(state: RayletState, event: WorkerExited, effects: RayletEffect[]): void {
  const worker = state.workers[event.workerId];
  if (worker === undefined || worker.state === 'dead') return;
  const lease = worker.leaseId === null ? undefined : state.leases[worker.leaseId];
  if (worker.state === 'starting' && lease === undefined) state.prestartFailures += 1;
  unbindWorker(state, worker);
  worker.state = 'dead';
  rememberDeadWorker(state, event.workerId);
  if (lease !== undefined && lease.workerId === event.workerId) {
    if (lease.state === 'granted') {
      finishLease(state, lease.leaseId);
      effects.push(send(lease.requester, { type: 'lease/worker-died', leaseId: lease.leaseId, workerId: event.workerId, reason: event.reason }));
    } else if (lease.state === 'spawning') {
      rebindSpawningLease(state, lease, effects);
    }
  }
  effects.push(send(gcsAddress, { type: 'worker/died', workerId: event.workerId, nodeId: state.nodeId, reason: event.reason }));
  // Local owners hear of it at once, and even if the GCS cannot tell them (this node unknown to it yet).
  forwardToLocal(state, { type: 'worker/died', workerId: event.workerId, nodeId: state.nodeId, reason: event.reason }, effects);
  rememberDeadOwner(state, event.workerId);
  sweepDeadOwners(state, effects);
  dispatch(state, effects);
}

/**
 * `worker/blocked`: a leased worker's task waits in `get`; lend its CPU back to the node. Only for
 * the worker's latest spell, under the lease it serves now: a block of a lease that ended (its CPU
 * came back with the lease) or of a spell whose unblock came first (and was answered) lends nothing.
 */
export function onWorkerBlocked(state: RayletState, message: MessageOf<'worker/blocked'>, effects: RayletEffect[]): void {
  const worker = state.workers[message.workerId];
  if (worker === undefined) return;
  if (message.spell !== undefined) {
    if (message.spell <= worker.blockSpell) return;
    worker.blockSpell = message.spell;
    if (message.leaseId !== undefined && message.leaseId !== worker.leaseId) return;
  }
  if (worker.state !== 'leased' || worker.blocked) return;
  if (message.spell === undefined && worker.earlyUnblocks > 0) {
    // Its unblock overtook this block and the worker was already told to go on.
    worker.earlyUnblocks -= 1;
    return;
  }
  const cpu = worker.heldResources['CPU'] ?? 0;
  if (cpu > 0) {
    give(state.available, { CPU: cpu });
    delete worker.heldResources['CPU'];
  }
  worker.blocked = true;
  dispatch(state, effects);
}

/**
 * `worker/unblocked`: a blocked worker's gets settled; it takes its CPU back and goes on at once, even
 * when the CPU it lent is held by another lease now, as Ray's raylet lets a node's CPU go below zero
 * for it: a worker that had to wait for a CPU to come free stalled each level of nested tasks until
 * some lease ended (an owner keeps an idle lease for 50 ms), and at most the one lease its CPU went to
 * runs beside it. An unblock of an earlier spell was answered then; one whose CPU is not lent out
 * now (its block came second, lent nothing, or its lease ended since) only hears that it may go on.
 */
export function onWorkerUnblocked(state: RayletState, message: MessageOf<'worker/unblocked'>, effects: RayletEffect[]): void {
  const worker = state.workers[message.workerId];
  if (worker === undefined) return;
  if (message.spell !== undefined) {
    if (message.spell < worker.blockSpell) return;
    const lent = message.spell === worker.blockSpell && worker.blocked && worker.state === 'leased';
    worker.blockSpell = message.spell;
    if (lent) takeCpuBack(state, worker);
    effects.push(resumedMessage(worker));
    return;
  }
  if (worker.state === 'idle') {
    // Its lease ended while it was blocked, which gave its CPU back already: it may go on at once.
    effects.push(resumedMessage(worker));
    return;
  }
  if (worker.state !== 'leased') return;
  if (worker.blocked) takeCpuBack(state, worker);
  // Else the block has not arrived yet: the worker still holds its CPU, and the block lends nothing.
  else worker.earlyUnblocks += 1;
  effects.push(resumedMessage(worker));
}

/** Gives an unblocked worker the CPU of its lease again, letting the node's available CPU go below zero. */
function takeCpuBack(state: RayletState, worker: RayletWorker): void {
  const lease = worker.leaseId === null ? undefined : state.leases[worker.leaseId];
  const cpu = lease === undefined ? 0 : leaseCpu(lease);
  if (cpu > 0) {
    take(state.available, { CPU: cpu });
    worker.heldResources['CPU'] = cpu;
  }
  worker.blocked = false;
}

/** `worker/kill-requested`: end a spawned worker of this node that is still alive. */
export function onWorkerKillRequested(state: RayletState, message: MessageOf<'worker/kill-requested'>, effects: RayletEffect[]): void {
  const worker = state.workers[message.workerId];
  if (worker === undefined || worker.kind !== 'worker') return;
  if (worker.state !== 'starting' && worker.state !== 'idle' && worker.state !== 'leased') return;
  worker.state = 'dying';
  effects.push({ type: 'worker/kill', workerId: worker.workerId, reason: message.reason });
}

