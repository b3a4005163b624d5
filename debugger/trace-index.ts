/**
 * Opening a trace for the debugger without holding it whole. The file stays as bytes; loading
 * validates every line with core/trace's decoder, replays it once with the real reducers, and keeps
 * only an index (seq, time, address, type, parent and byte range per event, and the events of each
 * entity) plus a JSON snapshot of each component's state every K of its events, as rr keeps
 * checkpoints. A seek then decodes and replays at most K events of one component, so a
 * million-event trace fits in a few hundred MB.
 */
import type { Patch } from 'immer';
import * as E from 'fp-ts/lib/Either.js';
import type { AnyEvent, ComponentCore } from '../core/component.js';
import { gcsCore } from '../core/gcs/index.js';
import type { Address } from '../core/ids.js';
import { ownerCore } from '../core/owner/index.js';
import { rayletCore } from '../core/raylet/index.js';
import { applyDirect, applyUnderImmer } from '../core/step.js';
import { decodeHeader, decodeLine } from '../core/trace/decode.js';
import type { ComponentKind, TraceEntry, TraceHeader, TraceNote } from '../core/trace/format.js';
import type { ReplayCores } from '../core/trace/replay.js';
import { entitiesOf } from './entities.js';
import type { EntityKind } from './entities.js';

/** The reducers the debugger replays with unless told otherwise: the ones this tsray ships. */
export const defaultCores: ReplayCores = { gcs: gcsCore, raylet: rayletCore, owner: ownerCore };

/** How far loading has got, for the progress bar. */
export interface LoadProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly events: number;
}

/** How to load. */
export interface LoadOptions {
  /** A snapshot of a component's state every this many of its events (the most a seek replays). */
  readonly snapshotEvery?: number;
  /** Lines handled between two pauses (the progress bar redraws in a pause). */
  readonly chunkLines?: number;
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Awaited between chunks so the UI can draw; default: a zero timeout. */
  readonly pause?: () => Promise<void>;
  readonly cores?: ReplayCores;
}

/** A trace that cannot be opened; the message is the one line the user reads. */
export class TraceLoadError extends Error {
  override readonly name = 'TraceLoadError';
}

/** Where replay of one component stopped because its recipe threw. */
export interface ComponentDivergence {
  /** Position in that component's own event list. */
  readonly position: number;
  readonly reason: string;
}

/** A component's state after some event, rebuilt from the nearest snapshot. */
export interface StateAt {
  readonly state: unknown;
  /** The patches of the last applied event, when it was the event asked for. */
  readonly patches?: readonly Patch[];
  /** Events replayed to get here (at most the snapshot interval). */
  readonly replayed: number;
  /** Set when the component's replay could not reach the event. */
  readonly divergence?: string;
}

/** An entity's index entry: its kinds (an id may be a worker and an owner) and its events, ascending. */
export interface EntityEvents {
  readonly kinds: ReadonlySet<EntityKind>;
  readonly events: readonly number[];
}

/** A growable typed-array column. */
class Column<A extends Float64Array | Int32Array | Uint16Array> {
  private data: A;
  length = 0;
  constructor(private readonly make: (size: number) => A) {
    this.data = make(1024);
  }
  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }
  /** The filled part, trimmed. */
  done(): A {
    return this.data.slice(0, this.length) as A;
  }
}

const utf8 = new TextDecoder();

/** Bytes decoded to text at a time while loading. */
const chunkBytes = 1 << 20;

/** The events of a trace, indexed; event i is the i-th valid event line of the file. */
export class TraceIndex {
  /** How many events the cache of decoded entries keeps. */
  private static readonly cacheSize = 4096;
  private readonly cache = new Map<number, TraceEntry>();

