/**
 * Getting values: `get` and `wait` on owned and borrowed refs, status requests to owners, fetches of
 * stored values from a node's store, and the answers an owner gives to borrowers asking for status.
 * A worker whose task waits in `get` tells its raylet so the CPU can serve others, and resumes only
 * when the raylet gives the CPU back.
 *
 * The loops over a get's or a wait's refs count their way through the list rather than use
 * `for...of`: each runs once per get, so over a get of 100,000 refs it ran unoptimised for most of
 * the list and made an iterator result per ref (40 bytes each, 4 MB of garbage per loop).
 */
import { send } from '../effects.js';
import { ownerOfObject, rayletAddress, workerAddress } from '../ids.js';
import type { ObjectId } from '../ids.js';
import type { MessageOf } from '../protocol.js';
import type { Payload, RefMarker } from '../values.js';
import type { GetOutcome, ValueData } from './events.js';
import type { Ctx } from './context.js';
import { copiedRefs, emit, errorOf } from './context.js';
import { explainPending } from './explain.js';
import { handBackQueued, onExecutionFetched, onExecutionFetchFailed } from './execution.js';
import { recoverObject, resolveDeps } from './lineage.js';
import { addLocalRef, borrowEntry, ensureRegistered, maybeRelease } from './refs.js';
import { getRefs } from './state.js';
import { readField } from '../own-copies.js';
import type { BorrowedRef, OwnedObject, PendingGet } from './state.js';
import { tableDelete, tableGet, tableHas, tableKeys, tableSet, tableSome, tableValues } from '../table.js';

/** Bound on re-asking an owner for a borrowed value whose copies could not be read. */
const maxBorrowedFetchFailures = 20;
/** Pause before re-asking, so the owner can learn of the loss first. */
const statusRetryDelayMs = 200;

/** The status-retry timer of a borrowed ref fired. */
export function onStatusRetryTimer(ctx: Ctx, objectId: ObjectId): void {
  const entry = tableGet(ctx.s.borrowed, objectId);
  if (entry === undefined) return;
  requestStatus(ctx, entry);
  checkRetrievals(ctx, objectId);
}

/** Asks the owner of a borrowed ref for its value, once. */
export function requestStatus(ctx: Ctx, entry: BorrowedRef): void {
  if (entry.status !== 'unknown') return;
  entry.status = 'requested';
  emit(ctx, send(workerAddress(entry.owner), { type: 'object/status-requested', objectId: entry.objectId, requester: ctx.s.workerId }));
}

/** An error outcome of a get. */
type ErrorOutcome = GetOutcome & { kind: 'error' };

/**
 * What is known of a ref's value here: its payload, an error outcome, or undefined (nothing yet).
 * One value, told apart by `kind`, rather than a record with either field: a get's cursor asks this
 * of a ref each time one of its objects settles, and the record was an object per question.
 */
function known(ctx: Ctx, ref: RefMarker, owned?: OwnedObject): Payload | ErrorOutcome | undefined {
  if (ref.owner === ctx.s.workerId) {
    const object = owned ?? tableGet(ctx.s.objects, ref.objectId);
    if (object === undefined) return { kind: 'error', error: errorOf('ObjectLostError', `object ${ref.objectId} was already freed: every ref to it had been released`, { objectId: ref.objectId }) };
    if (object.state === 'failed' && object.error !== undefined) return { kind: 'error', error: object.error };
    if (object.state === 'ready' && object.payload !== undefined) return object.payload;
    return undefined;
  }
  const entry = tableGet(ctx.s.borrowed, ref.objectId);
  if (entry?.status === 'failed' && entry.error !== undefined) return { kind: 'error', error: entry.error };
  if (entry?.status === 'ready' && entry.payload !== undefined) return entry.payload;
  return undefined;
}

/** Whether the data of a ready payload is here (inline, or fetched from a store), without building the value. */
function hasData(ctx: Ctx, objectId: ObjectId, payload: Payload): boolean {
  return payload.kind === 'inline' || ctx.s.fetchedData[objectId] !== undefined;
}

