/**
 * Actors from the caller's side: creating them through the GCS, following their state, and sending
 * method calls straight to the actor's worker in submission order with per-caller sequence numbers
 * that restart at 0 for each incarnation. Calls in flight when an incarnation ends are sent again if
 * maxTaskRetries allows, else fail with ActorUnavailableError (restarting) or ActorDiedError (dead).
 */
import { emptyFifo, fifoPeek, fifoPush, fifoPushFront, fifoSize, fifoTake, fifoTakeAll } from '../fifo.js';
import { send } from '../effects.js';
import { gcsAddress, workerAddress } from '../ids.js';
import type { ActorId, NodeId, WorkerId } from '../ids.js';
import type { ActorSpec, ActorState, ResolvedArg } from '../protocol.js';
import type { RefMarker, ThrownInfo } from '../values.js';
import type { ActorCreation } from './events.js';
import type { Ctx } from './context.js';
import { emit, errorOf, removeOne } from './context.js';
import { pushedArgs, resolvedArgs } from './leasing.js';
import { failTask, finishTaskOfActorCreation, forgetActorIfGone, retriesLeft } from './lineage.js';
import { actorHandleRef, addLocalRef, borrowEntry, ensureRegistered } from './refs.js';
import type { ActorView, OwnedTask, OwnerState } from './state.js';
import { maxRememberedAliases, taskSpecOf } from './state.js';
import { rememberBoundedValue } from '../remembered.js';
import { tableGet } from '../table.js';

/** The view of `actorId`, following an alias to the actor the GCS resolved a named creation to. */
export function viewFor(ctx: Ctx, actorId: ActorId): ActorView | undefined {
  const view = ctx.s.actors[actorId];
  if (view === undefined) {
    // An alias whose own view is gone (no counted handle to it was left here): the actor it stands for.
    const target = ctx.s.aliases[actorId];
    return target === undefined ? undefined : ctx.s.actors[target];
  }
  if (view.aliasOf !== undefined) return ctx.s.actors[view.aliasOf];
  return view;
}

/**
 * What a handle to `actorId` is sent as once this process knows the getIfExists creation it came
 * from resolved to an existing actor: a handle to that actor, as `getActor` would give, counted by
 * this process's hold of its handle object. A process it reaches then needs no answer from the GCS,
 * which remembers only the latest redirects. Undefined when the handle is sent as it is: no alias,
 * not resolved yet, or a counted handle of another process's alias (this one holds no such object).
 */
export function resolvedAliasHandle(s: OwnerState, actorId: ActorId, counted: boolean): { actorId: ActorId; ref?: RefMarker } | undefined {
  const view = s.actors[actorId];
  const target = view === undefined ? s.aliases[actorId] : view.aliasOf;
  if (target === undefined) return undefined;
  if (!counted) return { actorId: target };
  const hold = view?.aliasHold;
  return hold === undefined ? undefined : { actorId: target, ref: { objectId: hold.objectId, owner: hold.owner } };
}

/** The view of an actor this process holds a handle to but did not create; subscribes on first sight. */
export function ensureView(ctx: Ctx, heldId: ActorId): ActorView {
  const existing = viewFor(ctx, heldId);
  if (existing !== undefined) return existing;
  const actorId = ctx.s.aliases[heldId] ?? heldId;
  const view: ActorView = {
    actorId,
    isOwner: false,
    state: 'PENDING',
    restartCount: 0,
    maxTaskRetries: 0,
    queue: emptyFifo(),
    inflight: [],
    nextSeqNo: 0,
    seqRestartCount: 0,
    subscribed: true,
  };
  ctx.s.actors[actorId] = view;
  emit(ctx, send(gcsAddress, { type: 'actor/subscribed', actorId, subscriber: ctx.s.workerId }));
  return view;
}

/** `A.remote(...)`: mints the actor id and a creation task that resolves the constructor args. */
export function createActorView(ctx: Ctx, actorId: ActorId, creation: ActorCreation, creationTaskId: string): ActorView {
  const view: ActorView = {
    actorId,
    isOwner: true,
    state: 'PENDING',
    restartCount: 0,
    maxTaskRetries: creation.maxTaskRetries,
    queue: emptyFifo(),
    inflight: [],
    nextSeqNo: 0,
    seqRestartCount: 0,
    subscribed: true,
    creationTaskId,
    creation,
  };
  ctx.s.actors[actorId] = view;
  return view;
}

