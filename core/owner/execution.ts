/**
 * The worker side: running what owners push. A pushed task fetches its stored arguments, asks the
 * shell to run the body, stores large returns in the node's store, registers the caller as borrower
 * of refs it returns that a third process owns (waiting for the acknowledgement), and only then
 * replies. Duplicate pushes are answered from a bounded reply cache. An actor worker also constructs
 * its actor and admits calls per caller in sequence-number order, up to maxConcurrency at once.
 */
import { send } from '../effects.js';
import { gcsAddress, rayletAddress, workerAddress } from '../ids.js';
import type { ObjectId, TaskId, WorkerId } from '../ids.js';
import type { ActorSpec, Delivered, MessageOf, ResolvedArg, TaskResult, TaskSpec } from '../protocol.js';
import type { ErrorInfo, Payload, RefMarker } from '../values.js';
import type { ExecutionResult, ValueData } from './events.js';
import type { Ctx } from './context.js';
import { copiedRefs, emit, errorOf } from './context.js';
import { cancelOwnedTask, failObject, readyObject } from './lineage.js';
import { acquireRefsIn, dropLocalRef, maybeRelease } from './refs.js';
import { startFetch } from './retrieval.js';
import { getRefs, maxCancelledEarly } from './state.js';
import type { CachedReply, Execution, OwnerState, PendingAck, PendingCall } from './state.js';
import { fifoRemove, fifoPushOne, fifoTake, fifoTakeAll } from '../fifo.js';
import { tableDelete, tableEntries, tableGet, tableHas, tableKeys, tableSet, tableSome, tableValues } from '../table.js';
import { packedMap } from '../packed-map.js';

/**
 * The key of one attempt of a task on this worker: a first attempt (nearly every one) by its task id
 * itself, a later one as `taskId#attempt` (task ids hold no `#`, so no two keys meet). Building
 * `taskId#1` for every push and again for every reply made a string and its internalised copy each
 * time (about 130 bytes a task), for the key every first attempt can share with its task id.
 */
export function executionKey(taskId: TaskId, attempt: number): string {
  return attempt === 1 ? taskId : `${taskId}#${attempt}`;
}

/** Whether every stored argument's value is in `fetched` (a loop, not `storedArgs`: this runs for every task a worker runs). */
function allFetched(args: readonly ResolvedArg[], fetched: Record<ObjectId, ValueData> | undefined): boolean {
  for (const arg of args) if (arg.kind === 'ref' && arg.payload.kind === 'stored' && fetched?.[arg.ref.objectId] === undefined) return false;
  return true;
}

function storedArgs(args: readonly ResolvedArg[]): { objectId: ObjectId; payload: Payload; owner: WorkerId }[] {
  const stored: { objectId: ObjectId; payload: Payload; owner: WorkerId }[] = [];
  for (const arg of args) if (arg.kind === 'ref' && arg.payload.kind === 'stored') stored.push({ objectId: arg.ref.objectId, payload: arg.payload, owner: arg.ref.owner });
  return stored;
}

/** The values of a task's args, as the shell passes them to its body (stored ones from `fetched`). */
function argValues(args: readonly ResolvedArg[], fetched: Record<ObjectId, ValueData> | undefined): ValueData[] {
  // `fetched` goes in as the callback's `this`, so that the callback is made once, not per task.
  return packedMap(args, argValueIn, fetched);
}

/** `argValues` of one arg; `this` is the execution's fetched values. */
function argValueIn(this: Record<ObjectId, ValueData> | undefined, arg: ResolvedArg): ValueData {
  const payload = arg.payload;
  if (payload.kind === 'inline') return { data: payload.data, sizeBytes: payload.sizeBytes, refs: copiedRefs(payload.refs) };
  const value = this?.[arg.kind === 'ref' ? arg.ref.objectId : ''];
  if (value === undefined) throw new Error('argument value used before it was fetched');
  return { data: value.data, sizeBytes: value.sizeBytes, refs: copiedRefs(value.refs) };
}

