/**
 * The raylet's recipe: one event in, the state mutated in place (plain or immer draft), effects out.
 * Delivered messages pass the inbox first, so a duplicate delivery changes nothing; once the raylet
 * has learned that the GCS declared its node dead it ignores everything.
 */
import { assertNever } from '../assert.js';
import type { TimerFired } from '../effects.js';
import { send } from '../effects.js';
import { gcsAddress } from '../ids.js';
import { admit } from '../inbox.js';
import type { Delivered } from '../protocol.js';
import { onClusterViewPublished, onNodeDied, onWorkerDied } from './cluster.js';
import { copyResources } from './copy.js';
import { idleExitTimerPrefix, onExitAgreed, onIdleExitTimer } from './idle-exit.js';
import type { NodeStarted, RayletEffect, RayletEvent, RayletInboundMessage } from './events.js';
import { onLeaseCancelled, onLeaseRequested, onLeaseReturned } from './leases.js';
import { pendingDemand } from './placement.js';
import { onCopyStored, onFetchRequested, onFreeRequested, onObjectSpilled, onPutRequested } from './object-store.js';
import type { RayletState } from './state.js';
import { defaultRayletConfig } from './state.js';
import { prestartWorkers } from './worker-pool.js';
import { onDriverConnected, onWorkerBlocked, onWorkerExited, onWorkerKillRequested, onWorkerStarted, onWorkerUnblocked } from './workers.js';

/** The id of the timer that paces heartbeats to the GCS. */
export const heartbeatTimerId = 'heartbeat';

/** `node/started`: take the node's resources and configuration, register with the GCS, start heartbeats. */
function startNode(state: RayletState, event: NodeStarted): RayletEffect[] {
  const config = { ...defaultRayletConfig, ...event.config };
  const cpu = event.resources['CPU'] ?? 0;
  // Ray's default pool size follows the CPU count; a few more cover tasks that hold no CPU. Actors' workers are outside it.
  const maxWorkers = config.maxWorkers > 0 ? config.maxWorkers : Math.floor(2 * cpu) + 4;
  state.phase = 'running';
  state.nodeId = event.nodeId;
  state.config = { ...config, maxWorkers };
  state.total = copyResources(event.resources);
  state.available = copyResources(event.resources);
  const effects: RayletEffect[] = [
    send(gcsAddress, { type: 'node/registered', nodeId: event.nodeId, resources: copyResources(event.resources), ...(event.transferAddress === undefined ? {} : { transferAddress: event.transferAddress }) }),
    { type: 'timer/armed', timerId: heartbeatTimerId, delayMs: config.heartbeatPeriodMs },
  ];
  prestartWorkers(state, effects);
  return effects;
}

/**
 * `timer/fired`: an idle worker's exit (see idle-exit.ts), or the heartbeat: report available
 * resources (and any pending demand) to the GCS and re-arm. Unknown timers are stale.
 */
function onTimerFired(state: RayletState, event: TimerFired): RayletEffect[] {
  if (event.timerId.startsWith(idleExitTimerPrefix)) {
    const effects: RayletEffect[] = [];
    onIdleExitTimer(state, event.timerId, effects);
    return effects;
  }
  if (event.timerId !== heartbeatTimerId) return [];
  const demand = pendingDemand(state);
  return [
    send(gcsAddress, { type: 'node/heartbeat', nodeId: state.nodeId, available: { ...state.available }, ...(demand.length === 0 ? {} : { demand }) }),
    { type: 'timer/armed', timerId: heartbeatTimerId, delayMs: state.config.heartbeatPeriodMs },
  ];
}

/** Handles one admitted message. */
function onDelivered(state: RayletState, event: Delivered<RayletInboundMessage>): RayletEffect[] {
  const effects: RayletEffect[] = [];
  switch (event.type) {
    case 'lease/requested':
      onLeaseRequested(state, event, effects);
      break;
    case 'lease/cancelled':
      onLeaseCancelled(state, event, effects);
      break;
    case 'lease/returned':
      onLeaseReturned(state, event, effects);
      break;
    case 'worker/blocked':
      onWorkerBlocked(state, event, effects);
      break;
    case 'worker/unblocked':
      onWorkerUnblocked(state, event, effects);
      break;
    case 'worker/kill-requested':
      onWorkerKillRequested(state, event, effects);
      break;
    case 'worker/exit-agreed':
      onExitAgreed(state, event, effects);
      break;
    case 'object/put-requested':
      onPutRequested(state, event, effects);
      break;
    case 'object/fetch-requested':
      onFetchRequested(state, event, effects);
      break;
    case 'object/free-requested':
      onFreeRequested(state, event, effects);
      break;
    case 'node/died':
      onNodeDied(state, event, effects);
      break;
    case 'worker/died':
      onWorkerDied(state, event, effects);
      break;
    case 'cluster/view-published':
      onClusterViewPublished(state, event, effects);
      break;
    default:
      assertNever(event, 'raylet message');
  }
  return effects;
}

/**
 * Applies one event to a raylet's state and returns the effects to carry out. Works the same on a
 * plain mutable state and on an immer draft; never throws on input it can ignore.
 */
export function applyRaylet(state: RayletState, event: RayletEvent): RayletEffect[] {
  if (state.phase === 'shut-down') return [];
  if ('via' in event) {
    if (state.phase !== 'running' || !admit(state.inbox, event.via)) return [];
    return onDelivered(state, event);
  }
  if (event.type === 'node/started') return state.phase === 'unstarted' ? startNode(state, event) : [];
  if (state.phase !== 'running') return [];
  const effects: RayletEffect[] = [];
  switch (event.type) {
    case 'driver/connected':
      onDriverConnected(state, event, effects);
      break;
    case 'worker/started':
      onWorkerStarted(state, event, effects);
      break;
    case 'worker/exited':
      onWorkerExited(state, event, effects);
      break;
    case 'object/copy-stored':
      onCopyStored(state, event, effects);
      break;
    case 'object/spilled':
      onObjectSpilled(state, event, effects);
      break;
    case 'timer/fired':
      return onTimerFired(state, event);
    default:
      assertNever(event, 'raylet event');
  }
  return effects;
}
