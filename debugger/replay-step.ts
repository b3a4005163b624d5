/**
 * One step of the debugger's replay pass, shared by the pass in this thread (trace-index.ts) and the
 * parallel one in worker threads (node/trace/parallel-replay.ts), so both check and apply a line
 * alike: a line's link in the checksum chain, then an event line validated by core/trace's decoder,
 * applied with the real reducer, its ids named and a snapshot kept every K events of its component.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { AnyEvent, ComponentCore } from '../core/component.js';
import type { Address } from '../core/ids.js';
import { applyDirect } from '../core/step.js';
import { decodeLine } from '../core/trace/decode.js';
import { chainSum, splitSum } from '../core/trace/format.js';
import type { ComponentKind } from '../core/trace/format.js';
import type { ReplayCores } from '../core/trace/replay.js';
import { entitiesOf } from './entities.js';
import type { EntityKind, EntityRef } from './entities.js';

/** Where replay of one component stopped because its recipe threw. */
export interface ComponentDivergence {
  /** Position in that component's own event list. */
  readonly position: number;
  readonly reason: string;
}

/** The problem of a line without a checksum. */
export const noSumProblem = 'the line has no checksum; record or collect the trace again';
/** The problem of a line whose checksum does not follow from the line before it. */
export const brokenChainProblem = 'the line was changed, moved or removed (its checksum does not follow from the line before it); record or collect the trace again';

/**
 * Checks one non-blank line's link in the checksum chain: its problem (or undefined) and the sum the
 * next line chains from (the line's own, or the previous one's when it has none).
 */
export function chainLink(previousSum: string, text: string): { readonly problem?: string; readonly sum: string; readonly content: string } {
  const { content, sum } = splitSum(text);
  if (sum === undefined) return { problem: noSumProblem, sum: previousSum, content };
  if (chainSum(previousSum, content) !== sum) return { problem: brokenChainProblem, sum, content };
  return { sum, content };
}

/** What the replay keeps as it goes: a snapshot of a component, or where its recipe threw. */
export interface ReplaySink {
  snapshot(addressId: number, position: number, state: string): void;
  divergence(addressId: number, divergence: ComponentDivergence): void;
}

/** The replay of a trace's components, one event line at a time, each component on its own state. */
export class ComponentsReplay {
  private readonly states: unknown[];
  private readonly sinceSnapshot: number[];
  private readonly positions: number[];
  private readonly stopped: boolean[];

  constructor(
    private readonly cores: ReplayCores,
    private readonly addresses: readonly Address[],
    private readonly components: readonly ComponentKind[],
    private readonly snapshotEvery: number,
    private readonly sink: ReplaySink,
  ) {
    this.states = components.map((component): unknown => (cores[component] as ComponentCore<unknown, AnyEvent, unknown>).initial());
    this.sinceSnapshot = components.map(() => 0);
    this.positions = components.map(() => 0);
    this.stopped = components.map(() => false);
  }

  /**
   * Validates the event line `content` (without its sum), which the index found to be the event
   * `expectedSeq` of type `expectedType` at address `addressId`, after the event `lastSeq`; applies
   * it unless its component has stopped. Returns the ids it names, or the line's problem.
   */
  step(content: string, lastSeq: number, addressId: number, expectedSeq: number, expectedType: string): EntityRef[] | string {
    const decoded = decodeLine(content, lastSeq);
    if (E.isLeft(decoded)) return decoded.left.reason;
    if ('note' in decoded.right || 'end' in decoded.right) return 'another kind of line where the index found an event';
    const entry = decoded.right;
    if (entry.seq !== expectedSeq || entry.address !== this.addresses[addressId] || entry.event.type !== expectedType) {
      return `the line changed while the trace was open (seq ${entry.seq}); open it again`;
    }
    const named = entitiesOf(entry.event, entry.address);
    const position = this.positions[addressId] ?? 0;
    this.positions[addressId] = position + 1;
    if (this.stopped[addressId] === true) return named;
    const core = this.cores[entry.component] as ComponentCore<unknown, AnyEvent, unknown>;
    try {
      const effects = applyDirect(core, this.states[addressId], entry.event);
      // A submission names no id of its own: the owner mints them, and says so in an effect.
      for (const effect of effects) {
        if ((effect as AnyEvent | undefined)?.type === 'ids/minted') named.push(...entitiesOf(effect));
      }
      const since = (this.sinceSnapshot[addressId] ?? 0) + 1;
      this.sinceSnapshot[addressId] = since;
      if (since >= this.snapshotEvery) {
        this.sinceSnapshot[addressId] = 0;
        this.sink.snapshot(addressId, position, JSON.stringify(this.states[addressId]));
      }
    } catch (error) {
      const reason = `seq ${entry.seq} ${entry.event.type}: the ${entry.component} recipe threw: ${error instanceof Error ? error.message : String(error)}`;
      this.stopped[addressId] = true;
      this.states[addressId] = undefined;
      this.sink.divergence(addressId, { position, reason: reason.replace(/[\r\n]+/g, ' ') });
    }
    return named;
  }
}

/** An entity's entry while the index is built: its kinds and its events, ascending. */
export interface EntityEntry {
  readonly kinds: Set<EntityKind>;
  readonly events: number[];
}

/** Adds the ids event `index` names to `index`; an id named twice by one event counts once. */
export function indexEntities(entities: Map<string, EntityEntry>, named: readonly EntityRef[], index: number): void {
  let last = '';
  for (const entity of named) {
    if (entity.id === last) continue;
    last = entity.id;
    let known = entities.get(entity.id);
    if (known === undefined) {
      known = { kinds: new Set(), events: [] };
      entities.set(entity.id, known);
    }
    known.kinds.add(entity.kind);
    // The same id named twice by one event (in the event and in the ids it minted) counts once.
    if (known.events[known.events.length - 1] !== index) known.events.push(index);
  }
}

