/**
 * Opening a trace file for a CLI command (`replay`, `why`, `debug`): whatever is wrong with the
 * file (missing, unreadable, not a trace, a format this tsray does not read, corrupt, edited or cut
 * short) becomes one line the user reads and exit 1, never a stack dump.
 */
import { readFile } from 'node:fs/promises';
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
    text = await readFile(path, 'utf8');
  } catch (error) {
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

/** Keeps a message on one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
