/**
 * Writing a trace file. Every line of a collected trace goes through `TraceFile`, chained by
 * checksums and closed by an end line (core/trace/format.ts `TraceWriter`), as replay demands, with
 * the snapshots and minted ids that let the debugger open it without replaying it.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { gcsCore } from '../../core/gcs/index.js';
import { ownerCore } from '../../core/owner/index.js';
import { rayletCore } from '../../core/raylet/index.js';
import { TraceWriter } from '../../core/trace/format.js';
import type { TraceEntry, TraceHeader, TraceNote } from '../../core/trace/format.js';
import type { AppliedStep } from '../../core/trace/snapshots.js';

/** Lines are written in chunks of about this many characters. */
const chunkChars = 1 << 20;

/**
 * A trace file being written, line by line, as JSON Lines. It is written beside its path and renamed
 * into place by `finish`, so a reader never sees half a trace; `abandon` removes it instead.
 */
export class TraceFile {
  private readonly temporary: string;
  private readonly fd: number;
  // A live run's reducers are the shipped ones: the writer replays with them to write snapshots.
  private readonly writer = new TraceWriter({ cores: { gcs: gcsCore, raylet: rayletCore, owner: ownerCore } });
  private chunk = '';
  private bytes = 0;

  constructor(private readonly path: string) {
    this.temporary = `${path}.${process.pid}.tmp`;
    this.fd = openSync(this.temporary, 'w');
  }

  /** Writes the next line; for an entry, `applied` is what the caller's replay of its event gave (see `TraceWriter.line`). */
  write(line: TraceHeader | TraceEntry | TraceNote, applied?: AppliedStep | 'threw'): void {
    this.chunk += `${this.writer.line(line, applied)}\n`;
    if (this.chunk.length >= chunkChars) this.flush();
  }

  /** Writes the end line, closes the file and renames it into place; returns the bytes written. */
  finish(): number {
    this.chunk += `${this.writer.end()}\n`;
    try {
      this.flush();
    } catch (error) {
      this.abandon();
      throw error;
    }
    closeSync(this.fd);
    renameSync(this.temporary, this.path);
    return this.bytes;
  }

  /** Closes the file and removes it (a write failed, or the trace cannot be completed). */
  abandon(): void {
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.temporary, { force: true });
    }
  }

  private flush(): void {
    this.bytes += writeSync(this.fd, this.chunk);
    this.chunk = '';
  }
}

/** Writes `lines` (the header first) to `path` as a trace file (see `TraceFile`); returns the bytes written. */
export function writeTraceLines(path: string, lines: Iterable<TraceHeader | TraceEntry | TraceNote>): number {
  const file = new TraceFile(path);
  try {
    for (const line of lines) file.write(line);
  } catch (error) {
    file.abandon();
    throw error;
  }
  return file.finish();
}
