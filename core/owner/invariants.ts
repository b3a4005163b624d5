/**
 * The owner's invariants, checked after every step in the simulator and the tests. Each broken one is
 * reported as a sentence that names the ids involved.
 *
 * `ownerInvariants` walks the whole state. `ownerInvariantsSince` checks the same after a step under
 * immer, from what the step changed: the simulator calls it after every event, and a walk of every
 * task and object after every event made a script's simulation quadratic in the tasks it held.
 */
import { emptyFifo, fifoChanges, fifoItems, fifoSize } from '../fifo.js';
import { maxCancelledEarly, maxDeadWorkers } from './state.js';
import type { ActorView, BorrowedRef, OwnedObject, OwnedTask, OwnerState } from './state.js';
import { tableChanges, tableForEach, tableGet } from '../table.js';

/** Every broken invariant of an owner's state. */
export function ownerInvariants(s: OwnerState): string[] {
  const broken: string[] = [];
  // This runs after every event over the whole state: the tables are walked bucket by bucket without
  // building an array of every entry, which made a replay of a large driver a quarter slower.
  tableForEach(s.objects, (object) => objectBroken(s, object, broken));
  tableForEach(s.borrowed, (entry) => borrowedBroken(s, entry, broken));
  // Which class queues each task: every task ready to be placed is queued once, by one class.
  const queuedBy = new Map<string, string>();
  for (const key in s.classes) {
    const cls = s.classes[key] as (typeof s.classes)[string];
    for (const taskId of fifoItems(cls.queue)) {
      const task = tableGet(s.tasks, taskId);
      if (task === undefined || !isPlaceable(task)) broken.push(`class ${cls.key} queues ${taskId}, which is not a PENDING_NODE task`);
      const other = queuedBy.get(taskId);
      if (other === cls.key) broken.push(`class ${cls.key} queues ${taskId} twice`);
      else if (other !== undefined) broken.push(`task ${taskId} is queued by classes ${other} and ${cls.key}`);
      queuedBy.set(taskId, cls.key);
    }
  }
  // Which actor has each call in flight: every RUNNING call is in flight at one actor.
  const inflightAt = new Map<string, string>();
  for (const key in s.actors) {
    const view = s.actors[key] as (typeof s.actors)[string];
    viewBroken(s, view, broken);
    for (const taskId of view.inflight) {
      const other = inflightAt.get(taskId);
      if (other !== undefined) broken.push(`call ${taskId} is in flight at ${other === view.actorId ? `actor ${other} twice` : `actors ${other} and ${view.actorId}`}`);
      inflightAt.set(taskId, view.actorId);
    }
  }
  tableForEach(s.tasks, (task) => {
    taskBroken(s, task, broken);
    if (isPlaceable(task) && !queuedBy.has(task.spec.taskId)) broken.push(`task ${task.spec.taskId} is PENDING_NODE but no class queues it`);
    if (isRunningCall(task) && !inflightAt.has(task.spec.taskId)) broken.push(`actor call ${task.spec.taskId} is RUNNING but in flight at no actor`);
  });
  structureBroken(s, broken);
  return broken;
}

/**
 * Every broken invariant of `after`, a state a step under immer made from `before`, in which all of
 * them held: the same sentences as `ownerInvariants(after)`, found from what the step changed.
 *
 * The tables of tasks, objects and borrowed refs are compared with `before`'s (`tableChanges`), and
 * only their changed entries are checked. What ties tasks to other parts is checked by sums over
 * sets: the tasks ready to be placed are exactly those the classes queue, and the RUNNING tasks
 * exactly those the granted leases run or pipeline, and the RUNNING actor calls exactly those in
 * flight at their actors. Each side's sum moves by what the step changed on that side (`fifoChanges`
 * for the queues, the changed actor views), and both held equal in `before`. The leases and
 * classes, which stay few, are checked whole, as are a worker's executions. Whatever looks broken
 * is checked again by `ownerInvariants(after)`, so the sentences are exactly its own.
 *
 * Falls back to `ownerInvariants(after)` when `after` shares nothing with `before` (a state changed
 * in place, or tables kept in a `Map`).
 */
