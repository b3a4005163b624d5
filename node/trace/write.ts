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
 * A file written in chunks beside its path and renamed into place by `finish`, so a reader never sees
 * half of it; `abandon` removes it instead.
 */
export class ChunkedFile {
  private readonly temporary: string;
  private readonly fd: number;
  private chunk = '';
  private bytes = 0;

  constructor(private readonly path: string) {
    this.temporary = `${path}.${process.pid}.tmp`;
    this.fd = openSync(this.temporary, 'w');
  }

  /** Writes `text` after what was written before. */
  write(text: string): void {
    this.chunk += text;
    if (this.chunk.length >= chunkChars) this.flush();
  }

  /** Writes what is left, closes the file and renames it into place; returns the bytes written. */
  finish(): number {
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

  /** Closes the file and removes it (a write failed, or the file cannot be completed). */
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

/**
 * A trace file being written, line by line, as JSON Lines, in place only once finished (see
 * `ChunkedFile`).
 */
export class TraceFile {
  private readonly file: ChunkedFile;
  // A live run's reducers are the shipped ones: the writer replays with them to write snapshots.
  private readonly writer = new TraceWriter({ cores: { gcs: gcsCore, raylet: rayletCore, owner: ownerCore } });

  constructor(path: string) {
    this.file = new ChunkedFile(path);
  }

  /**
   * Writes the next line; for an entry, `applied` is what the caller's replay of its event gave, and
   * `eventText` the event's text when the caller has it (see `TraceWriter.line`).
   */
  write(line: TraceHeader | TraceEntry | TraceNote, applied?: AppliedStep | 'threw', eventText?: string): void {
    this.file.write(`${this.writer.line(line, applied, eventText)}\n`);
  }

  /** Writes the end line, closes the file and renames it into place; returns the bytes written. */
  finish(): number {
    this.file.write(`${this.writer.end()}\n`);
    return this.file.finish();
  }

  /** Closes the file and removes it (a write failed, or the trace cannot be completed). */
  abandon(): void {
    this.file.abandon();
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