/**
 * Answers a duplicate push from the reply cache (the reply sent first, again to `to`: the push's
 * sender, which the first reply went to as well); true if it did.
 */
function replayCachedReply(ctx: Ctx, key: string, to: WorkerId): boolean {
  const cached = tableGet(ctx.s.replyCache, key);
  if (cached === undefined) return false;
  emit(ctx, send(workerAddress(to), cached));
  return true;
}

/** `task/pushed`: a normal task to run under a lease of this worker. */
export function onTaskPushed(ctx: Ctx, message: Delivered<MessageOf<'task/pushed'>>): void {
  const key = executionKey(message.spec.taskId, message.attempt);
  if (replayCachedReply(ctx, key, message.spec.owner) || tableHas(ctx.s.executions, key)) return;
  ctx.s.jobId = message.spec.jobId;
  // A task pipelined behind the one this worker runs waits its turn; one behind a task blocked in a
  // get goes back to its owner unrun, which finds it another worker, and so does one that overtook
  // the push before it (the owner counts on its tasks running in the order it pushed them).
  const after = message.after === undefined ? undefined : executionKey(message.after.taskId, message.after.attempt);
  if (after !== undefined && !tableHas(ctx.s.executions, after) && !tableHas(ctx.s.replyCache, after)) {
    sendReply(ctx, message.spec.owner, message.spec.taskId, message.attempt, { kind: 'not-run' });
    return;
  }
  // Whether a normal execution is queued or under way is a count, not a walk over them all (which at
  // a pipelining depth of 64 was a walk of up to 63 keys per push).
  if (ctx.s.normalExecutions > 0) {
    if (ctx.s.blockedInGet) sendReply(ctx, message.spec.owner, message.spec.taskId, message.attempt, { kind: 'not-run' });
    else {
      tableSet(ctx.s.executions, key, newExecution(ctx, message.spec, message.attempt, message.spec.owner, message.args, 'queued', message.leaseId));
      ctx.s.normalExecutions += 1;
      fifoPushOne(ctx.s.queuedExecutions, key);
    }
    return;
  }
  ctx.s.currentLeaseId = message.leaseId;
  startExecution(ctx, message.spec, message.attempt, message.spec.owner, message.args, undefined, key);
}

function newExecution(ctx: Ctx, spec: TaskSpec, attempt: number, replyTo: WorkerId, args: readonly ResolvedArg[], phase: 'queued' | 'fetching', leaseId?: string, actorSeq?: { caller: WorkerId; seqNo: number }): Execution {
  const execution: Execution = {
    spec,
    attempt,
    replyTo,
    // The push's list itself, as `spec` is the push's spec: nothing changes either, and a copy was
    // an array per task.
    args,
    phase,
    interrupted: ctx.s.cancelledEarly.length > 0 && ctx.s.cancelledEarly.includes(spec.taskId),
    // Made with the execution (as undefined, which hashes as absent), so that setting it when the
    // body returns, as every task that returns does, takes a slot inside the object rather than a
    // property array and a hidden-class transition.
    results: undefined,
  };
  // Assigned, not spread in: each spread of an empty literal made and copied an object.
  if (leaseId !== undefined) execution.leaseId = leaseId;
  if (actorSeq !== undefined) execution.actorSeq = actorSeq;
  return execution;
}

/**
 * The task queued first (pipelined) starts once no other task of this worker is under way: once
 * every normal execution left is a queued one (only normal tasks queue), read from the count and
 * the queue rather than from a walk over every execution.
 */
