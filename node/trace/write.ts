/**
 * Writing a trace file. Every line of a collected trace goes through `writeTraceLines`, chained by
 * checksums and closed by an end line (core/trace/format.ts `TraceWriter`), as replay demands.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { TraceWriter } from '../../core/trace/format.js';
import type { TraceEntry, TraceHeader, TraceNote } from '../../core/trace/format.js';

/** Lines are written in chunks of about this many characters. */
const chunkChars = 1 << 20;

/**
 * Writes `lines` (the header first) to `path` as JSON Lines; returns the bytes written. The file is
 * written beside `path` and renamed into place, so a reader never sees half a trace.
 */
export function writeTraceLines(path: string, lines: Iterable<TraceHeader | TraceEntry | TraceNote>): number {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w');
  let bytes = 0;
  const writer = new TraceWriter();
  try {
    let chunk = '';
    for (const line of lines) {
      chunk += `${writer.line(line)}\n`;
      if (chunk.length >= chunkChars) {
        bytes += writeSync(fd, chunk);
        chunk = '';
      }
    }
    chunk += `${writer.end()}\n`;
    bytes += writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  return bytes;
}