export function ownerInvariantsSince(before: OwnerState, after: OwnerState): string[] {
  if (before === after) return ownerInvariants(after);
  const broken: string[] = [];
  const objectsCompared = tableChanges(before.objects, after.objects, (_key, _was, now) => {
    if (now !== undefined) objectBroken(after, now, broken);
  });
  const borrowedCompared = tableChanges(before.borrowed, after.borrowed, (_key, _was, now) => {
    if (now !== undefined) borrowedBroken(after, now, broken);
  });
  // Sums that must end at zero: (placeable tasks - queued items), (RUNNING tasks - listed tasks) and
  // (RUNNING calls - calls in flight).
  const placeable = new SetSum();
  const running = new SetSum();
  const calls = new SetSum();
  const tasksCompared = tableChanges(before.tasks, after.tasks, (key, was, now) => {
    if (now !== undefined) taskBroken(after, now, broken);
    if (was !== undefined && isPlaceable(was)) placeable.add(key, -1);
    if (now !== undefined && isPlaceable(now)) placeable.add(key, 1);
    if (was !== undefined && isRunningTask(was)) running.add(key, -1);
    if (now !== undefined && isRunningTask(now)) running.add(key, 1);
    if (was !== undefined && isRunningCall(was)) calls.add(key, -1);
    if (now !== undefined && isRunningCall(now)) calls.add(key, 1);
  });
  if (!objectsCompared || !borrowedCompared || !tasksCompared) return ownerInvariants(after);
  const empty = emptyFifo<string>();
  const compareQueues = (key: string): void => {
    const was = before.classes[key];
    const now = after.classes[key];
    if (was !== now) fifoChanges(was?.queue ?? empty, now?.queue ?? empty, (taskId, count) => placeable.add(taskId, -count));
  };
  for (const key in after.classes) compareQueues(key);
  for (const key in before.classes) if (after.classes[key] === undefined) compareQueues(key);
  running.addListed(before, 1);
  running.addListed(after, -1);
  // An actor's view changes whenever a call goes in flight or leaves it.
  const compareViews = (key: string): void => {
    const was = before.actors[key];
    const now = after.actors[key];
    if (was === now) return;
    for (const taskId of was?.inflight ?? []) calls.add(taskId, 1);
    for (const taskId of now?.inflight ?? []) calls.add(taskId, -1);
    if (now !== undefined) viewBroken(after, now, broken);
  };
  for (const key in after.actors) compareViews(key);
  for (const key in before.actors) if (after.actors[key] === undefined) compareViews(key);
  if (!placeable.isZero()) broken.push('the tasks queued by classes are not the PENDING_NODE tasks');
  if (!running.isZero()) broken.push('the RUNNING tasks are not those their granted leases run');
  if (!calls.isZero()) broken.push('the RUNNING actor calls are not those in flight');
  structureBroken(after, broken);
  return broken.length === 0 ? broken : ownerInvariants(after);
}

/**
 * A sum over a multiset of ids, kept as three numbers: the count and two 32-bit hashes of each id,
 * added up. Two multisets that differ leave a sum other than zero, but for a collision of both
 * hashes at once. Each sum stays an exact integer in a double for up to 2^20 ids.
 */
class SetSum {
  private count = 0;
  private first = 0;
  private second = 0;

  /** Adds `id` `times` times (removes it, for a negative count). */
  add(id: string, times: number): void {
    let fnv = 0x811c9dc5;
    let polynomial = 0;
    for (let i = 0; i < id.length; i++) {
      const code = id.charCodeAt(i);
      fnv = Math.imul(fnv ^ code, 16777619);
      polynomial = (Math.imul(polynomial, 31) + code) | 0;
    }
    this.count += times;
    this.first += times * (fnv >>> 0);
    this.second += times * (polynomial >>> 0);
  }

