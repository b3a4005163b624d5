/**
 * The ids a trace's events name, and each id's events. The replay pass records, per event, the ids
 * it names as (event, id) pairs in typed arrays; an id's list of events is gathered from the pairs
 * only when something asks for it (a filter, a timeline, a search), since a million-event trace names
 * some 400,000 ids and almost none of them is ever looked at. Building a list per id up front was
 * most of the cost of indexing ids, in the workers and again when the main thread merged theirs.
 */
import { visitEntities } from './entities.js';
import type { EntityKind, EntityRef } from './entities.js';

/** An entity's index entry: its kinds (an id may be a worker and an owner) and its events, ascending. */
export interface EntityEvents {
  readonly kinds: ReadonlySet<EntityKind>;
  readonly events: readonly number[];
}

/** The kinds of entity, in the order of the bits a kind mask keeps them as. */
export const entityKindBits: readonly EntityKind[] = ['task', 'actor', 'object', 'node', 'worker', 'owner', 'lease'];

const kindBit: Readonly<Record<string, number>> = Object.fromEntries(entityKindBits.map((kind, bit) => [kind, 1 << bit]));

/**
 * What a recorder gathered since it was last asked: the ids it met for the first time (their local
 * slots follow on from those of the batches before), per (event, id) pair the event and the id's
 * local slot, and the ids whose kinds grew, with all their kinds now.
 */
export interface EntityBatch {
  readonly ids: string[];
  readonly events: Int32Array;
  readonly slots: Int32Array;
  readonly kindSlots: Int32Array;
  readonly kindMasks: Uint8Array;
}

/** A growable typed-array column. */
class Column<A extends Int32Array | Uint8Array> {
  data: A;
  length = 0;
  constructor(private readonly make: (size: number) => A) {
    this.data = make(1024);
  }
  /** Makes room for `size` values. */
  grow(size: number): void {
    if (size <= this.data.length) return;
    const bigger = this.make(Math.max(size, this.data.length * 2));
    bigger.set(this.data);
    this.data = bigger;
  }
  push(value: number): void {
    this.grow(this.length + 1);
    this.data[this.length++] = value;
  }
  /** The filled part as a new array, and the column empty again. */
  take(): A {
    const taken = this.data.slice(0, this.length) as A;
    this.length = 0;
    return taken;
  }
}

/**
 * Records the ids events name, where the replay runs (a worker thread, or the pass in one thread),
 * as pairs to hand to an `EntityIndex` in batches.
 */
export class EntityRecorder {
  private readonly slotOf = new Map<string, number>();
  private newIds: string[] = [];
  /** Per local slot: the event of the id's last pair, its kinds, and the batch its kinds last grew in. */
  private readonly lastEvent = new Column((size) => new Int32Array(size));
  private readonly masks = new Column((size) => new Uint8Array(size));
  private readonly grewIn = new Column((size) => new Int32Array(size));
  private readonly events = new Column((size) => new Int32Array(size));
  private readonly slots = new Column((size) => new Int32Array(size));
  private readonly grown = new Column((size) => new Int32Array(size));
  private batch = 0;

  /** Per local slot: the last part (see `addEvent`) that named the id. */
  private readonly partOf = new Column((size) => new Int32Array(size));
  private part = 0;
  /** The event being recorded by `addEvent` and `addMore`, and the id they recorded last. */
  private index = -1;
  private lastId = '';
  private readonly visit = (kind: EntityKind, id: string): void => this.mention(kind, id);
  /** The first ids the current event met, and their slots. */
  private readonly metIds: string[] = Array.from({ length: 8 }, () => '');
  private readonly metSlots = new Int32Array(8);
  private metCount = 0;

  /**
   * Adds the ids event `index` names. An id named twice by one event counts once, with the kinds of
   * both mentions (and a repeat right after itself adds nothing), as the index always counted them.
   */
  add(named: readonly EntityRef[], index: number): void {
    let last = '';
    for (const entity of named) {
      if (entity.id === last) continue;
      last = entity.id;
      this.record(this.slotFor(entity.id), kindBit[entity.kind] ?? 0, index);
    }
  }

  /**
   * Adds the ids event `index` names: those of `event`'s fields, then `own` (the entity of the
   * event's component), exactly as `add(entitiesOf(event, address), index)` does, without a list
   * of them (the replay pass records a million events).
   */
  addEvent(event: unknown, own: EntityRef | undefined, index: number): void {
    this.index = index;
    this.lastId = '';
    this.metCount = 0;
    this.part++;
    visitEntities(event, this.visit);
    if (own !== undefined) this.mention(own.kind, own.id);
  }

  /** Adds to the event of the last `addEvent` the ids `more` names (an effect), as `add` does for `entitiesOf(more)` after the event's own. */
  addMore(more: unknown): void {
    this.part++;
    visitEntities(more, this.visit);
  }

