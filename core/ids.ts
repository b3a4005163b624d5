/**
 * Identifiers. Every id is derived deterministically from a seed and counters held in reducer state,
 * so that the same inputs give the same ids in the live runtime, the simulator and replay. The
 * derivations also make ownership readable: an object id starts with the id of the worker that owns it.
 */

/** A node (one raylet and its workers), e.g. `n1`. */
export type NodeId = string;
/** A worker or driver process/thread, e.g. `n1.w3`; drivers are workers with `d` in place of `w`. */
export type WorkerId = string;
/** A job, one per driver, e.g. `j1`. */
export type JobId = string;

/**
 * Whether a worker id (or an owner's address) is a driver's: `n1.d1` in an embedded cluster,
 * `n6128c0fa.d0e2311cb` or `driver-14401-2bcea3.d0e2311cb` for a driver connected to a cluster (its
 * suffix is random hex). A worker thread's id ends in `.w` and a number.
 */
export function isDriverId(workerId: string): boolean {
  return /\.d[0-9a-f]+$/.test(workerId);
}
/** A task submitted by an owner, e.g. `n1.d1.t7`. */
export type TaskId = string;
/** An object, e.g. `n1.d1.t7.r0` (return 0 of that task) or `n1.d1.p3` (the third put). */
export type ObjectId = string;
/** An actor, e.g. `n1.d1.a2`. */
export type ActorId = string;
/** A lease of one worker, e.g. `n1.d1.l5` or `gcs.l9`. */
export type LeaseId = string;

/** The address of a component: `gcs`, `raylet:<nodeId>` or `worker:<workerId>`. */
export type Address = string;

/** The GCS's address; there is one GCS per cluster. */
export const gcsAddress: Address = 'gcs';

/** The address of a node's raylet. */
export function rayletAddress(nodeId: NodeId): Address {
  return `raylet:${nodeId}`;
}

/** How many worker ids `workerAddress` remembers before it starts afresh. */
const maxRememberedWorkers = 1024;

/**
 * The addresses of the workers addressed lately, by worker id. Only a cache of the pure function
 * `worker:${workerId}` (bounded, and the same in every process, as the inbox's window keys are), so it
 * changes no result: a worker addresses every reply, and a driver every push, to the few workers it
 * talks to, and each built a new string (about 30 bytes a message).
 */
const workerAddresses = new Map<WorkerId, Address>();

/** The address of a worker's (or driver's) owner component. */
export function workerAddress(workerId: WorkerId): Address {
  const known = workerAddresses.get(workerId);
  if (known !== undefined) return known;
  if (workerAddresses.size >= maxRememberedWorkers) workerAddresses.clear();
  const address = `worker:${workerId}`;
  workerAddresses.set(workerId, address);
  return address;
}

/** The node a worker runs on: worker ids are minted by that node's raylet. */
export function nodeOfWorker(workerId: WorkerId): NodeId {
  const dot = workerId.indexOf('.');
  return dot < 0 ? workerId : workerId.slice(0, dot);
}

/** The owner of an object id, read from its prefix (`<workerId>.t<k>.r<i>` or `<workerId>.p<k>`). */
export function ownerOfObject(objectId: ObjectId): WorkerId {
  // The first two dot-separated parts, found by hand rather than by split: owners ask this of every
  // ref they meet, and split built an array and a new string each time.
  const first = objectId.indexOf('.');
  if (first < 0) return `${objectId}.`;
  const second = objectId.indexOf('.', first + 1);
  return second < 0 ? objectId : objectId.slice(0, second);
}

/** The task that creates return object `objectId`, or undefined for a put. */
export function taskOfObject(objectId: ObjectId): TaskId | undefined {
  // Dots found by hand, not by split: owners ask this of every ref they release or resolve.
  const first = objectId.indexOf('.');
  const second = first < 0 ? -1 : objectId.indexOf('.', first + 1);
  if (second < 0 || objectId.charCodeAt(second + 1) !== 0x74 /* t */) return undefined;
  const third = objectId.indexOf('.', second + 1);
  return third < 0 ? objectId : objectId.slice(0, third);
}

/**
 * Whether `taskOfObject(objectId)` is `taskId`, told by the characters, without cutting a string out
 * of `objectId` (owners ask it of every task that finishes). False for an object id equal to a task
 * id, which `taskOfObject` would map to itself; callers that care ask `taskOfObject` then.
 */
export function isObjectOfTask(objectId: ObjectId, taskId: TaskId): boolean {
  const length = taskId.length;
  if (objectId.length <= length || objectId.charCodeAt(length) !== 0x2e /* . */ || !objectId.startsWith(taskId)) return false;
  // And `taskId` has the shape `taskOfObject` cuts out: two dots, a `t` after the second, no third.
  const first = taskId.indexOf('.');
  const second = first < 0 ? -1 : taskId.indexOf('.', first + 1);
  return second >= 0 && taskId.charCodeAt(second + 1) === 0x74 /* t */ && taskId.indexOf('.', second + 1) < 0;
}

/**
 * The number an owner gave `taskId` when it minted it (`<workerId>.t<n>`: its tasks in the order
 * submitted), or undefined for an id of another form.
 */
export function taskNumber(taskId: TaskId): number | undefined {
  const at = taskId.lastIndexOf('.t');
  if (at < 0) return undefined;
  const digits = taskId.slice(at + 2);
  return /^[0-9]+$/.test(digits) ? Number(digits) : undefined;
}

/**
 * The id of return `index` of a task. Joined, not a template: V8 makes a string of 13 characters or
 * more (every return id) out of two as a rope, which every table lookup keyed by it then walked; a
 * join copies the characters into one flat string. In a table of 200k such ids, a set, six gets and
 * a delete of each took 340–370 ms with joined ids against 540–590 ms with template ones (a
 * standalone Map trial, other processes stopped).
 */
export function returnObjectId(taskId: TaskId, index: number): ObjectId {
  return [taskId, '.r', index].join('');
}

/**
 * The object that stands for the handles of a non-detached actor (`<actorId>.h`): its owner is the
 * actor's owner, and it is counted like any object, so the actor ends once nothing holds it.
 */
export function actorHandleObjectId(actorId: ActorId): ObjectId {
  return `${actorId}.h`;
}

/** The actor whose handles `objectId` stands for, or undefined for any other object. */
export function actorOfHandleObject(objectId: ObjectId): ActorId | undefined {
  return objectId.endsWith('.h') && objectId.split('.').length === 4 ? objectId.slice(0, -2) : undefined;
}

/**
 * The process that created `actorId`, when the id has the shape owners give (`<node>.<worker>.a<k>`);
 * undefined for any other string, which no process minted.
 */
export function creatorOfActor(actorId: ActorId): WorkerId | undefined {
  const first = actorId.indexOf('.');
  const second = first < 0 ? -1 : actorId.indexOf('.', first + 1);
  if (second < 0 || actorId.indexOf('.', second + 1) >= 0 || actorId.charCodeAt(second + 1) !== 0x61 /* a */) return undefined;
  return /^\d+$/.test(actorId.slice(second + 2)) ? actorId.slice(0, second) : undefined;
}

/** The owner of an actor, read from its id (`<workerId>.a<k>`): the process that created it. */
export function ownerOfActor(actorId: ActorId): WorkerId {
  return ownerOfObject(actorId);
}
