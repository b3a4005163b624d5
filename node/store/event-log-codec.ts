/**
 * How one event-log record and one snapshot are laid out as bytes, and how a stored value is checked
 * before anyone trusts it. Records are MessagePack. No shared structure table lives beside the log:
 * a record of version 1 or 2 is self-contained, and one of version 3 depends only on the one earlier
 * record it names, so one damaged record never makes the log unreadable.
 *
 * Three layouts, told apart by the record's first field, the format version:
 * - version 2 (events of plain data, which every core event is): objects as MessagePack maps, typed
 *   arrays as msgpackr's typed-array extensions. Encoding it costs about half of version 1, where
 *   msgpackr builds a record structure per object shape and tracks every object's identity in each
 *   record, work that a self-contained record never gets anything back for. plain-record-writer.ts
 *   writes these records, byte for byte as msgpackr would, in about half msgpackr's time.
 * - version 1 (any other event, and every snapshot): msgpackr in structured-clone mode, so Maps,
 *   Sets, typed arrays, Dates, bigints and `undefined` come back as they went in.
 * - version 3 (events of plain data, in a log whose codec makes deltas): `[3, seq, atMs, parent,
 *   baseSeq, changes]`, the event as the changes from record `baseSeq`, an earlier event of its type
 *   stored whole as version 2 (see record-delta.ts). Reading it needs that record too.
 * - version 5 (a message that came packed from another thread, in a log whose codec makes deltas):
 *   `[5, seq, atMs, parent, baseSeq, fields]`, the message as its packed fields (packed-batch.ts in
 *   node/runtime), read with the template of record `baseSeq`, an earlier message of its type stored
 *   whole as version 2. The sender's packing already found what varies from one message to the
 *   next, so writing those fields costs a fraction of finding the changes again (version 3).
 *
 * A stored value holds one record, or (format 4) a batch of them: the records another thread encoded
 * and handed over together, stored as one LMDB value under the seq of the first, so the log thread
 * pays one put per batch instead of one per record. Its layout is MessagePack too,
 * `[4, firstSeq, lengths, records]`: the first seq as a float64, each record's length as a uint32
 * (little-endian) in one bin, and the records one after another in another bin (see `StoredBatch`).
 */
import { Packr } from 'msgpackr';
import { type Typed, typeOf } from '../../core/type-of.js';
import { packedFieldCount, templateOf, unpackDelivered } from '../runtime/packed-batch.js';
import { maxPlainDepth, PlainRecordWriter } from './plain-record-writer.js';
import { applyChanges, baseOf, collectChanges, type DeltaBase } from './record-delta.js';

/** The layout version of records in structured-clone mode (snapshots, and events holding Maps). */
export const recordFormatVersion = 1;

/** The layout version of records whose objects are MessagePack maps (events of plain data). */
export const plainRecordFormatVersion = 2;

/**
 * The two bytes a version 2 record starts with: a MessagePack array of 5 fields, then the version.
 * The decoder reads them to pick the layout before it decodes anything.
 */
const plainRecordPrefix = [0x95, plainRecordFormatVersion] as const;

/** The layout version of records that store an event as its changes from an earlier record (record-delta.ts). */
export const deltaRecordFormatVersion = 3;

/** The two bytes a version 3 record starts with: a MessagePack array of 6 fields, then the version. */
const deltaRecordPrefix = [0x96, deltaRecordFormatVersion] as const;

/** The layout version of records that store a message as its packed fields (see `RecordCodec.encodePackedInPlace`). */
export const packedRecordFormatVersion = 5;

/** The two bytes a version 5 record starts with: a MessagePack array of 6 fields, then the version. */
const packedRecordPrefix = [0x96, packedRecordFormatVersion] as const;

/** The layout version of a stored value holding a batch of records (`StoredBatch`). */
export const batchFormatVersion = 4;

/** The bytes a batch value starts with: a MessagePack array of 4 fields, the version, and a float64 tag. */
const batchPrefix = [0x94, batchFormatVersion, 0xcb] as const;
/** A batch value's bytes before its lengths: the prefix, the float64 first seq, and the bin32 tag and size. */
const batchHeaderBytes = 3 + 8 + 5;

/** The most event types whose base a codec keeps; past it, it forgets them all and starts again. */
const maxBases = 256;
/** The most base events a reader keeps decoded; past it, it forgets them all and reads them again. */
const maxCachedBases = 64;