/** The creation task's args are ready: register the actor with the GCS. */
export function sendActorRegistration(ctx: Ctx, task: OwnedTask): void {
  const actorId = task.spec.fn.actor?.actorId ?? '';
  const view = ctx.s.actors[actorId];
  const creation = view?.creation;
  if (view === undefined || creation === undefined) return;
  const args: ResolvedArg[] = resolvedArgs(task);
  const spec: ActorSpec = {
    actorId,
    jobId: task.spec.fn.jobId,
    owner: ctx.s.workerId,
    className: creation.className,
    functionId: creation.functionId,
    args,
    ...(creation.name === undefined ? {} : { name: creation.name }),
    namespace: creation.namespace ?? ctx.s.namespace,
    detached: creation.detached,
    getIfExists: creation.getIfExists,
    maxRestarts: creation.maxRestarts,
    maxTaskRetries: creation.maxTaskRetries,
    maxConcurrency: creation.maxConcurrency,
    resources: { ...creation.resources },
    placementResources: { ...creation.placementResources },
    strategy: typeof creation.strategy === 'string' ? creation.strategy : { ...creation.strategy },
  };
  view.spec = spec;
  view.creation = undefined;
  emit(ctx, send(gcsAddress, { type: 'actor/registration-requested', spec }));
}

/**
 * The GCS was asked about an actor this process created that it does not know: it answers what this
 * process knows, unless the creation's registration is still to come (not sent yet, or on its way),
 * whose arrival answers the GCS's subscribers instead. An actor created here that has no view left
 * ended long ago (a pending creation keeps its view), or stood for one whose alias was forgotten too.
 */
export function onActorStatusRequested(ctx: Ctx, actorId: ActorId): void {
  const view = ctx.s.actors[actorId];
  const aliasOf = view === undefined ? ctx.s.aliases[actorId] : view.aliasOf;
  if (view !== undefined && aliasOf === undefined && view.state !== 'DEAD') return;
  const deathCause = aliasOf === undefined ? view?.deathCause : undefined;
  emit(ctx, send(gcsAddress, { type: 'actor/status-replied', actorId, ...(aliasOf === undefined ? {} : { aliasOf }), ...(deathCause === undefined ? {} : { deathCause }) }));
}

/** The GCS answered a registration: the same actor, an existing one with that name, or an error. */
export function onRegistrationReplied(ctx: Ctx, requestedActorId: ActorId, actorId: ActorId, error: string | undefined): void {
  const view = ctx.s.actors[requestedActorId];
  if (view === undefined || view.aliasOf !== undefined || view.state === 'DEAD') return;
  const creationTask = view.creationTaskId === undefined ? undefined : tableGet(ctx.s.tasks, view.creationTaskId);
  if ((error !== undefined || actorId !== requestedActorId) && view.isOwner && view.spec?.detached === false) {
    // The GCS holds this answer for the processes this creation's handles reach until told that no
    // handle is left: now, when every one went while the GCS answered.
    view.redirected = true;
    if (view.handlesGone === true) emit(ctx, send(gcsAddress, { type: 'actor/out-of-scope', actorId: requestedActorId }));
  }
  if (error !== undefined) {
    actorDied(ctx, view, error);
    return;
  }
  if (actorId === requestedActorId) {
    view.registered = true;
    // Every handle went out of scope while the registration was under way.
    if (view.handlesGone === true) emit(ctx, send(gcsAddress, { type: 'actor/out-of-scope', actorId }));
    return;
  }
  // The handles of this creation stand for the existing actor: while they live, hold its handle object.
  if (view.spec?.detached === false && view.handlesGone !== true) {
    view.aliasHold = actorHandleRef(actorId);
    addLocalRef(ctx, view.aliasHold);
    if (view.aliasHold.owner !== ctx.s.workerId) ensureRegistered(ctx, borrowEntry(ctx, view.aliasHold));
  }
  // getIfExists: calls made on this handle go to the existing actor, in the order they were made.
  view.aliasOf = actorId;
  rememberBoundedValue(ctx.s.aliases, ctx.s.aliasOrder, requestedActorId, actorId, maxRememberedAliases);
  const target = ensureView(ctx, actorId);
  fifoPush(target.queue, ...fifoTakeAll(view.queue));
  view.state = 'ALIVE';
  if (creationTask !== undefined) finishTaskOfActorCreation(ctx, creationTask);
  pumpActor(ctx, target);
  // Every counted handle of this creation may have gone while the GCS answered, or none was (detached).
  forgetActorIfGone(ctx, view);
}