/** Starts fetching a stored value from a live node that has it; a value with no live copy is lost. */
export function startFetch(ctx: Ctx, objectId: ObjectId, payload: Payload, owner: string): void {
  if (payload.kind !== 'stored' || ctx.s.fetchedData[objectId] !== undefined || ctx.s.fetches[objectId] !== undefined) return;
  const nodeId = payload.nodeIds.find((id) => ctx.s.deadNodes[id] !== true);
  if (nodeId === undefined) {
    onFetchFailed(ctx, objectId, owner);
    return;
  }
  ctx.s.fetches[objectId] = { objectId, nodeId };
  emit(ctx, send(rayletAddress(nodeId), { type: 'object/fetch-requested', objectId, requester: workerAddress(ctx.s.workerId) }));
}

/** A fetch came back with the data. */
export function onFetched(ctx: Ctx, objectId: ObjectId, value: ValueData): void {
  if (ctx.s.fetches[objectId] === undefined) return;
  delete ctx.s.fetches[objectId];
  ctx.s.fetchedData[objectId] = { data: value.data, sizeBytes: value.sizeBytes, refs: copiedRefs(value.refs) };
  onExecutionFetched(ctx, objectId);
  checkRetrievals(ctx, objectId);
}

/** No copy could be read: an owned value is rebuilt; a borrowed one is lost to this reader. */
export function onFetchFailed(ctx: Ctx, objectId: ObjectId, owner: string): void {
  delete ctx.s.fetches[objectId];
  if (owner === ctx.s.workerId) {
    const object = tableGet(ctx.s.objects, objectId);
    if (object !== undefined && object.state === 'ready') recoverObject(ctx, objectId);
  } else {
    const entry = tableGet(ctx.s.borrowed, objectId);
    if (entry !== undefined && entry.status === 'ready') {
      entry.payload = undefined;
      entry.fetchFailures += 1;
      if (entry.fetchFailures > maxBorrowedFetchFailures) {
        entry.status = 'failed';
        entry.error = errorOf('ObjectLostError', `no copy of object ${objectId} could be read from any live node after ${maxBorrowedFetchFailures} tries`, { objectId });
        wakeBorrowDependents(ctx, entry);
      } else {
        // The owner may not know yet that the copy is gone; ask it again shortly, it rebuilds lost values.
        entry.status = 'unknown';
        emit(ctx, { type: 'timer/armed', timerId: `status-retry:${objectId}`, delayMs: statusRetryDelayMs });
      }
    }
  }
  onExecutionFetchFailed(ctx, objectId);
  checkRetrievals(ctx, objectId);
}

/** An owned object settled: answer borrowers that asked, wake dependent tasks, settle gets and waits. */
export function onObjectSettled(ctx: Ctx, objectId: ObjectId, object: OwnedObject | undefined = tableGet(ctx.s.objects, objectId)): void {
  if (object === undefined) return;
  const waiters = object.statusWaiters;
  if (waiters !== undefined) {
    delete object.statusWaiters;
    for (const waiter of waiters) replyStatus(ctx, objectId, waiter);
  }
  const dependents = object.dependents;
  if (dependents === undefined) {
    // Nothing ran since the object was read: the gets and waits on it are found through it, without
    // a second lookup (every task's return passes here).
    checkRetrievalsOf(ctx, objectId, object);
    return;
  }
  object.dependents = undefined;
  for (const taskId of dependents) {
    const task = tableGet(ctx.s.tasks, taskId);
    if (task !== undefined) resolveDeps(ctx, task);
  }
  checkRetrievals(ctx, objectId);
}

export function wakeBorrowDependents(ctx: Ctx, entry: BorrowedRef): void {
  const dependents = entry.dependents;
  entry.dependents = [];
  for (const taskId of dependents) {
    const task = tableGet(ctx.s.tasks, taskId);
    if (task !== undefined) resolveDeps(ctx, task);
  }
}

