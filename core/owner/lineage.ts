/**
 * The life of a task this process owns: submission, dependency resolution, completion, failure,
 * retry, cancellation, and lineage reconstruction of lost returns. A finished task stays as lineage
 * while any of its returns exists, holding lineage refs on its owned arguments, so that a return lost
 * with its node can be rebuilt by running the task again (as Ray does, within maxRetries).
 */
import { fifoRemove, fifoSize } from '../fifo.js';
import { send } from '../effects.js';
import { actorHandleObjectId, isObjectOfTask, rayletAddress, returnObjectId, taskOfObject, workerAddress } from '../ids.js';
import type { ActorId, ObjectId, TaskId } from '../ids.js';
import type { ErrorInfo, Payload, RefMarker } from '../values.js';
import type { TaskArg } from '../protocol.js';
import { onActorCallReady, sendActorRegistration, viewFor } from './actor-calls.js';
import type { Ctx } from './context.js';
import { copiedRefs, emit, errorOf, removeOne } from './context.js';
import { enqueueForLease, releaseLease, removeFromClassQueue } from './leasing.js';
import { borrowEntry, createOwnedObject, holdContained, holdForTask, isReferenced, maybeFree, releaseContained, releaseForTask, releaseLineage } from './refs.js';
import { onObjectSettled, requestStatus } from './retrieval.js';
import type { ActorView, OwnedSpec, OwnedTask, OwnerState } from './state.js';
import { ownCopiesFor, writableField } from '../own-copies.js';
import { argsOf, firstReturnIdOf, idRecord, returnIdsOf } from './state.js';
import { tableDelete, tableGet, tableHas, tableSet } from '../table.js';

/** Every ref a task's arguments hold: top-level refs and refs nested inside inline values. */
export function argRefs(spec: OwnedSpec): RefMarker[] {
  const refs: RefMarker[] = [];
  for (const arg of argsOf(spec)) {
    if (arg.kind === 'ref') refs.push(arg.ref);
    else refs.push(...arg.payload.refs);
  }
  return refs;
}

/**
 * Calls `visit(ctx, ref, extra)` with each ref a pending task holds, in order: its argument refs (as
 * `argRefs` lists them) and, for an actor call, the actor's handle object. A walk rather than a list:
 * every task submitted and finished passes here, and the list was two arrays per task for nothing.
 * The visitor takes the context and one extra value rather than closing over them, so that a call
 * makes no closure (two per task, one at submission and one at its end).
 */
function forEachHeldRef<A>(ctx: Ctx, task: OwnedTask, visit: (ctx: Ctx, ref: RefMarker, extra: A) => void, extra: A): void {
  const args = task.spec.args;
  if (Array.isArray(args)) for (const arg of args as readonly TaskArg[]) visitArgRefs(ctx, arg, visit, extra);
  else visitArgRefs(ctx, args as TaskArg, visit, extra);
  if (task.handleRef !== undefined) visit(ctx, task.handleRef, extra);
}

/** `forEachHeldRef` for one argument. */
function visitArgRefs<A>(ctx: Ctx, arg: TaskArg, visit: (ctx: Ctx, ref: RefMarker, extra: A) => void, extra: A): void {
  if (arg.kind === 'ref') {
    visit(ctx, arg.ref, extra);
    return;
  }
  // Indexed, not for-of: see `releaseContained` in refs.ts.
  const refs = arg.payload.refs;
  for (let index = 0; index < refs.length; index++) visit(ctx, refs[index] as RefMarker, extra);
}

/** Whether a task may run again after `attempt` runs, under a maxRetries of `maxRetries` (-1: always). */
export function retriesLeft(maxRetries: number, attempt: number): boolean {
  return maxRetries === -1 || attempt <= maxRetries;
}

/**
 * Registers a new owned task and its return objects (each with one local ref, the caller's). An
 * actor call also holds the actor's handle object (`handleRef`) until it ends, as Ray keeps an actor
 * alive while calls made on it are pending.
 */
