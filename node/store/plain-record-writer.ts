/**
 * A writer of version 2 event records (see event-log-codec.ts) that skips msgpackr's general path:
 * it walks an event once, checking that it is plain data while it writes it, where the codec walked
 * it twice (`isPlainData`, then msgpackr's `pack`); and it writes a typed array directly, where
 * msgpackr asks every registered extension class in turn (each of tsray's codec extensions answers
 * `instanceof` through a function), which made a one-byte `Uint8Array` cost as much as a small object.
 * Every event of a tiny task carries such a typed array (the encoded argument or result).
 *
 * The bytes are exactly those of `new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true })`
 * (msgpackr 1.12): objects as map 16 with their own enumerable keys, arrays, strings (short ones
 * encoded by the same loop msgpackr uses, lone surrogates included), integers in the smallest form
 * msgpackr picks, other numbers as float 64, `undefined` as fixext 1 type 0, a Buffer as bin, and
 * other typed arrays as msgpackr's typed-array extension. So records decode with the same unpacker,
 * and a log does not change with the writer (test/unit/node/store/plain-record-writer.test.ts checks
 * it against msgpackr on every event of a recorded run). Anything else (bigints, Maps, Dates, class
 * instances, null-prototype objects, functions, symbols, DataViews, nesting past `maxPlainDepth`)
 * makes `write` return undefined, and the codec falls back to msgpackr.
 */

/** How deep the writer goes before it gives the value to the structured-clone layout (a cycle never ends). */
export const maxPlainDepth = 24;

/** The chunk that records are written into, one after another; a record that outgrows it moves to a larger one. */
const chunkBytes = 64 * 1024;
/**
 * The size of a writer's first chunk, small so that it is outgrown within the first few dozen
 * records: `room`'s call of `newChunk` then has run (and V8 has seen it) before the writer's
 * callers are optimised. A log whose records are copied out as they are batched (a forwarded log)
 * writes each batch over the same chunk, so a 64 KiB first chunk was first outgrown by a batch of
 * the first burst of tasks: V8 had compiled the functions that inline `room` (the codec's
 * appends, the shell's `apply`) without that call, and threw them all away there to compile them again.
 */
const firstChunkBytes = 4 * 1024;
/** A record starts in a fresh chunk when less than this is left. */
const minRoomBytes = 1024;
/**
 * The most chunks kept for reuse once their records were copied out (see `recycle`): a forwarded
 * log's full batch (4096 records of a tiny task's 75-90 bytes) fills six, and with four kept two
 * fresh chunks were allocated for every batch.
 */
const maxSpareChunks = 8;