/** Answers a borrower's status request now if the object has settled, else when it does. */
export function onStatusRequested(ctx: Ctx, objectId: ObjectId, requester: string): void {
  const object = tableGet(ctx.s.objects, objectId);
  if (object === undefined || object.state === 'ready' || object.state === 'failed') {
    replyStatus(ctx, objectId, requester);
    return;
  }
  const waiters = (object.statusWaiters ??= []);
  if (!waiters.includes(requester)) waiters.push(requester);
  if (object.state === 'evicted') recoverObject(ctx, objectId);
}

function replyStatus(ctx: Ctx, objectId: ObjectId, requester: string): void {
  const object = tableGet(ctx.s.objects, objectId);
  const outcome =
    object?.state === 'ready' && object.payload !== undefined
      ? { kind: 'value' as const, payload: object.payload }
      : {
          kind: 'error' as const,
          error: object?.error ?? errorOf('ObjectLostError', `object ${objectId} was freed by its owner ${ctx.s.workerId}`, { objectId }),
        };
  emit(ctx, send(workerAddress(requester), { type: 'object/status-replied', objectId, outcome }));
}

/** The owner answered a status request. */
export function onStatusReplied(ctx: Ctx, objectId: ObjectId, outcome: { kind: 'value'; payload: Payload } | { kind: 'error'; error: import('../values.js').ErrorInfo }): void {
  const entry = tableGet(ctx.s.borrowed, objectId);
  if (entry === undefined || entry.status !== 'requested') return;
  if (outcome.kind === 'value') {
    entry.status = 'ready';
    entry.payload = outcome.payload;
  } else {
    entry.status = 'failed';
    entry.error = outcome.error;
  }
  wakeBorrowDependents(ctx, entry);
  checkRetrievals(ctx, objectId);
}

/** `get`: settle now if everything is here, else start what is needed and (in a task) yield the CPU. */
export function onGetRequested(ctx: Ctx, getId: string, refs: readonly RefMarker[], timeoutMs: number | undefined, inTaskId: string | undefined): void {
  // Its flags and cursor are absent until set: a driver may hold a million pending gets (P5 in bench/).
  // And `inTaskId` is spread only when present: an empty spread in the literal still reserved room for it.
  // A get on one ref (the usual case) keeps that ref as itself rather than in a list of one (56 bytes).
  const only = refs.length === 1 ? refs[0] : undefined;
  const fields: PendingGet = { getId, refs: only === undefined ? copiedRefs(refs) : { ...only } };
  const get: PendingGet = inTaskId === undefined ? fields : { ...fields, inTaskId };
  tableSet(ctx.s.gets, getId, get);
  // The list of the get's refs is made once here and handed on: for a get of one ref, `getRefs`
  // makes a list of one at each call, and a get passed it five times on its way to settling.
  const getRefList = getRefs(get);
  // The record of the only ref, when this owner owns it (a driver's get of a task's return: nearly
  // every get), read once here and handed on: indexing, advancing and settling the get each looked
  // it up again in a table that holds every live object.
  const owned = only !== undefined && only.owner === ctx.s.workerId ? tableGet(ctx.s.objects, only.objectId) : undefined;
  // A get of many refs keeps the records that indexing read, for advancing them (see `advance`).
  const records = only === undefined ? new Array<OwnedObject | undefined>(getRefList.length) : undefined;
  indexRetrieval(ctx, getId, getRefList, owned, records);
  for (let index = 0; index < getRefList.length; index += 1) {
    const ref = getRefList[index] as RefMarker;
    if (ref.owner !== ctx.s.workerId) borrowEntry(ctx, ref).transientHolds += 1;
  }
  if (timeoutMs !== undefined) emit(ctx, { type: 'timer/armed', timerId: `get:${getId}`, delayMs: timeoutMs });
  let pending: boolean;
  if (owned === undefined) {
    advance(ctx, getRefList, records);
    pending = tableHas(ctx.s.gets, getId) && !trySettleGet(ctx, get, getRefList);
  } else if (advanceOwned(ctx, (only as RefMarker).objectId, owned)) {
    // Rebuilding or fetching may have settled the get, or changed the record: as for any other get.
    pending = tableHas(ctx.s.gets, getId) && !trySettleGet(ctx, get, getRefList);
  } else {
    // Nothing ran since the record was read: the get is still pending, and the record still current.
    pending = !trySettleGet(ctx, get, getRefList, owned);
  }
  if (pending && inTaskId !== undefined) blockWorker(ctx, get);
}