export function registerTask(ctx: Ctx, spec: OwnedSpec, kind: OwnedTask['kind'], handleRef?: RefMarker): OwnedTask {
  // Made with the slots a push fills (leaseId, workerId, nodeId) as undefined, which hashes as
  // absent: every task is pushed, and three fields added then took a property array and three
  // hidden-class transitions per task. An actor call's push also fills `sentToRestart` (see
  // pumpActor), so its record has that slot too: added at the push, it took a property array per
  // call (P3 in bench/).
  const task: OwnedTask =
    kind !== 'actor-task'
      ? { spec, kind, state: 'PENDING_ARGS', attempt: 1, leaseId: undefined, workerId: undefined, nodeId: undefined, argLostRetries: 0, holdsArgs: true }
      : handleRef === undefined
        ? { spec, kind, state: 'PENDING_ARGS', attempt: 1, leaseId: undefined, workerId: undefined, nodeId: undefined, sentToRestart: undefined, argLostRetries: 0, holdsArgs: true }
        : { spec, kind, state: 'PENDING_ARGS', attempt: 1, leaseId: undefined, workerId: undefined, nodeId: undefined, sentToRestart: undefined, argLostRetries: 0, holdsArgs: true, handleRef: { ...handleRef } };
  tableSet(ctx.s.tasks, spec.taskId, task);
  if (typeof spec.returnIds === 'string') createOwnedObject(ctx, spec.returnIds, 1);
  else for (const objectId of spec.returnIds) createOwnedObject(ctx, objectId, 1);
  forEachHeldRef(ctx, task, holdForTask, undefined);
  return task;
}

/**
 * The owner's id counters, to be written. In a step with own copies (core/own-copies.ts) they are
 * copied, not drafted: a draft costs immer a proxy, a map of assigned keys and a finalisation, and
 * every submission counts one task.
 */
function ownCounters(ctx: Ctx): OwnerState['counters'] {
  return (ownCopiesFor(ctx.s) ? writableField(ctx.s, 'counters') : ctx.s.counters) as OwnerState['counters'];
}

/** Mints the next task id and its return ids: one (the usual case) as itself, more (or none) as a list, as `OwnedSpec` keeps them. */
export function mintTaskIds(ctx: Ctx, numReturns: number): { taskId: TaskId; returnIds: ObjectId | ObjectId[] } {
  // Joined rather than a template: an id of 13 characters or more (every one past task 99,999 of a
  // driver `n1.d1`) came as a rope of pieces, which each table keyed by it walked and flattened when
  // hashing and comparing it; a join makes one flat string at once (see `returnObjectId`).
  const taskId = [ctx.s.workerId, '.t', ++ownCounters(ctx).task].join('');
  if (numReturns === 1) return { taskId, returnIds: returnObjectId(taskId, 0) };
  // Sized at creation: an array grown by push from empty reserves 17 slots.
  return { taskId, returnIds: Array.from({ length: numReturns }, (_, index): ObjectId => returnObjectId(taskId, index)) };
}

/**
 * Looks at the top-level ref args of a PENDING_ARGS task: fails it if one failed, asks for what is
 * unknown, rebuilds what was evicted, and moves it on once all are available.
 */
export function resolveDeps(ctx: Ctx, task: OwnedTask): void {
  if (task.state !== 'PENDING_ARGS') return;
  // Absent while empty: most tasks never wait for an argument, and a driver may queue a million.
  if (task.waitingFor !== undefined) task.waitingFor = undefined;
  for (const arg of argsOf(task.spec)) {
    if (arg.kind !== 'ref') continue;
    const { objectId } = arg.ref;
    if (arg.ref.owner === ctx.s.workerId) {
      const object = tableGet(ctx.s.objects, objectId);
      if (object === undefined) {
        failTask(ctx, task, errorOf('ObjectLostError', `argument ${objectId} was freed before the task ran`, { objectId }));
        return;
      }
      if (object.state === 'failed' && object.error !== undefined) {
        failTask(ctx, task, object.error);
        return;
      }
      if (object.state === 'ready' && object.payload !== undefined) {
        (task.resolved ??= idRecord())[objectId] = object.payload;
        continue;
      }
      if (object.state === 'evicted') recoverObject(ctx, objectId);
      if (object.dependents === undefined) object.dependents = [task.spec.taskId];
      else if (!object.dependents.includes(task.spec.taskId)) object.dependents.push(task.spec.taskId);
      (task.waitingFor ??= []).push(objectId);
      if (tableGet(ctx.s.tasks, task.spec.taskId)?.state !== 'PENDING_ARGS') return;
      continue;
    }
    const entry = borrowEntry(ctx, arg.ref);
    if (entry.status === 'failed' && entry.error !== undefined) {
      failTask(ctx, task, entry.error);
      return;
    }
    if (entry.status === 'ready' && entry.payload !== undefined) {
      (task.resolved ??= idRecord())[objectId] = entry.payload;
      continue;
    }
    if (!entry.dependents.includes(task.spec.taskId)) entry.dependents.push(task.spec.taskId);
    (task.waitingFor ??= []).push(objectId);
    requestStatus(ctx, entry);
  }
  if (task.waitingFor === undefined) depsReady(ctx, task);
}