/** A growable column of int32s. */
class IntColumn {
  data = new Int32Array(1024);
  grow(size: number): void {
    if (size <= this.data.length) return;
    const bigger = new Int32Array(Math.max(size, this.data.length * 2));
    bigger.set(this.data);
    this.data = bigger;
  }
}

/** The kinds of entity, in the order of the bits `CompactEntities` keeps them as. */
export const entityKindBits: readonly EntityKind[] = ['task', 'actor', 'object', 'node', 'worker', 'owner', 'lease'];

const kindBit: Readonly<Record<string, number>> = Object.fromEntries(entityKindBits.map((kind, bit) => [kind, 1 << bit]));

/** Ids, their kinds and events, flattened: id i has `counts[i]` events in `events`, after those of the ids before it. */
export interface FlatEntities {
  readonly ids: string[];
  /** Per id, a bit per kind of `entityKindBits`. */
  readonly kinds: Uint8Array;
  readonly counts: Int32Array;
  readonly events: Int32Array;
}

/**
 * The entity index as `indexEntities` builds it, in typed arrays instead of a Set and an array per
 * id: a worker thread of the parallel pass holds a few hundred thousand ids, and this is several
 * times smaller and cheaper to build. Each id's events are a chain through `next`.
 */
export class CompactEntities {
  private readonly slots = new Map<string, number>();
  private readonly kinds = new IntColumn();
  private readonly heads = new IntColumn();
  private readonly tails = new IntColumn();
  private readonly counts = new IntColumn();
  private readonly events = new IntColumn();
  private readonly next = new IntColumn();
  private links = 0;

  /** As `indexEntities`: adds the ids event `index` names; an id named twice by one event counts once. */
  add(named: readonly EntityRef[], index: number): void {
    let last = '';
    for (const entity of named) {
      if (entity.id === last) continue;
      last = entity.id;
      let slot = this.slots.get(entity.id);
      if (slot === undefined) {
        slot = this.slots.size;
        this.slots.set(entity.id, slot);
        this.kinds.grow(slot + 1);
        this.heads.grow(slot + 1);
        this.tails.grow(slot + 1);
        this.counts.grow(slot + 1);
        this.kinds.data[slot] = 0;
        this.heads.data[slot] = -1;
        this.tails.data[slot] = -1;
        this.counts.data[slot] = 0;
      }
      this.kinds.data[slot] = (this.kinds.data[slot] ?? 0) | (kindBit[entity.kind] ?? 0);
      const tail = this.tails.data[slot] ?? -1;
      if (tail >= 0 && this.events.data[tail] === index) continue;
      const link = this.links++;
      this.events.grow(link + 1);
      this.next.grow(link + 1);
      this.events.data[link] = index;
      this.next.data[link] = -1;
      if (tail >= 0) this.next.data[tail] = link;
      else this.heads.data[slot] = link;
      this.tails.data[slot] = link;
      this.counts.data[slot] = (this.counts.data[slot] ?? 0) + 1;
    }
  }

  /** Every id with its kinds and events, flattened. */
  flatten(): FlatEntities {
    const ids = [...this.slots.keys()];
    const events = new Int32Array(this.links);
    let at = 0;
    for (let slot = 0; slot < ids.length; slot++) {
      for (let link = this.heads.data[slot] ?? -1; link >= 0; link = this.next.data[link] ?? -1) events[at++] = this.events.data[link] ?? 0;
    }
    return { ids, kinds: Uint8Array.from(this.kinds.data.subarray(0, ids.length)), counts: this.counts.data.slice(0, ids.length), events };
  }
}

/**
 * Adds flattened ids to `entities`, merging those it has already (their events stay ascending, each
 * once); entries of the same kinds share one read-only set.
 */
export function addFlatEntities(entities: Map<string, EntityEntry>, flat: FlatEntities): void {
  // Shared, so never added to: `indexEntities` only adds to entries it made (the index is cleared
  // before the pass runs in the calling thread).
  const kindSets = new Map<number, Set<EntityKind>>();
  let at = 0;
  flat.ids.forEach((id, position) => {
    const mask = flat.kinds[position] ?? 0;
    let kinds = kindSets.get(mask);
    if (kinds === undefined) {
      kinds = new Set(entityKindBits.filter((_kind, bit) => (mask & (1 << bit)) !== 0));
      kindSets.set(mask, kinds);
    }
    const count = flat.counts[position] ?? 0;
    // A plain loop: Array.from on a typed array goes through its iterator, several times slower.
    const events = new Array<number>(count);
    for (let offset = 0; offset < count; offset++) events[offset] = flat.events[at + offset] ?? 0;
    at += count;
    const known = entities.get(id);
    entities.set(id, known === undefined ? { kinds, events } : mergeEntity(known, { kinds, events }));
  });
}

/** `known` and `more` as one entry: their kinds, and their events ascending, each once. */
function mergeEntity(known: EntityEntry, more: EntityEntry): EntityEntry {
  // Kinds are not added in place: entries of the same kinds may share one set.
  const kinds = new Set([...known.kinds, ...more.kinds]);
  const merged: number[] = [];
  const a = known.events;
  const b = more.events;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i] ?? Infinity;
    const y = b[j] ?? Infinity;
    merged.push(x <= y ? x : y);
    if (x <= y) i++;
    if (y <= x) j++;
  }
  return { kinds, events: merged };
}
