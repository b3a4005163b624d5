/**
 * The trace file format (JSON Lines): a header line, then one line per applied event in global
 * happens-before order, with periodic state hashes, note lines that replay skips, and a closing
 * line. A trace recorded by the live runtime or by the simulator opens in either and in the
 * debugger, so this format only ever grows: a change that old traces cannot satisfy bumps
 * `formatVersion`.
 *
 * Version 2 chains a checksum through every line, so that any edit of the file is detected, not
 * only one that changes a replayed state: each line ends with `"sum":"<16 hex>"`, the `hashString`
 * of the previous line's sum, a newline, and this line's text without its sum field. The closing
 * line counts the lines before it and is chained too, so a trace cut short (or with lines removed
 * at its end) is detected as well. `TraceWriter` keeps the chain; `decodeTrace` checks it.
 *
 * Version 3 adds what the debugger would otherwise get by running the reducers over every event: a
 * snapshot line with a component's state every K of its events (core/trace/snapshots.ts), and on a
 * submission's line the ids the owner minted for it. `replay --verify` checks both against what it
 * replays; version 2 traces are still read, and the debugger replays them to take its own snapshots.
 */
import type { Address } from '../ids.js';
import type { AnyEvent } from '../component.js';
import { hashString, stableStringify } from '../hash.js';
import { SnapshotTaker } from './snapshots.js';
import type { AppliedStep, MintedIds } from './snapshots.js';
import type { ReplayCores } from './replay.js';

/** The format version this tsray writes (1 had no checksums; it is refused with a hint to record again). */
export const traceFormatVersion = 3;

/** The format versions this tsray reads: 2 (without snapshots and minted ids) and 3. */
export type TraceFormatVersion = 2 | typeof traceFormatVersion;

/** Whether this tsray reads traces of format `version`. */
export function isReadableFormatVersion(version: unknown): version is TraceFormatVersion {
  return version === 2 || version === traceFormatVersion;
}

/** The component kinds whose reducers a trace replays. */
export type ComponentKind = 'gcs' | 'raylet' | 'owner';

/** The first line of every trace. */
export interface TraceHeader {
  readonly kind: 'tsray-trace';
  readonly formatVersion: TraceFormatVersion;
  /** The `version` of each reducer that recorded the trace; replay with others may diverge. */
  readonly reducers: { readonly gcs: number; readonly raylet: number; readonly owner: number };
  readonly createdBy: 'sim' | 'live';
  /** The cluster configuration, as the driver that recorded it saw it. */
  readonly cluster: unknown;
  /** The simulator's seed, so the same run can be generated again. */
  readonly seed?: string;
  /** The simulator's fault plan. */
  readonly faultPlan?: unknown;
  /** The workload (script or test name) that ran. */
  readonly workload?: string;
  /** Where the simulator's program can be loaded again (see SimOptions.workloadModule). */
  readonly workloadModule?: string;
  /** The simulator's settings other than the seed and fault plan, so the run can be repeated. */
  readonly sim?: unknown;
  /** The broken recipe a simulator run used (core/sim/mutations.ts); replay applies it too. */
  readonly mutation?: string;
}

/** One applied event. */
export interface TraceEntry {
  /** Global order, from 1, strictly increasing through the file. */
  readonly seq: number;
  /** The component instance: `gcs`, `raylet:n1`, `worker:n1.w2`. */
  readonly address: Address;
  readonly component: ComponentKind;
  /** The clock of the shell or simulator when the event was applied. */
  readonly atMs: number;
  /** The seq of the event whose effect caused this one, for "why" questions. */
  readonly parent?: number;
  /** The ids the owner minted for this event (a submission names none of its own); from version 3. */
  readonly minted?: MintedIds;
  readonly event: AnyEvent;
  /** `hashState` of this instance's state after the event; present every K events and on demand. */
  readonly hash?: string;
}

/** An annotation (a fault injected, an invariant failure); replay skips it. */
export interface TraceNote {
  readonly note: string;
  /** The event the note is about, if any. */
  readonly seq?: number;
}

/**
 * The state of the component at `snapshot` after its event at `position` (0-based, in its own
 * events), written on the line after that event's (from version 3). A reader may start a replay of
 * that component there instead of from its first event.
 */
export interface TraceSnapshot {
  readonly snapshot: Address;
  readonly position: number;
  readonly state: unknown;
}

/**
 * The last line of a trace: how many lines came before it (header included). A trace without it was
 * cut short.
 */
export interface TraceEnd {
  readonly end: 'tsray-trace';
  readonly lines: number;
}

