/**
 * The owner's recipe: one switch over every event, delegating to the part of the owner it concerns.
 * Delivered messages pass the inbox first, so duplicates are ignored before any handler runs.
 */
import { fifoPushOne } from '../fifo.js';
import { assertNever } from '../assert.js';
import { isDraft } from 'immer';
import { detach } from '../detach.js';
import { send } from '../effects.js';
import { actorHandleObjectId, gcsAddress, rayletAddress, returnObjectId, taskOfObject, workerAddress } from '../ids.js';
import { admit } from '../inbox.js';
import type { ObjectId, TaskId } from '../ids.js';
import { mayBeDraft, readField } from '../own-copies.js';
import type { Delivered, SchedulingStrategy, TaskArg, TaskSpec } from '../protocol.js';
import type { Resources } from '../resources.js';
import { createActorView, deathCauseOf, ensureView, onActorCallReplied, onActorStateChanged, onActorStatusRequested, onKilledForGood, onRegistrationReplied, viewFor } from './actor-calls.js';
import { mergedConfig } from './config.js';
import type { Ctx } from './context.js';
import { copiedRefs, emit, errorOf } from './context.js';
import { onNodeDied, onWorkerDied } from './deaths.js';
import { agreeOnceFree, onExitRequested } from './idle-exit.js';
import type { OwnerEffect, OwnerEvent, OwnerInbound, OwnerLocalEvent } from './events.js';
import {
  onAckReceived,
  onActorConstructed,
  onActorCreationPushed,
  onActorDisposed,
  onActorDisposeRequested,
  onActorTaskPushed,
  onCancelAtWorker,
  onPutAcked,
  onPutRejected,
  onTaskExecuted,
  onTaskPushed,
} from './execution.js';
import { onCancelGraceTimer, onLostLeaseTimer, onLeaseGranted, onLeaseIdleTimer, onLeaseLost, onLeaseInfeasible, onLeaseRejected, onLeaseRetryTimer, onLeaseReturnRequested, onLeaseSpilled, releaseLease, requeueForLease } from './leasing.js';
import { cancelOwnedTask, failTask, finishTask, freeUnwanted, mintTaskIds, recoverObject, registerTask, rerunTask, resolveDeps, retriesLeft } from './lineage.js';
import { actorHandleRef, addLocalRef, borrowEntry, createHandleObject, createOwnedObject, dropLocalRef, ensureRegistered, holdContained, onBorrowAdded, onCopyAdded, onBorrowReleased } from './refs.js';
import { onFetched, onFetchFailed, onGetRequested, onResumed, onRetrievalTimer, onStatusReplied, onStatusRequested, onStatusRetryTimer, onWaitRequested } from './retrieval.js';
import type { OwnedSpec, OwnerState, TaskFunction } from './state.js';
import { defaultOwnerConfig, idRecord } from './state.js';
import { tableGet } from '../table.js';

/**
 * The id the next `object/put` will mint. A shell that writes a large value into the node's store
 * before the put is applied (so that the event carries a descriptor, not the bytes) stores it under
 * this id.
 */
export function nextPutObjectId(state: OwnerState): string {
  return `${state.workerId}.p${state.counters.put + 1}`;
}

/**
 * The context of the last step, kept for the next: a step's context was an object made per event
 * (every one of them), which nothing keeps once the step returns. A step takes it (so a step run
 * inside another, were there one, makes its own) and gives it back when it returns; one that throws
 * leaves it to the garbage collector.
 */
let spareCtx: { s: OwnerState; out: OwnerEffect[] | undefined } | undefined;