function startNextQueued(ctx: Ctx): void {
  const queued = ctx.s.queuedExecutions;
  if (queued.size === 0 || ctx.s.normalExecutions !== queued.size) return;
  const key = fifoTake(queued) as string;
  const next = tableGet(ctx.s.executions, key) as Execution;
  if (next.leaseId !== undefined) ctx.s.currentLeaseId = next.leaseId;
  // Its execution is replaced in place by the started one, which `startExecution` counts again.
  ctx.s.normalExecutions -= 1;
  startExecution(ctx, next.spec, next.attempt, next.replyTo, next.args, undefined, key);
}

/** The task this worker runs blocked in a get: the tasks pipelined behind it go back to their owners unrun. */
export function handBackQueued(ctx: Ctx): void {
  for (const key of fifoTakeAll(ctx.s.queuedExecutions)) {
    const execution = tableGet(ctx.s.executions, key) as Execution;
    tableDelete(ctx.s.executions, key);
    ctx.s.normalExecutions -= 1;
    sendReply(ctx, execution.replyTo, execution.spec.taskId, execution.attempt, { kind: 'not-run' });
  }
}

/** Starts an attempt of a task on this worker; `key` is its execution key when the caller has it already (a second copy of the string costs a second hashing). */
function startExecution(ctx: Ctx, spec: TaskSpec, attempt: number, replyTo: WorkerId, args: readonly ResolvedArg[], actorSeq?: { caller: WorkerId; seqNo: number }, key = executionKey(spec.taskId, attempt)): void {
  const execution = newExecution(ctx, spec, attempt, replyTo, args, 'fetching', undefined, actorSeq);
  tableSet(ctx.s.executions, key, execution);
  if (spec.actor === undefined) ctx.s.normalExecutions += 1;
  if (execution.interrupted) {
    reply(ctx, key, { kind: 'cancelled' });
    return;
  }
  let fetching = false;
  for (const arg of args) {
    if (arg.kind !== 'ref' || arg.payload.kind !== 'stored') continue;
    const objectId = arg.ref.objectId;
    const data = ctx.s.fetchedData[objectId];
    if (data !== undefined) (execution.fetched ??= {})[objectId] = data;
    else {
      startFetch(ctx, objectId, arg.payload, arg.ref.owner);
      fetching = true;
    }
  }
  // A fetch started may have failed at once and replied (ending the execution), so it is looked up
  // again then; otherwise nothing ran since it was made, and it runs without a second lookup by key
  // (every task a worker runs passes here).
  if (fetching) runIfFetched(ctx, key);
  else runFetched(ctx, execution);
}

function runIfFetched(ctx: Ctx, key: string): void {
  const execution = tableGet(ctx.s.executions, key);
  if (execution !== undefined) runFetched(ctx, execution);
}

/** Runs `execution` (the one in `executions`) if it waits for nothing more. */
function runFetched(ctx: Ctx, execution: Execution): void {
  if (execution.phase !== 'fetching') return;
  if (!allFetched(execution.args, execution.fetched)) return;
  execution.phase = 'running';
  const args = argValues(execution.args, execution.fetched);
  acquireRefsIn(ctx, args);
  emit(ctx, { type: 'task/execute', spec: execution.spec, attempt: execution.attempt, args });
}

/** A stored value arrived: executions and an actor construction waiting for it may start. */
export function onExecutionFetched(ctx: Ctx, objectId: ObjectId): void {
  const value = ctx.s.fetchedData[objectId];
  if (value === undefined) return;
  // A walk over every execution, but only when a stored value arrives, which no task with inline
  // arguments (nearly all) waits for.
  for (const [key, execution] of tableEntries(ctx.s.executions)) {
    if (execution.phase !== 'fetching' || !storedArgs(execution.args).some((arg) => arg.objectId === objectId)) continue;
    (execution.fetched ??= {})[objectId] = value;
    runIfFetched(ctx, key);
  }
  const actor = ctx.s.actor;
  if (actor?.phase === 'fetching' && storedArgs(actor.spec.args).some((arg) => arg.objectId === objectId)) {
    actor.fetched[objectId] = value;
    constructIfFetched(ctx);
  }
}

