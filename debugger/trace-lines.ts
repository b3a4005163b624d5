/**
 * Reading a trace's lines from a `TraceSource` a chunk at a time, for the debugger's passes. A chunk
 * of plain ASCII (the usual trace) is decoded once, and its character offsets are byte offsets too.
 */
import type { TraceSource } from './trace-index.js';

const utf8 = new TextDecoder();

/**
 * Bytes read and decoded at a time. A chunk's text stays below V8's large-object size (128 KiB), so
 * it is made in the young generation and dies there: chunks of 1 MiB were each a large object in the
 * old generation, and their 346 MB in a large trace's index pass set off some twenty full
 * collections of the main thread's heap (a third of the pass's time).
 */
const chunkBytes = 1 << 16;

/** One line of a source: its text and byte range (the newline excluded). */
export interface Line {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Whole lines of a source: their bytes from `offset`, and their text when every byte is one character. */
export interface Chunk {
  readonly offset: number;
  readonly bytes: Uint8Array;
  /** The bytes as text when they are ASCII, so that a character's offset is its byte's. */
  readonly ascii: string | undefined;
}

/** The source from byte `from` in chunks of whole lines (a line longer than a chunk makes a longer one). */
export function* chunksOf(source: TraceSource, from: number): Generator<Chunk> {
  let offset = from;
  while (offset < source.sizeBytes) {
    let length = Math.min(chunkBytes, source.sizeBytes - offset);
    let bytes = source.read(offset, length);
    let cut = bytes.lastIndexOf(10) + 1;
    // A line longer than a chunk: read on until it ends.
    while (cut === 0 && offset + length < source.sizeBytes) {
      length = Math.min(length * 2, source.sizeBytes - offset);
      bytes = source.read(offset, length);
      cut = bytes.lastIndexOf(10) + 1;
    }
    if (cut === 0) cut = bytes.length;
    const chunk = bytes.subarray(0, cut);
    if (source.asciiText !== undefined) {
      yield { offset, bytes: chunk, ascii: source.asciiText(chunk) };
    } else {
      const text = utf8.decode(chunk);
      yield { offset, bytes: chunk, ascii: text.length === chunk.length ? text : undefined };
    }
    offset += cut;
  }
}

/** The lines of `chunk`, each decoded on its own when the chunk is not ASCII. */
export function* linesOfChunk(chunk: Chunk): Generator<Line> {
  const { offset, bytes, ascii } = chunk;
  let at = 0;
  if (ascii !== undefined) {
    while (at < ascii.length) {
      const newline = ascii.indexOf('\n', at);
      const end = newline < 0 ? ascii.length : newline;
      yield { text: ascii.slice(at, end), start: offset + at, end: offset + end };
      at = end + 1;
    }
    return;
  }
  while (at < bytes.length) {
    const newline = bytes.indexOf(10, at);
    const end = newline < 0 ? bytes.length : newline;
    yield { text: utf8.decode(bytes.subarray(at, end)), start: offset + at, end: offset + end };
    at = end + 1;
  }
}

/** The lines of `source` from byte `from`. */
export function* linesOf(source: TraceSource, from: number): Generator<Line> {
  for (const chunk of chunksOf(source, from)) yield* linesOfChunk(chunk);
}