  /** Adds, `times` times, each task a granted lease of `s` runs or pipelines that is RUNNING on it. */
  addListed(s: OwnerState, times: number): void {
    const listed = new Set<string>();
    for (const key in s.leases) {
      const lease = s.leases[key] as (typeof s.leases)[string];
      if (lease.state !== 'granted') continue;
      const runsHere = (taskId: string): void => {
        const task = tableGet(s.tasks, taskId);
        if (task !== undefined && isRunningTask(task) && task.leaseId === lease.leaseId) listed.add(taskId);
      };
      if (lease.runningTaskId !== undefined) runsHere(lease.runningTaskId);
      lease.pipelined?.forEach(runsHere);
    }
    for (const taskId of listed) this.add(taskId, times);
  }

  /** Whether the multiset summed is empty. */
  isZero(): boolean {
    return this.count === 0 && this.first === 0 && this.second === 0;
  }
}

/** Whether `task` waits in a class queue for a lease: a normal task, ready to be placed. */
function isPlaceable(task: OwnedTask): boolean {
  return task.kind === 'task' && task.state === 'PENDING_NODE';
}

/** Whether `task` is a normal task that runs on a lease. */
function isRunningTask(task: OwnedTask): boolean {
  return task.kind === 'task' && task.state === 'RUNNING';
}

/** Whether `task` is an actor call under way at its actor. */
function isRunningCall(task: OwnedTask): boolean {
  return task.kind === 'actor-task' && task.state === 'RUNNING';
}

/** The broken invariants of what this process knows of one actor, apart from which calls are RUNNING. */
function viewBroken(s: OwnerState, view: ActorView, broken: string[]): void {
  for (const taskId of view.inflight) {
    const task = tableGet(s.tasks, taskId);
    if (task === undefined || task.state !== 'RUNNING') broken.push(`actor ${view.actorId} has call ${taskId} in flight that is not RUNNING`);
  }
  if (view.state === 'DEAD' && (view.inflight.length > 0 || fifoSize(view.queue) > 0)) broken.push(`dead actor ${view.actorId} still has calls`);
}

/** The broken invariants of one object record. */
function objectBroken(s: OwnerState, object: OwnedObject, broken: string[]): void {
  const id = object.objectId;
  if (object.localRefs < 0 || object.submittedRefs < 0 || object.lineageRefs < 0) broken.push(`object ${id} has a negative reference count`);
  const referenced = object.localRefs > 0 || object.submittedRefs > 0 || (object.containedIn?.length ?? 0) > 0 || (object.borrowers?.length ?? 0) > 0;
  if (!referenced && object.lineageRefs === 0) broken.push(`object ${id} is kept although nothing references it`);
  if (!referenced && object.state === 'ready') broken.push(`object ${id} keeps its value although only lineage holds it`);
  if (object.borrowers?.includes(s.workerId) === true) broken.push(`object ${id} lists its own owner as a borrower`);
  if (object.state === 'ready' && object.payload === undefined) broken.push(`object ${id} is ready without a value`);
  if (object.state === 'failed' && object.error === undefined) broken.push(`object ${id} failed without an error`);
}

/** The broken invariants of one borrowed ref. */
function borrowedBroken(s: OwnerState, entry: BorrowedRef, broken: string[]): void {
  const holds = entry.localRefs + entry.submittedRefs + entry.containedIn.length + entry.transientHolds;
  if (entry.localRefs < 0 || entry.submittedRefs < 0 || entry.transientHolds < 0) broken.push(`borrowed ${entry.objectId} has a negative count`);
  if (holds === 0 && entry.registration !== 'pending') broken.push(`borrowed ${entry.objectId} is kept although this process no longer holds it`);
  if (entry.owner === s.workerId) broken.push(`borrowed ${entry.objectId} is owned by this very process`);
}