/** No copy of an argument could be read: the owner is told, so it can rebuild it and run again. */
export function onExecutionFetchFailed(ctx: Ctx, objectId: ObjectId): void {
  for (const [key, execution] of tableEntries(ctx.s.executions)) {
    if (execution.phase === 'fetching' && storedArgs(execution.args).some((arg) => arg.objectId === objectId)) reply(ctx, key, { kind: 'arg-lost', objectId });
  }
  const actor = ctx.s.actor;
  if (actor?.phase === 'fetching' && storedArgs(actor.spec.args).some((arg) => arg.objectId === objectId)) {
    actor.phase = 'failed';
    actor.creationError = errorOf('ObjectLostError', `constructor argument ${objectId} of actor ${actor.spec.actorId} was lost`, { objectId });
    replyCreation(ctx);
  }
}

/** The shell finished running a body. */
export function onTaskExecuted(ctx: Ctx, taskId: TaskId, attempt: number, result: ExecutionResult): void {
  const key = executionKey(taskId, attempt);
  const execution = tableGet(ctx.s.executions, key);
  if (execution === undefined || execution.phase !== 'running') return;
  if (execution.interrupted) {
    reply(ctx, key, { kind: 'cancelled' });
    return;
  }
  execution.phase = 'storing';
  if (result.kind === 'threw') {
    execution.resultError = errorOf(result.errorClass ?? 'RayTaskError', `task ${execution.spec.name} threw ${result.thrown.name}: ${result.thrown.message}`, {
      cause: result.thrown,
      taskName: execution.spec.name,
      nodeId: ctx.s.nodeId,
    });
    maybeReply(ctx, key);
    return;
  }
  if (result.values.length !== execution.spec.returnIds.length) {
    execution.resultError = errorOf('RayTaskError', `task ${execution.spec.name} returned ${result.values.length} values but numReturns is ${execution.spec.returnIds.length}; return an array of numReturns values`, {
      cause: { name: 'TypeError', message: 'wrong number of return values' },
      taskName: execution.spec.name,
      nodeId: ctx.s.nodeId,
    });
    maybeReply(ctx, key);
    return;
  }
  // Values all small enough to travel inline (the usual case) map without the closure below, which
  // the large ones need for their storing: that was a closure and its context per task run.
  const threshold = ctx.s.config.inlineThresholdBytes;
  let allInline = true;
  for (const value of result.values) if (value.sizeBytes >= threshold) allInline = false;
  execution.results = allInline ? packedMap(result.values, inlinePayloadOf) : packedMap(result.values, (value, index): Payload | undefined => {
    const objectId = execution.spec.returnIds[index] ?? '';
    if (value.sizeBytes < ctx.s.config.inlineThresholdBytes) return { kind: 'inline', data: value.data, sizeBytes: value.sizeBytes, refs: copiedRefs(value.refs) };
    ctx.s.storing[objectId] = { sizeBytes: value.sizeBytes, refs: copiedRefs(value.refs), executionKey: key, index };
    emit(ctx, send(rayletAddress(ctx.s.nodeId), { type: 'object/put-requested', objectId, owner: execution.spec.owner, data: value.data, sizeBytes: value.sizeBytes, refs: copiedRefs(value.refs) }));
    return undefined;
  });
  registerReturnedRefs(ctx, key, execution, result.values);
  // Registering ends no execution, so the one looked up above is passed on rather than found again.
  maybeReplyWith(ctx, key, execution);
}

/** The inline payload of a value returned by a body. */
function inlinePayloadOf(value: ValueData): Payload {
  return { kind: 'inline', data: value.data, sizeBytes: value.sizeBytes, refs: copiedRefs(value.refs) };
}

/**
 * The caller will hold the refs inside the returns: for refs this worker owns it is recorded as a
 * borrower now; for refs a third process owns, that owner is told and must acknowledge first.
 */
