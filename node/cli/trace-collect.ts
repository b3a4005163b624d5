/**
 * `tsray trace collect [--session DIR] [-o FILE]`: merges the event logs of a live session into one
 * trace that `tsray replay` and the debugger open (see node/trace/collect.ts for the order and hashes).
 */
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../runtime/sessions.js';
import { defaultHashEveryEvents, mergeLogs, readSessionLogs } from '../trace/collect.js';
import type { CollectedTrace } from '../trace/collect.js';
import type { TraceEntry, TraceHeader, TraceNote } from '../../core/trace/format.js';
import { writeTraceLines } from '../trace/write.js';
import { sessionDirOf } from './session-arg.js';
import { UsageError, wholeNumber } from './usage.js';

/** The trace's file in the session folder when `-o` is not given. */
export const defaultTraceFileName = 'trace.jsonl';

const usage = `usage: tsray trace collect [--session DIR] [-o FILE] [--hash-every K]

Merges the event logs of a live session (the GCS, the raylet, the driver and every worker) into one
trace, in happens-before order, with state hashes. Check it with tsray replay FILE --verify.

  --session DIR    the session folder init() returned (default: the newest, see tsray sessions)
  -o, --output FILE  where to write the trace (default: DIR/${defaultTraceFileName})
  --hash-every K   record each component's state hash at least every K of its events at first, at
                   most every eighth of its events later on (default ${defaultHashEveryEvents})
  -h, --help       show this help`;

/** Runs `tsray trace SUBCOMMAND`; resolves to the exit code. */
export function traceCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${usage}\n`);
    return Promise.resolve(0);
  }
  if (sub !== 'collect') throw new UsageError(`trace takes a subcommand: tsray trace collect [--session DIR] [-o FILE]${sub === undefined ? '' : ` (not '${sub}')`}`);
  return Promise.resolve(collect(rest));
}

function collect(args: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      options: { session: { type: 'string' }, output: { type: 'string', short: 'o' }, 'hash-every': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    throw new UsageError(`trace collect: ${(error as Error).message}; see tsray trace collect --help`);
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const hashEveryEvents = wholeNumber('--hash-every', parsed.values['hash-every'], defaultHashEveryEvents, 1);
  const sessionDir = sessionDirOf(parsed.values.session);
  const output = resolve(parsed.values.output ?? join(sessionDir, defaultTraceFileName));
  const logs = readSessionLogs(sessionDir);
  const trace = mergeLogs(logs, { hashEveryEvents, workload: basename(sessionDir) });
  let bytes: number;
  try {
    bytes = writeTraceLines(output, linesOf(trace));
  } catch (error) {
    throw new Error(`cannot write the trace to ${output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; pass -o with a writable path`);
  }
  process.stdout.write(`${output}\n`);
  process.stderr.write(
    `collected ${trace.entries.length} events from ${logs.length} components of ${sessionDir} (${formatBytes(bytes)}); ${trace.checkedLiveHashes} live state hashes reproduced by replay\n`,
  );
  for (const line of trace.divergences) process.stderr.write(`tsray trace collect: ${line}\n`);
  return trace.divergences.length === 0 ? 0 : 1;
}

/** The trace's lines in file order: the header, the events, then the notes. */
function* linesOf(trace: CollectedTrace): Iterable<TraceHeader | TraceEntry | TraceNote> {
  yield trace.header;
  yield* trace.entries;
  yield* trace.notes;
}