/** Applies one event to an owner's state (mutable or an immer draft) and returns the effects. */
export function applyOwner(state: OwnerState, event: OwnerEvent): OwnerEffect[] {
  let ctx = spareCtx;
  if (ctx === undefined) ctx = { s: state, out: undefined };
  else {
    spareCtx = undefined;
    ctx.s = state;
  }
  if ('via' in event) {
    if (state.started && admit(state.inbox, event.via)) applyMessage(ctx, event);
  } else if (state.started || event.type === 'owner/started') applyLocal(ctx, event);
  // Absent on every worker its raylet never asked to end, and on every driver: one field read per step.
  if (state.exitDeclinedTurn !== undefined) agreeOnceFree(ctx);
  const out = ctx.out;
  ctx.out = undefined;
  spareCtx = ctx;
  if (out === undefined) return [];
  // Only a state under immer can leak a draft into an effect; the mutable path skips the walk.
  return mayBeDraft() && isDraft(state) ? out.map(detach) : out;
}

function applyLocal(ctx: Ctx, event: OwnerLocalEvent): void {
  const s = ctx.s;
  // The events of every task first: a switch over strings compares the type with each case in turn,
  // and a type decoded from a message is a string of its own, not the interned literal.
  switch (event.type) {
    case 'task/executed':
      onTaskExecuted(ctx, event.taskId, event.attempt, event.result);
      return;
    case 'owner/started':
      if (s.started) return;
      s.started = true;
      s.workerId = event.workerId;
      s.nodeId = event.nodeId;
      s.isDriver = event.isDriver;
      s.namespace = event.namespace;
      // Configs recorded before a field existed take its default.
      s.config = mergedConfig(defaultOwnerConfig, event.config);
      if (event.isDriver) emit(ctx, send(gcsAddress, { type: 'job/registration-requested', driverId: event.workerId, namespace: event.namespace }));
      return;
    case 'task/submitted': {
      // The event itself gives the shared part's fields (it has no `actor`, as a normal task's part
      // has none): a record of them was an object per submission, read once and dropped.
      const spec = newSpec(ctx, event.numReturns, event, event, event.args);
      const task = registerTask(ctx, spec, 'task');
      emit(ctx, { type: 'ids/minted', taskId: spec.taskId, objectIds: returnIdsCopy(spec) });
      resolveDeps(ctx, task);
      return;
    }
    case 'actor-task/submitted': {
      const view = ensureView(ctx, event.actorId);
      const spec = newSpec(
        ctx,
        event.numReturns,
        event,
        {
          name: event.name,
          functionId: event.method,
          resources: {},
          maxRetries: view.maxTaskRetries,
          retryExceptions: false,
          strategy: 'DEFAULT',
          actor: { actorId: view.actorId, method: event.method },
        },
        event.args,
      );
      const taskId = spec.taskId;
      const task = registerTask(ctx, spec, 'actor-task', event.handle);
      emit(ctx, { type: 'ids/minted', taskId, objectIds: returnIdsCopy(spec) });
      if (view.state === 'DEAD') {
        failTask(ctx, task, errorOf('ActorDiedError', `actor ${view.actorId} is dead: ${view.deathCause ?? 'it died'}`, { taskName: spec.fn.name, cause: deathCauseOf(view, view.deathCause ?? 'it died') }));
        return;
      }
      fifoPushOne(view.queue, taskId);
      resolveDeps(ctx, task);
      return;
    }
    case 'actor/creation-submitted': {
      const actorId = `${s.workerId}.a${++s.counters.actor}`;
      const spec = newSpec(
        ctx,
        0,
        {},
        {
          name: `${event.className}.constructor`,
          functionId: event.functionId,
          resources: event.placementResources,
          maxRetries: 0,
          retryExceptions: false,
          strategy: event.strategy,
          actor: { actorId, method: 'constructor' },
        },
        event.args,
      );
      const taskId = spec.taskId;
      const { type: _type, ...creation } = event;
      createActorView(ctx, actorId, creation, taskId);
      // The handles of a non-detached actor are counted through its handle object (Ray's rule).
      if (!event.detached) createHandleObject(ctx, actorId);
      const task = registerTask(ctx, spec, 'actor-creation');
      emit(ctx, { type: 'ids/minted', taskId, actorId, objectIds: event.detached ? [] : [actorHandleObjectId(actorId)] });
      resolveDeps(ctx, task);
      return;
    }
    case 'object/put': {
      const objectId = nextPutObjectId(s);
      s.counters.put += 1;
      const object = createOwnedObject(ctx, objectId, 1);
      const refs = copiedRefs(event.value.refs);
      emit(ctx, { type: 'ids/minted', objectIds: [objectId] });
      if (event.value.sizeBytes < s.config.inlineThresholdBytes) {
        object.state = 'ready';
        object.payload = { kind: 'inline', data: event.value.data, sizeBytes: event.value.sizeBytes, refs };
      } else {
        s.storing[objectId] = { sizeBytes: event.value.sizeBytes, refs };
        emit(ctx, send(rayletAddress(s.nodeId), { type: 'object/put-requested', objectId, owner: s.workerId, data: event.value.data, sizeBytes: event.value.sizeBytes, refs: copiedRefs(refs) }));
      }
      // Absent when the value holds no refs, as readyObject leaves it.
      if (refs.length > 0) object.contains = copiedRefs(refs);
      holdContained(ctx, refs, objectId);
      return;
    }
    case 'refs/released':
      for (const objectId of event.objectIds) dropLocalRef(ctx, objectId);
      return;
    case 'actor/handle-acquired':
      ensureView(ctx, event.actorId);
      return;
    case 'get/requested':
      onGetRequested(ctx, event.getId, event.refs, event.timeoutMs, event.inTaskId);
      return;
    case 'wait/requested':
      onWaitRequested(ctx, event.waitId, event.refs, event.numReturns, event.timeoutMs);
      return;
    case 'cancel/requested': {
      const taskId = taskOfObject(event.ref.objectId);
      if (taskId === undefined) return;
      if (event.ref.owner !== s.workerId) {
        emit(ctx, send(workerAddress(event.ref.owner), { type: 'task/cancel-requested', taskId, recursive: event.recursive }));
        return;
      }
      const task = tableGet(s.tasks, taskId);
      if (task !== undefined) cancelOwnedTask(ctx, task, event.force, event.recursive);
      return;
    }
    case 'kill/requested': {
      const view = viewFor(ctx, event.actorId);
      emit(ctx, send(gcsAddress, { type: 'actor/kill-requested', actorId: view?.actorId ?? event.actorId, noRestart: event.noRestart }));
      if (event.noRestart && view !== undefined) onKilledForGood(ctx, view);
      return;
    }
    case 'actor-lookup/requested':
      emit(ctx, send(gcsAddress, { type: 'actor/lookup-requested', requestId: event.requestId, name: event.name, namespace: event.namespace ?? s.namespace, requester: s.workerId }));
      return;
    case 'actor/constructed':
      onActorConstructed(ctx, event.actorId, event.restartCount, event.error);
      return;
    case 'actor/disposed':
      onActorDisposed(ctx, event.actorId, event.restartCount);
      return;
    case 'owner/stopping':
      if (s.stopped) return;
      s.stopped = true;
      if (s.isDriver && s.jobId !== undefined) emit(ctx, send(gcsAddress, { type: 'job/finished', jobId: s.jobId }));
      return;
    case 'owner/pipeline-depth-set':
      // A new record rather than a write into the old one: configs may be shared between states.
      if (Number.isInteger(event.depth) && event.depth >= 1 && event.depth !== s.config.maxTasksInFlightPerLease) s.config = mergedConfig(s.config, { maxTasksInFlightPerLease: event.depth });
      return;
    case 'owner/reattached': {
      const former = s.nodeId;
      if (s.stopped || former === event.nodeId) return;
      // The new node first, so that what the former node's death requests again goes there.
      s.nodeId = event.nodeId;
      onNodeDied(ctx, former);
      // A repeat gets the same job id; the GCS's reply to the first may have died with the head.
      if (s.isDriver) emit(ctx, send(gcsAddress, { type: 'job/registration-requested', driverId: s.workerId, namespace: s.namespace }));
      return;
    }
    case 'timer/fired':
      if (event.timerId.startsWith('lease-retry:')) onLeaseRetryTimer(ctx, event.timerId.slice('lease-retry:'.length));
      else if (event.timerId.startsWith('lease-idle:')) onLeaseIdleTimer(ctx, event.timerId.slice('lease-idle:'.length));
      else if (event.timerId.startsWith('cancel-grace:')) onCancelGraceTimer(ctx, event.timerId.slice('cancel-grace:'.length));
      else if (event.timerId.startsWith('lease-lost:')) onLostLeaseTimer(ctx, event.timerId.slice('lease-lost:'.length));
      else if (event.timerId.startsWith('status-retry:')) onStatusRetryTimer(ctx, event.timerId.slice('status-retry:'.length));
      else if (event.timerId.startsWith('get:') || event.timerId.startsWith('wait:')) onRetrievalTimer(ctx, event.timerId);
      return;
    default:
      assertNever(event, 'owner event');
  }
}