/** The broken invariants of one task, apart from its class's queue. */
function taskBroken(s: OwnerState, task: OwnedTask, broken: string[]): void {
  const id = task.spec.taskId;
  if (task.kind === 'task' && task.spec.fn.maxRetries >= 0 && task.attempt > task.spec.fn.maxRetries + 1) {
    broken.push(`task ${id} is at attempt ${task.attempt}, above maxRetries ${task.spec.fn.maxRetries} + 1`);
  }
  if (isRunningTask(task)) {
    const lease = task.leaseId === undefined ? undefined : s.leases[task.leaseId];
    if (lease === undefined || lease.state !== 'granted' || (lease.runningTaskId !== id && lease.pipelined?.includes(id) !== true)) broken.push(`task ${id} is RUNNING without the granted lease that runs it`);
  }
}

/**
 * The broken invariants of the parts that stay few whatever the tasks (leases, classes, a worker's
 * executions and caches), apart from which tasks the classes queue.
 */
function structureBroken(s: OwnerState, broken: string[]): void {
  // Only the newest death is checked against the record: counting the record's keys after every
  // event would walk up to `maxDeadWorkers` of them each time.
  if (s.deadWorkerOrder.length > maxDeadWorkers) broken.push(`${s.deadWorkerOrder.length} dead workers remembered, over the bound ${maxDeadWorkers}`);
  const newestDead = s.deadWorkerOrder[s.deadWorkerOrder.length - 1];
  if (newestDead !== undefined && s.deadWorkers[newestDead] !== true) broken.push(`dead worker ${newestDead} is listed in deadWorkerOrder but not in deadWorkers`);
  for (const key in s.leases) {
    const lease = s.leases[key] as (typeof s.leases)[string];
    if (lease.runningTaskId !== undefined) {
      const task = tableGet(s.tasks, lease.runningTaskId);
      // A cancelled task drains its lease; once its returns are gone it may be forgotten meanwhile.
      const cancelledHere = lease.draining === true && (task === undefined || (task.state === 'CANCELLED' && task.leaseId === lease.leaseId));
      if (!cancelledHere && (task === undefined || task.state !== 'RUNNING' || task.leaseId !== lease.leaseId)) broken.push(`lease ${lease.leaseId} runs ${lease.runningTaskId}, which is not RUNNING on it`);
    }
    for (const taskId of lease.pipelined ?? []) {
      const task = tableGet(s.tasks, taskId);
      if (task === undefined || task.state !== 'RUNNING' || task.leaseId !== lease.leaseId) broken.push(`lease ${lease.leaseId} has ${taskId} pipelined, which is not RUNNING on it`);
    }
    if (lease.pipelined !== undefined && (lease.runningTaskId === undefined || lease.pipelined.length === 0)) broken.push(`lease ${lease.leaseId} has tasks pipelined behind none`);
    if (lease.draining === true && lease.runningTaskId === undefined) broken.push(`lease ${lease.leaseId} drains a cancelled task but runs none`);
    const drained = lease.runningTaskId === undefined ? undefined : tableGet(s.tasks, lease.runningTaskId);
    if (lease.draining === true && drained !== undefined && drained.state !== 'CANCELLED') {
      broken.push(`lease ${lease.leaseId} drains ${lease.runningTaskId}, which is not CANCELLED`);
    }
    // A lost lease waits briefly for its dead worker's last replies (see lostLeaseGraceMs).
    if (lease.state === 'granted' && s.deadNodes[lease.nodeId] === true && lease.lost === undefined) broken.push(`lease ${lease.leaseId} is kept on dead node ${lease.nodeId}`);
    const cls = s.classes[lease.classKey];
    if (cls === undefined || !cls.leases.includes(lease.leaseId)) broken.push(`lease ${lease.leaseId} belongs to no scheduling class`);
  }
  for (const key in s.classes) {
    const cls = s.classes[key] as (typeof s.classes)[string];
    for (const leaseId of cls.leases) {
      const lease = s.leases[leaseId];
      if (lease === undefined || lease.classKey !== cls.key) broken.push(`class ${cls.key} lists lease ${leaseId}, which is not one of its leases`);
      else if ((lease.state === 'granted') !== cls.granted.includes(leaseId)) broken.push(`class ${cls.key} ${lease.state === 'granted' ? 'does not list' : 'lists'} lease ${leaseId} among its granted leases, which is ${lease.state}`);
    }
    const grantedOrder = cls.leases.filter((leaseId) => cls.granted.includes(leaseId));
    if (grantedOrder.length !== cls.granted.length || grantedOrder.some((leaseId, index) => cls.granted[index] !== leaseId)) {
      broken.push(`class ${cls.key} lists its granted leases (${cls.granted.join(', ')}) other than in the order of its leases`);
    }
    if (cls.queue.head >= (cls.queue.chunks[0]?.length ?? 1)) broken.push(`class ${cls.key} has its queue head past its first chunk`);
  }
  executionsBroken(s, broken);
  if (s.replyOrder.length > s.config.maxReplyCache || s.replyCache.size !== s.replyOrder.length) broken.push(`reply cache over its bound or out of step with its order`);
  if (s.cancelledEarly.length > maxCancelledEarly) broken.push(`${s.cancelledEarly.length} early cancels kept, over the bound of ${maxCancelledEarly}`);
}

