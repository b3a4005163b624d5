/**
 * The reports of cluster state queries (`tsray list tasks|actors|objects`, `tsray memory`), built from
 * the listings an owner makes of its own state (node/runtime/listing.ts). A report keeps the totals
 * of everything it counts but lists at most the query's limit, so a reply stays far below the
 * transport's frame bound however much a cluster holds.
 */
import type { HostedTaskReport, NodeStateReport, ObjectReport, OwnerStateReport, ReferenceSummary, StateFilter, TaskReport } from '../../core/protocol.js';
import type { ObjectListing, TaskListing } from '../runtime/listing.js';
import { withHostedWaits } from '../runtime/listing.js';

/** The most entries of each kind one query lists (the CLI's `--limit` is checked against it). */
export const maxListLimit = 10_000;

/** How many entries of each kind a query lists when not told (as `ray list`). */
export const defaultListLimit = 100;

/** A limit as a query may ask it: a whole number from 1 to maxListLimit (a bad one from the wire becomes the default). */
export function clampLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) return defaultListLimit;
  return Math.min(limit, maxListLimit);
}

/** The reference kind of an object that no reference holds any more (it is being freed). */
const unreferenced = 'NONE';

/** The fields a filter may name, by kind (the columns of `tsray list`). */
export const filterKeys = {
  tasks: ['taskId', 'name', 'state', 'attempt', 'nodeId', 'error'],
  actors: ['actorId', 'className', 'name', 'state', 'restarts', 'nodeId'],
  objects: ['objectId', 'size', 'owner', 'refTypes', 'nodeIds'],
} as const;

/**
 * Whether `entry` meets every filter: its field equals the value as text (null as `null`), or, for a
 * list field, holds it. A filter that is not a `{ key, value }` of strings (from another version)
 * matches nothing, so a bad query lists nothing rather than everything.
 */
export function matches(entry: object, filters: readonly StateFilter[] | undefined): boolean {
  if (filters === undefined) return true;
  if (!Array.isArray(filters)) return false;
  return filters.every((filter: unknown) => {
    const { key, value } = (filter ?? {}) as Partial<Record<'key' | 'value', unknown>>;
    if (typeof key !== 'string' || typeof value !== 'string') return false;
    const field = (entry as Record<string, unknown>)[key];
    return Array.isArray(field) ? field.some((item) => asText(item) === value) : asText(field) === value;
  });
}

/** A field's value as a filter compares it: a string as it is, anything else as JSON (a missing one as `null`). */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value ?? null) ?? 'null');
}

/** One owner's report from its listings: the newest `limit` tasks and objects that meet the filters, all of those counted and summed by reference kind. */
export function ownerReport(
  owner: string,
  allTasks: readonly TaskListing[],
  allObjects: readonly ObjectListing[],
  limit: number,
  filters: { readonly tasks?: readonly StateFilter[]; readonly objects?: readonly StateFilter[] } = {},
  hosted: readonly HostedTaskReport[] = [],
): OwnerStateReport {
  const tasks = allTasks.filter((task) => matches(task, filters.tasks));
  const objects = allObjects.filter((object) => matches(object, filters.objects));
  const summaries = new Map<string, { count: number; sizeBytes: number }>();
  for (const object of objects) {
    for (const refType of object.refTypes.length === 0 ? [unreferenced] : object.refTypes) {
      const summary = summaries.get(refType) ?? { count: 0, sizeBytes: 0 };
      summary.count += 1;
      summary.sizeBytes += object.size ?? 0;
      summaries.set(refType, summary);
    }
  }
  const references: ReferenceSummary[] = [...summaries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([refType, summary]) => ({ refType, ...summary }));
  return {
    owner,
    // An owner's records are in the order it made them: the newest are the last.
    tasks: tasks.slice(-limit).map(taskReport),
    taskCount: tasks.length,
    objects: objects.slice(-limit),
    objectCount: objects.length,
    references,
    // Unfiltered: a listed task's wait goes on through tasks the filter may leave out.
    ...(hosted.length === 0 ? {} : { hosted: hosted.slice(0, limit) }),
  };
}

/** Bound on a reported task's `waitingFor` (a task may wait for thousands of arguments, each named). */
export const maxWaitingForChars = 2_000;

function boundedText(text: string): string {
  return text.length <= maxWaitingForChars ? text : `${text.slice(0, maxWaitingForChars - 1)}…`;
}

function taskReport(task: TaskListing): TaskReport {
  return { taskId: task.taskId, name: task.name, state: task.state, attempt: task.attempt, nodeId: task.nodeId, ...(task.error === undefined ? {} : { error: task.error }), ...(task.waitingFor === undefined ? {} : { waitingFor: boundedText(task.waitingFor) }) };
}