/** An event line that could not be decoded: reported, never applied. */
export interface TraceRejection {
  /** 1-based line number in the file. */
  readonly lineNumber: number;
  readonly seq?: number;
  /** The address of the component the line was for, when it could be read. */
  readonly source?: Address;
  /** One line: what is wrong and what to do. */
  readonly reason: string;
}

/** A decoded trace. */
export interface Trace {
  readonly header: TraceHeader;
  /** The valid event lines, in file order. */
  readonly entries: readonly TraceEntry[];
  readonly notes: readonly TraceNote[];
  /** The snapshot lines, in file order (none before version 3, nor for a trace built in memory). */
  readonly snapshots?: readonly TraceSnapshot[];
  /** The event lines that were not valid, in file order. */
  readonly rejected: readonly TraceRejection[];
  /**
   * Where the file's checksum chain shows an edit: a changed, moved, removed or added line, or a
   * missing closing line. Such lines are still decoded (they may be perfectly valid events), but the
   * file is not what was recorded, so the CLI refuses it. Absent for a trace built in memory.
   */
  readonly integrity?: readonly TraceRejection[];
}

/** Why a whole trace could not be read (its header is bad). */
export interface TraceDecodeError {
  readonly lineNumber: number;
  /** One line: what is wrong and what to do. */
  readonly reason: string;
}

/** The component kind an address belongs to, or undefined for an address of no known shape. */
export function componentOfAddress(address: Address): ComponentKind | undefined {
  if (address === 'gcs') return 'gcs';
  if (address.startsWith('raylet:') && address.length > 'raylet:'.length) return 'raylet';
  if (address.startsWith('worker:') && address.length > 'worker:'.length) return 'owner';
  return undefined;
}

/**
 * One line of a trace file, without the trailing newline. Known fields come in a fixed, readable
 * order (an event's `type` first) and everything else with sorted keys, so the same run always
 * writes the same bytes.
 *
 * @throws TypeError when the line holds a value with no JSON form (see `stableStringify`).
 */
export function encodeTraceLine(line: TraceHeader | TraceEntry | TraceNote | TraceEnd): string {
  if ('end' in line) {
    return writeFields([
      ['end', line.end],
      ['lines', line.lines],
    ]);
  }
  if ('kind' in line) {
    return writeFields([
      ['kind', line.kind],
      ['formatVersion', line.formatVersion],
      ['createdBy', line.createdBy],
      ['reducers', line.reducers],
      ['seed', line.seed],
      ['workload', line.workload],
      ['workloadModule', line.workloadModule],
      ['mutation', line.mutation],
      ['faultPlan', line.faultPlan],
      ['sim', line.sim],
      ['cluster', line.cluster],
    ]);
  }
  if ('note' in line) {
    return writeFields([
      ['note', line.note],
      ['seq', line.seq],
    ]);
  }
  return encodeEntry(line, writeEvent(line.event));
}

/** An entry's line, its event given as written by `writeEvent`. */
function encodeEntry(line: TraceEntry, event: Raw): string {
  return writeFields([
    ['seq', line.seq],
    ['address', line.address],
    ['component', line.component],
    ['atMs', line.atMs],
    ['parent', line.parent],
    ['minted', line.minted],
    ['event', event],
    ['hash', line.hash],
  ]);
}

/** A snapshot line: `state` is the state's JSON already (as `JSON.stringify` gives it). */
export function encodeSnapshotLine(address: Address, position: number, state: string): string {
  return writeFields([
    ['snapshot', address],
    ['position', position],
    ['state', new Raw(state)],
  ]);
}

/** A value already serialised, to be written as it is. */
class Raw {
  constructor(readonly text: string) {}
}

/**
 * The text of `event` in a trace line: `type` first and the other fields sorted, as one JSON object.
 * Parsed back, it is the event as a reader of the file gets it.
 *
 * @throws TypeError when the event holds a value with no JSON form (see `stableStringify`).
 */
export function eventText(event: AnyEvent): string {
  return writeEvent(event).text;
}

/** The event with `type` first and the other fields sorted, as one JSON object. */
function writeEvent(event: AnyEvent): Raw {
  const record = event as unknown as Record<string, unknown>;
  const rest = Object.keys(record)
    .filter((key) => key !== 'type')
    .sort()
    .map((key): [string, unknown] => [key, record[key]]);
  return new Raw(writeFields([['type', event.type], ...rest]));
}