/**
 * How a reader gets the stored value of an earlier record (decoded by `lmdbEncoder`), to read a
 * version 3 record against; undefined when the log has no such record.
 */
export type RecordLookup = (seq: number) => unknown;

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
 * A stored batch of records (format 4), as the lmdb decoder hands it back: its own copy of the bytes
 * (lmdb lends the decoder a buffer it reuses), each record decoded only when it is read.
 */
export class StoredBatch {
  private constructor(
    /** The seq of the first record; the others follow without a gap. */
    readonly firstSeq: number,
    private readonly bytes: Uint8Array,
    /** Where each record starts in `bytes`, and then where the last ends. */
    private readonly offsets: Uint32Array,
  ) {}

  /** How many records the batch holds. */
  get length(): number {
    return this.offsets.length - 1;
  }

  /** The bytes of the `index`th record. */
  record(index: number): Uint8Array {
    return this.bytes.subarray(this.offsets[index], this.offsets[index + 1]);
  }

  /** The value of `records` (each a record's bytes) as one batch whose first record is `firstSeq`. */
  static encode(firstSeq: number, records: readonly Uint8Array[]): Uint8Array {
    let recordBytes = 0;
    const lengths: number[] = [];
    for (const record of records) {
      recordBytes += record.byteLength;
      lengths.push(record.byteLength);
    }
    const { value, recordsAt } = StoredBatch.layout(firstSeq, lengths, recordBytes);
    let at = recordsAt;
    for (const record of records) {
      value.set(record, at);
      at += record.byteLength;
    }
    return value;
  }

  /** The bytes of a batch value of records of `lengthCount` lengths and `recordBytes` bytes in all. */
  static sizeOf(lengthCount: number, recordBytes: number): number {
    return batchHeaderBytes + 4 * lengthCount + 5 + recordBytes;
  }

  /**
   * A batch value with its header and its records' `lengths` written, and room for the records
   * (`recordBytes` in all) from `recordsAt` on, which the caller copies there one after another: so a
   * thread that encodes records hands over the very value the log stores (see forwarded-log.ts). It is
   * laid out at the start of `memory` when given (which must hold `sizeOf` bytes), else in memory of its own.
   */
  static layout(firstSeq: number, lengths: ArrayLike<number>, recordBytes: number, memory?: ArrayBuffer): { value: Uint8Array; recordsAt: number } {
    const lengthBytes = 4 * lengths.length;
    const size = StoredBatch.sizeOf(lengths.length, recordBytes);
    const value = memory === undefined ? new Uint8Array(size) : new Uint8Array(memory, 0, size);
    const view = new DataView(value.buffer, 0, size);
    value.set(batchPrefix, 0);
    view.setFloat64(3, firstSeq);
    value[11] = 0xc6;
    view.setUint32(12, lengthBytes);
    let at = batchHeaderBytes;
    for (let index = 0; index < lengths.length; index += 1) {
      view.setUint32(at, lengths[index] as number, true);
      at += 4;
    }
    value[at] = 0xc6;
    view.setUint32(at + 1, recordBytes);
    return { value, recordsAt: at + 5 };
  }

  /** Whether `bytes` start as a batch value does. */
  static isBatch(bytes: Uint8Array): boolean {
    return bytes[0] === batchPrefix[0] && bytes[1] === batchPrefix[1];
  }

  /** The batch stored as `bytes`, or why they are not one. */
  static decode(bytes: Uint8Array): StoredBatch | Undecodable {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < batchHeaderBytes || bytes[2] !== batchPrefix[2] || bytes[11] !== 0xc6) return new Undecodable('it is a batch of records whose header is cut short or damaged');
    const firstSeq = view.getFloat64(3);
    const lengthBytes = view.getUint32(12);
    const recordsAt = batchHeaderBytes + lengthBytes;
    if (lengthBytes % 4 !== 0 || recordsAt + 5 > bytes.byteLength || bytes[recordsAt] !== 0xc6) return new Undecodable('it is a batch of records whose list of lengths is damaged');
    const recordBytes = view.getUint32(recordsAt + 1);
    if (recordsAt + 5 + recordBytes !== bytes.byteLength) return new Undecodable(`it is a batch of records whose size is ${bytes.byteLength} bytes, not the ${recordsAt + 5 + recordBytes} its header gives`);
    const count = lengthBytes / 4;
    const offsets = new Uint32Array(count + 1);
    let end = 0;
    for (let index = 0; index < count; index += 1) {
      offsets[index] = end;
      end += view.getUint32(batchHeaderBytes + 4 * index, true);
    }
    offsets[count] = end;
    if (end !== recordBytes || count === 0) return new Undecodable(count === 0 ? 'it is a batch of no records' : `it is a batch whose records' lengths add up to ${end} bytes, not ${recordBytes}`);
    // A copy (Buffer's own slice would be a view): lmdb reuses the buffer it lends the decoder for the next value.
    return new StoredBatch(firstSeq, Uint8Array.prototype.slice.call(bytes, recordsAt + 5), offsets);
  }
}