/** The broken invariants of a worker's executions and of the calls waiting at its actor. */
function executionsBroken(s: OwnerState, broken: string[]): void {
  // What the reducers keep beside the executions, so that no push or reply walks them, must agree
  // with the executions themselves.
  let started = 0;
  let normal = 0;
  let queued = 0;
  tableForEach(s.executions, (execution) => {
    if (execution.phase === 'queued') queued += 1;
    else started += 1;
    if (execution.spec.actor === undefined) normal += 1;
    else if (execution.phase === 'queued') broken.push(`actor call ${execution.spec.taskId} is queued as a pipelined task`);
  });
  if (s.normalExecutions !== normal) broken.push(`worker ${s.workerId} counts ${s.normalExecutions} normal executions, but holds ${normal}`);
  const queuedKeys = fifoItems(s.queuedExecutions);
  if (queuedKeys.length !== queued || fifoSize(s.queuedExecutions) !== queued) broken.push(`worker ${s.workerId} queues ${queuedKeys.length} executions in order, but holds ${queued} queued`);
  const seenQueued = new Set<string>();
  for (const key of queuedKeys) {
    if (tableGet(s.executions, key)?.phase !== 'queued') broken.push(`worker ${s.workerId} queues ${key}, which is not a queued execution`);
    if (seenQueued.has(key)) broken.push(`worker ${s.workerId} queues ${key} twice`);
    seenQueued.add(key);
  }
  if (s.actor !== undefined) {
    // Calls waiting at the actor are not executions yet, and each waits in its caller's order.
    for (const call of s.actor.runnable) {
      if (tableGet(s.executions, call.key) !== undefined) broken.push(`actor ${s.actor.spec.actorId} has call ${call.key} both runnable and executing`);
      if (call.seqNo >= (s.actor.callers[call.caller]?.nextSeqNo ?? 0)) broken.push(`actor ${s.actor.spec.actorId} has call ${call.key} runnable before its caller's turn for it`);
    }
    for (const caller in s.actor.callers) {
      const order = s.actor.callers[caller] as NonNullable<typeof s.actor>['callers'][string];
      for (const seqNo in order.buffered) {
        const call = order.buffered[seqNo] as (typeof order.buffered)[string];
        if (String(call.seqNo) !== seqNo || call.seqNo <= order.nextSeqNo) broken.push(`actor ${s.actor.spec.actorId} buffers call ${call.key} of ${caller} under ${seqNo}, not ahead of its turn`);
      }
    }
    if (s.actor.running < 0 || s.actor.running > s.actor.spec.maxConcurrency) broken.push(`actor ${s.actor.spec.actorId} runs ${s.actor.running} calls, limit ${s.actor.spec.maxConcurrency}`);
  } else if (started > 1) {
    // Pipelined tasks wait (queued) behind the one task a worker runs.
    broken.push(`worker ${s.workerId} runs ${started} tasks at once`);
  }
}
