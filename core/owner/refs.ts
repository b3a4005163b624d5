/**
 * Reference counting, as Ray's ownership protocol does it. An owned object lives while any of these
 * holds it: local refs of this process, pending tasks that take it as an argument, owned objects whose
 * value contains it, and borrowers (other processes). Lineage refs (finished tasks kept to rebuild
 * their returns) keep only its metadata: at zero other holds the value is evicted. A borrowed ref is
 * released to its owner when this process's own holds reach zero; registration with the owner is
 * acknowledged before anything that covered it may go away.
 */
import { send } from '../effects.js';
import { actorHandleObjectId, actorOfHandleObject, gcsAddress, ownerOfActor, rayletAddress, workerAddress } from '../ids.js';
import type { ActorId, NodeId, ObjectId, WorkerId } from '../ids.js';
import type { Via } from '../protocol.js';
import type { RefMarker } from '../values.js';
import type { Ctx } from './context.js';
import { emit, removeOne } from './context.js';
import { forgetActorIfGone, forgetTaskIfDone } from './lineage.js';
import type { BorrowedRef, OwnedObject } from './state.js';
import { tableDelete, tableForEachAsIs, tableGet, tableSet } from '../table.js';

/** Whether anything but lineage holds an owned object. */
export function isReferenced(object: OwnedObject): boolean {
  return object.localRefs > 0 || object.submittedRefs > 0 || (object.containedIn?.length ?? 0) > 0 || (object.borrowers?.length ?? 0) > 0;
}

/** All holds of a borrowed ref by this process. */
export function borrowHolds(entry: BorrowedRef): number {
  return entry.localRefs + entry.submittedRefs + entry.containedIn.length + entry.transientHolds;
}

/** Registers a fresh owned object. */
export function createOwnedObject(ctx: Ctx, objectId: ObjectId, localRefs: number): OwnedObject {
  const object: OwnedObject = {
    objectId,
    state: 'pending',
    localRefs,
    submittedRefs: 0,
    lineageRefs: 0,
    // Absent in every hash and snapshot; present here so that a get's index, and the value every
    // object gets once ready, take slots inside the object rather than a property array and a
    // hidden-class transition each.
    retrievals: undefined,
    payload: undefined,
  };
  tableSet(ctx.s.objects, objectId, object);
  return object;
}

/** The borrowed entry for `ref`, created empty if this process has none. */
export function borrowEntry(ctx: Ctx, ref: RefMarker): BorrowedRef {
  let entry = tableGet(ctx.s.borrowed, ref.objectId);
  if (entry === undefined) {
    entry = {
      objectId: ref.objectId,
      owner: ref.owner,
      localRefs: 0,
      submittedRefs: 0,
      containedIn: [],
      transientHolds: 0,
      registration: 'none',
      status: 'unknown',
      dependents: [],
      fetchFailures: 0,
    };
    if (ctx.s.deadWorkers[ref.owner] === true || ctx.s.deadNodes[nodeOf(ref.owner)] === true) markOwnerDied(entry);
    tableSet(ctx.s.borrowed, ref.objectId, entry);
  }
  return entry;
}

function nodeOf(workerId: WorkerId): string {
  return workerId.split('.')[0] ?? '';
}

/** Records that the owner of `entry` is gone: its value can no longer be had. */
export function markOwnerDied(entry: BorrowedRef): void {
  entry.status = 'failed';
  entry.payload = undefined;
  entry.error = {
    errorClass: 'OwnerDiedError',
    message: `the owner of object ${entry.objectId} (worker ${entry.owner}) died, so the object is lost; keep objects owned by a process that outlives their users`,
    objectId: entry.objectId,
  };
  entry.registration = entry.registration === 'pending' ? 'registered' : entry.registration;
}

/** Tells the owner this process borrows `entry`, unless it already knows or is dead. */
export function ensureRegistered(ctx: Ctx, entry: BorrowedRef, holdOuter?: RefMarker): void {
  if (entry.registration !== 'none' || entry.status === 'failed' && entry.error?.errorClass === 'OwnerDiedError') return;
  const ackId = `${ctx.s.workerId}.k${++ctx.s.counters.ack}`;
  entry.registration = 'pending';
  ctx.s.acks[ackId] = holdOuter === undefined ? { ackId, objectId: entry.objectId, owner: entry.owner } : { ackId, objectId: entry.objectId, owner: entry.owner, holdOuter: { ...holdOuter } };
  if (holdOuter !== undefined) addLocalRef(ctx, holdOuter);
  emit(ctx, send(workerAddress(entry.owner), { type: 'borrow/added', objectId: entry.objectId, borrower: ctx.s.workerId, ackTo: ctx.s.workerId, ackId }));
}