/**
 * Encodes records and checks decoded ones, for one log. `name` (such as `logs/gcs`) goes into every
 * complaint so a reader knows which file to look at.
 */
export class RecordCodec {
  // Copying embedded buffers matters: lmdb lends the decoder a buffer that it reuses for the next value.
  private readonly packr = new Packr({ structuredClone: true, copyBuffers: true });
  /** Version 2: objects as maps (decoded as objects), typed arrays by extension, no identity tracking. */
  private readonly plainPackr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true, copyBuffers: true });
  /** Writes version 2 records as `plainPackr` would, in one pass and faster (plain-record-writer.ts). */
  private readonly plainWriter = new PlainRecordWriter();
  /** With deltas on, the base of each event type: the last event of it stored whole. */
  private readonly bases: Map<string, DeltaBase> | undefined;
  /** With deltas on, the base of each type of message that comes packed (see `encodePackedInPlace`). */
  private readonly packedBases: Map<string, PackedBase[]> | undefined;
  /** Base events decoded for reading version 3 records, by seq. */
  private readonly baseEvents = new Map<number, unknown>();
  /** Where the last record `encodeEventInPlace` wrote is: its memory, and its start and end there. */
  readonly lastRecord: { buffer: ArrayBuffer; start: number; end: number } = { buffer: new ArrayBuffer(0), start: 0, end: 0 };

  /**
   * The value encoder handed to lmdb. Decoding never throws, because an exception inside lmdb's range
   * iterator closes the cursor and would end the whole scan at the first bad record.
   */
  readonly lmdbEncoder = {
    encode: (value: unknown): Buffer => this.packr.pack(value),
    decode: (bytes: Uint8Array, size?: unknown): unknown => {
      // lmdb may lend a buffer larger than the value, with the value's size as the second argument or as the buffer's own `length`.
      if (StoredBatch.isBatch(bytes)) return StoredBatch.decode(bytes.subarray(0, typeof size === 'number' ? size : bytes.length));
      try {
        const plain =
          (bytes[0] === plainRecordPrefix[0] && bytes[1] === plainRecordPrefix[1]) ||
          (bytes[0] === deltaRecordPrefix[0] && bytes[1] === deltaRecordPrefix[1]) ||
          (bytes[0] === packedRecordPrefix[0] && bytes[1] === packedRecordPrefix[1]);
        return (plain ? this.plainPackr : this.packr).unpack(bytes) as unknown;
      } catch (error) {
        return new Undecodable(`it does not decode as MessagePack: ${oneLine(error)}`);
      }
    },
  };

  /**
   * @param options.deltas whether events of plain data may be stored as their changes from an earlier
   *   event of their type (version 3). Only for a log whose records are never deleted and that is read
   *   whole or through `EventLog.read`, which finds the earlier record.
   */
  constructor(
    readonly name: string,
    options: { readonly deltas?: boolean } = {},
  ) {
    this.bases = options.deltas === true ? new Map() : undefined;
    this.packedBases = options.deltas === true ? new Map() : undefined;
  }

  /**
   * The bytes of one event record.
   *
   * @throws Error when the event holds a value MessagePack cannot carry (a function, for one).
   */
  encodeEvent(seq: number, atMs: number, parent: number | undefined, event: unknown): Buffer {
    this.encodeEventInPlace(seq, atMs, parent, event);
    const place = this.lastRecord;
    return Buffer.from(place.buffer, place.start, place.end - place.start);
  }

  /**
   * `encodeEvent` without making a Buffer of the record, which is then at `lastRecord` (until the
   * next record): for a caller that copies runs of records, to whom a Buffer per record is garbage.
   *
   * @throws Error when the event holds a value MessagePack cannot carry (a function, for one).
   */
  encodeEventInPlace(seq: number, atMs: number, parent: number | undefined, event: unknown): void {
    if (this.bases !== undefined) {
      // Every event of the log comes here: its type is read where a kind first met in a burst throws no code away.
      const type = typeof event === 'object' && event !== null ? (typeOf(event as Typed) as unknown) : undefined;
      if (typeof type === 'string') {
        this.encodeByType(type, seq, atMs, parent, event as object);
        return;
      }
    }
    if (this.plainWriter.writeInPlace(plainRecordFormatVersion, seq, atMs, parent, event)) this.placeWritten();
    else this.placePacked(this.packedEvent(seq, atMs, parent, event));
  }

  /**
   * `encodeEventInPlace` for `event`, a message rebuilt from the packed fields of a batch (`fields`
   * from `start` on, with `templates`; see packed-batch.ts in node/runtime): a version 5 record of
   * those fields against the last message of its type stored whole, when that one was packed with
   * the same template; else the message whole (version 2), which becomes that base. A log without
   * deltas stores it as any event.
   *
   * @throws Error when the event holds a value MessagePack cannot carry (a function, for one).
   */
  encodePackedInPlace(seq: number, atMs: number, parent: number | undefined, event: unknown, fields: readonly unknown[], start: number, templates: readonly unknown[][]): void {
    const packedBases = this.packedBases;
    const count = packedFieldCount(fields[start]);
    const template = templates[fields[start + 1] as number];
    const type = typeof event === 'object' && event !== null ? (event as { type?: unknown }).type : undefined;
    if (packedBases === undefined || count === undefined || template === undefined || typeof type !== 'string') {
      this.encodeEventInPlace(seq, atMs, parent, event);
      return;
    }
    let bases = packedBases.get(type);
    const base = bases === undefined ? undefined : packedBaseFor(bases, template);
    if (base !== undefined && this.plainWriter.writeDeltaInPlace(packedRecordFormatVersion, seq, atMs, parent, base.seq, fields, count, start)) {
      this.placeWritten();
      return;
    }
    if (!this.writeWhole(seq, atMs, parent, event)) return;
    if (bases === undefined) {
      if (packedBases.size >= maxBases) packedBases.clear();
      bases = [];
      packedBases.set(type, bases);
    }
    // The newest first; the oldest is forgotten when there are enough.
    if (bases.length >= maxPackedBasesPerType) bases.pop();
    bases.unshift({ seq, template, copy: structuredClone(template) });
  }

  /**
   * Writes `event` whole: as version 2 (then true: only such a record is a base), else, when it is
   * not plain data, as msgpackr lays it out.
   */
  private writeWhole(seq: number, atMs: number, parent: number | undefined, event: unknown): boolean {
    if (this.plainWriter.writeInPlace(plainRecordFormatVersion, seq, atMs, parent, event)) {
      this.placeWritten();
      return true;
    }
    this.placePacked(this.packedEvent(seq, atMs, parent, event));
    return false;
  }

  /** The event in the version 2 layout by msgpackr when it is plain data after all, else in the version 1 layout. */
  private packedEvent(seq: number, atMs: number, parent: number | undefined, event: unknown): Buffer {
    if (isPlainData(event)) return this.plainPackr.pack([plainRecordFormatVersion, seq, atMs, parent ?? null, event]);
    return this.packr.pack([recordFormatVersion, seq, atMs, parent ?? null, event]);
  }

  /**
   * Lets later records be written over the memory of every record encoded so far, which the caller
   * has copied out (see `PlainRecordWriter.recycle`): only for a caller that keeps no record in place.
   */
  recycle(): void {
    this.plainWriter.recycle();
  }

  /** Points `lastRecord` at the record the plain writer just wrote. */
  private placeWritten(): void {
    const place = this.lastRecord;
    place.buffer = this.plainWriter.lastRecordBuffer;
    place.start = this.plainWriter.lastRecordStart;
    place.end = this.plainWriter.lastRecordEnd;
  }

  /**
   * Points `lastRecord` at a copy of a record msgpackr packed: msgpackr packs into memory it may
   * reuse, and a record waits for its batch. Such records are rare (events holding Maps, say).
   */
  private placePacked(bytes: Buffer): void {
    const place = this.lastRecord;
    const copy = new Uint8Array(bytes);
    place.buffer = copy.buffer;
    place.start = 0;
    place.end = copy.byteLength;
  }

  /** An event with a type: as its changes from its type's base when it has one that fits, else whole (and then the new base). */
  private encodeByType(type: string, seq: number, atMs: number, parent: number | undefined, event: object): void {
    const bases = this.bases as Map<string, DeltaBase>;
    const base = bases.get(type);
    if (base !== undefined) {
      const changes = collectChanges(base, event);
      if (changes !== undefined) {
        const written = this.plainWriter.writeDeltaInPlace(deltaRecordFormatVersion, seq, atMs, parent, base.seq, changes.items, changes.count);
        changes.clear();
        if (written) {
          this.placeWritten();
          return;
        }
      }
    }
    if (!this.writeWhole(seq, atMs, parent, event)) return;
    const next = baseOf(seq, event);
    if (next !== undefined) {
      if (!bases.has(type) && bases.size >= maxBases) bases.clear();
      bases.set(type, next);
    }
  }

  /** The bytes of one snapshot. */
  encodeSnapshot(seq: number, state: unknown): Buffer {
    return this.packr.pack([recordFormatVersion, seq, state]);
  }

  /**
   * The event stored under `key`, or why it is not one. A version 3 record is read against the
   * earlier record it names, which `lookup` gives (without one, such a record is reported corrupt).
   */
  checkEvent(key: unknown, value: unknown, lookup?: RecordLookup): LoggedEvent | CorruptRecord {
    const seq = typeof key === 'number' ? key : Number.NaN;
    const problem = eventProblem(seq, value);
    if (problem !== undefined) return this.corrupt(seq, problem);
    const [version, , atMs, parent, eventOrBase, changes] = value as [number, number, number, number | null, unknown, unknown];
    let event = eventOrBase;
    if (version === deltaRecordFormatVersion) {
      const baseSeq = eventOrBase as number;
      const base = this.baseEvent(baseSeq, lookup);
      if (typeof base === 'string') return this.corrupt(seq, `it is stored as changes from record ${baseSeq}, which ${base}`);
      event = applyChanges(base, changes);
      if (event === undefined) return this.corrupt(seq, `its changes do not fit record ${baseSeq}`);
    } else if (version === packedRecordFormatVersion) {
      const baseSeq = eventOrBase as number;
      const base = this.baseEvent(baseSeq, lookup);
      if (typeof base === 'string') return this.corrupt(seq, `it is stored as packed fields against record ${baseSeq}, which ${base}`);
      event = packedMessage(base, changes);
      if (event === undefined) return this.corrupt(seq, `its packed fields do not fit record ${baseSeq}`);
    }
    return parent === null ? { seq, atMs, event } : { seq, atMs, parent, event };
  }

  /**
   * The `index`th record of the batch stored under `key`. A record is decoded as a value of its own
   * is (`lmdbEncoder`), so it may be any of versions 1 to 3.
   */
  checkBatchEvent(key: number, batch: StoredBatch, index: number, lookup?: RecordLookup): LoggedEvent | CorruptRecord {
    return this.checkEvent(key + index, this.lmdbEncoder.decode(batch.record(index)), lookup);
  }

  /**
   * Why `batch`, stored under `key`, is no batch the log can read, when it is not: one line naming
   * the seq (a damaged value is reported by `checkEvent`, as a damaged record is).
   */
  batchProblem(key: number, batch: StoredBatch): CorruptRecord | undefined {
    return batch.firstSeq === key ? undefined : this.corrupt(key, `it is a batch of records that starts at seq ${batch.firstSeq}`);
  }

  /** The event of base record `seq`, or why there is none (a phrase to follow "which"). */
  private baseEvent(seq: number, lookup: RecordLookup | undefined): unknown {
    if (this.baseEvents.has(seq)) return this.baseEvents.get(seq);
    if (lookup === undefined) return 'is not at hand where this record is read';
    const value = lookup(seq);
    if (value === undefined) return 'the log does not hold';
    const record = this.checkEvent(seq, value);
    if ('corrupt' in record) return 'is damaged';
    if ((value as unknown[])[0] === deltaRecordFormatVersion) return 'is itself stored as changes';
    if (this.baseEvents.size >= maxCachedBases) this.baseEvents.clear();
    this.baseEvents.set(seq, record.event);
    return record.event;
  }

  private corrupt(seq: number, problem: string): CorruptRecord {
    return { seq, corrupt: `record ${seq} of ${this.name} is not a tsray event (${problem}); the log was written by another program or damaged` };
  }

  /** The snapshot stored under `key`, or undefined when it is damaged. */
  checkSnapshot(key: unknown, value: unknown): LoggedSnapshot | undefined {
    if (typeof key !== 'number' || !Array.isArray(value) || value.length !== 3) return undefined;
    const [version, seq, state] = value as unknown[];
    if (version !== recordFormatVersion || seq !== key) return undefined;
    return { seq, state };
  }
}