/** `wait`: settle once `numReturns` refs are ready (or failed), or at the timeout with what is ready. */
export function onWaitRequested(ctx: Ctx, waitId: string, refs: readonly RefMarker[], numReturns: number, timeoutMs: number | undefined): void {
  const repeats = refs.length - new Set(refs.map((ref) => ref.objectId)).size;
  tableSet(ctx.s.waits, waitId, { waitId, refs: copiedRefs(refs), numReturns, settledAtLeast: 0, repeats });
  indexRetrieval(ctx, waitId, refs);
  for (let index = 0; index < refs.length; index += 1) {
    const ref = refs[index] as RefMarker;
    if (ref.owner !== ctx.s.workerId) borrowEntry(ctx, ref).transientHolds += 1;
  }
  if (timeoutMs !== undefined) emit(ctx, { type: 'timer/armed', timerId: `wait:${waitId}`, delayMs: timeoutMs });
  for (let index = 0; index < refs.length; index += 1) {
    const ref = refs[index] as RefMarker;
    if (ref.owner !== ctx.s.workerId) requestStatusFor(ctx, ref);
  }
  trySettleWait(ctx, waitId, false);
}

function requestStatusFor(ctx: Ctx, ref: RefMarker): void {
  const entry = tableGet(ctx.s.borrowed, ref.objectId);
  if (entry !== undefined) requestStatus(ctx, entry);
}

/**
 * Starts whatever the refs need: status requests, fetches, reconstruction of evicted values.
 * `records`: the records of the owned refs' objects (by index), read just before with nothing run
 * since, as `indexRetrieval` leaves them, so that a get of 100,000 refs does not look each one up
 * twice in a row. They are read until a ref starts something (a rebuild, a fetch, or for a borrowed
 * ref a status request or fetch, which may fail at once and settle the get), which may change or
 * free the records after it: from there on, each is looked up again.
 */
function advance(ctx: Ctx, refs: readonly RefMarker[], records?: readonly (OwnedObject | undefined)[]): void {
  let current = records;
  for (let index = 0; index < refs.length; index += 1) {
    const ref = refs[index] as RefMarker;
    if (current === undefined || ref.owner !== ctx.s.workerId) {
      current = undefined;
      advanceRef(ctx, ref.objectId, ref.owner);
      continue;
    }
    const object = current[index];
    if (object !== undefined && advanceOwned(ctx, ref.objectId, object)) current = undefined;
  }
}

/** `advance` for one ref, given by its parts (each settled object of a get passes here, so no marker is made for it). */
function advanceRef(ctx: Ctx, objectId: ObjectId, owner: string): void {
  if (owner === ctx.s.workerId) {
    const object = tableGet(ctx.s.objects, objectId);
    if (object !== undefined) advanceOwned(ctx, objectId, object);
    return;
  }
  const entry = tableGet(ctx.s.borrowed, objectId);
  if (entry === undefined) return;
  if (entry.status === 'unknown') requestStatus(ctx, entry);
  else if (entry.status === 'ready' && entry.payload !== undefined) startFetch(ctx, objectId, entry.payload, owner);
}

/**
 * `advanceRef` of an object this owner owns, whose record is `object`: whether it started anything
 * (a rebuild or a fetch), which may have changed the record or settled gets. When it did not, a
 * caller may go on with the record and the gets it had (the usual case: a value held inline, or one
 * not made yet).
 */
function advanceOwned(ctx: Ctx, objectId: ObjectId, object: OwnedObject): boolean {
  if (object.state === 'evicted') {
    recoverObject(ctx, objectId);
    return true;
  }
  const payload = object.payload;
  if (object.state !== 'ready' || payload === undefined || payload.kind !== 'stored') return false;
  startFetch(ctx, objectId, payload, ctx.s.workerId);
  return true;
}

