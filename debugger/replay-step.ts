/**
 * One step of the debugger's replay pass, shared by the pass in this thread (trace-index.ts) and the
 * parallel one in worker threads (node/trace/parallel-replay.ts), so both check and apply a line
 * alike: a line's link in the checksum chain, then an event line validated by core/trace's decoder,
 * its ids named, and (unless the trace holds its own snapshots) applied with the real reducer and a
 * snapshot kept every K events of its component, or fewer for a big state (core/trace/snapshots.ts).
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Address } from '../core/ids.js';
import { decodeLine, decodeWrittenEntry } from '../core/trace/decode.js';
import { chainSum, splitSum } from '../core/trace/format.js';
import { SnapshotTaker, defaultSnapshotBytesPerEvent } from '../core/trace/snapshots.js';
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

export { defaultSnapshotBytesPerEvent, defaultSnapshotEvery, snapshotInterval } from '../core/trace/snapshots.js';

/** What the replay keeps as it goes: a snapshot of a component, or where its recipe threw. */
export interface ReplaySink {
  snapshot(addressId: number, position: number, state: string): void;
  divergence(addressId: number, divergence: ComponentDivergence): void;
}

/**
 * The replay of a trace's components, one event line at a time, each component on its own state.
 * For a trace whose writer applied the events itself (format version 3: its snapshots and minted ids
 * are in the file), `applies` is false: each line is still validated and its ids recorded, minted
 * ones from the line, but no reducer runs and no snapshot is taken here.
 */
export class ComponentsReplay {
  private readonly taker: SnapshotTaker;
  private readonly positions: number[];
  /** Per address id, the entity its component is (a worker, a raylet's node), found once. */
  private readonly ownEntities: (EntityRef | undefined)[];

  constructor(
    cores: ReplayCores,
    private readonly addresses: readonly Address[],
    private readonly components: readonly ComponentKind[],
    snapshotEvery: number,
    private readonly sink: ReplaySink,
    snapshotBytesPerEvent = defaultSnapshotBytesPerEvent,
    private readonly applies = true,
  ) {
    this.taker = new SnapshotTaker(cores, snapshotEvery, snapshotBytesPerEvent);
    this.positions = components.map(() => 0);
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
    if (!('event' in decoded.right)) return 'another kind of line where the index found an event';
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
    if (!this.applies) {
      // A submission names no id of its own: the owner mints them, and the writer said which.
      if (entry.minted !== undefined) recorder.addMore(entry.minted);
      return undefined;
    }
    const position = this.positions[addressId] ?? 0;
    this.positions[addressId] = position + 1;
    const step = this.taker.apply(addressId, this.components[addressId] ?? entry.component, entry.event);
    if (step.minted !== undefined) recorder.addMore(step.minted);
    if (step.snapshot !== undefined) this.sink.snapshot(addressId, step.snapshot.position, step.snapshot.state);
    if (step.threw !== undefined) this.sink.divergence(addressId, { position, reason: `seq ${entry.seq} ${entry.event.type}: ${step.threw}` });
    return undefined;
  }
}