function stateRank(state: ActorState): number {
  return state === 'ALIVE' ? 1 : state === 'DEAD' ? 2 : 0;
}

/** A state change published by the GCS; stale ones (older incarnations, after death) are ignored. */
export function onActorStateChanged(
  ctx: Ctx,
  change: { actorId: ActorId; state: ActorState; restartCount: number; workerId?: WorkerId; nodeId?: NodeId; deathCause?: string; deathError?: ThrownInfo; spec?: ActorSpec },
): void {
  const view = ctx.s.actors[change.actorId];
  if (view === undefined || view.aliasOf !== undefined || view.state === 'DEAD') return;
  // Notices may arrive out of order: within one incarnation an actor only moves forward (waiting,
  // then ALIVE, then DEAD), and incarnations only grow; anything else is an older notice.
  if (change.restartCount < view.restartCount) return;
  if (change.restartCount === view.restartCount && stateRank(change.state) <= stateRank(view.state) && change.state !== 'DEAD') return;
  if (change.spec !== undefined) view.maxTaskRetries = change.spec.maxTaskRetries;
  const newIncarnation = change.restartCount > view.restartCount || change.state === 'DEAD';
  view.restartCount = change.restartCount;
  if (change.state === 'DEAD') {
    if (change.deathError !== undefined) view.deathError = change.deathError;
    actorDied(ctx, view, change.deathCause ?? 'the actor died');
    return;
  }
  if (newIncarnation && view.inflight.length > 0) requeueInflight(ctx, view);
  view.state = change.state;
  delete view.infeasible;
  if (change.state === 'ALIVE') {
    view.workerId = change.workerId;
    view.nodeId = change.nodeId;
    if (view.seqRestartCount !== change.restartCount) {
      view.seqRestartCount = change.restartCount;
      view.nextSeqNo = 0;
    }
    const creationTask = view.creationTaskId === undefined ? undefined : tableGet(ctx.s.tasks, view.creationTaskId);
    if (creationTask !== undefined && creationTask.state === 'RUNNING') creationTask.state = 'FINISHED';
    pumpActor(ctx, view);
  } else {
    view.workerId = undefined;
  }
}

/**
 * Why a call the actor's death interrupted is not sent again. Only a call that may not be retried at
 * all is told to set maxTaskRetries: one whose retries are spent was told so while it had set it.
 */
function unretriedCallMessage(view: ActorView, task: OwnedTask): string {
  const start = `actor ${view.actorId} is restarting and call ${task.spec.fn.name} cannot be retried`;
  if (view.maxTaskRetries === 0) return `${start}: calls run at most once (maxTaskRetries 0); set maxTaskRetries to retry calls that an actor's death interrupts`;
  return `${start}: the actor died during each of its ${task.attempt} runs (maxTaskRetries ${view.maxTaskRetries})`;
}

/** The incarnation the in-flight calls went to is gone: resend what may be retried, fail the rest. */
function requeueInflight(ctx: Ctx, view: ActorView): void {
  const retry: string[] = [];
  for (const taskId of view.inflight) {
    const task = tableGet(ctx.s.tasks, taskId);
    if (task === undefined || task.state !== 'RUNNING') continue;
    if (retriesLeft(view.maxTaskRetries, task.attempt)) {
      task.attempt += 1;
      task.state = 'PENDING_NODE';
      task.workerId = undefined;
      retry.push(taskId);
    } else {
      failTask(ctx, task, errorOf('ActorUnavailableError', unretriedCallMessage(view, task), { taskName: task.spec.fn.name }));
    }
  }
  view.inflight = [];
  fifoPushFront(view.queue, retry);
}

/**
 * This process asked the GCS to kill the actor for good: its calls fail now, as Ray's do, rather
 * than run on an actor that is about to die (a call sent after the kill could otherwise reach the
 * actor before the kill does).
 */