  /** @internal Built by `loadTrace`. */
  constructor(
    readonly header: TraceHeader,
    readonly notes: readonly TraceNote[],
    private readonly bytes: Uint8Array,
    private readonly lineStart: Float64Array,
    private readonly lineEnd: Float64Array,
    /** Seq per event, strictly increasing. */
    readonly seqs: Float64Array,
    /** The recorded clock per event. */
    readonly times: Float64Array,
    /** Parent seq per event, 0 for none. */
    readonly parents: Float64Array,
    /** Index into `addresses` per event. */
    readonly addressIds: Uint16Array,
    /** Index into `types` per event. */
    readonly typeIds: Uint16Array,
    readonly addresses: readonly Address[],
    readonly components: readonly ComponentKind[],
    readonly types: readonly string[],
    /** Per address id, the indices of its events, ascending. */
    readonly byAddress: readonly Int32Array[],
    readonly entities: ReadonlyMap<string, EntityEvents>,
    private readonly snapshotPositions: readonly (readonly number[])[],
    private readonly snapshotStates: readonly (readonly string[])[],
    readonly divergences: ReadonlyMap<number, ComponentDivergence>,
    readonly snapshotEvery: number,
    private readonly cores: ReplayCores,
  ) {}

  /** The number of events. */
  get count(): number {
    return this.seqs.length;
  }

