/**
 * Opening a trace file for a CLI command (`replay`, `why`, `debug`): whatever is wrong with the
 * file (missing, unreadable, not a trace, a format this tsray does not read, corrupt, edited or cut
 * short) becomes one line the user reads and exit 1, never a stack dump.
 */
import { constants } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import * as E from 'fp-ts/lib/Either.js';
import { decodeTrace, traceProblems } from '../../core/trace/decode.js';
import type { Trace } from '../../core/trace/format.js';

/** A trace file that cannot be used; the message is one line saying what is wrong and what to do. */
export class TraceFileError extends Error {
  override name = 'TraceFileError';
}

/** A decoded trace file. */
export interface LoadedTrace {
  readonly path: string;
  readonly trace: Trace;
  /** Every problem found in the file (rejected lines, breaks of the checksum chain), one line each, in file order. */
  readonly problems: readonly string[];
}

/** How to load. */
export interface LoadTraceOptions {
  /**
   * Whether a trace with problems is refused (the default): the error names how many there are and
   * the first. `tsray replay` passes false, to list them itself and still replay what it can.
   */
  readonly strict?: boolean;
}

/**
 * Reads and decodes the trace at `path`.
 *
 * @throws TraceFileError (one line) when the file cannot be read, has no valid header (including a
 *   format version this tsray does not read), or, when strict, has any problem.
 */
export async function loadTraceFile(path: string, options: LoadTraceOptions = {}): Promise<LoadedTrace> {
  let text: string;
  try {
    // The file is decoded as one string, and V8 holds none longer than MAX_STRING_LENGTH characters:
    // a larger trace (a collected session of millions of events) is refused naming that limit, where
    // reading it failed with V8's bare "Invalid string length".
    const sizeBytes = (await stat(path)).size;
    if (sizeBytes > constants.MAX_STRING_LENGTH) {
      throw new TraceFileError(
        `cannot read trace ${path}: it is ${mebibytes(sizeBytes)} MiB, and tsray replay and why decode a trace as one string of at most ${mebibytes(constants.MAX_STRING_LENGTH)} MiB (V8's MAX_STRING_LENGTH); browse it with tsray debug, which reads it in pieces, or collect a session with fewer events to replay it`,
      );
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof TraceFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'no such file (ENOENT)' : code === 'EISDIR' ? 'it is a directory (EISDIR)' : (code ?? oneLine(String(error)));
    throw new TraceFileError(`cannot read trace ${path}: ${what}; pass a file written by tsray sim or tsray trace collect`);
  }
  const decoded = decodeTrace(text);
  if (E.isLeft(decoded)) throw new TraceFileError(`${path} is not a trace this tsray can read: ${oneLine(decoded.left.reason)}`);
  const problems = traceProblems(decoded.right);
  if ((options.strict ?? true) && problems.length > 0) {
    const more = problems.length === 1 ? '' : ` (and ${problems.length - 1} more; tsray replay ${path} lists them)`;
    throw new TraceFileError(`${path} is damaged: ${oneLine(problems[0] ?? '')}${more}`);
  }
  return { path, trace: decoded.right, problems };
}

/** `bytes` in MiB, to one decimal place. */
function mebibytes(bytes: number): string {
  return (bytes / 1024 ** 2).toFixed(1);
}

/** Keeps a message on one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