function registerReturnedRefs(ctx: Ctx, key: string, execution: Execution, values: readonly ValueData[]): void {
  const caller = execution.replyTo;
  for (const value of values) {
    // Indexed, not for-of: see `releaseContained` in refs.ts.
    const refs = value.refs;
    for (let index = 0; index < refs.length; index++) {
      const ref = refs[index] as RefMarker;
      if (ref.owner === caller) continue;
      if (ref.owner === ctx.s.workerId) {
        const object = tableGet(ctx.s.objects, ref.objectId);
        if (object !== undefined && object.borrowers?.includes(caller) !== true) (object.borrowers ??= []).push(caller);
        continue;
      }
      if (ctx.s.deadWorkers[ref.owner] === true) continue;
      const ackId = `${ctx.s.workerId}.k${++ctx.s.counters.ack}`;
      ctx.s.acks[ackId] = { ackId, objectId: ref.objectId, owner: ref.owner, executionKey: key };
      (execution.pendingAcks ??= []).push(ackId);
      emit(ctx, send(workerAddress(ref.owner), { type: 'borrow/added', objectId: ref.objectId, borrower: caller, ackTo: ctx.s.workerId, ackId }));
    }
  }
}

/** Replies once every return is stored and every registration acknowledged. */
export function maybeReply(ctx: Ctx, key: string): void {
  const execution = tableGet(ctx.s.executions, key);
  if (execution !== undefined) maybeReplyWith(ctx, key, execution);
}

/** `maybeReply` of the execution under `key`, given (found by the caller, which every task's return passes). */
function maybeReplyWith(ctx: Ctx, key: string, execution: Execution): void {
  if (execution.phase !== 'storing' && execution.phase !== 'registering') return;
  if (execution.pendingAcks !== undefined) return;
  // This worker's own registrations (for refs it passed to nested tasks) must land before the reply
  // ends the cover its caller gives those refs.
  const acks = ctx.s.acks;
  for (const ackId in acks) if ((acks[ackId] as PendingAck).executionKey === undefined) return;
  if (execution.resultError !== undefined) {
    replyWith(ctx, key, execution, { kind: 'threw', error: execution.resultError });
    return;
  }
  const results = execution.results ?? [];
  for (let index = 0; index < results.length; index++) if (results[index] === undefined) return;
  replyWith(ctx, key, execution, { kind: 'returned', payloads: results as Payload[] });
}

function reply(ctx: Ctx, key: string, result: TaskResult): void {
  const execution = tableGet(ctx.s.executions, key);
  if (execution !== undefined) replyWith(ctx, key, execution, result);
}

/** Replies for the execution under `key`, given (the one in `executions`), and ends it. */
function replyWith(ctx: Ctx, key: string, execution: Execution, result: TaskResult): void {
  tableDelete(ctx.s.executions, key);
  if (execution.spec.actor === undefined) ctx.s.normalExecutions -= 1;
  // Only a cancel ends a queued execution (a reply for its push): it leaves the queue wherever it is.
  if (execution.phase === 'queued') fifoRemove(ctx.s.queuedExecutions, key);
  // Returns still on their way into the store are no longer wanted: their acknowledgement frees them.
  const storingById = ctx.s.storing;
  for (const objectId in storingById) {
    const storing = storingById[objectId] as OwnerState['storing'][string];
    if (storing.executionKey === key) storing.orphaned = true;
  }
  const sent = sendReply(ctx, execution.replyTo, execution.spec.taskId, execution.attempt, result);
  // An arg-lost reply is not kept: the owner pushes the same attempt again once the argument is back.
  if (result.kind !== 'arg-lost') {
    tableSet(ctx.s.replyCache, key, sent);
    ctx.s.replyOrder.push(key);
  }
  while (ctx.s.replyOrder.length > ctx.s.config.maxReplyCache) tableDelete(ctx.s.replyCache, ctx.s.replyOrder.shift() ?? '');
  const fetched = execution.fetched;
  if (fetched !== undefined) for (const objectId in fetched) if (!tableSome(ctx.s.gets, (get) => getRefs(get).some((ref) => ref.objectId === objectId))) delete ctx.s.fetchedData[objectId];
  if (execution.actorSeq !== undefined && ctx.s.actor !== undefined) {
    ctx.s.actor.running -= 1;
    runActorCalls(ctx);
  } else if (execution.spec.actor === undefined) startNextQueued(ctx);
}

