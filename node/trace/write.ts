/**
 * Writing a trace file. Every line of a collected trace goes through `writeTraceLines`, chained by
 * checksums and closed by an end line (core/trace/format.ts `TraceWriter`), as replay demands, with
 * the snapshots and minted ids that let the debugger open it without replaying it.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { gcsCore } from '../../core/gcs/index.js';
import { ownerCore } from '../../core/owner/index.js';
import { rayletCore } from '../../core/raylet/index.js';
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
  // A live run's reducers are the shipped ones: the writer replays with them to write snapshots.
  const writer = new TraceWriter({ cores: { gcs: gcsCore, raylet: rayletCore, owner: ownerCore } });
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
