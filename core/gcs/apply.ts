/**
 * The GCS recipe: one event in, the state mutated in place (plain object or immer draft), effects out.
 */
import { assertNever } from '../assert.js';
import { send } from '../effects.js';
import { rayletAddress, workerAddress } from '../ids.js';
import { admit } from '../inbox.js';
import { isWaitingForPlacement, leaseRequestMessage, publishActor, scheduleActor } from './actors.js';
import { cloneData } from './clone.js';
import {
  armDisposeTimer,
  onActorCreationReplied,
  onActorDisposed,
  onActorDisposeTimer,
  onActorKillRequested,
  onActorOutOfScope,
  onActorLookupRequested,
  onActorRegistrationRequested,
  onActorStatusReplied,
  onActorSubscribed,
} from './actor-messages.js';
import type { GcsDelivered, GcsEffect, GcsEvent, GcsRestarted, GcsStarted } from './events.js';
import { actorDisposeTimerPrefix, actorRetryTimerPrefix, healthTimerId } from './events.js';
import { endJob, registerJob } from './jobs.js';
import { onActorRetryTimer, onLeaseGranted, onLeaseInfeasible, onLeaseRejected, onLeaseSpilled, onLeaseWorkerDied } from './lease-messages.js';
import { armHealthCheck, onNodeHeartbeat, onNodeRegistered, publishClusterView, runHealthCheck } from './nodes.js';
import type { GcsState } from './state.js';
import { aliveNodeIds } from './state.js';
import { onWorkerDied } from './workers.js';

/** A fresh cluster: take the configuration and start the health checks. */
function onStarted(state: GcsState, event: GcsStarted, effects: GcsEffect[]): void {
  state.started = true;
  state.incarnation = event.incarnation;
  state.config = { ...event.config };
  armHealthCheck(state, effects);
}

/**
 * The GCS came back with its state replayed. What the lost process had in flight is resumed: nodes
 * get a grace period (they could not reach the GCS while it was down), lease requests are sent again
 * (the raylet may never have received them, or its answer may have been lost), actors waiting for a
 * node or a retry timer (timers died with the process) try again, and raylets get the cluster view.
 */
function onRestarted(state: GcsState, event: GcsRestarted, effects: GcsEffect[]): void {
  state.incarnation = event.incarnation;
  for (const nodeId of aliveNodeIds(state)) {
    const node = state.nodes[nodeId];
    if (node === undefined) continue;
    node.missedChecks = 0;
    node.heartbeatsSinceCheck = 0;
  }
  publishClusterView(state, true, effects);
  for (const actorId of Object.keys(state.actors)) {
    const actor = state.actors[actorId];
    if (actor === undefined) continue;
    const pending = actor.pendingLease;
    if (pending !== undefined && state.nodes[pending.nodeId]?.alive === true) {
      // The same lease id lets a raylet that did receive the request recognise the repeat.
      effects.push(send(rayletAddress(pending.nodeId), leaseRequestMessage(actor, pending.leaseId, pending.spillbackCount)));
    } else if (pending !== undefined) {
      delete state.leaseOwners[pending.leaseId];
      delete actor.pendingLease;
      scheduleActor(state, actor, effects);
    } else if (isWaitingForPlacement(actor)) {
      scheduleActor(state, actor, effects);
    } else if (actor.state !== 'ALIVE' && actor.state !== 'DEAD' && actor.workerId !== undefined && actor.leaseId !== undefined) {
      // A grant was committed but the push may have died with the old process; the worker ignores a
      // repeat for the incarnation it already hosts (and answers again once it is built).
      effects.push(send(workerAddress(actor.workerId), { type: 'actor/creation-pushed', spec: cloneData(actor.spec), restartCount: actor.restartCount, leaseId: actor.leaseId }));
    }
    // A dispose under way lost its timer with the old process: bound it again.
    if (actor.disposing === true && actor.state !== 'DEAD') armDisposeTimer(state, actor.actorId, effects);
    // State changes published just before the crash may be lost too; receivers ignore repeats.
    if (actor.state !== 'DEAD') publishActor(actor, effects);
  }
  armHealthCheck(state, effects);
}