/** A JSON object of `fields` in the order given, leaving out undefined ones. */
function writeFields(fields: readonly (readonly [string, unknown])[]): string {
  const parts: string[] = [];
  for (const [key, value] of fields) {
    if (value === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${value instanceof Raw ? value.text : stableStringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}

/** The name of the checksum field that ends every line of a version 2 trace. */
export const traceSumField = 'sum';

/** The sum that precedes the header's (the chain's start). */
export const traceChainStart = '';

/** A line's checksum: the hash of the previous line's sum and this line's text without its sum. */
export function chainSum(previousSum: string, content: string): string {
  return hashString(`${previousSum}\n${content}`);
}

/** Ends `content` (a JSON object's text) with its sum field. */
export function withSum(content: string, sum: string): string {
  return `${content.slice(0, -1)},"${traceSumField}":"${sum}"}`;
}

const sumSuffix = /,"sum":"([0-9a-f]{16})"\}$/;

/** The characters of the sum field and the closing `}` that end every line tsray writes: `,"sum":"`, 16 hex digits, `"}`. */
export const traceSumTailLength = 26;

/** A line split into its text without the sum (what the sum covers) and the sum, if it ends with one. */
export function splitSum(line: string): { readonly content: string; readonly sum?: string } {
  const match = sumSuffix.exec(line);
  if (match === null || match[1] === undefined) return { content: line };
  return { content: `${line.slice(0, match.index)}}`, sum: match[1] };
}

/** What a `TraceWriter` writes besides the lines it is given. */
export interface TraceWriterOptions {
  /**
   * The reducers the trace replays with (the recording's, a broken recipe included): with them, the
   * writer applies each entry itself, writes on it the ids it minted, and writes a snapshot line
   * after every K events of a component (format version 3). Without them it writes the lines alone.
   */
  readonly cores?: ReplayCores;
  /** K, the snapshot interval in a small state (core/trace/snapshots.ts). */
  readonly snapshotEvery?: number;
  /** Snapshot bytes per event of a component, at most. */
  readonly snapshotBytesPerEvent?: number;
}

/**
 * Writes the lines of one trace, in order, keeping the checksum chain: `line` for the header (first),
 * then each entry and note, and `end()` for the closing line. The simulator and `tsray trace collect`
 * write through it, so every trace file is chained the same way.
 */
export class TraceWriter {
  private previousSum = traceChainStart;
  private count = 0;
  private readonly taker: SnapshotTaker | undefined;
  private readonly slotOf = new Map<Address, number>();

  constructor(options: TraceWriterOptions = {}) {
    this.taker = options.cores === undefined ? undefined : new SnapshotTaker(options.cores, options.snapshotEvery, options.snapshotBytesPerEvent);
  }

  /**
   * The text of the next line (without its newline), chained to the previous one; for an entry,
   * when the writer takes snapshots, it may be two lines: the entry's, then a snapshot's. `applied`,
   * for an entry: the caller applied its event already, in its trace form (as JSON gives it back), to
   * a state of its own for that component, with the reducers the writer was given (or the recipe
   * threw there: `'threw'`); the writer then takes its snapshots and minted ids from that instead of
   * applying the event again. `eventText`: the event's text as `eventText(line.event)` gives it, when
   * the caller has it (it is not made again).
   */
  line(line: TraceHeader | TraceEntry | TraceNote, applied?: AppliedStep | 'threw', eventText?: string): string {
    if (!('event' in line)) return this.text(encodeTraceLine(line));
    // The caller may have the event's text already (`eventText` of the event, as collect parses it from).
    const event = eventText === undefined ? writeEvent(line.event) : new Raw(eventText);
    if (this.taker === undefined) return this.text(encodeEntry(line, event));
    let slot = this.slotOf.get(line.address);
    if (slot === undefined) {
      slot = this.slotOf.size;
      this.slotOf.set(line.address, slot);
    }
    // The event is applied as a reader of the file will see it, parsed from its line: the writer's
    // state then never shares an object with the caller's, and a value JSON changes (NaN, -0)
    // changes in both alike.
    const step = applied === undefined ? this.taker.apply(slot, line.component, JSON.parse(event.text) as AnyEvent) : this.taker.observe(slot, applied === 'threw' ? undefined : applied);
    const text = this.text(encodeEntry(step.minted === undefined ? line : { ...line, minted: step.minted }, event));
    if (step.snapshot === undefined) return text;
    return `${text}\n${this.text(encodeSnapshotLine(line.address, step.snapshot.position, step.snapshot.state))}`;
  }

  /** The next line given as its text without a sum (a JSON object), chained to the previous one. */
  text(content: string): string {
    const sum = chainSum(this.previousSum, content);
    this.previousSum = sum;
    this.count += 1;
    return withSum(content, sum);
  }

  /** How many lines were written so far. */
  get lines(): number {
    return this.count;
  }

  /**
   * The closing line for the lines written so far. It does not advance the chain, so a writer that
   * is asked for its text at a failure can still be asked again later.
   */
  end(): string {
    const content = encodeTraceLine({ end: 'tsray-trace', lines: this.count });
    return withSum(content, chainSum(this.previousSum, content));
  }
}