/** One more local ref (a handle in this process's code) to `ref`. */
export function addLocalRef(ctx: Ctx, ref: RefMarker): void {
  if (ref.owner === ctx.s.workerId) {
    const object = tableGet(ctx.s.objects, ref.objectId);
    if (object !== undefined) object.localRefs += 1;
    return;
  }
  borrowEntry(ctx, ref).localRefs += 1;
}

/**
 * This process's code now holds the refs inside `values` (a task's or constructor's arguments, as
 * the shell decodes them): each counts as one local ref, and the owner of each borrowed one is told
 * before this worker replies, so the ref stays valid if the code keeps it (in actor state, say)
 * after its caller's cover ends.
 */
export function acquireRefsIn(ctx: Ctx, values: readonly { readonly refs: readonly RefMarker[] }[]): void {
  for (const value of values) {
    // Indexed, not for-of: see `releaseContained`.
    const refs = value.refs;
    for (let index = 0; index < refs.length; index++) {
      const ref = refs[index] as RefMarker;
      addLocalRef(ctx, ref);
      if (ref.owner !== ctx.s.workerId) ensureRegistered(ctx, borrowEntry(ctx, ref));
    }
  }
}

/** One local ref fewer; frees or releases at zero. Unknown ids are ignored (already released). */
export function dropLocalRef(ctx: Ctx, objectId: ObjectId): void {
  const object = tableGet(ctx.s.objects, objectId);
  if (object !== undefined) {
    if (object.localRefs > 0) object.localRefs -= 1;
    // The record just read and changed, handed on rather than looked up again (every released ref
    // of a task's return passes here).
    maybeFree(ctx, objectId, object);
    return;
  }
  const entry = tableGet(ctx.s.borrowed, objectId);
  if (entry !== undefined && entry.localRefs > 0) {
    entry.localRefs -= 1;
    maybeRelease(ctx, objectId);
  }
}

/** Holds `ref` for a pending task of this owner (an argument, top-level or nested). */
export function holdForTask(ctx: Ctx, ref: RefMarker): void {
  if (ref.owner === ctx.s.workerId) {
    const object = tableGet(ctx.s.objects, ref.objectId);
    if (object !== undefined) object.submittedRefs += 1;
    return;
  }
  const entry = borrowEntry(ctx, ref);
  entry.submittedRefs += 1;
  // The task may outlive whatever covers this ref now, so the owner must know of this process.
  ensureRegistered(ctx, entry);
}

/** Releases a pending task's hold on `ref`; `toLineage` keeps an owned object's lineage instead. */
export function releaseForTask(ctx: Ctx, ref: RefMarker, toLineage: boolean): void {
  const object = tableGet(ctx.s.objects, ref.objectId);
  if (ref.owner === ctx.s.workerId) {
    if (object === undefined) return;
    if (object.submittedRefs > 0) object.submittedRefs -= 1;
    if (toLineage) object.lineageRefs += 1;
    maybeFree(ctx, ref.objectId);
    return;
  }
  const entry = tableGet(ctx.s.borrowed, ref.objectId);
  if (entry === undefined) return;
  if (entry.submittedRefs > 0) entry.submittedRefs -= 1;
  maybeRelease(ctx, ref.objectId);
}

/** Drops one lineage ref of an owned object. */
export function releaseLineage(ctx: Ctx, objectId: ObjectId): void {
  const object = tableGet(ctx.s.objects, objectId);
  if (object === undefined) return;
  if (object.lineageRefs > 0) object.lineageRefs -= 1;
  maybeFree(ctx, objectId);
}

/** Records that owned object `outerId`'s value contains `refs`; each is held while the outer lives. */
export function holdContained(ctx: Ctx, refs: readonly RefMarker[], outerId: ObjectId): void {
  // Indexed, not for-of: see `releaseContained`.
  for (let index = 0; index < refs.length; index++) {
    const ref = refs[index] as RefMarker;
    if (ref.owner === ctx.s.workerId) {
      const inner = tableGet(ctx.s.objects, ref.objectId);
      if (inner !== undefined) (inner.containedIn ??= []).push(outerId);
      continue;
    }
    const entry = borrowEntry(ctx, ref);
    entry.containedIn.push(outerId);
    ensureRegistered(ctx, entry);
  }
}

/** Releases the holds `outerId` had on the refs its value contained. */
export function releaseContained(ctx: Ctx, refs: readonly RefMarker[], outerId: ObjectId): void {
  // Indexed, not for-of: a payload's refs are most often a frozen empty list (the codec's, packed-batch.ts's),
  // and for-of over a frozen array leaves V8's fast path: an iterator and a result object per loop.
  for (let index = 0; index < refs.length; index++) {
    const ref = refs[index] as RefMarker;
    if (ref.owner === ctx.s.workerId) {
      const inner = tableGet(ctx.s.objects, ref.objectId);
      if (inner?.containedIn !== undefined && removeOne(inner.containedIn, outerId)) maybeFree(ctx, ref.objectId);
      continue;
    }
    const entry = tableGet(ctx.s.borrowed, ref.objectId);
    if (entry !== undefined && removeOne(entry.containedIn, outerId)) maybeRelease(ctx, ref.objectId);
  }
}

