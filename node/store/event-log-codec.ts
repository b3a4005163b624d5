/**
 * How one event-log record and one snapshot are laid out as bytes, and how a stored value is checked
 * before anyone trusts it. Records are MessagePack (msgpackr in structured-clone mode, so Maps, Sets,
 * typed arrays, Dates, bigints and `undefined` come back as they went in), each one self-contained:
 * no shared structure table lives beside the log, so one damaged record never makes the others
 * unreadable.
 */
import { Packr } from 'msgpackr';

/** The layout version written as the first field of every record and snapshot. */
export const recordFormatVersion = 1;

/** One event as the log stores it. */
export interface LoggedEvent {
  /** The event's place in this log, from 1, without gaps. */
  readonly seq: number;
  /** The shell's clock when the event was stamped. */
  readonly atMs: number;
  /** The seq of the event whose effect caused this one, when there is one. */
  readonly parent?: number;
  readonly event: unknown;
}

/** A stored record that is not a tsray event; reading reports it and goes on. */
export interface CorruptRecord {
  readonly seq: number;
  /** One line: what is wrong and where it came from. */
  readonly corrupt: string;
}

/** A state snapshot: the reducer's state after applying every event up to and including `seq`. */
export interface LoggedSnapshot {
  readonly seq: number;
  readonly state: unknown;
}

/** What the lmdb decoder hands back for bytes that are not MessagePack, instead of throwing mid-scan. */
class Undecodable {
  constructor(readonly reason: string) {}
}

/**
 * Encodes records and checks decoded ones, for one log. `name` (such as `logs/gcs`) goes into every
 * complaint so a reader knows which file to look at.
 */
export class RecordCodec {
  // Copying embedded buffers matters: lmdb lends the decoder a buffer that it reuses for the next value.
  private readonly packr = new Packr({ structuredClone: true, copyBuffers: true });

  /**
   * The value encoder handed to lmdb. Decoding never throws, because an exception inside lmdb's range
   * iterator closes the cursor and would end the whole scan at the first bad record.
   */
  readonly lmdbEncoder = {
    encode: (value: unknown): Buffer => this.packr.pack(value),
    decode: (bytes: Uint8Array): unknown => {
      try {
        return this.packr.unpack(bytes) as unknown;
      } catch (error) {
        return new Undecodable(`it does not decode as MessagePack: ${oneLine(error)}`);
      }
    },
  };

  constructor(readonly name: string) {}

  /**
   * The bytes of one event record.
   *
   * @throws Error when the event holds a value MessagePack cannot carry (a function, for one).
   */
  encodeEvent(seq: number, atMs: number, parent: number | undefined, event: unknown): Buffer {
    return this.packr.pack([recordFormatVersion, seq, atMs, parent ?? null, event]);
  }

  /** The bytes of one snapshot. */
  encodeSnapshot(seq: number, state: unknown): Buffer {
    return this.packr.pack([recordFormatVersion, seq, state]);
  }

  /** The event stored under `key`, or why it is not one. */
  checkEvent(key: unknown, value: unknown): LoggedEvent | CorruptRecord {
    const seq = typeof key === 'number' ? key : Number.NaN;
    const problem = eventProblem(seq, value);
    if (problem !== undefined) {
      return {
        seq,
        corrupt: `record ${seq} of ${this.name} is not a tsray event (${problem}); the log was written by another program or damaged`,
      };
    }
    const [, , atMs, parent, event] = value as [number, number, number, number | null, unknown];
    return parent === null ? { seq, atMs, event } : { seq, atMs, parent, event };
  }

  /** The snapshot stored under `key`, or undefined when it is damaged. */
  checkSnapshot(key: unknown, value: unknown): LoggedSnapshot | undefined {
    if (typeof key !== 'number' || !Array.isArray(value) || value.length !== 3) return undefined;
    const [version, seq, state] = value as unknown[];
    if (version !== recordFormatVersion || seq !== key) return undefined;
    return { seq, state };
  }
}

/** What is wrong with `value` as the record for `seq`, or undefined when nothing is. */
function eventProblem(seq: number, value: unknown): string | undefined {
  if (value instanceof Undecodable) return value.reason;
  if (!Array.isArray(value)) return `it decodes to ${describe(value)}, not a record`;
  if (value.length !== 5) return `it is a list of ${value.length} fields, not 5`;
  const [version, recordSeq, atMs, parent] = value as unknown[];
  if (version !== recordFormatVersion) return `its format version is ${describe(version)}, this tsray reads ${recordFormatVersion}`;
  if (recordSeq !== seq) return `it carries seq ${describe(recordSeq)}`;
  if (typeof atMs !== 'number' || !Number.isFinite(atMs)) return `its time is ${describe(atMs)}`;
  if (parent !== null && !(typeof parent === 'number' && Number.isInteger(parent))) return `its parent is ${describe(parent)}`;
  return undefined;
}

/** A short name for a decoded value, for complaints. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  return `a ${typeof value}`;
}

/** An error's message on one line. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim();
}