function applyMessage(ctx: Ctx, event: Delivered<OwnerInbound>): void {
  const s = ctx.s;
  // The messages of every task first (see applyLocal).
  switch (event.type) {
    case 'task/replied':
      onTaskReplied(ctx, event);
      return;
    case 'task/pushed':
      onTaskPushed(ctx, event);
      return;
    case 'actor-task/pushed':
      onActorTaskPushed(ctx, event);
      return;
    case 'lease/granted':
      onLeaseGranted(ctx, event.leaseId, event.workerId, event.nodeId);
      return;
    case 'lease/spilled':
      onLeaseSpilled(ctx, event.leaseId, event.toNodeId, event.via.from.slice('raylet:'.length));
      return;
    case 'lease/rejected':
      onLeaseRejected(ctx, event.leaseId, event.reason, event.permanent);
      return;
    case 'lease/infeasible':
      onLeaseInfeasible(ctx, event.leaseId, event.reason, event.via.from.slice('raylet:'.length));
      return;
    case 'lease/return-requested':
      onLeaseReturnRequested(ctx, event.leaseId);
      return;
    case 'lease/worker-died':
      onLeaseLost(ctx, event.leaseId, event.reason);
      onWorkerDied(ctx, event.workerId, event.reason);
      return;
    case 'worker/resumed':
      onResumed(ctx, event);
      return;
    case 'worker/exit-requested':
      onExitRequested(ctx, event.turn);
      return;
    case 'object/put-acked':
      onPutAcked(ctx, event.objectId);
      return;
    case 'object/put-rejected':
      onPutRejected(ctx, event.objectId, event.reason);
      return;
    case 'object/fetched':
      onFetched(ctx, event.objectId, { data: event.data, sizeBytes: event.sizeBytes, refs: event.refs });
      return;
    case 'object/fetch-failed':
      onFetchFailed(ctx, event.objectId, event.objectId.split('.').slice(0, 2).join('.'));
      return;
    case 'object/copy-added':
      onCopyAdded(ctx, event.objectId, event.nodeId);
      return;
    case 'task/cancel-requested':
      onCancelAtWorker(ctx, event.taskId, event.recursive, false);
      return;
    case 'object/status-requested':
      onStatusRequested(ctx, event.objectId, event.requester);
      return;
    case 'object/status-replied':
      onStatusReplied(ctx, event.objectId, event.outcome);
      return;
    case 'borrow/added':
      onBorrowAdded(ctx, event.objectId, event.borrower, event.ackTo, event.ackId, event.via);
      return;
    case 'borrow/add-acked':
      onAckReceived(ctx, event.ackId);
      return;
    case 'borrow/released':
      onBorrowReleased(ctx, event.objectId, event.borrower, event.via);
      return;
    case 'job/registration-replied':
      s.jobId = event.jobId;
      return;
    case 'job/finish-acked':
      // The driver's link waits for it (node/cluster/driver-link.ts); the component has ended its job.
      return;
    case 'actor/registration-replied':
      onRegistrationReplied(ctx, event.requestedActorId, event.actorId, event.error);
      return;
    case 'actor/lookup-replied':
      if (event.actorId !== undefined) {
        const view = ensureView(ctx, event.actorId);
        if (event.spec !== undefined) view.maxTaskRetries = event.spec.maxTaskRetries;
        // The handle the lookup gives holds the actor (one local ref of its handle object) until collected.
        if (event.spec?.detached === false) {
          const handle = actorHandleRef(event.actorId);
          addLocalRef(ctx, handle);
          if (handle.owner !== s.workerId) ensureRegistered(ctx, borrowEntry(ctx, handle));
        }
      }
      emit(ctx, { type: 'actor-lookup/settled', requestId: event.requestId, ...(event.actorId === undefined ? {} : { actorId: event.actorId }), ...(event.spec === undefined ? {} : { spec: event.spec }) });
      return;
    case 'actor/state-changed':
      onActorStateChanged(ctx, event);
      return;
    case 'actor/infeasible': {
      // Kept while the actor waits in that incarnation, for the explanation of its pending calls.
      const view = s.actors[event.actorId];
      if (view !== undefined && view.aliasOf === undefined && view.state !== 'ALIVE' && view.state !== 'DEAD' && view.restartCount === event.restartCount) view.infeasible = event.reason;
      return;
    }
    case 'actor/status-requested':
      onActorStatusRequested(ctx, event.actorId);
      return;
    case 'actor/creation-pushed':
      onActorCreationPushed(ctx, event.spec, event.restartCount);
      return;
    case 'actor/dispose-requested':
      onActorDisposeRequested(ctx, event.actorId, event.restartCount);
      return;
    case 'node/died':
      onNodeDied(ctx, event.nodeId);
      return;
    case 'worker/died':
      onWorkerDied(ctx, event.workerId, event.reason);
      return;
    default:
      assertNever(event, 'owner message');
  }
}

