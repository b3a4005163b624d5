/**
 * The entity index of a trace: for every id an event names (task, actor, object, node, worker, lease,
 * job), the events that touch it, in order. `tsray why`, the debugger's filters and its per-entity
 * timelines are built on it.
 *
 * Some ids are minted by a reducer and never written in the event that creates them (a task id at
 * `task/submitted`, an object id at `object/put`); they are derived here the way the owner mints
 * them (ids.ts: `<workerId>.t<k>`, `.a<k>`, `.p<k>`, counted per owner in event order), so that a
 * task's index starts at its submission.
 */
import type { Address } from '../ids.js';
import { actorHandleObjectId, returnObjectId } from '../ids.js';
import type { Trace, TraceEntry } from './format.js';

/** What kind of thing an id names. */
export type EntityKind = 'task' | 'actor' | 'object' | 'node' | 'worker' | 'lease' | 'job';

/** An entity the index knows. */
export interface EntityInfo {
  readonly id: string;
  readonly kind: EntityKind;
  /** The seqs of the events that touch it, increasing. */
  readonly seqs: readonly number[];
}

/** Events by seq and by entity. */
export interface TraceIndex {
  readonly bySeq: ReadonlyMap<number, TraceEntry>;
  /** Every entity, by id. */
  readonly entities: ReadonlyMap<string, EntityInfo>;
  /** The task id each submission event minted (by the submission's seq). */
  readonly mintedTasks: ReadonlyMap<number, string>;
  /** Every id an event minted (task, return objects, actor, handle object, put object), by its seq. */
  readonly minted: ReadonlyMap<number, readonly string[]>;
}

/** Field names whose string values are ids of a kind. */
const idFields: Readonly<Record<string, EntityKind>> = {
  taskId: 'task',
  parentTaskId: 'task',
  inTaskId: 'task',
  actorId: 'actor',
  requestedActorId: 'actor',
  objectId: 'object',
  workerId: 'worker',
  driverId: 'worker',
  borrower: 'worker',
  caller: 'worker',
  owner: 'worker',
  nodeId: 'node',
  toNodeId: 'node',
  leaseId: 'lease',
  jobId: 'job',
};

/** Fields holding a list of object ids. */
const objectListFields = new Set(['objectIds', 'returnIds', 'releasedBorrows']);

/** Fields not searched for ids: configuration, and the whole cluster view every raylet is sent. */
const skippedFields = new Set(['config', 'via', 'nodes', 'data', 'cluster']);

/** The ids an event names, with their kinds (the entry's own component included). */
export function entitiesOfEntry(entry: TraceEntry): Map<string, EntityKind> {
  const found = new Map<string, EntityKind>();
  const own = entityOfAddress(entry.address);
  if (own !== undefined) found.set(own.id, own.kind);
  collect(entry.event, found, 0);
  return found;
}

/** The entity a component address stands for: `raylet:n1` is node n1, `worker:n1.w2` is worker n1.w2. */
export function entityOfAddress(address: Address): { id: string; kind: EntityKind } | undefined {
  if (address.startsWith('raylet:')) return { id: address.slice('raylet:'.length), kind: 'node' };
  if (address.startsWith('worker:')) return { id: address.slice('worker:'.length), kind: 'worker' };
  return undefined;
}

function collect(value: unknown, found: Map<string, EntityKind>, depth: number): void {
  if (depth > 6 || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) collect(item, found, depth + 1);
    return;
  }
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (skippedFields.has(key)) continue;
    const kind = idFields[key];
    if (kind !== undefined && typeof item === 'string' && item !== '') {
      if (!found.has(item)) found.set(item, kind);
    } else if (objectListFields.has(key) && Array.isArray(item)) {
      for (const id of item) if (typeof id === 'string' && !found.has(id)) found.set(id, 'object');
    } else {
      collect(item, found, depth + 1);
    }
  }
}

/** Per owner, how many tasks, actors and puts it has minted so far (mirrors the owner's counters). */
interface Minting {
  task: number;
  actor: number;
  put: number;
}