/**
 * Adds the get or wait `id` to the index of each of its refs' objects: in the object's own record
 * when this owner owns it (most gets are of owned objects, and a dictionary entry per pending get
 * cost about 50 bytes at a million), else in `retrievalsByObject`.
 */
function indexRetrieval(ctx: Ctx, id: string, refs: readonly RefMarker[], only?: OwnedObject, records?: (OwnedObject | undefined)[]): void {
  for (let index = 0; index < refs.length; index += 1) {
    const ref = refs[index] as RefMarker;
    // `only`: the record of the get's one ref, read by the caller.
    const object = only ?? tableGet(ctx.s.objects, ref.objectId);
    if (records !== undefined) records[index] = ref.owner === ctx.s.workerId ? object : undefined;
    const entry = object === undefined ? tableGet(ctx.s.retrievalsByObject, ref.objectId) : object.retrievals;
    let next: string | string[] | undefined;
    if (entry === undefined) next = id;
    else if (typeof entry === 'string') {
      if (entry !== id) next = [entry, id];
    } else if (!entry.includes(id)) entry.push(id);
    if (next === undefined) continue;
    if (object === undefined) tableSet(ctx.s.retrievalsByObject, ref.objectId, next);
    else object.retrievals = next;
  }
}

function unindexRetrieval(ctx: Ctx, id: string, refs: readonly RefMarker[], only?: OwnedObject): void {
  for (let index = 0; index < refs.length; index += 1) {
    const ref = refs[index] as RefMarker;
    // `only`: the current record of the get's one ref, which the caller has at hand.
    const object = only ?? tableGet(ctx.s.objects, ref.objectId);
    if (object?.retrievals !== undefined) {
      const left = unindexed(object.retrievals, id);
      if (left === 'emptied') object.retrievals = undefined;
      if (left !== 'absent') continue;
    }
    const entry = tableGet(ctx.s.retrievalsByObject, ref.objectId);
    if (entry !== undefined && unindexed(entry, id) === 'emptied') tableDelete(ctx.s.retrievalsByObject, ref.objectId);
  }
}

/**
 * Takes `id` out of an index entry (a list in place): whether it was not there, was there and others
 * remain, or was the last. A result rather than a callback to store what is left: a settled get of
 * n refs passes here n times, and each callback was a closure.
 */
function unindexed(entry: string | string[], id: string): 'absent' | 'kept' | 'emptied' {
  if (typeof entry === 'string') return entry === id ? 'emptied' : 'absent';
  const index = entry.indexOf(id);
  if (index < 0) return 'absent';
  entry.splice(index, 1);
  return entry.length === 0 ? 'emptied' : 'kept';
}

/**
 * Re-examines the pending gets and waits that include `objectId` (after it settled, was fetched or
 * lost), or all of them when a death may have touched many.
 */
export function checkRetrievals(ctx: Ctx, objectId?: ObjectId): void {
  if (objectId === undefined) {
    for (const id of [...tableKeys(ctx.s.gets), ...tableKeys(ctx.s.waits)]) checkRetrieval(ctx, id, undefined);
    return;
  }
  checkRetrievalsOf(ctx, objectId, tableGet(ctx.s.objects, objectId));
}

/** `checkRetrievals` of `objectId`, whose record here (if this owner has one) is `object`. */
function checkRetrievalsOf(ctx: Ctx, objectId: ObjectId, object: OwnedObject | undefined): void {
  // Every settled object passes here, and most have no get or wait, or one: neither makes a list.
  const own = object?.retrievals;
  // One get or wait (the usual case) is given the object's record, read just before with nothing run
  // since: it need not be found again, nor its owner cut out of its id (a new string per object).
  if (typeof own === 'string') checkRetrieval(ctx, own, objectId, object);
  else if (own !== undefined) for (const id of [...own]) checkRetrieval(ctx, id, objectId);
  // A ref indexed while this owner had no record of its object (one owned elsewhere, mostly). A
  // driver that gets only its own objects has none, and every settled object passed here.
  if (ctx.s.retrievalsByObject.size === 0) return;
  const entry = tableGet(ctx.s.retrievalsByObject, objectId);
  if (entry === undefined) return;
  if (typeof entry === 'string') checkRetrieval(ctx, entry, objectId);
  else for (const id of [...entry]) checkRetrieval(ctx, id, objectId);
}