/** The return ids of `spec` in a list of their own (for an effect): one list, where a spread of `returnIdsOf` made two for the usual single return. */
function returnIdsCopy(spec: OwnedSpec): ObjectId[] {
  return typeof spec.returnIds === 'string' ? [spec.returnIds] : spec.returnIds.slice();
}

/** What a submission says of a new spec's shared part; the owner adds its job, itself and the parent task. */
type SubmittedFunction = Omit<TaskSpec, 'taskId' | 'jobId' | 'owner' | 'returnIds' | 'parentTaskId' | 'args'>;

/** At most this many shared spec parts (`OwnerState.functions`) are kept; past it, they start anew. */
const maxSharedFunctions = 1024;

/** A new task spec owned by this process, with freshly minted ids. */
function newSpec(ctx: Ctx, numReturns: number, origin: { readonly parentTaskId?: string }, fields: SubmittedFunction, args: TaskSpec['args']): OwnedSpec {
  const { taskId, returnIds } = mintTaskIds(ctx, numReturns);
  return { taskId, fn: sharedFunction(ctx, origin.parentTaskId, fields), args: args.length === 1 ? (args[0] as TaskArg) : args, returnIds };
}

/**
 * The shared part of a new spec (see `TaskFunction`): the one kept for its function id when every
 * field matches, else a new one, kept in its place.
 */
