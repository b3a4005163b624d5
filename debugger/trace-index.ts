/**
 * Opening a trace for the debugger without holding it whole. The file stays where it is (a
 * `TraceSource` reads byte ranges), and opening takes two passes:
 *
 * 1. the index pass, before the first frame: each event line's seq, time, address, type, parent and
 *    byte range, read from the line's fixed prefix (a line of another shape is fully decoded), and
 *    where each snapshot line (format version 3) holds its state;
 * 2. the replay pass, in the background while the user browses: every line's checksum is checked,
 *    every event line is validated with core/trace's decoder, and the ids each event names are
 *    indexed. A trace of version 3 names the ids the owner minted and holds each component's state
 *    every K of its events, as its writer replayed them with the reducers this tsray ships, so the
 *    pass runs no reducer: a seek starts from the trace's snapshot. For any other trace (version 2,
 *    other reducers, or a caller's own cores or snapshot interval) the pass also applies every event
 *    with the real reducers and keeps a JSON snapshot every K events of a component, as rr keeps
 *    checkpoints; a big state less often, so that snapshots hold at most B bytes per event.
 *
 * A seek then replays at most K events of one component (L / B after a snapshot of L bytes), and a
 * step from a state it gave lately goes on from that state under immer. Components replay
 * independently, so a `ParallelReplayer` (node/ gives one on worker threads) may run the pass with
 * the same step (replay-step.ts); without one, or when it cannot run, it runs here.
 *
 * So a million-event trace opens in seconds and holds an index and snapshots, not its events.
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
import { componentOfAddress, splitSum, traceChainStart, traceSumTailLength } from '../core/trace/format.js';
import type { ComponentKind, TraceEntry, TraceHeader, TraceNote } from '../core/trace/format.js';
import type { ReplayCores } from '../core/trace/replay.js';
import { mutationNamed } from '../core/sim/mutations.js';
import { EntityIndex, EntityRecorder } from './entity-index.js';
import type { EntityBatch, EntitySource } from './entity-index.js';
import { ComponentsReplay, chainLink, defaultSnapshotBytesPerEvent, defaultSnapshotEvery } from './replay-step.js';
import { chunksOf, linesOf, linesOfChunk } from './trace-lines.js';
import type { Line } from './trace-lines.js';
import type { ComponentDivergence, ReplaySink } from './replay-step.js';

/** The reducers the debugger replays with unless told otherwise: the ones this tsray ships. */
export const defaultCores: ReplayCores = { gcs: gcsCore, raylet: rayletCore, owner: ownerCore };

/** Where a trace's bytes come from: the whole file in memory, or reads of a file on disk. */
export interface TraceSource {
  readonly sizeBytes: number;
  /** The bytes at `offset`, `length` of them (fewer only at the end of the source). */
  read(offset: number, length: number): Uint8Array;
  /**
   * `bytes` (from `read`) as text when every one is ASCII, else undefined: a faster check than
   * decoding them, where the platform has one. Without it the passes decode and compare lengths.
   */
  asciiText?(bytes: Uint8Array): string | undefined;
}

/** A source over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): TraceSource {
  return { sizeBytes: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** How far a pass has got, for the progress bar. */
export interface LoadProgress {
  readonly phase: 'index' | 'replay';
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly events: number;
}

/** How to load. */
export interface LoadOptions {
  /** A snapshot of a component's state every this many of its events (the most a seek replays, in a small state). */
  readonly snapshotEvery?: number;
  /** Snapshot bytes kept per event of a component, at most: a big state is snapshotted less often (see `snapshotInterval`). */
  readonly snapshotBytesPerEvent?: number;
  /** Lines handled between two pauses (the UI redraws in a pause). */
  readonly chunkLines?: number;
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Awaited between chunks so the UI can draw; default: a zero timeout. */
  readonly pause?: () => Promise<void>;
  readonly cores?: ReplayCores;
  /** Runs the replay pass elsewhere (worker threads); unused with `cores`, which only this thread has. */
  readonly parallel?: ParallelReplayer;
}

/** A trace that cannot be opened; the message is the one line the user reads. */
export class TraceLoadError extends Error {
  override readonly name = 'TraceLoadError';
}

export type { ComponentDivergence } from './replay-step.js';