/** Sends a reply to `to` and returns the message sent (which the reply cache keeps). */
function sendReply(ctx: Ctx, to: WorkerId, taskId: TaskId, attempt: number, result: TaskResult): CachedReply {
  const sent: CachedReply = { type: 'task/replied', taskId, attempt, workerId: ctx.s.workerId, nodeId: ctx.s.nodeId, result, releasedBorrows: noReleasedBorrows };
  emit(ctx, send(workerAddress(to), sent));
  return sent;
}

/**
 * The `releasedBorrows` of every reply a worker sends: one frozen empty list, not a new one per reply
 * (nothing that reads a reply changes it, and a reply kept in the cache keeps it).
 */
const noReleasedBorrows: readonly ObjectId[] = Object.freeze([]);

/** `object/put-acked`: a large return or a put is in the store. */
export function onPutAcked(ctx: Ctx, objectId: ObjectId): void {
  const storing = ctx.s.storing[objectId];
  if (storing === undefined) return;
  delete ctx.s.storing[objectId];
  if (storing.orphaned === true) {
    emit(ctx, send(rayletAddress(ctx.s.nodeId), { type: 'object/free-requested', objectIds: [objectId] }));
    return;
  }
  const payload: Payload = { kind: 'stored', nodeIds: [ctx.s.nodeId], sizeBytes: storing.sizeBytes, refs: storing.refs };
  if (storing.executionKey === undefined) {
    readyObject(ctx, objectId, payload);
    return;
  }
  const execution = tableGet(ctx.s.executions, storing.executionKey);
  if (execution?.results === undefined || storing.index === undefined) return;
  execution.results[storing.index] = payload;
  maybeReply(ctx, storing.executionKey);
}

/** `object/put-rejected`: the store is full. */
export function onPutRejected(ctx: Ctx, objectId: ObjectId, reason: string): void {
  const storing = ctx.s.storing[objectId];
  if (storing === undefined) return;
  delete ctx.s.storing[objectId];
  const error = errorOf('ObjectStoreFullError', `object ${objectId} of ${storing.sizeBytes} bytes does not fit: ${reason}`, { objectId, nodeId: ctx.s.nodeId });
  if (storing.executionKey === undefined) {
    failObject(ctx, objectId, error);
    return;
  }
  const execution = tableGet(ctx.s.executions, storing.executionKey);
  if (execution === undefined) return;
  execution.resultError = error;
  maybeReply(ctx, storing.executionKey);
}

/** `borrow/add-acked`: a registration landed. */
export function onAckReceived(ctx: Ctx, ackId: string): void {
  const ack = ctx.s.acks[ackId];
  if (ack === undefined) return;
  settleAck(ctx, ackId);
}

