/**
 * The trace file format (JSON Lines): a header line, then one line per applied event in global
 * happens-before order, with periodic state hashes, and note lines that replay skips. A trace
 * recorded by the live runtime or by the simulator opens in either and in the debugger, so this
 * format only ever grows: a change that old traces cannot satisfy bumps `formatVersion`.
 */
import type { Address } from '../ids.js';
import type { AnyEvent } from '../component.js';
import { stableStringify } from '../hash.js';

/** The format version this tsray writes and reads. */
export const traceFormatVersion = 1;

/** The component kinds whose reducers a trace replays. */
export type ComponentKind = 'gcs' | 'raylet' | 'owner';

/** The first line of every trace. */
export interface TraceHeader {
  readonly kind: 'tsray-trace';
  readonly formatVersion: typeof traceFormatVersion;
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
  /** The event lines that were not valid, in file order. */
  readonly rejected: readonly TraceRejection[];
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
export function encodeTraceLine(line: TraceHeader | TraceEntry | TraceNote): string {
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
  return writeFields([
    ['seq', line.seq],
    ['address', line.address],
    ['component', line.component],
    ['atMs', line.atMs],
    ['parent', line.parent],
    ['event', writeEvent(line.event)],
    ['hash', line.hash],
  ]);
}

/** A value already serialised, to be written as it is. */
class Raw {
  constructor(readonly text: string) {}
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