/** What a replay pass run elsewhere needs: the index, and which reducers to load. */
export interface ParallelReplayJob {
  /** The broken recipe the trace was recorded under, which the replay applies too. */
  readonly mutation?: string;
  readonly sizeBytes: number;
  readonly addresses: readonly Address[];
  readonly components: readonly ComponentKind[];
  readonly types: readonly string[];
  readonly snapshotEvery: number;
  readonly snapshotBytesPerEvent: number;
  /** False when the trace's own snapshots and minted ids are used (format version 3): the pass then runs no reducer. */
  readonly applies: boolean;
  /** Per event: its line's byte range and number, seq, address id and type id, as the index pass found them. */
  readonly lineStart: Float64Array;
  readonly lineEnd: Float64Array;
  readonly lineNumbers: Float64Array;
  readonly seqs: Float64Array;
  readonly addressIds: Uint16Array;
  readonly typeIds: Uint16Array;
}

/** The first bad line a replay pass found: its 1-based number in the file and what is wrong. */
export interface ReplayProblem {
  readonly lineNumber: number;
  readonly reason: string;
}

/** What a replay pass run elsewhere reports as it goes, besides snapshots and divergences. */
export interface ParallelReplaySink extends ReplaySink {
  /** Every event before `index` has been replayed (its snapshots and divergences reported). */
  reached(index: number, bytesDone: number): void;
  /** Ids the events of worker `worker` name, as its recorder batched them; all are in before the pass ends. */
  entities(batch: EntityBatch, worker: number): void;
}

/**
 * The replay pass run outside this thread (node/trace/parallel-replay.ts runs it in worker threads),
 * with the same checks: every line's checksum, every event line decoded and validated before it is
 * applied. Resolves to the first bad line, if any; rejects only when it could not run, and then the
 * pass runs in this thread.
 */
