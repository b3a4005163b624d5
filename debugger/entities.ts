/**
 * The entities an event is about (tasks, actors, objects, nodes, workers, owners, leases), read from
 * the event's fields by name. The debugger filters, searches and draws timelines by these ids, so
 * one walk here decides what every pane means by "the events of X".
 */
import type { Address } from '../core/ids.js';

/** The kinds of entity the debugger can filter by. */
export type EntityKind = 'task' | 'actor' | 'object' | 'node' | 'worker' | 'owner' | 'lease';

/** One entity an event mentions. */
export interface EntityRef {
  readonly kind: EntityKind;
  readonly id: string;
}

/** Field names that hold an entity id, by kind; arrays of ids count too. */
const kindOfField: Readonly<Record<string, EntityKind>> = {
  taskId: 'task',
  parentTaskId: 'task',
  actorId: 'actor',
  requestedActorId: 'actor',
  objectId: 'object',
  objectIds: 'object',
  returnIds: 'object',
  ready: 'object',
  notReady: 'object',
  releasedBorrows: 'object',
  nodeId: 'node',
  toNodeId: 'node',
  workerId: 'worker',
  driverId: 'worker',
  borrower: 'worker',
  caller: 'worker',
  subscriber: 'worker',
  owner: 'owner',
  leaseId: 'lease',
};

/** Fields never walked: user data and configuration, which are large and name no entity. */
const skippedFields = new Set(['data', 'payload', 'config', 'thrown', 'resources', 'placementResources', 'available', 'total', 'strategy']);

/**
 * Per field name, what the walk does with it, in one lookup (the replay pass walks a million events):
 * a kind for an id field, `skip` for a skipped one, `spec` for a task spec; other fields are walked.
 */
const fieldAction: ReadonlyMap<string, EntityKind | 'skip' | 'spec'> = new Map<string, EntityKind | 'skip' | 'spec'>([
  ...[...skippedFields].map((field): [string, 'skip'] => [field, 'skip']),
  ...Object.entries(kindOfField),
  ['spec', 'spec'],
]);

/** How deep the walk goes: ids sit at most a few levels down (a spec's returnIds, a ref inside an arg). */
const maxDepth = 4;

/**
 * The entities `event` mentions, each once, in the order met; the component at `address` counts
 * too (a worker's events are about that worker, a raylet's about its node).
 */
export function entitiesOf(event: unknown, address?: Address): EntityRef[] {
  const found: EntityRef[] = [];
  // Most events name a handful of ids: a scan of them is cheaper than a set per event; a set comes
  // in only for an event that names many.
  let seen: Set<string> | undefined;
  const add = (kind: EntityKind, id: string): void => {
    if (id === '') return;
    if (seen !== undefined) {
      if (seen.has(id)) return;
      seen.add(id);
    } else {
      for (const entity of found) if (entity.id === id) return;
      if (found.length === 16) seen = new Set([...found.map((entity) => entity.id), id]);
    }
    found.push({ kind, id });
  };
  walk(event, 0, add);
  const own = address === undefined ? undefined : addressEntity(address);
  if (own !== undefined) add(own.kind, own.id);
  return found;
}

/**
 * Calls `visit` for every id field of `event` in the order `entitiesOf` meets them, repeats and
 * empty ids included (the caller decides): the replay pass records ids this way, without building
 * a list per event.
 */
export function visitEntities(event: unknown, visit: (kind: EntityKind, id: string) => void): void {
  walk(event, 0, visit);
}

/** The entity the component at `address` is (a worker's events are about that worker, a raylet's about its node), if any. */
export function addressEntity(address: string): EntityRef | undefined {
  if (address.startsWith('worker:')) return { kind: 'worker', id: address.slice('worker:'.length) };
  if (address.startsWith('raylet:')) return { kind: 'node', id: address.slice('raylet:'.length) };
  return undefined;
}

function walk(value: unknown, depth: number, add: (kind: EntityKind, id: string) => void): void {
  if (depth > maxDepth || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) walk(item, depth + 1, add);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    // A number, a boolean or null names nothing whatever its field: no lookup for it.
    if (typeof item !== 'object' && typeof item !== 'string') continue;
    if (item === null) continue;
    const action = fieldAction.get(key);
    if (action === undefined) {
      if (typeof item === 'object') walk(item, depth + 1, add);
      continue;
    }
    if (action === 'skip') continue;
    if (action === 'spec') {
      if (typeof item === 'object') {
        const spec = item as { taskId?: unknown; actorId?: unknown };
        if (typeof spec.taskId === 'string') add('task', spec.taskId);
        if (typeof spec.actorId === 'string') add('actor', spec.actorId);
        walk(item, depth + 1, add);
      }
      continue;
    }
    if (typeof item === 'string') add(action, item);
    else if (Array.isArray(item)) {
      for (const id of item) if (typeof id === 'string') add(action, id);
    } else walk(item, depth + 1, add);
  }
}

/**
 * The kind an id's shape suggests (ids are derived: `n1`, `n1.w2`, `n1.d1.t7`, `n1.d1.t7.r0`,
 * `n1.d1.p3`, `n1.d1.a2`, `n1.d1.l5`), or undefined for a shape of no kind.
 */
export function kindOfId(id: string): EntityKind | undefined {
  const parts = id.split('.');
  if (parts.length === 1) return /^n\d+$/.test(id) ? 'node' : undefined;
  if (parts.length === 2) return /^[wd]\d+$/.test(parts[1] ?? '') ? 'worker' : undefined;
  const third = parts[2] ?? '';
  if (parts.length === 3) {
    if (third.startsWith('t')) return 'task';
    if (third.startsWith('a')) return 'actor';
    if (third.startsWith('p')) return 'object';
    if (third.startsWith('l')) return 'lease';
    return undefined;
  }
  return 'object';
}