  /**
   * One id field met by `addEvent` or `addMore`. Within one part the first mention of an id counts
   * alone (as in `entitiesOf`), and one right after the same id in the part before adds nothing (as
   * in `add`).
   */
  private mention(kind: EntityKind, id: string): void {
    if (id === '') return;
    // An event names a few ids, some twice (a spec's task id is met as the spec's and as a field of
    // it): those it met already are found among them, not in the map of every id.
    let slot = -1;
    for (let at = 0; at < this.metCount; at++) {
      if (this.metIds[at] === id) {
        slot = this.metSlots[at] ?? -1;
        break;
      }
    }
    if (slot < 0) {
      slot = this.slotFor(id);
      if (this.metCount < this.metSlots.length) {
        this.metIds[this.metCount] = id;
        this.metSlots[this.metCount++] = slot;
      }
    }
    if (this.partOf.data[slot] === this.part) return;
    this.partOf.data[slot] = this.part;
    if (id === this.lastId) return;
    this.lastId = id;
    this.record(slot, kindBit[kind] ?? 0, this.index);
  }

  /** The local slot of `id`, a new one if it is new. */
  private slotFor(id: string): number {
    let slot = this.slotOf.get(id);
    if (slot === undefined) {
      slot = this.slotOf.size;
      this.slotOf.set(id, slot);
      this.newIds.push(id);
      this.lastEvent.push(-1);
      this.masks.push(0);
      this.grewIn.push(-1);
      this.partOf.push(-1);
    }
    return slot;
  }

  /** Adds the kind `bit` to the id at `slot`, and the pair (event `index`, slot) unless it is there. */
  private record(slot: number, bit: number, index: number): void {
    const mask = this.masks.data[slot] ?? 0;
    const grown = mask | bit;
    if (grown !== mask) {
      this.masks.data[slot] = grown;
      if (this.grewIn.data[slot] !== this.batch) {
        this.grewIn.data[slot] = this.batch;
        this.grown.push(slot);
      }
    }
    if (this.lastEvent.data[slot] === index) return;
    this.lastEvent.data[slot] = index;
    this.events.push(index);
    this.slots.push(slot);
  }

  /** Whether anything was recorded since the last batch. */
  get pending(): boolean {
    return this.events.length > 0 || this.newIds.length > 0 || this.grown.length > 0;
  }

  /** What was recorded since the last batch; its arrays are the caller's (to transfer to another thread). */
  take(): EntityBatch {
    const ids = this.newIds;
    this.newIds = [];
    this.batch++;
    const kindSlots = this.grown.take();
    const kindMasks = new Uint8Array(kindSlots.length);
    kindSlots.forEach((slot, at) => (kindMasks[at] = this.masks.data[slot] ?? 0));
    return { ids, events: this.events.take(), slots: this.slots.take(), kindSlots, kindMasks };
  }
}

/** Where batches come from: one recorder, its pairs (in its own slots) and how its slots map to the index's. */
export interface EntitySource {
  readonly globalOf: Column<Int32Array>;
  /** Per slot of the index, this source's slot for the same id, or -1. */
  readonly localOf: Column<Int32Array>;
  readonly events: Int32Array[];
  readonly slots: Int32Array[];
}

/** Events of one id gathered lately, kept while no pair came since. */
interface CachedEvents {
  readonly pairs: number;
  readonly events: readonly number[];
}

/**
 * Every id the replayed events name, with its kinds; an id's events are gathered from the pairs on
 * demand (and a few recent answers kept). Pairs stay in the slots of the recorder that made them, so
 * a batch costs the main thread only its new ids. Reads as a `ReadonlyMap` from id to `EntityEvents`.
 */
export class EntityIndex implements ReadonlyMap<string, EntityEvents> {
  /** Answers kept per id, at most. */
  private static readonly cacheSize = 64;
  private readonly slotOf = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly masks = new Column((size) => new Uint8Array(size));
  private readonly sources: EntitySource[] = [];
  private pairs = 0;
  private readonly cache = new Map<number, CachedEvents>();
  private readonly kindSets = new Map<number, ReadonlySet<EntityKind>>();
  /** Batches whose new ids are not yet mapped to slots of the index. */
  private readonly unsettled: { readonly batch: EntityBatch; readonly from: EntitySource }[] = [];

  /** A source for one recorder's batches. */
  source(): EntitySource {
    const source: EntitySource = { globalOf: new Column((size) => new Int32Array(size)), localOf: new Column((size) => new Int32Array(size)), events: [], slots: [] };
    source.localOf.grow(this.ids.length);
    source.localOf.data.fill(-1);
    source.localOf.length = this.ids.length;
    this.sources.push(source);
    return source;
  }

  /**
   * Adds a batch of the recorder behind `from`. Its pairs are kept as they are; its new ids are
   * mapped to the index's slots only when something asks (`settle`): while the workers run, most of
   * the main thread's share of indexing ids was this mapping, which many sessions never need.
   */
  addBatch(batch: EntityBatch, from: EntitySource): void {
    if (batch.ids.length > 0 || batch.kindSlots.length > 0) this.unsettled.push({ batch, from });
    if (batch.slots.length === 0) return;
    from.events.push(batch.events);
    from.slots.push(batch.slots);
    this.pairs += batch.slots.length;
  }