function sharedFunction(ctx: Ctx, parentTaskId: TaskId | undefined, fields: SubmittedFunction): TaskFunction {
  const jobId = ctx.s.jobId ?? '';
  const owner = ctx.s.workerId;
  // Read without drafting under immer (the record itself too: a submission of a kept function only
  // reads it, and a draft costs a proxy and its finalisation): the record kept is frozen, and only
  // compared and shared.
  // Directly outside a step under immer: readField's keyed load, shared by all its callers, is megamorphic.
  const drafts = mayBeDraft();
  const functions = (drafts ? readField(ctx.s, 'functions') : ctx.s.functions) as OwnerState['functions'];
  const kept = (drafts ? readField(functions, fields.functionId) : functions[fields.functionId]) as TaskFunction | undefined;
  if (
    kept !== undefined &&
    kept.jobId === jobId &&
    kept.owner === owner &&
    kept.parentTaskId === parentTaskId &&
    kept.name === fields.name &&
    kept.maxRetries === fields.maxRetries &&
    sameShape(kept.resources, fields.resources) &&
    sameStrategy(kept.strategy, fields.strategy) &&
    sameRetryExceptions(kept.retryExceptions, fields.retryExceptions) &&
    kept.actor?.actorId === fields.actor?.actorId &&
    kept.actor?.method === fields.actor?.method
  ) {
    return kept;
  }
  // One literal naming every field, not spreads: V8 then keeps all of them inside the object. The
  // optional fields are spread onto a copy only when present (empty spreads still reserved room).
  const base: TaskFunction = {
    jobId,
    owner,
    name: fields.name,
    functionId: fields.functionId,
    resources: fields.resources,
    maxRetries: fields.maxRetries,
    retryExceptions: fields.retryExceptions,
    strategy: fields.strategy,
  };
  const fn: TaskFunction =
    parentTaskId === undefined && fields.actor === undefined
      ? base
      : { ...base, ...(parentTaskId === undefined ? {} : { parentTaskId }), ...(fields.actor === undefined ? {} : { actor: fields.actor }) };
  // A new function id when the bound is reached starts the record anew (counting keys is O(keys), and only new ids pay it).
  if (kept === undefined && Object.keys(functions).length >= maxSharedFunctions) ctx.s.functions = idRecord();
  ctx.s.functions[fields.functionId] = fn;
  return fn;
}