/** msgpackr's typed-array extension codes: the index of the array's class in this list. */
const typedArrayCodes = new Map<unknown, number>(
  [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map((kind, code) => [kind, code]),
);

/** Thrown (one instance, made once) when a value cannot be written here; `write` catches it and returns undefined. */
class NotPlainData extends Error {}
const notPlain = new NotPlainData('not plain data: left to msgpackr');

/**
 * Whether Object.prototype has an enumerable property (someone added one), which `for...in` then
 * yields on every object. Checked once per record, so that the loops over an object's keys leave out
 * the `hasOwnProperty` call per key (a builtin call, a tenth of writing a small object) when it has none.
 */
export function prototypeIsPolluted(): boolean {
  for (const _key in emptyObject) return true;
  return false;
}
const emptyObject = {};

/** Writes version 2 records of plain data; see the module comment. */
export class PlainRecordWriter {
  // Empty until the first record: a log opened only to be read, or fed records encoded elsewhere, never needs one.
  private chunk = Buffer.alloc(0);
  private view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
  /**
   * `chunk.buffer` and `chunk.byteOffset`, kept as the chunk changes: the log asks for them after
   * every record, and a typed array's `buffer` getter is a call into the engine (about 0.1 µs of a
   * driver's main thread per tiny task, for its two records, in a profile of P1).
   */
  private chunkBuffer: ArrayBuffer = this.chunk.buffer;
  private chunkOffset = this.chunk.byteOffset;
  private start = 0;
  private position = 0;
  /** Whether `for...in` may yield inherited keys during this record (see `prototypeIsPolluted`). */
  private inheritedKeys = false;
  /** Once `recycle` was called, the chunks filled since: the next `recycle` makes them spares. */
  private filled: Buffer<ArrayBuffer>[] | undefined;
  /** Chunks whose records were copied out, to write later records into. */
  private readonly spare: Buffer<ArrayBuffer>[] = [];

  /**
   * Lets later records be written over every record written so far, which the caller has copied
   * out (a forwarded log copies its records into the batch it hands over): the chunks are written
   * again rather than fresh ones allocated. A fresh 64 KiB chunk cost a worker about a hundred µs of
   * page faults, every 800-odd records; a chunk written again is also still in the cache.
   */
  recycle(): void {
    const filled = (this.filled ??= []);
    for (const chunk of filled) if (this.spare.length < maxSpareChunks && chunk.length === chunkBytes) this.spare.push(chunk);
    filled.length = 0;
    this.start = 0;
    this.position = 0;
  }

  /**
   * The record `[version, seq, atMs, parent ?? null, event]`, or undefined when `event` is not plain
   * data (nothing is then written). The record is a view into a chunk that later records do not touch.
   */
  write(version: number, seq: number, atMs: number, parent: number | undefined, event: unknown): Buffer | undefined {
    return this.writeInPlace(version, seq, atMs, parent, event) ? this.chunk.subarray(this.start, this.position) : undefined;
  }

  /**
   * `write` without making a view of the record: false when `event` is not plain data, else the
   * record is `lastRecordBuffer` from `lastRecordStart` to `lastRecordEnd` (for a caller that copies
   * runs of records, to whom a Buffer object per record is only garbage).
   */
  writeInPlace(version: number, seq: number, atMs: number, parent: number | undefined, event: unknown): boolean {
    this.begin();
    try {
      this.chunk[this.position++] = 0x95;
      this.value(version, 0);
      this.value(seq, 0);
      this.value(atMs, 0);
      this.value(parent ?? null, 0);
      this.value(event, 0);
    } catch (error) {
      return this.abandon(error);
    }
    return true;
  }

  /**
   * A record of other fields than `write`'s (a version 3 record, say), as an array of `fields`,
   * written in place (see `writeInPlace`); false when one is not plain data.
   */
  writeFieldsInPlace(fields: readonly unknown[]): boolean {
    this.begin();
    try {
      this.array(fields, 0);
    } catch (error) {
      return this.abandon(error);
    }
    return true;
  }

  /**
   * The record `[version, seq, atMs, parent ?? null, baseSeq, changes]` (a version 3 record, see
   * record-delta.ts, or a version 5 one, a packed message's fields), with `changes` the `count` of
   * `items` from `from` on, written in place (see `writeInPlace`) byte for byte as
   * `writeFieldsInPlace` writes that list; false when a change's value is not plain data. No list of
   * the fields, nor of the changes, is made.
   */
  writeDeltaInPlace(version: number, seq: number, atMs: number, parent: number | undefined, baseSeq: number, items: readonly unknown[], count: number, from = 0): boolean {
    this.begin();
    try {
      this.chunk[this.position++] = 0x96;
      this.value(version, 0);
      this.value(seq, 0);
      this.value(atMs, 0);
      this.value(parent ?? null, 0);
      this.value(baseSeq, 0);
      // As `array` writes a list of `count` items at depth 1, the changes being the fields' sixth.
      this.arrayHeader(count);
      for (let index = from; index < from + count; index += 1) this.value(items[index], 1);
    } catch (error) {
      return this.abandon(error);
    }
    return true;
  }

  /** Starts a record at `position`, in a chunk with room for its start. */
  private begin(): void {
    this.start = this.position;
    this.inheritedKeys = prototypeIsPolluted();
    // Through `room`, so that a chunk is only ever replaced from its one call of `newChunk` (see `firstChunkBytes`).
    this.room(minRoomBytes);
  }

  /** Drops the record begun, after `error`: false when it was not plain data, else `error` goes on. */
  private abandon(error: unknown): false {
    this.position = this.start;
    if (error === notPlain) return false;
    throw error;
  }

  /** The memory holding the last record written in place. */
  get lastRecordBuffer(): ArrayBuffer {
    return this.chunkBuffer;
  }

  /** Where the last record written in place starts in `lastRecordBuffer`. */
  get lastRecordStart(): number {
    return this.chunkOffset + this.start;
  }

  /** Where the last record written in place ends in `lastRecordBuffer`. */
  get lastRecordEnd(): number {
    return this.chunkOffset + this.position;
  }

  /** Makes room for `bytes` more at `position`, moving the record written so far to a new chunk if need be. */
  private room(bytes: number): void {
    if (this.position + bytes > this.chunk.length) this.newChunk(bytes);
  }

  private newChunk(bytes: number): void {
    const written = this.position - this.start;
    const size = Math.max(this.chunk.length === 0 ? firstChunkBytes : chunkBytes, (written + bytes) * 2);
    if (this.filled !== undefined && this.chunk.length > 0) this.filled.push(this.chunk);
    const next = (size === chunkBytes ? this.spare.pop() : undefined) ?? Buffer.allocUnsafeSlow(size);
    this.chunk.copy(next, 0, this.start, this.position);
    this.chunk = next;
    this.chunkBuffer = next.buffer;
    this.chunkOffset = next.byteOffset;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.start = 0;
    this.position = written;
  }

  private value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.string(value);
        return;
      case 'number':
        this.number(value);
        return;
      case 'boolean':
        this.room(1);
        this.chunk[this.position++] = value ? 0xc3 : 0xc2;
        return;
      case 'undefined':
        this.room(3);
        this.chunk[this.position++] = 0xd4;
        this.chunk[this.position++] = 0;
        this.chunk[this.position++] = 0;
        return;
      case 'object':
        if (value === null) {
          this.room(1);
          this.chunk[this.position++] = 0xc0;
          return;
        }
        if (ArrayBuffer.isView(value)) this.typedArray(value);
        else if (depth >= maxPlainDepth) throw notPlain;
        else if (Array.isArray(value)) this.array(value, depth + 1);
        else if (Object.getPrototypeOf(value) === Object.prototype) this.object(value as Record<string, unknown>, depth + 1);
        else throw notPlain;
        return;
      case 'bigint':
      case 'function':
      case 'symbol':
        throw notPlain;
    }
  }

  private number(value: number): void {
    this.room(9);
    const target = this.chunk;
    if (value >>> 0 === value) {
      if (value < 0x80) {
        target[this.position++] = value;
      } else if (value < 0x100) {
        target[this.position++] = 0xcc;
        target[this.position++] = value;
      } else if (value < 0x10000) {
        target[this.position++] = 0xcd;
        target[this.position++] = value >> 8;
        target[this.position++] = value & 0xff;
      } else {
        target[this.position++] = 0xce;
        this.view.setUint32(this.position, value);
        this.position += 4;
      }
    } else if (value >> 0 === value) {
      if (value >= -0x20) {
        target[this.position++] = 0x100 + value;
      } else if (value >= -0x80) {
        target[this.position++] = 0xd0;
        target[this.position++] = value + 0x100;
      } else if (value >= -0x8000) {
        target[this.position++] = 0xd1;
        this.view.setInt16(this.position, value);
        this.position += 2;
      } else {
        target[this.position++] = 0xd2;
        this.view.setInt32(this.position, value);
        this.position += 4;
      }
    } else {
      target[this.position++] = 0xcb;
      this.view.setFloat64(this.position, value);
      this.position += 8;
    }
  }

  /** A string as msgpackr writes it: the header sized from the string's length, moved once the bytes are known. */
  private string(value: string): void {
    const strLength = value.length;
    const headerSize = strLength < 0x20 ? 1 : strLength < 0x100 ? 2 : strLength < 0x10000 ? 3 : 5;
    this.room(strLength * 3 + headerSize);
    const target = this.chunk;
    let length: number;
    if (strLength < 0x40) {
      let at = this.position + headerSize;
      for (let index = 0; index < strLength; index += 1) {
        let c1 = value.charCodeAt(index);
        let c2: number;
        if (c1 < 0x80) {
          target[at++] = c1;
        } else if (c1 < 0x800) {
          target[at++] = (c1 >> 6) | 0xc0;
          target[at++] = (c1 & 0x3f) | 0x80;
        } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = value.charCodeAt(index + 1)) & 0xfc00) === 0xdc00) {
          c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
          index += 1;
          target[at++] = (c1 >> 18) | 0xf0;
          target[at++] = ((c1 >> 12) & 0x3f) | 0x80;
          target[at++] = ((c1 >> 6) & 0x3f) | 0x80;
          target[at++] = (c1 & 0x3f) | 0x80;
        } else {
          target[at++] = (c1 >> 12) | 0xe0;
          target[at++] = ((c1 >> 6) & 0x3f) | 0x80;
          target[at++] = (c1 & 0x3f) | 0x80;
        }
      }
      length = at - this.position - headerSize;
    } else {
      length = target.write(value, this.position + headerSize);
    }
    const bodyAt = this.position + headerSize;
    if (length < 0x20) {
      target[this.position++] = 0xa0 | length;
    } else if (length < 0x100) {
      if (headerSize < 2) target.copyWithin(this.position + 2, bodyAt, bodyAt + length);
      target[this.position++] = 0xd9;
      target[this.position++] = length;
    } else if (length < 0x10000) {
      if (headerSize < 3) target.copyWithin(this.position + 3, bodyAt, bodyAt + length);
      target[this.position++] = 0xda;
      target[this.position++] = length >> 8;
      target[this.position++] = length & 0xff;
    } else {
      if (headerSize < 5) target.copyWithin(this.position + 5, bodyAt, bodyAt + length);
      target[this.position++] = 0xdb;
      this.view.setUint32(this.position, length);
      this.position += 4;
    }
    this.position += length;
  }

  private array(value: readonly unknown[], depth: number): void {
    const length = value.length;
    this.arrayHeader(length);
    for (let index = 0; index < length; index += 1) this.value(value[index], depth);
  }

  /** The header of a list of `length` items. */
  private arrayHeader(length: number): void {
    this.room(5);
    if (length < 0x10) {
      this.chunk[this.position++] = 0x90 | length;
    } else if (length < 0x10000) {
      this.chunk[this.position++] = 0xdc;
      this.chunk[this.position++] = length >> 8;
      this.chunk[this.position++] = length & 0xff;
    } else {
      this.chunk[this.position++] = 0xdd;
      this.view.setUint32(this.position, length);
      this.position += 4;
    }
  }

  /** An object as map 16 (msgpackr writes the size after the entries), its own enumerable keys in order. */
  private object(value: Record<string, unknown>, depth: number): void {
    this.room(3);
    this.chunk[this.position++] = 0xde;
    const sizeAt = this.position - this.start;
    this.position += 2;
    let size = 0;
    for (const key in value) {
      if (this.inheritedKeys && !Object.prototype.hasOwnProperty.call(value, key)) continue;
      this.string(key);
      this.value(value[key], depth);
      size += 1;
    }
    // msgpackr refuses a larger object; the fallback reports its error.
    if (size > 0xffff) throw notPlain;
    // The record may have moved to a new chunk while its entries were written.
    this.chunk[this.start + sizeAt] = size >> 8;
    this.chunk[this.start + sizeAt + 1] = size & 0xff;
  }

  /** A Buffer as bin, another typed array as msgpackr's typed-array extension; a DataView is not plain data. */
  private typedArray(value: ArrayBufferView): void {
    const constructor = value.constructor;
    const bytes = constructor === Uint8Array || constructor === Buffer ? (value as Uint8Array) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    const length = bytes.byteLength;
    if (constructor === Buffer) {
      this.room(length + 5);
      if (length < 0x100) {
        this.chunk[this.position++] = 0xc4;
        this.chunk[this.position++] = length;
      } else if (length < 0x10000) {
        this.chunk[this.position++] = 0xc5;
        this.chunk[this.position++] = length >> 8;
        this.chunk[this.position++] = length & 0xff;
      } else {
        this.chunk[this.position++] = 0xc6;
        this.view.setUint32(this.position, length);
        this.position += 4;
      }
    } else {
      const code = typedArrayCodes.get(constructor);
      // A DataView, or a subclass (msgpackr picks its code by the class's name): left to msgpackr.
      if (code === undefined) throw notPlain;
      this.room(length + 7);
      if (length + 1 < 0x100) {
        this.chunk[this.position++] = 0xc7;
        this.chunk[this.position++] = length + 1;
      } else if (length + 1 < 0x10000) {
        this.chunk[this.position++] = 0xc8;
        this.chunk[this.position++] = (length + 1) >> 8;
        this.chunk[this.position++] = (length + 1) & 0xff;
      } else {
        this.chunk[this.position++] = 0xc9;
        this.view.setUint32(this.position, length + 1);
        this.position += 4;
      }
      this.chunk[this.position++] = 0x74;
      this.chunk[this.position++] = code;
    }
    // A few bytes (a tiny task's encoded argument or result) copy faster one by one than through `set`.
    if (length <= 16) for (let index = 0; index < length; index += 1) this.chunk[this.position + index] = bytes[index] as number;
    else this.chunk.set(bytes, this.position);
    this.position += length;
  }
}