/** The ids a submission event mints at the owner `workerId`, advancing its counters. */
function mintedBy(entry: TraceEntry, workerId: string, counters: Minting): { task?: string; ids: [string, EntityKind][] } {
  const event = entry.event as { type: string; numReturns?: number; detached?: boolean };
  const taskIds = (count: number): { task: string; ids: [string, EntityKind][] } => {
    const task = `${workerId}.t${++counters.task}`;
    const ids: [string, EntityKind][] = [[task, 'task']];
    for (let index = 0; index < count; index++) ids.push([returnObjectId(task, index), 'object']);
    return { task, ids };
  };
  switch (event.type) {
    case 'task/submitted':
    case 'actor-task/submitted':
      return taskIds(event.numReturns ?? 1);
    case 'actor/creation-submitted': {
      const actor = `${workerId}.a${++counters.actor}`;
      const minted = taskIds(0);
      minted.ids.push([actor, 'actor']);
      if (event.detached !== true) minted.ids.push([actorHandleObjectId(actor), 'object']);
      return minted;
    }
    case 'object/put':
      return { ids: [[`${workerId}.p${++counters.put}`, 'object']] };
    default:
      return { ids: [] };
  }
}

/** Builds the index of a decoded trace in one pass. */
export function indexTrace(trace: Trace): TraceIndex {
  const bySeq = new Map<number, TraceEntry>();
  const entities = new Map<string, { id: string; kind: EntityKind; seqs: number[] }>();
  const mintedTasks = new Map<number, string>();
  const mintedIds = new Map<number, string[]>();
  const minting = new Map<Address, Minting>();
  const add = (id: string, kind: EntityKind, seq: number): void => {
    let info = entities.get(id);
    if (info === undefined) {
      info = { id, kind, seqs: [] };
      entities.set(id, info);
    }
    if (info.seqs[info.seqs.length - 1] !== seq) info.seqs.push(seq);
  };
  for (const entry of trace.entries) {
    bySeq.set(entry.seq, entry);
    if (entry.component === 'owner') {
      let counters = minting.get(entry.address);
      if (counters === undefined) {
        counters = { task: 0, actor: 0, put: 0 };
        minting.set(entry.address, counters);
      }
      const minted = mintedBy(entry, entry.address.slice('worker:'.length), counters);
      if (minted.task !== undefined) mintedTasks.set(entry.seq, minted.task);
      if (minted.ids.length > 0) mintedIds.set(entry.seq, minted.ids.map(([id]) => id));
      for (const [id, kind] of minted.ids) add(id, kind, entry.seq);
    }
    for (const [id, kind] of entitiesOfEntry(entry)) add(id, kind, entry.seq);
  }
  return { bySeq, entities, mintedTasks, minted: mintedIds };
}

/**
 * The entity an id the user typed stands for: an id as events write it, or a component address
 * (`worker:n1.w2`, `raylet:n1`).
 */
export function findEntity(index: TraceIndex, id: string): EntityInfo | undefined {
  const direct = index.entities.get(id);
  if (direct !== undefined) return direct;
  const fromAddress = entityOfAddress(id);
  return fromAddress === undefined ? undefined : index.entities.get(fromAddress.id);
}

/**
 * The ids present that are closest to `id`, best first: by edit distance, ties broken by the longer
 * shared prefix, so a typo or a wrong counter (`n1.d1.t12` for `n1.d1.t2`) finds its neighbours.
 */
export function closestIds(index: TraceIndex, id: string, count = 3): string[] {
  // An address names the id after its prefix (`worker:n1.w9` is worker n1.w9).
  const wanted = entityOfAddress(id)?.id ?? id;
  const scored: { id: string; prefix: number; distance: number }[] = [];
  for (const candidate of index.entities.keys()) {
    scored.push({ id: candidate, prefix: commonPrefix(wanted, candidate), distance: editDistance(wanted, candidate) });
  }
  scored.sort((a, b) => a.distance - b.distance || b.prefix - a.prefix || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return scored.slice(0, count).map((item) => item.id);
}

function commonPrefix(a: string, b: string): number {
  let length = 0;
  while (length < a.length && length < b.length && a[length] === b[length]) length++;
  return length;
}

/** Levenshtein distance, two rows at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_unused, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