export function onKilledForGood(ctx: Ctx, view: ActorView): void {
  if (view.state !== 'DEAD') actorDied(ctx, view, 'killed via tsray.kill');
}

/**
 * Why a dead actor died, as the cause of its ActorDiedError: the GCS's reason, caused in turn by
 * what the constructor threw when that is the reason.
 */
export function deathCauseOf(view: ActorView, cause: string): ThrownInfo {
  return { name: 'ActorDeathCause', message: cause, ...(view.deathError === undefined ? {} : { cause: view.deathError }) };
}

/** The actor is dead for good: every queued and in-flight call fails with ActorDiedError. */
function actorDied(ctx: Ctx, view: ActorView, cause: string): void {
  view.state = 'DEAD';
  view.deathCause = cause;
  view.workerId = undefined;
  const calls = [...view.inflight, ...fifoTakeAll(view.queue)];
  view.inflight = [];
  for (const taskId of calls) {
    const task = tableGet(ctx.s.tasks, taskId);
    if (task !== undefined) failTask(ctx, task, errorOf('ActorDiedError', `actor ${view.actorId} is dead: ${cause}`, { taskName: task.spec.fn.name, cause: deathCauseOf(view, cause) }));
  }
  const creationTask = view.creationTaskId === undefined ? undefined : tableGet(ctx.s.tasks, view.creationTaskId);
  if (creationTask !== undefined) {
    if (creationTask.state === 'RUNNING' || creationTask.state === 'PENDING_ARGS') failTask(ctx, creationTask, errorOf('ActorDiedError', `actor ${view.actorId} is dead: ${cause}`));
    finishTaskOfActorCreation(ctx, creationTask);
  }
  forgetActorIfGone(ctx, view);
}

/** An actor call's args are ready: it may go out once every earlier call has. */
export function onActorCallReady(ctx: Ctx, task: OwnedTask): void {
  const view = viewFor(ctx, task.spec.fn.actor?.actorId ?? '');
  if (view !== undefined) pumpActor(ctx, view);
}

/** Sends queued calls in submission order while the actor is alive and the head's args are ready. */
export function pumpActor(ctx: Ctx, view: ActorView): void {
  if (view.state === 'DEAD') {
    actorDied(ctx, view, view.deathCause ?? 'the actor died');
    return;
  }
  while (view.state === 'ALIVE' && view.workerId !== undefined && fifoSize(view.queue) > 0) {
    const taskId = fifoPeek(view.queue) ?? '';
    const task = tableGet(ctx.s.tasks, taskId);
    if (task === undefined || task.state === 'FINISHED' || task.state === 'FAILED' || task.state === 'CANCELLED') {
      fifoTake(view.queue);
      continue;
    }
    if (task.state !== 'PENDING_NODE') return;
    fifoTake(view.queue);
    // A call made on a handle that the GCS resolved to an existing named actor goes to that actor.
    if (task.spec.fn.actor !== undefined && task.spec.fn.actor.actorId !== view.actorId) task.spec = { ...task.spec, fn: { ...task.spec.fn, actor: { actorId: view.actorId, method: task.spec.fn.actor.method } } };
    task.state = 'RUNNING';
    task.workerId = view.workerId;
    task.nodeId = view.nodeId;
    task.sentToRestart = view.restartCount;
    view.inflight.push(taskId);
    const seqNo = view.nextSeqNo++;
    const spec = taskSpecOf(task.spec);
    emit(ctx,
      send(workerAddress(view.workerId), {
        type: 'actor-task/pushed',
        spec,
        attempt: task.attempt,
        caller: ctx.s.workerId,
        restartCount: view.restartCount,
        seqNo,
        // The spec's own list (see pushedArgs): a call of one value crosses threads as its data alone.
        args: pushedArgs(task, spec.args),
      }),
    );
  }
}

/** A reply to an actor call arrived: it leaves the in-flight list. */
export function onActorCallReplied(ctx: Ctx, task: OwnedTask): void {
  const view = viewFor(ctx, task.spec.fn.actor?.actorId ?? '');
  if (view !== undefined) removeOne(view.inflight, task.spec.taskId);
}