export interface ParallelReplayer {
  /**
   * Called as the index pass starts, with the trace's size: starts what needs no index (the workers,
   * and their checks of the checksum chain), so it runs while the index is built.
   */
  begin?(sizeBytes: number): void;
  replay(job: ParallelReplayJob, sink: ParallelReplaySink): Promise<ReplayProblem | undefined>;
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

export type { EntityEvents, EntityIndex } from './entity-index.js';

/** A growable typed-array column. */
class Column<A extends Float64Array | Int32Array | Uint16Array> {
  data: A;
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

/**
 * The fixed prefix `encodeTraceLine` writes for an event line, read without parsing the JSON; the
 * replay pass validates the whole line later.
 */
const eventPrefix = /\{"seq":(\d+),"address":"([^"\\\n]+)","component":"(gcs|raylet|owner)","atMs":(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?),(?:"parent":(\d+),)?(?:"minted":\{[^{}\n]*\},)?"event":\{"type":"([^"\\\n]+)"/y;

/** The fixed prefix of a snapshot line (format version 3), up to its state. */
const snapshotPrefix = /\{"snapshot":"([^"\\\n]+)","position":(0|[1-9]\d*),"state":\{/y;

const sumTail = traceSumTailLength;

/** Bad lines reported in the error, before the count of the rest. */
const shownProblems = 1;

/** Collects bad lines: the first in full, then a count. */
class Problems {
  private readonly shown: string[] = [];
  private count = 0;
  add(lineNumber: number, reason: string): void {
    this.count++;
    if (this.shown.length < shownProblems) this.shown.push(`line ${lineNumber}: ${reason}`);
  }
  /** Throws the one-line summary when there were any. */
  check(): void {
    if (this.count === 0) return;
    const more = this.count > this.shown.length ? ` (and ${this.count - this.shown.length} more bad lines)` : '';
    throw new TraceLoadError(`${this.shown.join('; ')}${more}`);
  }
}

const defaultPause = (): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The events of a trace, indexed; event i is the i-th event line of the file. */
export class TraceIndex {
  /** How many events the cache of decoded entries keeps. */
  private static readonly cacheSize = 4096;
  private readonly cache = new Map<number, TraceEntry>();
  private readonly entityIndex = new EntityIndex();
  private readonly snapshotPositions: number[][];
  /** Per snapshot, its state's JSON: kept here (the replay pass took it), or where the file holds it (its writer took it). */
  private readonly snapshotStates: (string | FileSpan)[][];
  private readonly divergenceOf = new Map<number, ComponentDivergence>();
  private replayedEvents = 0;
  private replayFailure: string | undefined;
  private readonly listeners = new Set<() => void>();
  /** Per address id, the indices of its events, ascending. */
  readonly byAddress: readonly Int32Array[];

  /** @internal Built by `openTrace`. */
  constructor(
    readonly header: TraceHeader,
    readonly notes: readonly TraceNote[],
    private readonly source: TraceSource,
    private readonly lineStart: Float64Array,
    private readonly lineEnd: Float64Array,
    /** The 1-based line number per event, for error messages. */
    private readonly lineNumbers: Float64Array,
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
    /** A snapshot of a component's state every this many of its events, or fewer for a big state. */
    readonly snapshotEvery: number,
    /** Snapshot bytes per event of a component, at most. */
    readonly snapshotBytesPerEvent: number,
    private readonly cores: ReplayCores,
    /** The broken recipe a worker thread would load, or false when the cores are the caller's own. */
    private readonly replayMutation: string | undefined | false,
    /** The snapshots the trace holds, per address id, when they are used (see `TraceSnapshots`): the replay pass then runs no reducer. */
    private readonly fileSnapshots: TraceSnapshots | undefined,
  ) {
    // Counted first, then filled: a million pushes onto growing arrays, then copies of them into
    // typed arrays, cost the first frame some 50 ms on a million-event trace.
    const counts = new Int32Array(addresses.length);
    for (let index = 0; index < addressIds.length; index++) {
      const addressId = addressIds[index] ?? 0;
      counts[addressId] = (counts[addressId] ?? 0) + 1;
    }
    const lists = Array.from(counts, (count) => new Int32Array(count));
    const filled = new Int32Array(addresses.length);
    for (let index = 0; index < addressIds.length; index++) {
      const addressId = addressIds[index] ?? 0;
      const at = filled[addressId] ?? 0;
      filled[addressId] = at + 1;
      const list = lists[addressId];
      if (list !== undefined) list[at] = index;
    }
    this.byAddress = lists;
    this.snapshotPositions = addresses.map((_address, addressId) => [...(fileSnapshots?.positions[addressId] ?? [])]);
    this.snapshotStates = addresses.map((_address, addressId) => [...(fileSnapshots?.spans[addressId] ?? [])]);
  }

  /** Whether the states come from the trace's own snapshots (format version 3, replayed with the reducers that wrote it). */
  get usesTraceSnapshots(): boolean {
    return this.fileSnapshots !== undefined;
  }

  /** The JSON of a kept snapshot. */
  private snapshotText(kept: string | FileSpan): string {
    if (typeof kept === 'string') return kept;
    return utf8.decode(this.source.read(kept.start, kept.end - kept.start));
  }

  /** The number of events. */
  get count(): number {
    return this.seqs.length;
  }

  /** Events validated and replayed so far by the replay pass; states and ids are known up to here. */
  get replayedCount(): number {
    return this.replayedEvents;
  }

  /** Whether the replay pass has finished: every id is indexed and every state reachable. */
  get complete(): boolean {
    return this.replayedEvents === this.count && this.replayFailure === undefined;
  }

  /** The one-line reason the replay pass stopped, if it found a bad line. */
  get failure(): string | undefined {
    return this.replayFailure;
  }

  /** The ids events name (complete once `complete`), each with its events in order. */
  get entities(): EntityIndex {
    return this.entityIndex;
  }

  /** Where each component's replay stopped because its recipe threw. */
  get divergences(): ReadonlyMap<number, ComponentDivergence> {
    return this.divergenceOf;
  }

  /** Calls `listener` as the replay pass advances or fails; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Event `index`, decoded from its line. */
  entry(index: number): TraceEntry {
    const cached = this.cache.get(index);
    if (cached !== undefined) return cached;
    const start = this.lineStart[index];
    const end = this.lineEnd[index];
    if (start === undefined || end === undefined) throw new RangeError(`event index ${index} is outside the trace (0..${this.count - 1})`);
    const entry = entryOfLine(this.source.read(start, end - start));
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

  /** The snapshots the replay pass kept of the component at `addressId` so far: after which of its events (by position), and their length. */
  snapshotsOf(addressId: number): { readonly position: number; readonly length: number }[] {
    const states = this.snapshotStates[addressId] ?? [];
    return (this.snapshotPositions[addressId] ?? []).map((position, at) => ({ position, length: spanLength(states[at]) }));
  }

  /** The notes about event `seq`. */
  notesAt(seq: number): TraceNote[] {
    return this.notes.filter((note) => note.seq === seq);
  }

  /**
   * The state of the component at `addressId` after its last event at or before event `index`,
   * replayed from the nearest snapshot, or stepped under immer from a state it gave lately when that
   * is cheaper (stepping through a big state would otherwise parse its snapshot at every key);
   * undefined while the replay pass has not reached `index`. Treat the state as read-only: it may be
   * kept, and given again.
   * With `diff`, the patches of event `index` itself when it is that component's.
   */
  stateAt(addressId: number, index: number, diff = false): StateAt | undefined {
    if (index >= this.replayedEvents) return undefined;
    const events = this.byAddress[addressId];
    const component = this.components[addressId];
    if (events === undefined || component === undefined) throw new RangeError(`no component with address id ${addressId}`);
    const core = this.cores[component] as ComponentCore<unknown, AnyEvent, unknown>;
    const position = lastAtOrBefore(events, index);
    const divergence = this.divergenceOf.get(addressId);
    const reachable = divergence === undefined ? position : Math.min(position, divergence.position - 1);
    const stopped = divergence !== undefined && position >= divergence.position ? `replay of ${this.addresses[addressId]} stopped before this event: ${divergence.reason}` : undefined;
    const wantsPatches = diff && reachable >= 0 && events[reachable] === index;
    const answer = (state: unknown, replayed: number, patches: readonly Patch[] | undefined): StateAt => ({
      state,
      replayed,
      ...(wantsPatches && patches !== undefined ? { patches } : {}),
      ...(stopped === undefined ? {} : { divergence: stopped }),
    });
    const positions = this.snapshotPositions[addressId] ?? [];
    const snap = lastAtOrBefore(positions, reachable);
    const snapPosition = snap < 0 ? -1 : (positions[snap] ?? -1);
    const snapKept = snap < 0 ? undefined : this.snapshotStates[addressId]?.[snap];
    const recent = this.recentBefore(addressId, reachable, wantsPatches);
    let state: unknown;
    let from: number;
    let stepping = false;
    if (recent !== undefined && recentIsCheaper(reachable - recent.position, reachable - snapPosition, spanLength(snapKept))) {
      if (recent.position === reachable) return answer(recent.state, 0, recent.patches);
      state = recent.state;
      from = recent.position + 1;
      stepping = true;
    } else {
      state = snapKept === undefined ? core.initial() : (JSON.parse(this.snapshotText(snapKept)) as unknown);
      from = snapPosition + 1;
      this.recent = { addressId, states: [] };
    }
    let replayed = 0;
    let patches: readonly Patch[] | undefined;
    const lines = new SpanReader(this.source, this.lineStart, this.lineEnd);
    for (let at = from; at <= reachable; at++) {
      const event = lines.event(events[at] ?? 0);
      // Stepping from a kept (frozen) state goes under immer, which leaves it as it was; so do the
      // event whose patches are wanted and a few before it, kept for stepping back. From a snapshot
      // the rest is applied in place: immer's first step on a parsed state freezes all of it, a
      // second or more on a big one, and only the patches need it.
      try {
        if (stepping || (wantsPatches && at > reachable - TraceIndex.stepsKeptBack)) {
          const step = applyUnderImmer(core, state, event);
          state = step.state;
          patches = step.patches;
          this.remember(at, state, patches);
        } else {
          applyDirect(core, state, event);
        }
      } catch (error) {
        // Only with the trace's own snapshots, which no replay pass checked: the recipe throws
        // here first. The component stops there, as the replay pass would have stopped it.
        const reason = `seq ${this.seqs[events[at] ?? 0] ?? 0} ${event.type}: the ${component} recipe threw: ${error instanceof Error ? error.message : String(error)}`;
        this.divergenceOf.set(addressId, { position: at, reason: reason.replace(/[\r\n]+/g, ' ') });
        this.recent = undefined;
        return this.stateAt(addressId, index, diff);
      }
      replayed++;
    }
    // A state applied in place is kept too: it is never applied to in place again, only stepped from.
    if (!stepping && !wantsPatches) this.remember(reachable, state, undefined);
    return answer(state, replayed, patches);
  }

  /** The states `stateAt` gave lately, of one component, by position: frozen, sharing what did not change. */
  private recent: { readonly addressId: number; readonly states: RecentState[] } | undefined;

  /** Events before one whose patches are wanted that go under immer too, so that stepping back from it finds their states kept. */
  private static readonly stepsKeptBack = 16;

  /** States kept in `recent`, at most. */
  private static readonly recentStates = 64;

  private remember(position: number, state: unknown, patches: readonly Patch[] | undefined): void {
    const states = this.recent?.states;
    if (states === undefined) return;
    const same = states.findIndex((kept) => kept.position === position);
    if (same >= 0) states.splice(same, 1);
    if (states.length >= TraceIndex.recentStates) states.shift();
    states.push({ position, state, ...(patches === undefined ? {} : { patches }) });
  }

  /** The kept state of `addressId` nearest before or at `position` (before it, when the patches of `position` are wanted and not kept). */
  private recentBefore(addressId: number, position: number, wantsPatches: boolean): RecentState | undefined {
    if (this.recent?.addressId !== addressId) return undefined;
    let best: RecentState | undefined;
    for (const kept of this.recent.states) {
      if (kept.position > position || (kept.position === position && wantsPatches && kept.patches === undefined)) continue;
      if (best === undefined || kept.position > best.position) best = kept;
    }
    return best;
  }

  /**
   * The replay pass: validates every event line, applies it, indexes the ids it names and keeps the
   * snapshots. Resolves when done; rejects with a `TraceLoadError` naming the first bad line (and
   * how many more) when the trace is corrupt. Runs once; later calls wait for the same pass.
   */
  replayAll(options: LoadOptions = {}): Promise<void> {
    this.replaying ??= this.runReplay(options);
    return this.replaying;
  }

  private replaying: Promise<void> | undefined;

  private async runReplay(options: LoadOptions): Promise<void> {
    const pause = options.pause ?? defaultPause;
    await pause();
    const notify = (): void => {
      for (const listener of this.listeners) listener();
    };
    try {
      // Workers replay with the reducers they load themselves, so a trace opened with other cores
      // (a test's) replays here.
      if (options.parallel !== undefined && this.replayMutation !== false) {
        const ran = await this.runParallel(options.parallel, options, notify);
        if (!ran) await this.runInThread(options, notify);
      } else {
        await this.runInThread(options, notify);
      }
    } catch (error) {
      this.replayFailure = error instanceof Error ? error.message : String(error);
      notify();
      throw error;
    }
    options.onProgress?.({ phase: 'replay', bytesDone: this.source.sizeBytes, bytesTotal: this.source.sizeBytes, events: this.count });
    notify();
  }

  /** The sink that keeps what a replay produces. */
  private readonly keep: ReplaySink = {
    snapshot: (addressId, position, state) => {
      this.snapshotPositions[addressId]?.push(position);
      this.snapshotStates[addressId]?.push(state);
    },
    divergence: (addressId, divergence) => {
      this.divergenceOf.set(addressId, divergence);
    },
  };

  /**
   * The pass in worker threads; false (with nothing kept) when they could not run, so that the pass
   * runs here instead.
   */
  private async runParallel(replayer: ParallelReplayer, options: LoadOptions, notify: () => void): Promise<boolean> {
    const job: ParallelReplayJob = {
      ...(typeof this.replayMutation === 'string' ? { mutation: this.replayMutation } : {}),
      sizeBytes: this.source.sizeBytes,
      addresses: this.addresses,
      components: this.components,
      types: this.types,
      snapshotEvery: this.snapshotEvery,
      snapshotBytesPerEvent: this.snapshotBytesPerEvent,
      applies: this.fileSnapshots === undefined,
      lineStart: this.lineStart,
      lineEnd: this.lineEnd,
      lineNumbers: this.lineNumbers,
      seqs: this.seqs,
      addressIds: this.addressIds,
      typeIds: this.typeIds,
    };
    let problem: ReplayProblem | undefined;
    const sources: EntitySource[] = [];
    try {
      problem = await replayer.replay(job, {
        ...this.keep,
        reached: (index, bytesDone) => {
          this.replayedEvents = Math.max(this.replayedEvents, Math.min(index, this.count));
          options.onProgress?.({ phase: 'replay', bytesDone, bytesTotal: this.source.sizeBytes, events: this.replayedEvents });
          notify();
        },
        entities: (batch, worker) => this.entityIndex.addBatch(batch, (sources[worker] ??= this.entityIndex.source())),
      });
    } catch {
      this.replayedEvents = 0;
      this.entityIndex.clear();
      this.divergenceOf.clear();
      this.snapshotPositions.forEach((list, addressId) => list.splice(0, list.length, ...(this.fileSnapshots?.positions[addressId] ?? [])));
      this.snapshotStates.forEach((list, addressId) => list.splice(0, list.length, ...(this.fileSnapshots?.spans[addressId] ?? [])));
      return false;
    }
    if (problem !== undefined) {
      const problems = new Problems();
      problems.add(problem.lineNumber, problem.reason);
      problems.check();
    }
    this.replayedEvents = this.count;
    return true;
  }

  private async runInThread(options: LoadOptions, notify: () => void): Promise<void> {
    // Small chunks: keys are handled between two, so this bounds how long a key waits.
    const chunkLines = options.chunkLines ?? 4000;
    const pause = options.pause ?? defaultPause;
    const replay = new ComponentsReplay(this.cores, this.addresses, this.components, this.snapshotEvery, this.keep, this.snapshotBytesPerEvent, this.fileSnapshots === undefined);
    const problems = new Problems();
    const recorder = new EntityRecorder();
    const entities = this.entityIndex.source();
    const flush = (): void => {
      if (recorder.pending) this.entityIndex.addBatch(recorder.take(), entities);
    };
    let lastSeq = 0;
    let index = 0;
    let linesInChunk = 0;
    // Every line's checksum is checked here, in the background, against the sum the line before it
    // recorded: hashing a million lines takes seconds, too long to wait for before the first frame.
    let previousSum = traceChainStart;
    let physicalLine = 0;
    // Ids up to a bad line are kept, as they were found.
    try {
      for (const line of linesOf(this.source, 0)) {
        physicalLine++;
        if (line.text.trim() === '') continue;
        const link = chainLink(previousSum, line.text);
        if (link.problem !== undefined) problems.add(physicalLine, link.problem);
        previousSum = link.sum;
        problems.check();
        if (line.start !== this.lineStart[index]) continue;
        const lineNumber = this.lineNumbers[index] ?? 0;
        const bad = replay.step(link.content, lastSeq, this.addressIds[index] ?? 0, this.seqs[index] ?? 0, this.typeOf(index), recorder, index);
        if (bad !== undefined) {
          problems.add(lineNumber, bad);
          problems.check();
          return;
        }
        lastSeq = this.seqs[index] ?? 0;
        index++;
        this.replayedEvents = index;
        if (++linesInChunk >= chunkLines) {
          linesInChunk = 0;
          flush();
          options.onProgress?.({ phase: 'replay', bytesDone: line.end, bytesTotal: this.source.sizeBytes, events: index });
          notify();
          await pause();
        }
        // No stop after the last event: the lines after it (notes, the closing line) are chained too.
      }
    } finally {
      flush();
    }
    if (index < this.count) {
      problems.add(this.lineNumbers[index] ?? 0, 'the line was not found again: the file changed while it was open; open it again');
      problems.check();
    }
  }
}

/** Where in the file a snapshot's state (its JSON) is. */
interface FileSpan {
  readonly start: number;
  readonly end: number;
}

/** The length of a kept snapshot's JSON (in bytes, for one in the file), 0 for none. */
function spanLength(kept: string | FileSpan | undefined): number {
  if (kept === undefined) return 0;
  return typeof kept === 'string' ? kept.length : kept.end - kept.start;
}

/** The snapshot lines of a trace, per address id: after which of its events each is, and where its state is. */
interface TraceSnapshots {
  readonly positions: number[][];
  readonly spans: FileSpan[][];
}

/** The entry an event line's bytes hold. The line's checksum is the file's business (checked in the replay pass), not the entry's. */
function entryOfLine(bytes: Uint8Array): TraceEntry {
  return JSON.parse(splitSum(utf8.decode(bytes)).content) as TraceEntry;
}

/**
 * Reads the events a seek replays, in file order, from spans of the file rather than a read per
 * line: a seek in a big state replays tens of thousands of events, and a read and a cache entry per
 * line were most of its time. The entries are not cached (a seek would only evict the browsed ones).
 */
class SpanReader {
  /** Bytes read at a time, at least. */
  private static readonly spanBytes = 1 << 20;
  private span: Uint8Array | undefined;
  private spanStart = 0;

  constructor(
    private readonly source: TraceSource,
    private readonly lineStart: Float64Array,
    private readonly lineEnd: Float64Array,
  ) {}

  /** The event of event line `index`. */
  event(index: number): AnyEvent {
    const start = this.lineStart[index] ?? 0;
    const end = this.lineEnd[index] ?? 0;
    if (this.span === undefined || start < this.spanStart || end > this.spanStart + this.span.length) {
      this.span = this.source.read(start, Math.max(end - start, SpanReader.spanBytes));
      this.spanStart = start;
    }
    return entryOfLine(this.span.subarray(start - this.spanStart, end - this.spanStart)).event;
  }
}

/** A state `stateAt` gave: after its component's event at `position`, with that event's patches when it was stepped under immer. */
interface RecentState {
  readonly position: number;
  readonly state: unknown;
  readonly patches?: readonly Patch[];
}

/**
 * Whether stepping `fromRecent` events under immer from a kept state costs less than parsing a
 * snapshot of `snapshotLength` characters and replaying `fromSnapshot` events, by rough costs
 * measured here: an immer step on a big state some 100 µs, a direct step some 10 µs (its line
 * decoded), JSON.parse some 5 ns a character. A few steps are always cheaper.
 */
function recentIsCheaper(fromRecent: number, fromSnapshot: number, snapshotLength: number): boolean {
  if (fromRecent <= 16) return true;
  return fromRecent * 100 <= fromSnapshot * 10 + snapshotLength * 0.005;
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

/**
 * The index pass: reads the header and every line's place, and returns an index whose replay pass
 * (`replayAll`) has not run yet. Fails with a `TraceLoadError` whose message is one line for a file
 * that is not a trace, has an unknown format version, or has a line of no known shape.
 */
export async function openTrace(input: TraceSource | Uint8Array, options: LoadOptions = {}): Promise<TraceIndex> {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  // Workers replay with the reducers they load themselves, so with the caller's cores they never run.
  if (options.cores === undefined) options.parallel?.begin?.(source.sizeBytes);
  const chunkLines = options.chunkLines ?? 100_000;
  const pause = options.pause ?? defaultPause;
  const baseCores = options.cores ?? defaultCores;
  const lineStart = new Column((size) => new Float64Array(size));
  const lineEnd = new Column((size) => new Float64Array(size));
  const lineNumbers = new Column((size) => new Float64Array(size));
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
  const notes: TraceNote[] = [];
  const problems = new Problems();
  const fileSnapshots: TraceSnapshots = { positions: [], spans: [] };
  /** Per address id, its events so far: a snapshot is after one of them. */
  const eventCounts: number[] = [];
  let header: TraceHeader | undefined;
  let lastSeq = 0;
  let lineNumber = 0;
  let linesInChunk = 0;

  const record = (line: Omit<Line, 'text'>, seq: number, address: Address, component: ComponentKind, atMs: number, parent: number, type: string): void => {
    let addressId = addressIdOf.get(address);
    if (addressId === undefined) {
      addressId = addresses.length;
      addressIdOf.set(address, addressId);
      addresses.push(address);
      components.push(component);
    }
    let typeId = typeIdOf.get(type);
    if (typeId === undefined) {
      typeId = types.length;
      typeIdOf.set(type, typeId);
      types.push(type);
    }
    lineStart.push(line.start);
    lineEnd.push(line.end);
    lineNumbers.push(lineNumber);
    seqs.push(seq);
    times.push(atMs);
    parents.push(parent);
    addressIds.push(addressId);
    typeIds.push(typeId);
    eventCounts[addressId] = (eventCounts[addressId] ?? 0) + 1;
    lastSeq = seq;
  };

  /**
   * Records the snapshot line at `text[at..end)` from its prefix alone: its state's JSON is left in
   * the file, read when a seek starts there. False when the line is not of that shape.
   */
  const quickSnapshot = (text: string, at: number, end: number, place: Omit<Line, 'text'>): boolean => {
    snapshotPrefix.lastIndex = at;
    const quick = snapshotPrefix.exec(text);
    if (quick === null || end - at < sumTail || splitSum(text.slice(end - sumTail, end)).sum === undefined) return false;
    const address = quick[1] ?? '';
    // The state's place is counted in bytes: the prefix is ASCII, as every address tsray writes is.
    if (!/^[\x20-\x7e]+$/.test(address)) return false;
    const addressId = addressIdOf.get(address);
    const position = Number(quick[2]);
    const positions = addressId === undefined ? undefined : (fileSnapshots.positions[addressId] ??= []);
    if (addressId === undefined || positions === undefined || position >= (eventCounts[addressId] ?? 0) || position <= (positions.at(-1) ?? -1)) {
      problems.add(lineNumber, `a snapshot of ${address} after its event ${position + 1}, which is not one of its events before this line; record or collect the trace again`);
      return true;
    }
    positions.push(position);
    (fileSnapshots.spans[addressId] ??= []).push({ start: place.start + (snapshotPrefix.lastIndex - 1 - at), end: place.end - sumTail });
    return true;
  };

  let closing: { lineNumber: number; lines: number } | undefined;
  let blankLines = 0;
  /** A line as the fast path could not take it: blank, the header, a note, the closing line, or an event of another shape. */
  const slowLine = (line: Line): void => {
    if (line.text.trim() === '') {
      blankLines++;
      return;
    }
    if (closing !== undefined) problems.add(lineNumber, 'a line after the closing line; record or collect the trace again');
    if (header === undefined) {
      const decoded = decodeHeader(line.text);
      if (E.isLeft(decoded)) throw new TraceLoadError(`line ${lineNumber}: ${decoded.left}`);
      header = decoded.right;
      return;
    }
    if (quickLine(line.text, 0, line.text.length, line) || quickSnapshot(line.text, 0, line.text.length, line)) return;
    // A line of another shape (a note, or an event written by hand) is decoded in full.
    const decoded = decodeLine(line.text, lastSeq);
    if (E.isLeft(decoded)) problems.add(lineNumber, decoded.left.reason);
    else if ('note' in decoded.right) notes.push(decoded.right);
    else if ('end' in decoded.right) closing = { lineNumber, lines: decoded.right.lines };
    else if ('snapshot' in decoded.right) problems.add(lineNumber, 'a snapshot line not in the shape tsray writes; record or collect the trace again');
    else {
      const entry = decoded.right;
      record(line, entry.seq, entry.address, entry.component, entry.atMs, entry.parent ?? 0, entry.event.type);
    }
  };

  /** Records the event line at `text[at..end)` from its fixed prefix alone; false when the line is not of that shape. */
  const quickLine = (text: string, at: number, end: number, place: Omit<Line, 'text'>): boolean => {
    eventPrefix.lastIndex = at;
    const quick = eventPrefix.exec(text);
    // The prefix cannot reach past the line: none of its parts matches a newline.
    if (quick === null || end <= at || text.charCodeAt(end - 1) !== 0x7d) return false;
    const seq = Number(quick[1]);
    const address = quick[2] ?? '';
    const component = quick[3] as ComponentKind;
    const parent = quick[5] === undefined ? 0 : Number(quick[5]);
    if (!(seq > lastSeq && parent < seq && componentOfAddress(address) === component)) return false;
    record(place, seq, address, component, Number(quick[4]), parent, quick[6] ?? '');
    return true;
  };

  for (const chunk of chunksOf(source, 0)) {
    const text = chunk.ascii;
    if (text === undefined) {
      for (const line of linesOfChunk(chunk)) {
        lineNumber++;
        if (++linesInChunk >= chunkLines) {
          linesInChunk = 0;
          options.onProgress?.({ phase: 'index', bytesDone: line.start, bytesTotal: source.sizeBytes, events: seqs.length });
          await pause();
        }
        slowLine(line);
      }
      continue;
    }
    // ASCII: each line read in place from the chunk's text, without a string of its own, unless the
    // fast path cannot take it.
    let at = 0;
    while (at < text.length) {
      const newline = text.indexOf('\n', at);
      const end = newline < 0 ? text.length : newline;
      const place = { start: chunk.offset + at, end: chunk.offset + end };
      lineNumber++;
      if (++linesInChunk >= chunkLines) {
        linesInChunk = 0;
        options.onProgress?.({ phase: 'index', bytesDone: place.start, bytesTotal: source.sizeBytes, events: seqs.length });
        await pause();
      }
      if (header === undefined || closing !== undefined || !(quickLine(text, at, end, place) || quickSnapshot(text, at, end, place))) slowLine({ text: text.slice(at, end), ...place });
      at = end + 1;
    }
  }
  if (header === undefined) throw new TraceLoadError('the trace is empty; pass a trace written by `tsray trace collect` or `tsray sim`');
  // A run under a deliberately broken recipe is replayed with that recipe, as it ran.
  const mutation = header.mutation === undefined ? undefined : mutationNamed(header.mutation);
  if (header.mutation !== undefined && mutation === undefined) throw new TraceLoadError(`the trace was recorded under a broken recipe '${header.mutation}' that this tsray does not have; open it with the tsray that wrote it`);
  const cores: ReplayCores = { ...baseCores, ...mutation?.cores };
  // The closing line counts the lines before it: without it, or with another count, the file was cut or spliced.
  if (closing === undefined) problems.add(lineNumber, 'the trace has no closing line: it was cut short; record or collect it again');
  else if (closing.lines !== closing.lineNumber - 1 - blankLines) problems.add(closing.lineNumber, `the closing line counts ${closing.lines} lines before it but there are ${closing.lineNumber - 1 - blankLines}; record or collect the trace again`);
  problems.check();
  options.onProgress?.({ phase: 'index', bytesDone: source.sizeBytes, bytesTotal: source.sizeBytes, events: seqs.length });
  // The trace's own snapshots stand for a replay pass's when they were taken with these reducers:
  // the ones this tsray ships (a broken recipe's included), at the interval the caller left alone.
  const ownSnapshots =
    header.formatVersion >= 3 &&
    options.cores === undefined &&
    options.snapshotEvery === undefined &&
    options.snapshotBytesPerEvent === undefined &&
    (['gcs', 'raylet', 'owner'] as const).every((kind) => header?.reducers[kind] === cores[kind].version);
  return new TraceIndex(
    header,
    notes,
    source,
    lineStart.done(),
    lineEnd.done(),
    lineNumbers.done(),
    seqs.done(),
    times.done(),
    parents.done(),
    addressIds.done(),
    typeIds.done(),
    addresses,
    components,
    types,
    options.snapshotEvery ?? defaultSnapshotEvery,
    options.snapshotBytesPerEvent ?? defaultSnapshotBytesPerEvent,
    cores,
    options.cores !== undefined ? false : header.mutation,
    ownSnapshots ? fileSnapshots : undefined,
  );
}

/** Both passes: the index, then the replay; for tests and for checking a trace without a screen. */
export async function loadTrace(input: TraceSource | Uint8Array, options: LoadOptions = {}): Promise<TraceIndex> {
  const trace = await openTrace(input, options);
  await trace.replayAll(options);
  return trace;
}