/** An owned object's value is gone but its lineage stays: release what the value held. */
export function evictValue(ctx: Ctx, object: OwnedObject): void {
  dropValue(ctx, object);
  object.state = 'evicted';
}

/**
 * A node keeps a copy of an owned object now: it becomes one of the value's locations (read if
 * the others die, freed with the value). A copy of a value this owner no longer has (freed, failed,
 * evicted, or being rebuilt) is freed at once, so that it does not stay on that node for good.
 */
export function onCopyAdded(ctx: Ctx, objectId: ObjectId, nodeId: NodeId): void {
  if (ctx.s.deadNodes[nodeId] === true) return;
  const object = tableGet(ctx.s.objects, objectId);
  const payload = object?.payload;
  if (object?.state === 'ready' && payload?.kind === 'stored') {
    if (!payload.nodeIds.includes(nodeId)) object.payload = { ...payload, nodeIds: [...payload.nodeIds, nodeId] };
    return;
  }
  emit(ctx, send(rayletAddress(nodeId), { type: 'object/free-requested', objectIds: [objectId] }));
}

/** Drops the stored copies and contained holds of an owned object's value. */
function dropValue(ctx: Ctx, object: OwnedObject): void {
  const payload = object.payload;
  if (payload?.kind === 'stored') {
    for (const nodeId of payload.nodeIds) {
      if (ctx.s.deadNodes[nodeId] !== true) emit(ctx, send(rayletAddress(nodeId), { type: 'object/free-requested', objectIds: [object.objectId] }));
    }
  }
  object.payload = undefined;
  delete ctx.s.fetchedData[object.objectId];
  const contained = object.contains;
  if (contained === undefined) return;
  // Cleared by assigning undefined (absent to the hash): a delete would turn the object, which an
  // evicted value leaves in the table, into a slow dictionary-mode object.
  object.contains = undefined;
  releaseContained(ctx, contained, object.objectId);
}

/**
 * Frees an owned object nothing holds: its copies everywhere and the refs inside it. With lineage
 * refs left it keeps its entry (evicted) so that it can be rebuilt if a task needs it again.
 * `object`: its record, when the caller has just read it with nothing run since.
 */
export function maybeFree(ctx: Ctx, objectId: ObjectId, object: OwnedObject | undefined = tableGet(ctx.s.objects, objectId)): void {
  if (object === undefined || isReferenced(object)) return;
  const handlesOf = actorOfHandleObject(objectId);
  if (handlesOf !== undefined) {
    // A handle object has no value to rebuild: lineage does not keep it, and freeing it ends the actor.
    tableDelete(ctx.s.objects, objectId);
    emit(ctx, { type: 'objects/freed', objectIds: [objectId] });
    onHandlesGone(ctx, handlesOf);
    return;
  }
  if (object.lineageRefs > 0) {
    if (object.state === 'ready') {
      dropValue(ctx, object);
      object.state = 'evicted';
      emit(ctx, { type: 'objects/freed', objectIds: [objectId] });
    }
    return;
  }
  dropValue(ctx, object);
  tableDelete(ctx.s.objects, objectId);
  emit(ctx, { type: 'objects/freed', objectIds: [objectId] });
  forgetTaskIfDone(ctx, objectId, true);
}

/** The marker of the handle object of `actorId`, owned by the actor's owner. */
export function actorHandleRef(actorId: ActorId): RefMarker {
  return { objectId: actorHandleObjectId(actorId), owner: ownerOfActor(actorId) };
}

/**
 * Creates the handle object of a non-detached actor this process creates: one local ref (the
 * creator's handle), ready with an empty value so that borrowers asking for it are answered at once.
 */
export function createHandleObject(ctx: Ctx, actorId: ActorId): void {
  const object = createOwnedObject(ctx, actorHandleObjectId(actorId), 1);
  object.state = 'ready';
  object.payload = { kind: 'inline', data: null, sizeBytes: 0, refs: [] };
}

/**
 * No handle to an actor this process owns is reachable anywhere: the GCS is told, so it disposes
 * and ends the actor (once it has registered it: a registration still under way tells it then), or
 * forgets the answer it held for a creation that made no actor.
 */