  /** Maps the new ids and kinds of the batches added since the last time to the index's slots, in order. */
  private settle(): void {
    for (const { batch, from } of this.unsettled) {
      for (const id of batch.ids) {
        let slot = this.slotOf.get(id);
        if (slot === undefined) {
          slot = this.ids.length;
          this.slotOf.set(id, slot);
          this.ids.push(id);
          this.masks.push(0);
          for (const source of this.sources) source.localOf.push(-1);
        }
        from.localOf.data[slot] = from.globalOf.length;
        from.globalOf.push(slot);
      }
      batch.kindSlots.forEach((local, at) => {
        const slot = from.globalOf.data[local] ?? 0;
        this.masks.data[slot] = (this.masks.data[slot] ?? 0) | (batch.kindMasks[at] ?? 0);
      });
    }
    this.unsettled.length = 0;
  }

  /** Forgets everything (a pass that starts again, with new sources). */
  clear(): void {
    this.slotOf.clear();
    this.ids.length = 0;
    this.masks.length = 0;
    this.sources.length = 0;
    this.unsettled.length = 0;
    this.pairs = 0;
    this.cache.clear();
  }

  get size(): number {
    this.settle();
    return this.ids.length;
  }

  has(id: string): boolean {
    this.settle();
    return this.slotOf.has(id);
  }

  get(id: string): EntityEvents | undefined {
    this.settle();
    const slot = this.slotOf.get(id);
    return slot === undefined ? undefined : { kinds: this.kindsOf(slot), events: this.eventsOf(slot) };
  }

  keys(): MapIterator<string> {
    this.settle();
    return this.ids.values();
  }

  *entries(): MapIterator<[string, EntityEvents]> {
    this.settle();
    const all = this.allEvents();
    for (let slot = 0; slot < this.ids.length; slot++) yield [this.ids[slot] ?? '', { kinds: this.kindsOf(slot), events: all[slot] ?? [] }];
  }

  *values(): MapIterator<EntityEvents> {
    for (const [, entry] of this.entries()) yield entry;
  }

  [Symbol.iterator](): MapIterator<[string, EntityEvents]> {
    return this.entries();
  }

  forEach(callback: (value: EntityEvents, key: string, map: ReadonlyMap<string, EntityEvents>) => void, thisArg?: unknown): void {
    for (const [id, entry] of this.entries()) callback.call(thisArg, entry, id, this);
  }

  /**
   * Sets `mask[event]` to 1 for every event that names an id `matches` accepts: one walk of the
   * pairs, however many ids match.
   */
  markEvents(matches: (id: string) => boolean, mask: Uint8Array): void {
    this.settle();
    const chosen = this.ids.map((id) => matches(id));
    if (!chosen.includes(true)) return;
    for (const source of this.sources) {
      const local = new Uint8Array(source.globalOf.length);
      for (let slot = 0; slot < local.length; slot++) local[slot] = chosen[source.globalOf.data[slot] ?? 0] === true ? 1 : 0;
      source.slots.forEach((slots, chunk) => {
        const events = source.events[chunk];
        if (events === undefined) return;
        for (let pair = 0; pair < slots.length; pair++) if (local[slots[pair] ?? 0] === 1) mask[events[pair] ?? 0] = 1;
      });
    }
  }

  private kindsOf(slot: number): ReadonlySet<EntityKind> {
    const mask = this.masks.data[slot] ?? 0;
    let kinds = this.kindSets.get(mask);
    if (kinds === undefined) {
      // Shared between the ids of the same kinds, and never added to.
      kinds = new Set(entityKindBits.filter((_kind, bit) => (mask & (1 << bit)) !== 0));
      this.kindSets.set(mask, kinds);
    }
    return kinds;
  }

  /** The events that name the id at `slot`, ascending. */
  private eventsOf(slot: number): readonly number[] {
    const cached = this.cache.get(slot);
    if (cached !== undefined && cached.pairs === this.pairs) return cached.events;
    const events: number[] = [];
    for (const source of this.sources) {
      const local = source.localOf.data[slot] ?? -1;
      if (local < 0) continue;
      source.slots.forEach((slots, chunk) => {
        const chunkEvents = source.events[chunk];
        if (chunkEvents === undefined) return;
        for (let pair = 0; pair < slots.length; pair++) if (slots[pair] === local) events.push(chunkEvents[pair] ?? 0);
      });
    }
    // Each source's events ascend; several sources interleave, but each event is in one source only.
    if (this.sources.length > 1) events.sort((a, b) => a - b);
    if (this.cache.size >= EntityIndex.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.delete(slot);
    this.cache.set(slot, { pairs: this.pairs, events });
    return events;
  }

  /** Every id's events at once (by slot), in one pass over the pairs. */
  private allEvents(): number[][] {
    const lists: number[][] = this.ids.map(() => []);
    for (const source of this.sources) {
      source.slots.forEach((slots, chunk) => {
        const events = source.events[chunk];
        if (events === undefined) return;
        for (let pair = 0; pair < slots.length; pair++) lists[source.globalOf.data[slots[pair] ?? 0] ?? 0]?.push(events[pair] ?? 0);
      });
    }
    if (this.sources.length > 1) for (const list of lists) list.sort((a, b) => a - b);
    return lists;
  }
}