function depsReady(ctx: Ctx, task: OwnedTask): void {
  switch (task.kind) {
    case 'task':
      task.state = 'PENDING_NODE';
      enqueueForLease(ctx, task);
      return;
    case 'actor-task':
      task.state = 'PENDING_NODE';
      onActorCallReady(ctx, task);
      return;
    case 'actor-creation':
      task.state = 'RUNNING';
      sendActorRegistration(ctx, task);
      return;
  }
}

/**
 * Marks an owned object ready with `payload`, holds the refs inside it, and wakes whoever waits.
 * Whether the object is known to be still in the table, held, afterwards (false when unknown): then
 * the task that made it keeps its lineage, which a caller need not look up to learn.
 */
export function readyObject(ctx: Ctx, objectId: ObjectId, payload: Payload): boolean {
  const object = tableGet(ctx.s.objects, objectId);
  if (object === undefined || object.state === 'failed') {
    // Nobody wants this value any more (its refs were dropped while it was made, or it was cancelled).
    freeUnwanted(ctx, objectId, payload);
    return false;
  }
  if (object.state === 'ready') return false;
  object.state = 'ready';
  object.payload = payload;
  // Absent unless set, as the other optional fields: assigning undefined would add the field to
  // every object that turns ready (a larger object, and one more hidden class).
  if (object.error !== undefined) object.error = undefined;
  // Hold the refs of the new value before releasing those of an earlier one (a put's, or a lost
  // value's that a re-run replaced), so a ref in both never drops to zero in between.
  const previous = object.contains;
  // Absent when the value holds no refs (nearly every value): an empty list kept for every ready
  // object was an array per task that lived as long as its return.
  if (payload.refs.length > 0) object.contains = copiedRefs(payload.refs);
  else if (previous !== undefined) object.contains = undefined;
  holdContained(ctx, payload.refs, objectId);
  if (previous === undefined || previous.length === 0) {
    // Holding refs frees nothing, so the record read above is still the one in the table: it is
    // passed on rather than looked up again (every task's return passes here).
    onObjectSettled(ctx, objectId, object);
  } else {
    // Releasing may free a value that holds the only ref to this one.
    releaseContained(ctx, previous, objectId);
    onObjectSettled(ctx, objectId);
  }
  // A record still held is still the one in the table (an object leaves it only when nothing holds
  // it, see maybeFree), so `maybeFree` would find it and stop: it is not looked up again for that
  // (every task's return passes here, nearly always held by the ref its submitter has).
  if (isReferenced(object)) return true;
  // Its refs may all have gone while it was being made: then only lineage keeps it, without a value.
  maybeFree(ctx, objectId);
  return false;
}

/**
 * Frees the stored copy of a value that arrived for an object nobody holds (freed or failed meanwhile):
 * without this, a late result would stay in the node's store for good.
 */
export function freeUnwanted(ctx: Ctx, objectId: ObjectId, payload: Payload): void {
  if (payload.kind !== 'stored') return;
  for (const nodeId of payload.nodeIds) {
    if (ctx.s.deadNodes[nodeId] !== true) emit(ctx, send(rayletAddress(nodeId), { type: 'object/free-requested', objectIds: [objectId] }));
  }
}

/** Marks an owned object failed with `error` and wakes whoever waits (dependents fail with it). */
export function failObject(ctx: Ctx, objectId: ObjectId, error: ErrorInfo): void {
  const object = tableGet(ctx.s.objects, objectId);
  if (object === undefined || object.state === 'failed') return;
  object.state = 'failed';
  object.payload = undefined;
  object.error = error;
  onObjectSettled(ctx, objectId);
}