/**
 * Re-examines the pending get or wait `id` after `objectId` moved (undefined: after anything may
 * have); `owned` is that object's record in this owner's table when the caller has it at hand.
 */
function checkRetrieval(ctx: Ctx, id: string, objectId: ObjectId | undefined, owned?: OwnedObject): void {
  const get = tableGet(ctx.s.gets, id);
  if (get !== undefined) {
    if (get.awaitingResume === true) return;
    if (objectId === undefined) advance(ctx, getRefs(get));
    else if (owned !== undefined) {
      // Where nothing was started, the get is still pending and the record still current: a get of
      // this one object (nearly every get) is settled from the record, with no lookup of either, and
      // a get of many refs is not found again. Read without immer drafting the list of a get of many
      // refs (see getRefs).
      const refs = readField(get, 'refs') as PendingGet['refs'];
      if (!advanceOwned(ctx, objectId, owned)) {
        if (Array.isArray(refs)) {
          trySettleGet(ctx, get, refs);
          return;
        }
        if (refs.objectId === objectId) {
          trySettleGet(ctx, get, [refs], owned);
          return;
        }
      }
    } else advanceRef(ctx, objectId, ownerOfObject(objectId));
    if (tableHas(ctx.s.gets, id)) trySettleGet(ctx, get);
    return;
  }
  const wait = tableGet(ctx.s.waits, id);
  if (wait === undefined) return;
  if (objectId !== undefined) {
    // One object moved: count it, and scan every ref only once enough may have settled.
    if (isSettled(ctx, { objectId, owner: ownerOfObject(objectId) })) wait.settledAtLeast += 1;
    if (wait.settledAtLeast + wait.repeats < wait.numReturns) return;
  }
  trySettleWait(ctx, id, false);
}

/** Whether `ref`'s outcome is here: an error, or a value whose data is here. */
function available(ctx: Ctx, ref: RefMarker, owned?: OwnedObject): boolean {
  const outcome = known(ctx, ref, owned);
  return outcome !== undefined && (outcome.kind === 'error' || hasData(ctx, ref.objectId, outcome));
}

/** The outcomes of `refs`, or undefined while one is not here; `owned`: the current record of the only ref, if at hand. */
function outcomesOf(ctx: Ctx, refs: readonly RefMarker[], owned?: OwnedObject): GetOutcome[] | undefined {
  if (refs.length === 1) {
    // A get of one ref (the usual case) gets its list of one as a literal: a list grown by a push
    // from empty reserves 17 slots.
    const only = outcomeOf(ctx, refs[0] as RefMarker, owned);
    return only === undefined ? undefined : [only];
  }
  const outcomes: GetOutcome[] = [];
  for (let index = 0; index < refs.length; index += 1) {
    const ref = refs[index] as RefMarker;
    const outcome = outcomeOf(ctx, ref);
    if (outcome === undefined) return undefined;
    outcomes.push(outcome);
  }
  return outcomes;
}

/** What a get of `ref` settles with, or undefined while its value is not here (see `outcomesOf`). */
function outcomeOf(ctx: Ctx, ref: RefMarker, owned?: OwnedObject): GetOutcome | undefined {
  const outcome = known(ctx, ref, owned);
  if (outcome === undefined || outcome.kind === 'error') return outcome;
  // An inline value's fields are read from its payload itself, not copied into a record first.
  const data = outcome.kind === 'inline' ? outcome : ctx.s.fetchedData[ref.objectId];
  if (data === undefined) return undefined;
  return { kind: 'value', value: { data: data.data, sizeBytes: data.sizeBytes, refs: copiedRefs(data.refs) } };
}

/**
 * The index of the first of `refs` from `from` on whose outcome is not here yet (`refs.length` when
 * all are). A loop of its own, apart from the get: V8 compiles a long scan (a get of 100,000 refs)
 * mid-loop, and in `trySettleGet` that code had seen the get before its cursor was first set; every
 * later call ran into it and was thrown back to the interpreter at the cursor's read (1,409 times
 * over three gets of 100,000 tiny tasks each).
 */