function onHandlesGone(ctx: Ctx, actorId: ActorId): void {
  const view = ctx.s.actors[actorId];
  if (view === undefined) return;
  view.handlesGone = true;
  const hold = view.aliasHold;
  if (hold !== undefined) {
    view.aliasHold = undefined;
    dropLocalRef(ctx, hold.objectId);
  }
  if ((view.registered === true && view.state !== 'DEAD') || view.redirected === true) emit(ctx, send(gcsAddress, { type: 'actor/out-of-scope', actorId }));
  forgetActorIfGone(ctx, view);
}

/** Gives a borrowed ref back to its owner once this process no longer holds it. */
export function maybeRelease(ctx: Ctx, objectId: ObjectId): void {
  const entry = tableGet(ctx.s.borrowed, objectId);
  if (entry === undefined || borrowHolds(entry) > 0) return;
  if (entry.registration === 'pending') {
    entry.releaseWhenAcked = true;
    return;
  }
  if (entry.registration === 'registered' && ctx.s.deadWorkers[entry.owner] !== true && entry.error?.errorClass !== 'OwnerDiedError') {
    emit(ctx, send(workerAddress(entry.owner), { type: 'borrow/released', objectId, borrower: ctx.s.workerId }));
  }
  tableDelete(ctx.s.borrowed, objectId);
  delete ctx.s.fetchedData[objectId];
  const actorId = actorOfHandleObject(objectId);
  if (actorId !== undefined) onBorrowedHandlesGone(ctx, actorId);
}

/**
 * This process gave back its borrow of the handle object of an actor it did not create: no counted
 * handle to it is left here. A getIfExists handle another process made (an alias) is forgotten then,
 * as its creator forgets it: a worker handed such a handle with every request kept a view per
 * request for its life, each pointing at the one actor they all stood for.
 */
function onBorrowedHandlesGone(ctx: Ctx, actorId: ActorId): void {
  const view = ctx.s.actors[actorId];
  if (view !== undefined && !view.isOwner) forgetActorIfGone(ctx, view);
}

/** Whether a borrow message from `borrower` itself is older than one already applied; records it if not. */
function staleBorrowMessage(object: OwnedObject, borrower: WorkerId, via: Via | undefined): boolean {
  if (via === undefined || via.from !== workerAddress(borrower)) return false;
  const seqs = (object.borrowerSeqs ??= {});
  const last = seqs[borrower];
  if (last !== undefined && via.seq < last) return true;
  seqs[borrower] = via.seq;
  return false;
}

/** The owner side of `borrow/added`: record the borrower (if the object still exists) and acknowledge. */
export function onBorrowAdded(ctx: Ctx, objectId: ObjectId, borrower: WorkerId, ackTo: WorkerId, ackId: string, via?: Via): void {
  const object = tableGet(ctx.s.objects, objectId);
  if (object !== undefined && !staleBorrowMessage(object, borrower, via) && borrower !== ctx.s.workerId && ctx.s.deadWorkers[borrower] !== true && object.borrowers?.includes(borrower) !== true) {
    (object.borrowers ??= []).push(borrower);
  }
  emit(ctx, send(workerAddress(ackTo), { type: 'borrow/add-acked', ackId }));
}

/** The owner side of `borrow/released`; a release older than the borrower's latest registration is ignored. */
export function onBorrowReleased(ctx: Ctx, objectId: ObjectId, borrower: WorkerId, via?: Via): void {
  const object = tableGet(ctx.s.objects, objectId);
  if (object === undefined || staleBorrowMessage(object, borrower, via)) return;
  if (object.borrowers !== undefined && removeOne(object.borrowers, borrower)) maybeFree(ctx, objectId);
}

/** A borrower (or a whole node of them) is gone: it holds nothing any more. */
export function dropDeadBorrowers(ctx: Ctx, isDead: (workerId: WorkerId) => boolean): void {
  // The objects that name a dead process are found by reading every object as it is, and only they
  // are got to be changed: under immer, getting every object copied it (each worker's exit cost a
  // copy of every object a driver held: 30% of a simulated script with 200 actors).
  const naming: string[] = [];
  tableForEachAsIs(ctx.s.objects, (objectId, object) => {
    if (object.borrowers?.some(isDead) === true || object.statusWaiters?.some(isDead) === true) naming.push(objectId);
  });
  for (const objectId of naming) {
    const object = tableGet(ctx.s.objects, objectId);
    if (object === undefined) continue;
    const before = object.borrowers?.length ?? 0;
    if (object.borrowers !== undefined) object.borrowers = object.borrowers.filter((id) => !isDead(id));
    if (object.statusWaiters !== undefined) object.statusWaiters = object.statusWaiters.filter((id) => !isDead(id));
    if ((object.borrowers?.length ?? 0) !== before) maybeFree(ctx, objectId);
  }
}