/** Ends a task with its returns. */
export function finishTask(ctx: Ctx, task: OwnedTask, payloads: readonly Payload[]): void {
  task.state = 'FINISHED';
  if (task.error !== undefined) task.error = undefined;
  releaseArgs(ctx, task, task.kind === 'task');
  // The one return (the usual case) as itself: `returnIdsOf` would make a list of one for it.
  const returnIds = task.spec.returnIds;
  let held = false;
  if (typeof returnIds === 'string') {
    const payload = payloads[0];
    if (payload !== undefined) held = readyObject(ctx, returnIds, payload);
  } else {
    for (let index = 0; index < returnIds.length; index++) {
      const payload = payloads[index];
      if (payload !== undefined) readyObject(ctx, returnIds[index] as ObjectId, payload);
    }
  }
  if (task.kind === 'actor-task') {
    // A finished actor call keeps no record: nothing runs it again (its returns are never rebuilt
    // from lineage, see `recoverObject`, and Ray's owner drops a finished actor task the same way),
    // and its return objects live on without it. Kept until its returns were freed, as a normal
    // task's lineage is, the records of a driver's calls piled up until their refs were collected
    // (14,600 at once in P3's 20,000 calls), and the table grew past its flat size.
    tableDelete(ctx.s.tasks, task.spec.taskId);
    return;
  }
  // Its one return, minted for it, is still held: the task keeps its lineage, as `forgetSettledTask`
  // would find with a lookup of the task and one of the return.
  if (held && isObjectOfTask(returnIds as ObjectId, task.spec.taskId)) return;
  forgetSettledTask(ctx, task);
}

/** Ends a task with an error that every return carries. */
export function failTask(ctx: Ctx, task: OwnedTask, error: ErrorInfo, state: 'FAILED' | 'CANCELLED' = 'FAILED'): void {
  if (task.state === 'FINISHED' || task.state === 'FAILED' || task.state === 'CANCELLED') return;
  if (task.state === 'PENDING_NODE' && task.kind === 'task') removeFromClassQueue(ctx, task);
  task.state = state;
  task.error = error;
  releaseArgs(ctx, task, false);
  for (const objectId of returnIdsOf(task.spec)) failObject(ctx, objectId, error);
  forgetSettledTask(ctx, task);
  // A failed call ahead in an actor's queue must not hold back the calls behind it.
  if (task.kind === 'actor-task') onActorCallReady(ctx, task);
}

/** Releases a task's holds on its args; for a finished normal task they become lineage refs. */
function releaseArgs(ctx: Ctx, task: OwnedTask, toLineage: boolean): void {
  if (!task.holdsArgs) return;
  task.holdsArgs = false;
  forEachHeldRef(ctx, task, releaseHeldRef, toLineage);
  if (task.resolved !== undefined) delete task.resolved;
}

/** Releases one of a task's holds (see `releaseArgs`); a ref this owner owns becomes a lineage ref when `toLineage`. */
function releaseHeldRef(ctx: Ctx, ref: RefMarker, toLineage: boolean): void {
  releaseForTask(ctx, ref, toLineage && ref.owner === ctx.s.workerId);
}

/** Takes one of a task's holds again for a reconstruction (see `rerunTask`): a lineage ref on an owned arg becomes a submitted-task ref. */
function rehold(ctx: Ctx, ref: RefMarker): void {
  holdForTask(ctx, ref);
  if (ref.owner === ctx.s.workerId) releaseLineage(ctx, ref.objectId);
}

/** Runs a task again: a retry after a failure, or a reconstruction of lost returns. */
export function rerunTask(ctx: Ctx, task: OwnedTask): void {
  task.attempt += 1;
  task.state = 'PENDING_ARGS';
  task.leaseId = undefined;
  task.workerId = undefined;
  task.nodeId = undefined;
  task.cancelRequested = undefined;
  if (!task.holdsArgs) {
    // A reconstruction: the lineage refs on owned args become submitted-task refs again.
    task.holdsArgs = true;
    forEachHeldRef(ctx, task, rehold, undefined);
  }
  resolveDeps(ctx, task);
}