/** Dispatches a timer: the health check, or one actor's lease retry; unknown timers are ignored. */
function onTimer(state: GcsState, timerId: string, effects: GcsEffect[]): void {
  if (timerId === healthTimerId) runHealthCheck(state, effects);
  else if (timerId.startsWith(actorRetryTimerPrefix)) onActorRetryTimer(state, timerId.slice(actorRetryTimerPrefix.length), effects);
  else if (timerId.startsWith(actorDisposeTimerPrefix)) onActorDisposeTimer(state, timerId.slice(actorDisposeTimerPrefix.length), effects);
}

/** Handles a delivered message that the inbox admitted as new. */
function onMessage(state: GcsState, event: GcsDelivered, effects: GcsEffect[]): void {
  switch (event.type) {
    case 'node/registered':
      onNodeRegistered(state, event.nodeId, event.resources, effects, event.transferAddress);
      return;
    case 'node/heartbeat':
      onNodeHeartbeat(state, event.nodeId, event.available, event.demand, effects);
      return;
    case 'worker/died':
      onWorkerDied(state, event.workerId, event.nodeId, event.reason, effects);
      return;
    case 'job/registration-requested':
      registerJob(state, event.driverId, event.namespace, effects);
      return;
    case 'job/finished': {
      const driverId = state.jobs[event.jobId]?.driverId;
      endJob(state, event.jobId, effects);
      // Sent once the event is committed (the GCS replies after commit): a driver that waits for
      // it before it disconnects leaves its job ended in the log even if the head dies right after.
      if (driverId !== undefined) effects.push(send(workerAddress(driverId), { type: 'job/finish-acked', jobId: event.jobId }));
      return;
    }
    case 'actor/registration-requested':
      onActorRegistrationRequested(state, event.spec, effects);
      return;
    case 'actor/lookup-requested':
      onActorLookupRequested(state, event, effects);
      return;
    case 'actor/subscribed':
      onActorSubscribed(state, event.actorId, event.subscriber, effects);
      return;
    case 'actor/status-replied':
      onActorStatusReplied(state, event, effects);
      return;
    case 'actor/kill-requested':
      onActorKillRequested(state, event.actorId, event.noRestart, effects);
      return;
    case 'actor/creation-replied':
      onActorCreationReplied(state, event, effects);
      return;
    case 'actor/out-of-scope':
      onActorOutOfScope(state, event.actorId, effects);
      return;
    case 'actor/disposed':
      onActorDisposed(state, event, effects);
      return;
    case 'lease/granted':
      onLeaseGranted(state, event, effects);
      return;
    case 'lease/spilled':
      onLeaseSpilled(state, event, effects);
      return;
    case 'lease/rejected':
      onLeaseRejected(state, event, effects);
      return;
    case 'lease/infeasible':
      // The actor stays PENDING: its lease waits at that raylet, which places it once a node that fits joins.
      onLeaseInfeasible(state, event, effects);
      return;
    case 'lease/worker-died':
      onLeaseWorkerDied(state, event, effects);
      return;
    default:
      assertNever(event, 'gcs message');
  }
}

/** Applies one event to the GCS state in place and returns the effects to carry out. */
export function applyGcs(state: GcsState, event: GcsEvent): GcsEffect[] {
  const effects: GcsEffect[] = [];
  switch (event.type) {
    case 'gcs/started':
      onStarted(state, event, effects);
      return effects;
    case 'gcs/restarted':
      onRestarted(state, event, effects);
      return effects;
    case 'timer/fired':
      onTimer(state, event.timerId, effects);
      return effects;
    case 'node/registered':
    case 'node/heartbeat':
    case 'worker/died':
    case 'job/registration-requested':
    case 'job/finished':
    case 'actor/registration-requested':
    case 'actor/lookup-requested':
    case 'actor/subscribed':
    case 'actor/status-replied':
    case 'actor/kill-requested':
    case 'actor/creation-replied':
    case 'actor/out-of-scope':
    case 'actor/disposed':
    case 'lease/granted':
    case 'lease/spilled':
    case 'lease/rejected':
    case 'lease/infeasible':
    case 'lease/worker-died':
      // Duplicates are dropped before anything else looks at them.
      if (!admit(state.inbox, event.via)) return [];
      onMessage(state, event, effects);
      return effects;
    default:
      return assertNever(event, 'gcs event');
  }
}
