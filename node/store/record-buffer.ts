/**
 * The encoded records an event log holds until it hands them to lmdb-js. One turn may append
 * hundreds of thousands (a driver submitting a million tiny tasks at once, P5 in bench/), and a
 * Buffer object per record cost about 100 bytes besides the record's own bytes. So each record is
 * kept as its place (offset and length) in the buffer holding it, and a Buffer view of it is made
 * only when it is handed over. Consecutive records of one buffer (plain-record-writer.ts writes
 * records one after another into a chunk) share that buffer's entry.
 */
export class RecordBuffer {
  /** The buffers holding records, in the order their records came. */
  private readonly sources: ArrayBufferLike[] = [];
  /** For each of `sources`, the index of its first record. */
  private readonly sourceStarts: number[] = [];
  /** For each record, its offset in its buffer and then its length. */
  private readonly places: number[] = [];

  /** How many records it holds. */
  get length(): number {
    return this.places.length / 2;
  }

  /** Keeps `record`, which no one may change afterwards (it is not copied). */
  push(record: Uint8Array): void {
    if (this.sources[this.sources.length - 1] !== record.buffer) {
      this.sources.push(record.buffer);
      this.sourceStarts.push(this.length);
    }
    this.places.push(record.byteOffset, record.byteLength);
  }

  /** The records in the order they were pushed, each a view of its bytes. */
  *records(): IterableIterator<Buffer> {
    let source = -1;
    for (let index = 0; index < this.length; index += 1) {
      if (this.sourceStarts[source + 1] === index) source += 1;
      yield Buffer.from(this.sources[source] as ArrayBuffer, this.places[2 * index], this.places[2 * index + 1]);
    }
  }
}