/**
 * An owned object's value is gone (its node died, or a reader found no copy). Rebuild it from
 * lineage when it has some and retries remain; otherwise it fails with the documented error.
 */
export function recoverObject(ctx: Ctx, objectId: ObjectId): void {
  const object = tableGet(ctx.s.objects, objectId);
  if (object === undefined || object.state === 'failed' || object.state === 'pending') return;
  const taskId = taskOfObject(objectId);
  const task = taskId === undefined ? undefined : tableGet(ctx.s.tasks, taskId);
  object.payload = undefined;
  object.state = 'pending';
  if (task === undefined || task.kind !== 'task') {
    failObject(ctx, objectId, errorOf('ObjectLostError', `object ${objectId} was lost with its node and has no lineage to rebuild it (it came from put or an actor call)`, { objectId }));
    return;
  }
  if (task.state !== 'FINISHED') return;
  if (!retriesLeft(task.spec.fn.maxRetries, task.attempt)) {
    task.state = 'FAILED';
    const error = errorOf('ObjectReconstructionFailedError', `object ${objectId} was lost and task ${task.spec.fn.name} has used all ${task.spec.fn.maxRetries + 1} attempts; raise maxRetries to allow more reconstruction`, { objectId, taskName: task.spec.fn.name });
    task.error = error;
    for (const returnId of returnIdsOf(task.spec)) {
      const sibling = tableGet(ctx.s.objects, returnId);
      if (sibling !== undefined && sibling.state !== 'ready') failObject(ctx, returnId, error);
    }
    return;
  }
  for (const returnId of returnIdsOf(task.spec)) {
    const sibling = tableGet(ctx.s.objects, returnId);
    if (sibling !== undefined && sibling.payload?.kind !== 'inline') {
      sibling.state = 'pending';
      sibling.payload = undefined;
    }
  }
  rerunTask(ctx, task);
}

/**
 * Drops a settled task once none of its returns exists any more (its lineage is no longer needed).
 * `gone`: whether `objectId` was just taken out of the table (then it is not looked up again).
 */
export function forgetTaskIfDone(ctx: Ctx, objectId: ObjectId | undefined, gone = false): void {
  if (objectId === undefined) return;
  const taskId = taskOfObject(objectId);
  if (taskId !== undefined) forgetTaskById(ctx, taskId, gone ? objectId : undefined);
}

/**
 * `forgetTaskIfDone` of the first return of `task`, which just settled. The task's own id is looked
 * up rather than the one cut out of the return id when they are equal (they are for every minted
 * id): a string cut out anew is hashed and probed for in V8's string table at each lookup, and every
 * finished task passes here.
 */
function forgetSettledTask(ctx: Ctx, task: OwnedTask): void {
  const objectId = firstReturnIdOf(task.spec);
  if (objectId === undefined) return;
  // A minted return id (every one) is the task id and `.r<index>`: told by its characters, without
  // cutting the task id out of it (a new string per finished task, then compared character by character).
  const ownId = task.spec.taskId;
  if (isObjectOfTask(objectId, ownId)) {
    forgetTaskById(ctx, ownId);
    return;
  }
  const taskId = taskOfObject(objectId);
  if (taskId !== undefined) forgetTaskById(ctx, taskId);
}

/**
 * Drops the settled task `taskId` once none of its returns exists any more; `gone`: a return the
 * caller just took out of the table (every freed return passes here, and is not looked up again).
 */
function forgetTaskById(ctx: Ctx, taskId: TaskId, gone?: ObjectId): void {
  const task = tableGet(ctx.s.tasks, taskId);
  if (task === undefined || task.kind === 'actor-creation') return;
  if (task.state !== 'FINISHED' && task.state !== 'FAILED' && task.state !== 'CANCELLED') return;
  const returnIds = task.spec.returnIds;
  if (typeof returnIds === 'string') {
    if (returnIds !== gone && tableGet(ctx.s.objects, returnIds) !== undefined) return;
  } else for (const id of returnIds) if (id !== gone && tableGet(ctx.s.objects, id) !== undefined) return;
  tableDelete(ctx.s.tasks, taskId);
  if (task.state === 'FINISHED' && task.kind === 'task' && !task.holdsArgs) {
    for (const ref of argRefs(task.spec)) if (ref.owner === ctx.s.workerId) releaseLineage(ctx, ref.objectId);
  }
}