/** Ends a pending registration (acknowledged, or its owner died so none will come). */
export function settleAck(ctx: Ctx, ackId: string): void {
  const ack = ctx.s.acks[ackId];
  if (ack === undefined) return;
  delete ctx.s.acks[ackId];
  if (ack.executionKey !== undefined) {
    const execution = tableGet(ctx.s.executions, ack.executionKey);
    if (execution !== undefined) {
      const pendingAcks = execution.pendingAcks;
      const index = pendingAcks === undefined ? -1 : pendingAcks.indexOf(ackId);
      // The list goes once its last registration lands, so that absent means none pending (cleared
      // by assigning undefined, which hashes as absent, rather than by a delete, which would turn the
      // execution into a slow dictionary-mode object).
      if (pendingAcks !== undefined && index >= 0) {
        if (pendingAcks.length === 1) execution.pendingAcks = undefined;
        else pendingAcks.splice(index, 1);
      }
      maybeReply(ctx, ack.executionKey);
    }
    return;
  }
  const entry = tableGet(ctx.s.borrowed, ack.objectId);
  if (entry !== undefined && entry.registration === 'pending') {
    entry.registration = 'registered';
    if (entry.releaseWhenAcked === true) {
      entry.releaseWhenAcked = undefined;
      maybeRelease(ctx, ack.objectId);
    }
  }
  if (ack.holdOuter !== undefined) dropLocalRef(ctx, ack.holdOuter.objectId);
  for (const key of tableKeys(ctx.s.executions)) maybeReply(ctx, key);
}


/** `task/cancel-requested` here: interrupt it if this worker runs it, cancel it if this process owns it. */
export function onCancelAtWorker(ctx: Ctx, taskId: TaskId, recursive: boolean, force: boolean): void {
  const owned = tableGet(ctx.s.tasks, taskId);
  if (owned !== undefined) cancelOwnedTask(ctx, owned, force, recursive);
  let running = false;
  for (const [key, execution] of tableEntries(ctx.s.executions)) {
    if (execution.spec.taskId !== taskId) continue;
    running = true;
    execution.interrupted = true;
    if (execution.phase === 'running') emit(ctx, { type: 'task/interrupt', taskId });
    else if (execution.phase === 'fetching' || execution.phase === 'queued') reply(ctx, key, { kind: 'cancelled' });
  }
  if (!running && owned === undefined && !ctx.s.cancelledEarly.includes(taskId)) {
    ctx.s.cancelledEarly.push(taskId);
    while (ctx.s.cancelledEarly.length > maxCancelledEarly) ctx.s.cancelledEarly.shift();
  }
  if (recursive) {
    for (const child of tableValues(ctx.s.tasks)) if (child.spec.fn.parentTaskId === taskId) cancelOwnedTask(ctx, child, force, true);
  }
}

/** `actor/creation-pushed`: host this actor (or answer again for the incarnation already hosted). */
export function onActorCreationPushed(ctx: Ctx, spec: ActorSpec, restartCount: number): void {
  const actor = ctx.s.actor;
  if (actor !== undefined) {
    if (actor.spec.actorId === spec.actorId && actor.restartCount === restartCount && (actor.phase === 'ready' || actor.phase === 'failed')) replyCreation(ctx);
    return;
  }
  ctx.s.jobId = spec.jobId;
  ctx.s.actor = { spec, restartCount, phase: 'fetching', fetched: {}, callers: {}, runnable: [], running: 0 };
  for (const { objectId, payload, owner } of storedArgs(spec.args)) {
    const data = ctx.s.fetchedData[objectId];
    if (data !== undefined) ctx.s.actor.fetched[objectId] = data;
    else startFetch(ctx, objectId, payload, owner);
  }
  constructIfFetched(ctx);
}

function constructIfFetched(ctx: Ctx): void {
  const actor = ctx.s.actor;
  if (actor === undefined || actor.phase !== 'fetching') return;
  if (storedArgs(actor.spec.args).some(({ objectId }) => actor.fetched[objectId] === undefined)) return;
  actor.phase = 'constructing';
  const args = argValues(actor.spec.args, actor.fetched);
  acquireRefsIn(ctx, args);
  emit(ctx, { type: 'actor/construct', spec: actor.spec, restartCount: actor.restartCount, args });
}