function firstUnavailable(ctx: Ctx, refs: readonly RefMarker[], from: number, owned: OwnedObject | undefined): number {
  let cursor = from;
  while (cursor < refs.length && available(ctx, refs[cursor] as RefMarker, owned)) cursor += 1;
  return cursor;
}

/**
 * Settles `get` (whose refs are `refs`) if every outcome is here; whether it did (or it now awaits its
 * worker's resumption). `owned`: for a get of one ref that this owner owns, its record, when the
 * caller read it with nothing run since that could have changed or freed it (every table lookup of
 * a settling get was one in a table holding every live object).
 */
function trySettleGet(ctx: Ctx, get: PendingGet, refs: readonly RefMarker[] = getRefs(get), owned?: OwnedObject): boolean {
  const from = get.cursor ?? 0;
  const cursor = firstUnavailable(ctx, refs, from, owned);
  if (cursor !== from) get.cursor = cursor;
  if (cursor < refs.length) return false;
  const outcomes = outcomesOf(ctx, refs, owned);
  if (outcomes === undefined) get.cursor = 0;
  if (outcomes === undefined) return false;
  if (get.blocked) {
    get.awaitingResume = true;
    unblockIfIdle(ctx);
    return true;
  }
  settleGet(ctx, get, outcomes, refs, owned);
  return true;
}

/** Settles `get`, whose refs are `refs` (`getRefs` of it), with `outcomes`; `owned` as for `trySettleGet`. */
function settleGet(ctx: Ctx, get: PendingGet, outcomes: GetOutcome[], refs: readonly RefMarker[], owned?: OwnedObject): void {
  tableDelete(ctx.s.gets, get.getId);
  unindexRetrieval(ctx, get.getId, refs, owned);
  acquireContainedRefs(ctx, refs, outcomes);
  emit(ctx, { type: 'get/settled', getId: get.getId, outcomes });
  releaseGetHolds(ctx, refs);
}

/**
 * The code that asked (a driver, or a task body) now holds the refs inside the values it got: count
 * them as its local refs, and register as a borrower of those owned elsewhere, holding the outer object
 * until the owner acknowledges so the inner ones cannot be freed in between.
 */
function acquireContainedRefs(ctx: Ctx, refs: readonly RefMarker[], outcomes: GetOutcome[]): void {
  // A loop, not `forEach`: its callback was a closure made at every settled get.
  for (let index = 0; index < outcomes.length; index++) {
    const outcome = outcomes[index] as GetOutcome;
    if (outcome.kind !== 'value') continue;
    const outer = refs[index];
    for (const inner of outcome.value.refs) {
      addLocalRef(ctx, inner);
      if (inner.owner !== ctx.s.workerId) ensureRegistered(ctx, borrowEntry(ctx, inner), outer);
    }
  }
}

function releaseGetHolds(ctx: Ctx, refs: readonly RefMarker[]): void {
  for (let index = 0; index < refs.length; index += 1) {
    const ref = refs[index] as RefMarker;
    if (ref.owner === ctx.s.workerId) continue;
    const entry = tableGet(ctx.s.borrowed, ref.objectId);
    if (entry !== undefined && entry.transientHolds > 0) {
      entry.transientHolds -= 1;
      maybeRelease(ctx, ref.objectId);
    }
  }
}

function isSettled(ctx: Ctx, ref: RefMarker): boolean {
  return known(ctx, ref) !== undefined;
}

function trySettleWait(ctx: Ctx, waitId: string, timedOut: boolean): void {
  const wait = tableGet(ctx.s.waits, waitId);
  if (wait === undefined) return;
  const ready: ObjectId[] = [];
  const notReady: ObjectId[] = [];
  for (let index = 0; index < wait.refs.length; index += 1) {
    const ref = wait.refs[index] as RefMarker;
    if (ready.length < wait.numReturns && isSettled(ctx, ref)) ready.push(ref.objectId);
    else notReady.push(ref.objectId);
  }
  if (ready.length < wait.numReturns && !timedOut) {
    wait.settledAtLeast = ready.length;
    return;
  }
  tableDelete(ctx.s.waits, waitId);
  unindexRetrieval(ctx, waitId, wait.refs);
  emit(ctx, { type: 'wait/settled', waitId, ready, notReady });
  releaseGetHolds(ctx, wait.refs);
}

