/**
 * What the state API lists, read from component states: tasks and objects from owners, actors and
 * nodes from the GCS (the local node's numbers from its raylet, which are current).
 */
import type { GcsState } from '../../core/gcs/index.js';
import { actorOfHandleObject } from '../../core/ids.js';
import type { OwnerState } from '../../core/owner/index.js';
import { explainTask } from '../../core/owner/index.js';
import { explainHostedWait, hostedIndex } from '../../core/owner/wait-chain.js';
import type { HostedTaskReport } from '../../core/protocol.js';
import type { RayletState } from '../../core/raylet/index.js';
import { tableValues } from '../../core/table.js';

/** A task as `state.listTasks` shows it; `waitingFor` says what a pending task waits for. */
export interface TaskListing {
  taskId: string;
  name: string;
  state: string;
  attempt: number;
  nodeId: string | null;
  error?: string;
  waitingFor?: string;
}

/** An actor as `state.listActors` shows it. */
export interface ActorListing {
  actorId: string;
  className: string;
  name?: string;
  state: string;
  restarts: number;
  nodeId: string | null;
  /** Why a DEAD actor died (e.g. that all handles to it went out of scope, or that it was killed). */
  deathCause?: string;
}

/** An object as `state.listObjects` shows it. */
export interface ObjectListing {
  objectId: string;
  size: number | null;
  owner: string;
  refTypes: string[];
  nodeIds: string[];
}

/** A node as `nodes()` shows it. */
export interface NodeInfo {
  nodeId: string;
  address: string;
  alive: boolean;
  resources: Record<string, number>;
  available: Record<string, number>;
}

/**
 * Ids compared with their numbers as numbers (`n1.d1.t9` before `n1.d1.t10`): an owner's tasks then
 * list in submission order, as they did when its tables were flat records kept in insertion order
 * (a bucketed table iterates in hash order; see core/table.ts).
 */
const idOrder = new Intl.Collator('en', { numeric: true });

/** The tasks an owner owns, in submission order. */
export function listOwnerTasks(state: OwnerState): TaskListing[] {
  const tasks = tableValues(state.tasks).sort((a, b) => idOrder.compare(a.spec.taskId, b.spec.taskId));
  return tasks.map((task) => {
    const pending = task.state === 'PENDING_ARGS' || task.state === 'PENDING_NODE' || task.state === 'RUNNING';
    return {
      taskId: task.spec.taskId,
      name: task.spec.fn.name,
      state: task.state,
      attempt: task.attempt,
      nodeId: task.nodeId ?? null,
      ...(task.error === undefined ? {} : { error: `${task.error.errorClass}: ${task.error.message}` }),
      ...(pending ? { waitingFor: explainTask({ s: state, out: [] }, task) } : {}),
    };
  });
}

/**
 * The tasks with each running one's wait followed through the workers that host them (a get inside
 * it, a call it queues behind, and on to a deadlock if the chain comes back): `hosted` holds what
 * every worker reported hosting.
 */
export function withHostedWaits(tasks: readonly TaskListing[], hosted: Iterable<readonly HostedTaskReport[] | undefined>): TaskListing[] {
  const index = hostedIndex(hosted);
  if (index.size === 0) return [...tasks];
  return tasks.map((task) => {
    if (task.state !== 'RUNNING' || task.waitingFor === undefined) return task;
    const further = explainHostedWait(task.taskId, task.attempt, index);
    return further === undefined ? task : { ...task, waitingFor: `${task.waitingFor}; ${further}` };
  });
}

/** The objects an owner owns, with the kinds of references that hold each, in id order (puts, then task returns in submission order). */
export function listOwnerObjects(state: OwnerState): ObjectListing[] {
  const objects = tableValues(state.objects).sort((a, b) => idOrder.compare(a.objectId, b.objectId));
  // An actor's handle object counts its handles; it is no object of the user's.
  return objects.filter((object) => actorOfHandleObject(object.objectId) === undefined).map((object) => {
    const refTypes: string[] = [];
    if (object.localRefs > 0) refTypes.push('LOCAL_REFERENCE');
    if (object.submittedRefs > 0) refTypes.push('USED_BY_PENDING_TASK');
    if ((object.containedIn?.length ?? 0) > 0) refTypes.push('CAPTURED_IN_OBJECT');
    if ((object.borrowers?.length ?? 0) > 0) refTypes.push('BORROWED');
    if (object.lineageRefs > 0) refTypes.push('LINEAGE');
    const payload = object.payload;
    return {
      objectId: object.objectId,
      size: payload?.sizeBytes ?? null,
      owner: state.workerId,
      refTypes,
      nodeIds: payload?.kind === 'stored' ? [...payload.nodeIds] : [],
    };
  });
}

/** The actors the GCS knows. */
export function listActors(gcs: GcsState): ActorListing[] {
  return Object.values(gcs.actors).map((actor) => ({
    actorId: actor.actorId,
    className: actor.spec.className,
    ...(actor.spec.name === undefined ? {} : { name: actor.spec.name }),
    state: actor.state,
    restarts: actor.numRestarts,
    nodeId: actor.nodeId ?? null,
    ...(actor.deathCause === undefined ? {} : { deathCause: actor.deathCause }),
  }));
}

/** The nodes the GCS knows; nodes with a local raylet report its current numbers. */
export function listNodes(gcs: GcsState, localRaylets: readonly RayletState[]): NodeInfo[] {
  return Object.values(gcs.nodes).map((node) => {
    const local = localRaylets.find((raylet) => raylet.nodeId === node.nodeId);
    return {
      nodeId: node.nodeId,
      address: 'local',
      alive: node.alive,
      resources: { ...node.total },
      available: { ...(local?.available ?? node.available) },
    };
  });
}

/** Keeps the entries whose fields equal every field of `filter`. */
export function filtered<T extends object>(entries: T[], filter: Partial<Record<keyof T, unknown>> | undefined): T[] {
  if (filter === undefined) return entries;
  return entries.filter((entry) => Object.entries(filter).every(([key, value]) => (entry as Record<string, unknown>)[key] === value));
}