/**
 * Whether `value` is plain data that the version 2 layout carries exactly: primitives (not bigints),
 * arrays, objects whose prototype is Object's, and typed arrays, nested at most `maxPlainDepth`
 * deep. Maps, Sets, Dates, other classes and cycles take the version 1 layout. An object reached
 * twice (an event's `args` and its spec's, say) is written twice, and decodes as two equal objects.
 */
function isPlainData(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'bigint';
  if (ArrayBuffer.isView(value)) return !(value instanceof DataView);
  if (depth >= maxPlainDepth) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isPlainData(item, depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) if (!isPlainData((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

/** The base of packed messages of one type: the seq of its record, the template it was packed with, and a copy of that template made then. */
interface PackedBase {
  readonly seq: number;
  template: readonly unknown[];
  readonly copy: readonly unknown[];
}

/**
 * How many bases of one type of packed message a codec keeps: one per template in use. A driver's
 * replies come from each of its workers, with a template each (the worker, its node and its link),
 * and in batches of a few replies while tasks are awaited: with one base per type, every batch from
 * the other worker stored a reply whole again, and a reply cost about as much as comparing it field
 * by field (version 3).
 */
const maxPackedBasesPerType = 16;

/**
 * The base of `bases` whose template is `template`: found by identity (every message of a batch
 * shares its template), else by value, and then remembered by this batch's identity. Undefined when none is.
 */
function packedBaseFor(bases: readonly PackedBase[], template: readonly unknown[]): PackedBase | undefined {
  for (const base of bases) if (base.template === template) return base;
  for (const base of bases) {
    if (samePlain(base.copy, template)) {
      base.template = template;
      return base;
    }
  }
  return undefined;
}

/**
 * Whether plain data `a` and `b` are equal, objects' keys in the same order (a base's keys are what
 * a record read against it gets). Typed arrays are never equal: a template holds none.
 */
function samePlain(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  for (let index = 0; index < aKeys.length; index += 1) {
    const key = aKeys[index] as string;
    if (key !== bKeys[index] || !samePlain((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** The message a version 5 record's `fields` give with the template of `base`, or undefined when they do not fit it. */
function packedMessage(base: unknown, fields: unknown): unknown {
  if (!Array.isArray(fields)) return undefined;
  const count = packedFieldCount(fields[0]);
  const template = templateOf(fields[0], base);
  if (count !== fields.length || template === undefined) return undefined;
  // The template's place in the batch it came in: here it is the only one.
  fields[1] = 0;
  try {
    return unpackDelivered(fields, template);
  } catch {
    return undefined;
  }
}

/** What is wrong with `value` as the record for `seq`, or undefined when nothing is. */
function eventProblem(seq: number, value: unknown): string | undefined {
  if (value instanceof Undecodable) return value.reason;
  if (!Array.isArray(value)) return `it decodes to ${describe(value)}, not a record`;
  const [version, recordSeq, atMs, parent, baseSeq] = value as unknown[];
  if (version !== recordFormatVersion && version !== plainRecordFormatVersion && version !== deltaRecordFormatVersion && version !== packedRecordFormatVersion) {
    return `its format version is ${describe(version)}, this tsray reads ${recordFormatVersion} to ${deltaRecordFormatVersion} and ${packedRecordFormatVersion}`;
  }
  const based = version === deltaRecordFormatVersion || version === packedRecordFormatVersion;
  const fields = based ? 6 : 5;
  if (value.length !== fields) return `it is a list of ${value.length} fields, not ${fields}`;
  if (based && !(typeof baseSeq === 'number' && Number.isInteger(baseSeq) && baseSeq >= 1 && baseSeq < seq)) {
    return `its base record is ${describe(baseSeq)}, not an earlier seq`;
  }
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