/** The shell ran the constructor. */
export function onActorConstructed(ctx: Ctx, actorId: string, restartCount: number, error: { name: string; message: string; stack?: string } | undefined): void {
  const actor = ctx.s.actor;
  if (actor === undefined || actor.spec.actorId !== actorId || actor.restartCount !== restartCount || actor.phase !== 'constructing') return;
  if (error === undefined) actor.phase = 'ready';
  else {
    actor.phase = 'failed';
    actor.creationError = errorOf('RayTaskError', `the constructor of ${actor.spec.className} threw ${error.name}: ${error.message}`, { cause: error, nodeId: ctx.s.nodeId });
  }
  replyCreation(ctx);
  runActorCalls(ctx);
}

function replyCreation(ctx: Ctx): void {
  const actor = ctx.s.actor;
  if (actor === undefined) return;
  const error: ErrorInfo | undefined = actor.creationError;
  emit(ctx,
    send(gcsAddress, { type: 'actor/creation-replied', actorId: actor.spec.actorId, restartCount: actor.restartCount, workerId: ctx.s.workerId, ...(error === undefined ? {} : { error }) }),
  );
}

/**
 * `actor/dispose-requested`: every handle to the actor this worker hosts went out of scope. A ready
 * instance runs its dispose method in the shell (which then applies `actor/disposed`); anything else
 * has nothing to dispose and answers at once.
 */
export function onActorDisposeRequested(ctx: Ctx, actorId: string, restartCount: number): void {
  const actor = ctx.s.actor;
  if (actor === undefined || actor.spec.actorId !== actorId || actor.restartCount !== restartCount) return;
  if (actor.phase === 'ready') emit(ctx, { type: 'actor/dispose', actorId, restartCount });
  else onActorDisposed(ctx, actorId, restartCount);
}

/** The shell ran the instance's dispose method (or it had none): the GCS may end the actor. */
export function onActorDisposed(ctx: Ctx, actorId: string, restartCount: number): void {
  emit(ctx, send(gcsAddress, { type: 'actor/disposed', actorId, restartCount, workerId: ctx.s.workerId }));
}

/** `actor-task/pushed`: admit calls per caller in sequence order; run up to maxConcurrency at once. */
export function onActorTaskPushed(ctx: Ctx, message: Delivered<MessageOf<'actor-task/pushed'>>): void {
  const actor = ctx.s.actor;
  if (actor === undefined || actor.spec.actorId !== message.spec.actor?.actorId || actor.restartCount !== message.restartCount) return;
  const key = executionKey(message.spec.taskId, message.attempt);
  if (replayCachedReply(ctx, key, message.caller)) return;
  let order = actor.callers[message.caller];
  if (order === undefined) {
    order = { nextSeqNo: 0, buffered: {} };
    actor.callers[message.caller] = order;
  }
  if (message.seqNo < order.nextSeqNo || order.buffered[String(message.seqNo)] !== undefined) return;
  const call: PendingCall = { key, spec: message.spec, attempt: message.attempt, caller: message.caller, seqNo: message.seqNo, args: message.args };
  if (message.seqNo > order.nextSeqNo) {
    if (Object.keys(order.buffered).length >= ctx.s.config.maxBufferedCallsPerCaller) return;
    order.buffered[String(message.seqNo)] = call;
    return;
  }
  actor.runnable.push(call);
  order.nextSeqNo += 1;
  for (let next = order.buffered[String(order.nextSeqNo)]; next !== undefined; next = order.buffered[String(order.nextSeqNo)]) {
    delete order.buffered[String(order.nextSeqNo)];
    actor.runnable.push(next);
    order.nextSeqNo += 1;
  }
  runActorCalls(ctx);
}

/** Starts admitted calls while the actor is ready and below its concurrency. */
function runActorCalls(ctx: Ctx): void {
  const actor = ctx.s.actor;
  if (actor === undefined || actor.phase !== 'ready') return;
  while (actor.running < actor.spec.maxConcurrency && actor.runnable.length > 0) {
    const call = actor.runnable.shift() as PendingCall;
    actor.running += 1;
    startExecution(ctx, call.spec, call.attempt, call.caller, call.args, { caller: call.caller, seqNo: call.seqNo }, call.key);
  }
}
