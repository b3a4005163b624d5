/**
 * One step of the debugger's replay pass, shared by the pass in this thread (trace-index.ts) and the
 * parallel one in worker threads (node/trace/parallel-replay.ts), so both check and apply a line
 * alike: a line's link in the checksum chain, then an event line validated by core/trace's decoder,
 * applied with the real reducer, its ids named and a snapshot kept every K events of its component
 * (or fewer, for a big state: see `snapshotInterval`).
 */
import * as E from 'fp-ts/lib/Either.js';
import type { AnyEvent, ComponentCore } from '../core/component.js';
import type { Address } from '../core/ids.js';
import { applyDirect } from '../core/step.js';
import { decodeLine, decodeWrittenEntry } from '../core/trace/decode.js';
import { chainSum, splitSum } from '../core/trace/format.js';
import type { ComponentKind, TraceEntry } from '../core/trace/format.js';
import type { ReplayCores } from '../core/trace/replay.js';
import { addressEntity } from './entities.js';
import type { EntityRef } from './entities.js';
import type { EntityRecorder } from './entity-index.js';

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

/**
 * Snapshot bytes kept per event of a component, at most, by default. A component whose state is big
 * (a driver with 100,000 tasks in flight has a snapshot of some 90 MB) is snapshotted less often,
 * after as many events as its last snapshot's length over this: snapshots every 5,000 events of
 * such a state took 2.3 GB and three quarters of the replay pass on a 400,000-event trace. A seek
 * in a big state then replays more events, each cheap beside parsing a snapshot of that size.
 */
export const defaultSnapshotBytesPerEvent = 512;

/**
 * Events of a component between a snapshot of `sizeBytes` (its JSON's length) and the next: at
 * least `every`, and enough that the snapshots of the component take at most `bytesPerEvent` for
 * each of its events.
 */
export function snapshotInterval(every: number, sizeBytes: number, bytesPerEvent: number): number {
  return Math.max(every, Math.ceil(sizeBytes / bytesPerEvent));
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
  /** Per address id, the events its next snapshot waits for. */
  private readonly intervals: number[];
  private readonly positions: number[];
  private readonly stopped: boolean[];
  /** Per address id, the entity its component is (a worker, a raylet's node), found once. */
  private readonly ownEntities: (EntityRef | undefined)[];

  constructor(
    private readonly cores: ReplayCores,
    private readonly addresses: readonly Address[],
    private readonly components: readonly ComponentKind[],
    private readonly snapshotEvery: number,
    private readonly sink: ReplaySink,
    private readonly snapshotBytesPerEvent = defaultSnapshotBytesPerEvent,
  ) {
    this.states = components.map((component): unknown => (cores[component] as ComponentCore<unknown, AnyEvent, unknown>).initial());
    this.sinceSnapshot = components.map(() => 0);
    this.intervals = components.map(() => snapshotEvery);
    this.positions = components.map(() => 0);
    this.stopped = components.map(() => false);
    this.ownEntities = addresses.map((address) => addressEntity(address));
  }

  /**
   * Validates the event line `content` (without its sum), which the index found to be the event
   * `index`, `expectedSeq` of type `expectedType` at address `addressId`, after the event `lastSeq`;
   * records the ids it names in `recorder` and applies it unless its component has stopped. Returns
   * the line's problem, if any.
   */
  step(content: string, lastSeq: number, addressId: number, expectedSeq: number, expectedType: string, recorder: EntityRecorder, index: number): string | undefined {
    const decoded = decodeLine(content, lastSeq);
    if (E.isLeft(decoded)) return decoded.left.reason;
    if ('note' in decoded.right || 'end' in decoded.right) return 'another kind of line where the index found an event';
    return this.apply(decoded.right, addressId, expectedSeq, expectedType, recorder, index);
  }

  /**
   * `step` for a line given without its sum and its closing `}` (`body`): a line as tsray writes it
   * is read by `decodeWrittenEntry`, which parses only its event; any other goes through `step`.
   */
  stepBody(body: string, lastSeq: number, addressId: number, expectedSeq: number, expectedType: string, recorder: EntityRecorder, index: number): string | undefined {
    const entry = decodeWrittenEntry(body, lastSeq);
    if (entry === undefined) return this.step(`${body}}`, lastSeq, addressId, expectedSeq, expectedType, recorder, index);
    return this.apply(entry, addressId, expectedSeq, expectedType, recorder, index);
  }

  /** Checks that a decoded entry is the one the index found there, records its ids and applies it. */
  private apply(entry: TraceEntry, addressId: number, expectedSeq: number, expectedType: string, recorder: EntityRecorder, index: number): string | undefined {
    if (entry.seq !== expectedSeq || entry.address !== this.addresses[addressId] || entry.event.type !== expectedType) {
      return `the line changed while the trace was open (seq ${entry.seq}); open it again`;
    }
    recorder.addEvent(entry.event, this.ownEntities[addressId], index);
    const position = this.positions[addressId] ?? 0;
    this.positions[addressId] = position + 1;
    if (this.stopped[addressId] === true) return undefined;
    const core = this.cores[entry.component] as ComponentCore<unknown, AnyEvent, unknown>;
    try {
      const effects = applyDirect(core, this.states[addressId], entry.event);
      // A submission names no id of its own: the owner mints them, and says so in an effect.
      for (const effect of effects) {
        if ((effect as AnyEvent | undefined)?.type === 'ids/minted') recorder.addMore(effect);
      }
      const since = (this.sinceSnapshot[addressId] ?? 0) + 1;
      this.sinceSnapshot[addressId] = since;
      if (since >= (this.intervals[addressId] ?? this.snapshotEvery)) {
        this.sinceSnapshot[addressId] = 0;
        const snapshot = JSON.stringify(this.states[addressId]);
        this.intervals[addressId] = snapshotInterval(this.snapshotEvery, snapshot.length, this.snapshotBytesPerEvent);
        this.sink.snapshot(addressId, position, snapshot);
      }
    } catch (error) {
      const reason = `seq ${entry.seq} ${entry.event.type}: the ${entry.component} recipe threw: ${error instanceof Error ? error.message : String(error)}`;
      this.stopped[addressId] = true;
      this.states[addressId] = undefined;
      this.sink.divergence(addressId, { position, reason: reason.replace(/[\r\n]+/g, ' ') });
    }
    return undefined;
  }
}