/** Whether the only thing keeping `objectId` is lineage (its value may be evicted). */
export function onlyLineage(ctx: Ctx, objectId: ObjectId): boolean {
  const object = tableGet(ctx.s.objects, objectId);
  return object !== undefined && !isReferenced(object) && object.lineageRefs > 0;
}

/** Cancels a task this process owns, as `tsray.cancel` does. */
export function cancelOwnedTask(ctx: Ctx, task: OwnedTask, force: boolean, recursive: boolean): void {
  const cancelled = errorOf('TaskCancelledError', `task ${task.spec.fn.name} (${task.spec.taskId}) was cancelled`, { taskName: task.spec.fn.name });
  switch (task.state) {
    case 'PENDING_ARGS':
    case 'PENDING_NODE':
      if (task.kind === 'actor-creation') return;
      if (task.kind === 'actor-task') removeQueuedActorCall(ctx, task);
      failTask(ctx, task, cancelled, 'CANCELLED');
      return;
    case 'RUNNING': {
      if (task.kind === 'actor-creation' || task.workerId === undefined) return;
      // Every get of it fails now, wherever its body is; the late result is dropped when it comes.
      const workerId = task.workerId;
      const nodeId = task.nodeId ?? '';
      const lease = task.leaseId === undefined ? undefined : ctx.s.leases[task.leaseId];
      if (task.kind === 'actor-task') {
        const view = viewFor(ctx, task.spec.fn.actor?.actorId ?? '');
        if (view !== undefined) removeOne(view.inflight, task.spec.taskId);
      }
      if (lease !== undefined && lease.runningTaskId !== task.spec.taskId && lease.pipelined?.includes(task.spec.taskId) === true) {
        // Pipelined, not started (as far as this owner knows): the worker drops it from its queue,
        // or interrupts it if it has just started it; the lease goes on with the rest.
        task.cancelRequested = 'graceful';
        failTask(ctx, task, cancelled, 'CANCELLED');
        releaseLease(ctx, lease.leaseId, task.spec.taskId);
        emit(ctx, send(workerAddress(workerId), { type: 'task/cancel-requested', taskId: task.spec.taskId, recursive }));
        return;
      }
      task.cancelRequested = force && task.kind === 'task' ? 'force' : 'graceful';
      failTask(ctx, task, cancelled, 'CANCELLED');
      if (lease !== undefined) {
        // The lease stays busy until the body settles (its worker replies) or the worker is ended.
        lease.draining = true;
        if (force) lease.doomed = true;
        else emit(ctx, { type: 'timer/armed', timerId: `cancel-grace:${lease.leaseId}`, delayMs: ctx.s.config.cancelGraceMs });
      }
      if (force && task.kind === 'task') emit(ctx, send(`raylet:${nodeId}`, { type: 'worker/kill-requested', workerId, reason: 'killed' }));
      else emit(ctx, send(workerAddress(workerId), { type: 'task/cancel-requested', taskId: task.spec.taskId, recursive }));
      return;
    }
    case 'FINISHED':
    case 'FAILED':
    case 'CANCELLED':
      return;
  }
}

/**
 * Takes a call out of the queue it waits in: its actor's view, or (made on a getIfExists handle) the
 * alias's own view before the GCS answered, or after that the view of the actor the alias stands for,
 * which `viewFor` finds even once the alias's view is forgotten.
 */
function removeQueuedActorCall(ctx: Ctx, task: OwnedTask): void {
  const actorId = task.spec.fn.actor?.actorId;
  if (actorId === undefined) return;
  const own = ctx.s.actors[actorId];
  if (own !== undefined) fifoRemove(own.queue, task.spec.taskId);
  const target = viewFor(ctx, actorId);
  if (target !== undefined && target !== own) fifoRemove(target.queue, task.spec.taskId);
}

/** A running task whose cancel was asked lost its worker: it ends cancelled, not retried. */
export function cancelOwnedTaskAfterLoss(ctx: Ctx, task: OwnedTask): void {
  failTask(ctx, task, errorOf('TaskCancelledError', `task ${task.spec.fn.name} (${task.spec.taskId}) was cancelled`, { taskName: task.spec.fn.name }), 'CANCELLED');
}