/** A get or wait timer fired. */
export function onRetrievalTimer(ctx: Ctx, timerId: string): void {
  if (timerId.startsWith('wait:')) {
    trySettleWait(ctx, timerId.slice('wait:'.length), true);
    return;
  }
  const get = tableGet(ctx.s.gets, timerId.slice('get:'.length));
  if (get === undefined || get.awaitingResume) return;
  const refs = getRefs(get);
  const pending = refs.filter((ref) => {
    const outcome = known(ctx, ref);
    return outcome === undefined || (outcome.kind !== 'error' && !hasData(ctx, ref.objectId, outcome));
  });
  const first = pending[0];
  const why = first === undefined ? 'its value is being read' : explainPending(ctx, first);
  tableDelete(ctx.s.gets, get.getId);
  unindexRetrieval(ctx, get.getId, refs);
  emit(ctx, {
    type: 'get/failed',
    getId: get.getId,
    error: errorOf('GetTimeoutError', `get timed out with ${pending.length} of ${refs.length} objects not ready; ${first?.objectId ?? ''} ${why}`, first === undefined ? {} : { objectId: first.objectId }),
  });
  releaseGetHolds(ctx, refs);
  if (get.blocked) unblockIfIdle(ctx);
}

/** A worker waiting in get gives its CPU back to its raylet. */
function blockWorker(ctx: Ctx, get: PendingGet): void {
  get.blocked = true;
  if (ctx.s.blockedInGet || ctx.s.isDriver) return;
  ctx.s.blockedInGet = true;
  ctx.s.blockSpell += 1;
  emit(ctx, send(rayletAddress(ctx.s.nodeId), blockReport(ctx, 'worker/blocked')));
  handBackQueued(ctx);
}

/** Once no get of this worker still waits, ask for the CPU back (the raylet answers `worker/resumed`). */
function unblockIfIdle(ctx: Ctx): void {
  if (!ctx.s.blockedInGet) return;
  const stillWaiting = tableSome(ctx.s.gets, (get) => get.blocked === true && get.awaitingResume !== true);
  if (stillWaiting) return;
  emit(ctx, send(rayletAddress(ctx.s.nodeId), blockReport(ctx, 'worker/unblocked')));
}

/** This worker's report of its blocking spell under way, naming the spell and the lease it runs under. */
function blockReport(ctx: Ctx, type: 'worker/blocked' | 'worker/unblocked'): MessageOf<'worker/blocked' | 'worker/unblocked'> {
  const lease = ctx.s.currentLeaseId;
  return lease === undefined ? { type, workerId: ctx.s.workerId, spell: ctx.s.blockSpell } : { type, workerId: ctx.s.workerId, spell: ctx.s.blockSpell, leaseId: lease };
}

/**
 * The raylet gave the CPU back: settle the gets that finished while blocked. A resume of another
 * spell than the one under way (a repeat, or one that arrived late) is stale and changes nothing.
 */
export function onResumed(ctx: Ctx, message: MessageOf<'worker/resumed'>): void {
  if (!ctx.s.blockedInGet) return;
  if (message.spell !== undefined && message.spell !== ctx.s.blockSpell) return;
  ctx.s.blockedInGet = false;
  for (const get of tableValues(ctx.s.gets)) {
    if (!get.awaitingResume) continue;
    get.blocked = false;
    get.awaitingResume = false;
    const refs = getRefs(get);
    const outcomes = outcomesOf(ctx, refs);
    if (outcomes !== undefined) settleGet(ctx, get, outcomes, refs);
  }
  // Gets still waiting block the worker again.
  for (const get of tableValues(ctx.s.gets)) if (get.blocked) blockWorker(ctx, { ...get, blocked: false });
}