/** Whether two resource shapes ask for the same amounts. */
function sameShape(a: Resources, b: Resources): boolean {
  if (a === b) return true;
  // Keys counted by for...in rather than compared as Object.keys lists: every submission of a
  // function already kept asks this (its resources, read from an event, are a new object each
  // time), and the two lists were two arrays per submission.
  let keys = 0;
  for (const key in a) {
    if (a[key] !== b[key]) return false;
    keys += 1;
  }
  for (const _key in b) keys -= 1;
  return keys === 0;
}

/** Whether two scheduling strategies are the same (a name, or a record of plain fields). */
function sameStrategy(a: SchedulingStrategy, b: SchedulingStrategy): boolean {
  if (a === b) return true;
  return typeof a === 'object' && typeof b === 'object' && a.nodeId === b.nodeId && a.soft === b.soft;
}

/** Whether two `retryExceptions` settings are the same. */
function sameRetryExceptions(a: boolean | readonly string[], b: boolean | readonly string[]): boolean {
  if (a === b) return true;
  if (typeof a === 'boolean' || typeof b === 'boolean') return false;
  return a.length === b.length && a.every((name, index) => name === b[index]);
}

/** A worker replied to a task or actor call this process owns. */
function onTaskReplied(ctx: Ctx, event: Delivered<Extract<OwnerInbound, { type: 'task/replied' }>>): void {
  const task = tableGet(ctx.s.tasks, event.taskId);
  if (task === undefined || task.attempt !== event.attempt || task.state !== 'RUNNING' || task.workerId !== event.workerId) {
    // A late result (the task was cancelled, or its returns freed, meanwhile) must not stay stored.
    if (event.result.kind === 'returned' && (task === undefined || task.state === 'CANCELLED' || task.state === 'FAILED')) {
      event.result.payloads.forEach((payload, index) => {
        const objectId = returnObjectId(event.taskId, index);
        const object = tableGet(ctx.s.objects, objectId);
        if (object === undefined || object.state === 'failed') freeUnwanted(ctx, objectId, payload);
      });
    }
    // The body of a task cancelled while running has settled (the task may be forgotten already):
    // its lease may serve the next task.
    const draining = Object.values(ctx.s.leases).find((lease) => lease.draining === true && lease.runningTaskId === event.taskId && lease.workerId === event.workerId);
    if (draining !== undefined && (task === undefined || task.attempt === event.attempt)) releaseLease(ctx, draining.leaseId, event.taskId);
    return;
  }
  const leaseId = task.leaseId;
  if (task.kind === 'actor-task') onActorCallReplied(ctx, task);
  const result = event.result;
  switch (result.kind) {
    case 'returned':
      finishTask(ctx, task, result.payloads);
      break;
    case 'threw': {
      const name = result.error.cause?.name ?? '';
      const retryable = task.kind === 'task' && task.cancelRequested === undefined && (task.spec.fn.retryExceptions === true || (Array.isArray(task.spec.fn.retryExceptions) && task.spec.fn.retryExceptions.includes(name)));
      if (retryable && retriesLeft(task.spec.fn.maxRetries, task.attempt)) rerunTask(ctx, task);
      else failTask(ctx, task, result.error);
      break;
    }
    case 'cancelled':
      failTask(ctx, task, errorOf('TaskCancelledError', `task ${task.spec.fn.name} (${task.spec.taskId}) was cancelled`, { taskName: task.spec.fn.name }), 'CANCELLED');
      break;
    case 'arg-lost':
      onArgLost(ctx, task, result.objectId);
      break;
    case 'not-run':
      onHandedBack(ctx, task);
      break;
    default:
      assertNever(result, 'task result');
  }
  // An indexed loop, not for-of: a worker in this process sends one frozen empty list with every
  // reply, and for-of over a frozen array leaves V8's fast path (an iterator and a result per reply).
  const released = event.releasedBorrows;
  for (let index = 0; index < released.length; index++) onBorrowReleased(ctx, released[index] as ObjectId, event.workerId);
  if (leaseId !== undefined) releaseLease(ctx, leaseId, task.spec.taskId, result.kind === 'not-run');
}