/** An actor's creation task ends when the actor is dead or resolved to another: its args are released. */
export function finishTaskOfActorCreation(ctx: Ctx, task: OwnedTask): void {
  if (task.state === 'RUNNING' || task.state === 'PENDING_ARGS' || task.state === 'PENDING_NODE') task.state = 'FINISHED';
  releaseArgs(ctx, task, false);
}

/**
 * Forgets the view of an actor this process did not create (it decoded, looked up or aliased a
 * handle to it) once the actor is dead and no call on it is left: every worker that ever decoded a
 * handle kept such a view for its life. A call made later on a handle still held here makes the
 * view again, which subscribes, and the GCS, which keeps the dead actor's record, answers DEAD at
 * once, so the call fails with ActorDiedError as it would have. A view that a getIfExists handle of
 * this process stands for (`aliasOf`) is kept: the alias finds its actor through it.
 */
function forgetBorrowedActorIfDone(ctx: Ctx, view: ActorView): void {
  if (fifoSize(view.queue) > 0 || view.inflight.length > 0) return;
  for (const key in ctx.s.actors) if (ctx.s.actors[key]?.aliasOf === view.actorId) return;
  delete ctx.s.actors[view.actorId];
}

/**
 * Forgets a getIfExists handle's view of the existing actor it stands for (`aliasOf`), with its
 * finished creation task, once no counted handle of that creation is held here: in the process that
 * made it and in any other it was handed to, and at once for a detached one, whose handles are never
 * counted. A service that asks for its named actor with getIfExists on every request (or hands such a
 * handle to a worker with every request) kept one view and one creation task per request. The calls
 * made through a counted handle hold its handle object until they end, so none is left by then.
 * Calls and kills made later by its id (a detached handle still in use) find the actor through
 * `aliases`. The actor it stood for may be forgotten too, once nothing else holds it here.
 */
function forgetAliasIfGone(ctx: Ctx, view: ActorView, targetId: ActorId): void {
  if (countedHandleHeld(ctx, view)) return;
  forgetView(ctx, view);
  const target = ctx.s.actors[targetId];
  if (target !== undefined) forgetActorIfGone(ctx, target);
}

/**
 * Whether a counted handle of `view`'s actor is held here: the creator counts its handles by the
 * handle object it owns (`handlesGone` once that is freed), another process by its borrow of that
 * object. A detached actor's handles are not counted, so none is.
 */
function countedHandleHeld(ctx: Ctx, view: ActorView): boolean {
  if (view.isOwner) return view.handlesGone !== true && view.spec?.detached !== true;
  return tableHas(ctx.s.borrowed, actorHandleObjectId(view.actorId));
}

/** Deletes the view of an actor this process created, and its creation task once that is over. */
function forgetView(ctx: Ctx, view: ActorView): void {
  delete ctx.s.actors[view.actorId];
  const task = view.creationTaskId === undefined ? undefined : tableGet(ctx.s.tasks, view.creationTaskId);
  if (task !== undefined && !task.holdsArgs && (task.state === 'FINISHED' || task.state === 'FAILED' || task.state === 'CANCELLED')) tableDelete(ctx.s.tasks, task.spec.taskId);
}

/**
 * Forgets an actor once nothing here can call it: a getIfExists alias once its handles are gone
 * (`forgetAliasIfGone`); a dead one another process created once no call on it is left
 * (`forgetBorrowedActorIfDone`); a dead one this process created once no handle to it is left here
 * (its handle object was freed): nothing here can call it or hear of it again, and the GCS keeps its
 * record. Its view and finished creation task, each with the actor's spec, were kept for the life of
 * the process: a driver that created, used and killed actors all day grew by both for every actor
 * (and by ~5.6 KB of heap an actor in all).
 */
export function forgetActorIfGone(ctx: Ctx, view: ActorView): void {
  if (view.aliasOf !== undefined) {
    forgetAliasIfGone(ctx, view, view.aliasOf);
    return;
  }
  if (view.state !== 'DEAD') return;
  if (!view.isOwner) {
    forgetBorrowedActorIfDone(ctx, view);
    return;
  }
  if (view.handlesGone === true) forgetView(ctx, view);
}