/**
 * The owners' reports with their lists cut so that all of them together list at most `limit` tasks,
 * `limit` objects and `limit` hosted tasks (the counts and summaries stay whole): the first owners keep theirs first.
 */
export function withinLimit(owners: readonly OwnerStateReport[], limit: number): OwnerStateReport[] {
  let tasksLeft = limit;
  let objectsLeft = limit;
  let hostedLeft = limit;
  return owners.map((owner) => {
    const tasks = owner.tasks.slice(Math.max(0, owner.tasks.length - tasksLeft));
    const objects = owner.objects.slice(Math.max(0, owner.objects.length - objectsLeft));
    tasksLeft -= tasks.length;
    objectsLeft -= objects.length;
    if (owner.hosted === undefined) return { ...owner, tasks, objects };
    // Running tasks come first in a worker's list: they are what a wait is followed through.
    const hosted = owner.hosted.slice(0, hostedLeft);
    hostedLeft -= hosted.length;
    return { ...owner, tasks, objects, hosted };
  });
}

/** The nodes' reports cut as `withinLimit` cuts owners, across all nodes. */
export function nodesWithinLimit(nodes: readonly NodeStateReport[], limit: number): NodeStateReport[] {
  const owners = withinLimit(
    nodes.flatMap((node) => node.owners),
    limit,
  );
  let next = 0;
  return nodes.map((node) => {
    const kept = owners.slice(next, next + node.owners.length);
    next += node.owners.length;
    return { ...node, owners: kept };
  });
}

/** Every listed entry of one kind across the nodes' owners, and how many there are in all. */
export function gathered(nodes: readonly NodeStateReport[]): { tasks: TaskReport[]; taskCount: number; objects: ObjectReport[]; objectCount: number } {
  const owners = nodes.flatMap((node) => node.owners);
  return {
    tasks: withHostedWaits(
      owners.flatMap((owner) => owner.tasks),
      owners.map((owner) => owner.hosted),
    ),
    taskCount: owners.reduce((sum, owner) => sum + owner.taskCount, 0),
    objects: owners.flatMap((owner) => owner.objects),
    objectCount: owners.reduce((sum, owner) => sum + owner.objectCount, 0),
  };
}

/**
 * Whether a report from another process has the shape this version reads (the edge check covers only
 * top-level fields): a node of another tsray version is then counted as not answering, instead of
 * its report failing the head's gathering.
 */
export function isOwnerStateReport(value: unknown): value is OwnerStateReport {
  if (typeof value !== 'object' || value === null) return false;
  const report = value as Partial<Record<keyof OwnerStateReport, unknown>>;
  return (
    typeof report.owner === 'string' &&
    Array.isArray(report.tasks) &&
    Array.isArray(report.objects) &&
    Array.isArray(report.references) &&
    typeof report.taskCount === 'number' &&
    typeof report.objectCount === 'number' &&
    (report.hosted === undefined || (Array.isArray(report.hosted) && report.hosted.every(isHostedTaskReport)))
  );
}

/** Whether a hosted task from another process has the fields a listing follows. */
function isHostedTaskReport(value: unknown): value is HostedTaskReport {
  if (typeof value !== 'object' || value === null) return false;
  const hosted = value as Partial<Record<keyof HostedTaskReport, unknown>>;
  return (
    typeof hosted.taskId === 'string' &&
    typeof hosted.name === 'string' &&
    typeof hosted.attempt === 'number' &&
    typeof hosted.workerId === 'string' &&
    (hosted.phase === 'running' || hosted.phase === 'queued') &&
    (hosted.behind === undefined || typeof hosted.behind === 'string') &&
    (hosted.waitsInGetFor === undefined || (Array.isArray(hosted.waitsInGetFor) && hosted.waitsInGetFor.every((id) => typeof id === 'string'))) &&
    (hosted.waitsInGetCount === undefined || typeof hosted.waitsInGetCount === 'number')
  );
}

/** As `isOwnerStateReport`, for a node's report and each of its owners'. */
export function isNodeStateReport(value: unknown): value is NodeStateReport {
  if (typeof value !== 'object' || value === null) return false;
  const report = value as Partial<Record<keyof NodeStateReport, unknown>>;
  const store = report.store as Partial<Record<string, unknown>> | undefined;
  return (
    typeof report.nodeId === 'string' &&
    typeof store === 'object' &&
    store !== null &&
    typeof store['usedBytes'] === 'number' &&
    typeof store['capacityBytes'] === 'number' &&
    typeof store['objectCount'] === 'number' &&
    Array.isArray(report.silentOwners) &&
    Array.isArray(report.owners) &&
    report.owners.every(isOwnerStateReport)
  );
}