  /** Event `index`, decoded from its line (validated when the trace was loaded). */
  entry(index: number): TraceEntry {
    const cached = this.cache.get(index);
    if (cached !== undefined) return cached;
    const start = this.lineStart[index];
    const end = this.lineEnd[index];
    if (start === undefined || end === undefined) throw new RangeError(`event index ${index} is outside the trace (0..${this.count - 1})`);
    const entry = JSON.parse(utf8.decode(this.bytes.subarray(start, end))) as TraceEntry;
    if (this.cache.size >= TraceIndex.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(index, entry);
    return entry;
  }

  /** The index of the event with `seq`, or of the first event after it; `count` when there is none. */
  indexAtOrAfterSeq(seq: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.seqs[middle] ?? 0) < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The index of the event with exactly `seq`, or undefined. */
  indexOfSeq(seq: number): number | undefined {
    const index = this.indexAtOrAfterSeq(seq);
    return this.seqs[index] === seq ? index : undefined;
  }

  /** The address of event `index`. */
  addressOf(index: number): Address {
    return this.addresses[this.addressIds[index] ?? 0] ?? '';
  }

  /** The event type of event `index`. */
  typeOf(index: number): string {
    return this.types[this.typeIds[index] ?? 0] ?? '';
  }

  /** The notes about event `seq`. */
  notesAt(seq: number): TraceNote[] {
    return this.notes.filter((note) => note.seq === seq);
  }

  /**
   * The state of the component at `addressId` after its last event at or before event `index`,
   * replayed from the nearest snapshot. With `diff`, the patches of event `index` itself when it
   * is that component's.
   */
  stateAt(addressId: number, index: number, diff = false): StateAt {
    const events = this.byAddress[addressId];
    const component = this.components[addressId];
    if (events === undefined || component === undefined) throw new RangeError(`no component with address id ${addressId}`);
    const core = this.cores[component] as ComponentCore<unknown, AnyEvent, unknown>;
    const position = lastAtOrBefore(events, index);
    const divergence = this.divergences.get(addressId);
    const reachable = divergence === undefined ? position : Math.min(position, divergence.position - 1);
    const positions = this.snapshotPositions[addressId] ?? [];
    const snap = lastAtOrBefore(positions, reachable);
    let state: unknown = snap < 0 ? core.initial() : (JSON.parse(this.snapshotStates[addressId]?.[snap] ?? 'null') as unknown);
    let replayed = 0;
    let patches: readonly Patch[] | undefined;
    for (let at = snap < 0 ? 0 : (positions[snap] ?? 0) + 1; at <= reachable; at++) {
      const eventIndex = events[at] ?? 0;
      const event = this.entry(eventIndex).event;
      if (diff && eventIndex === index) {
        const step = applyUnderImmer(core, state, event);
        state = step.state;
        patches = step.patches;
      } else {
        applyDirect(core, state, event);
      }
      replayed++;
    }
    const stopped = divergence !== undefined && position >= divergence.position ? `replay of ${this.addresses[addressId]} stopped before this event: ${divergence.reason}` : undefined;
    return { state, replayed, ...(patches === undefined ? {} : { patches }), ...(stopped === undefined ? {} : { divergence: stopped }) };
  }
}

/** The position of the last value at or below `limit` in the ascending `values`, or -1. */
function lastAtOrBefore(values: ArrayLike<number>, limit: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((values[middle] ?? 0) <= limit) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/** Bad lines reported in the error, before the count of the rest. */
const shownProblems = 1;

/**
 * Loads a whole trace file. Fails with a `TraceLoadError` whose message is one line for a file that
 * is not a trace, has an unknown format version, or has any bad line (corrupt or truncated).
 */
export async function loadTrace(bytes: Uint8Array, options: LoadOptions = {}): Promise<TraceIndex> {
  const snapshotEvery = options.snapshotEvery ?? 1000;
  const chunkLines = options.chunkLines ?? 20_000;
  const pause = options.pause ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
  const cores = options.cores ?? defaultCores;

  const lineStart = new Column((size) => new Float64Array(size));
  const lineEnd = new Column((size) => new Float64Array(size));
  const seqs = new Column((size) => new Float64Array(size));
  const times = new Column((size) => new Float64Array(size));
  const parents = new Column((size) => new Float64Array(size));
  const addressIds = new Column((size) => new Uint16Array(size));
  const typeIds = new Column((size) => new Uint16Array(size));
  const addresses: Address[] = [];
  const components: ComponentKind[] = [];
  const addressIdOf = new Map<Address, number>();
  const types: string[] = [];
  const typeIdOf = new Map<string, number>();
  const byAddress: number[][] = [];
  const entities = new Map<string, { kinds: Set<EntityKind>; events: number[] }>();
  const states: unknown[] = [];
  const sinceSnapshot: number[] = [];
  const snapshotPositions: number[][] = [];
  const snapshotStates: string[][] = [];
  const divergences = new Map<number, ComponentDivergence>();
  const notes: TraceNote[] = [];
  const problems: string[] = [];
  let problemCount = 0;
  let header: TraceHeader | undefined;
  let lastSeq = 0;
  let lineNumber = 0;
  let offset = 0;
  let linesInChunk = 0;

  // Lines are decoded a chunk at a time (one decoder call per chunk, not per line); the byte
  // offsets come from the newlines in the bytes, which UTF-8 never uses inside a character.
  let chunkLinesText: string[] = [];
  let chunkLine = 0;
  while (offset < bytes.length) {
    if (chunkLine >= chunkLinesText.length) {
      const chunkEnd = Math.min(bytes.length, offset + chunkBytes);
      const lastNewline = chunkEnd === bytes.length ? -1 : bytes.lastIndexOf(10, chunkEnd - 1);
      const cut = lastNewline >= offset ? lastNewline + 1 : chunkEnd === bytes.length ? chunkEnd : bytes.indexOf(10, chunkEnd) + 1 || bytes.length;
      chunkLinesText = utf8.decode(bytes.subarray(offset, cut)).split('\n');
      if (bytes[cut - 1] === 10) chunkLinesText.pop();
      chunkLine = 0;
    }
    const newline = bytes.indexOf(10, offset);
    const end = newline < 0 ? bytes.length : newline;
    lineNumber++;
    const start = offset;
    offset = end + 1;
    const line = chunkLinesText[chunkLine++] ?? '';
    if (line.trim() === '') continue;
    if (header === undefined) {
      const decoded = decodeHeader(line);
      if (E.isLeft(decoded)) throw new TraceLoadError(`line ${lineNumber}: ${decoded.left}`);
      header = decoded.right;
      continue;
    }
    const decoded = decodeLine(line, lastSeq);
    if (E.isLeft(decoded)) {
      problemCount++;
      if (problems.length < shownProblems) problems.push(`line ${lineNumber}: ${decoded.left.reason}`);
      continue;
    }
    const value = decoded.right;
    if ('note' in value) {
      notes.push(value);
      continue;
    }
    lastSeq = value.seq;
    const index = seqs.length;
    let addressId = addressIdOf.get(value.address);
    if (addressId === undefined) {
      addressId = addresses.length;
      addressIdOf.set(value.address, addressId);
      addresses.push(value.address);
      components.push(value.component);
      byAddress.push([]);
      states.push(cores[value.component].initial());
      sinceSnapshot.push(0);
      snapshotPositions.push([]);
      snapshotStates.push([]);
    }
    let typeId = typeIdOf.get(value.event.type);
    if (typeId === undefined) {
      typeId = types.length;
      typeIdOf.set(value.event.type, typeId);
      types.push(value.event.type);
    }
    lineStart.push(start);
    lineEnd.push(end);
    seqs.push(value.seq);
    times.push(value.atMs);
    parents.push(value.parent ?? 0);
    addressIds.push(addressId);
    typeIds.push(typeId);
    const own = byAddress[addressId] ?? [];
    own.push(index);
    const named = entitiesOf(value.event, value.address);

    if (!divergences.has(addressId)) {
      const core = cores[value.component] as ComponentCore<unknown, AnyEvent, unknown>;
      try {
        const effects = applyDirect(core, states[addressId], value.event);
        // A submission names no id of its own: the owner mints them, and says so in an effect.
        for (const effect of effects) {
          if ((effect as AnyEvent | undefined)?.type === 'ids/minted') named.push(...entitiesOf(effect));
        }
        sinceSnapshot[addressId] = (sinceSnapshot[addressId] ?? 0) + 1;
        if ((sinceSnapshot[addressId] ?? 0) >= snapshotEvery) {
          sinceSnapshot[addressId] = 0;
          snapshotPositions[addressId]?.push(own.length - 1);
          snapshotStates[addressId]?.push(JSON.stringify(states[addressId]));
        }
      } catch (error) {
        const reason = `seq ${value.seq} ${value.event.type}: the ${value.component} recipe threw: ${error instanceof Error ? error.message : String(error)}`;
        divergences.set(addressId, { position: own.length - 1, reason: reason.replace(/[\r\n]+/g, ' ') });
        states[addressId] = undefined;
      }
    }

    const counted = new Set<string>();
    for (const entity of named) {
      if (counted.has(entity.id)) continue;
      counted.add(entity.id);
      let known = entities.get(entity.id);
      if (known === undefined) {
        known = { kinds: new Set(), events: [] };
        entities.set(entity.id, known);
      }
      known.kinds.add(entity.kind);
      known.events.push(index);
    }

    if (++linesInChunk >= chunkLines) {
      linesInChunk = 0;
      options.onProgress?.({ bytesDone: offset, bytesTotal: bytes.length, events: seqs.length });
      await pause();
    }
  }
  if (header === undefined) throw new TraceLoadError('the trace is empty; pass a trace written by `tsray trace collect` or `tsray sim`');
  if (problemCount > 0) {
    const more = problemCount > problems.length ? ` (and ${problemCount - problems.length} more bad lines)` : '';
    throw new TraceLoadError(`${problems.join('; ')}${more}`);
  }
  options.onProgress?.({ bytesDone: bytes.length, bytesTotal: bytes.length, events: seqs.length });
  return new TraceIndex(
    header,
    notes,
    bytes,
    lineStart.done(),
    lineEnd.done(),
    seqs.done(),
    times.done(),
    parents.done(),
    addressIds.done(),
    typeIds.done(),
    addresses,
    components,
    types,
    byAddress.map((events) => Int32Array.from(events)),
    entities,
    snapshotPositions,
    snapshotStates,
    divergences,
    snapshotEvery,
    cores,
  );
}