/**
 * The worker handed back a pipelined task unrun (the task ahead of it blocked in a get): it goes to
 * the front of its class's queue, and that lease gets no more pipelined tasks until its task replies.
 */
function onHandedBack(ctx: Ctx, task: import('./state.js').OwnedTask): void {
  const lease = task.leaseId === undefined ? undefined : ctx.s.leases[task.leaseId];
  if (lease !== undefined) lease.handedBack = true;
  if (task.kind !== 'task') {
    failTask(ctx, task, errorOf('RayTaskError', `${task.spec.fn.name} was handed back unrun, which only a pipelined task may be`, { taskName: task.spec.fn.name }));
    return;
  }
  task.state = 'PENDING_NODE';
  task.leaseId = undefined;
  task.workerId = undefined;
  requeueForLease(ctx, task);
}

/** The worker could not read an argument: rebuild it (owned) or re-ask its owner, then run again. */
function onArgLost(ctx: Ctx, task: import('./state.js').OwnedTask, objectId: string): void {
  task.argLostRetries += 1;
  if (task.kind !== 'task' || task.argLostRetries > ctx.s.config.maxArgLostRetries) {
    failTask(ctx, task, errorOf('ObjectLostError', `argument ${objectId} of task ${task.spec.fn.name} could not be read from any node`, { objectId, taskName: task.spec.fn.name }));
    return;
  }
  const owned = tableGet(ctx.s.objects, objectId);
  if (owned !== undefined) recoverObject(ctx, objectId);
  const borrowed = tableGet(ctx.s.borrowed, objectId);
  if (borrowed !== undefined && borrowed.status === 'ready') {
    borrowed.status = 'unknown';
    borrowed.payload = undefined;
  }
  task.state = 'PENDING_ARGS';
  task.leaseId = undefined;
  task.workerId = undefined;
  delete task.resolved;
  resolveDeps(ctx, task);
}
