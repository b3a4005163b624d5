/**
 * `tsray trace collect [--session DIR | --address A] [-o FILE]`: merges the event logs of a live
 * session, or of every node and driver of a cluster (fetched over its connections), into one trace
 * that `tsray replay` and the debugger open (see node/trace/collect.ts for the order and hashes).
 */
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../runtime/sessions.js';
import { defaultHashEveryEvents, mergeLogsInto, openSessionSources, traceHeaderOf } from '../trace/collect.js';
import type { LogSource, MergeResult } from '../trace/collect.js';
import { fetchClusterSources } from './cluster-logs.js';
import { writeOutputFile } from './output-file.js';
import { clusterTarget } from './cluster-target.js';
import { TraceFile } from '../trace/write.js';
import { sessionDirOf } from './session-arg.js';
import { UsageError, firstLine, wholeNumber } from './usage.js';

/** The trace's file in the session folder when `-o` is not given. */
export const defaultTraceFileName = 'trace.jsonl';

const usage = `usage: tsray trace collect [--session DIR | --address HOST:PORT|auto [--token T]] [-o FILE] [--hash-every K]

Merges the event logs of a live session (the GCS, the raylet, the driver and every worker), or of
every live node and driver of a cluster, into one trace, in happens-before order, with state
hashes. Check it with tsray replay FILE --verify.

  --session DIR    the session folder init() returned (default: the newest, see tsray sessions)
  --address A      a running cluster's head: each node and driver commits its logs and sends them
                   over the cluster's connections, in chunks; those that cannot are named, and the
                   command then exits 1 after writing what it got. The logs of dead nodes that ran
                   on this machine are read from their session dirs; other dead nodes are named
  --token T        the cluster token (default: TSRAY_TOKEN, else this machine's address file)
  -o, --output FILE  where to write the trace (default: DIR/${defaultTraceFileName}; with --address, ./${defaultTraceFileName})
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
  if (sub !== 'collect') throw new UsageError(`trace takes a subcommand: tsray trace collect [--session DIR | --address A] [-o FILE]${sub === undefined ? '' : ` (not '${sub}')`}`);
  return collect(rest);
}

async function collect(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      options: {
        session: { type: 'string' },
        address: { type: 'string' },
        token: { type: 'string' },
        output: { type: 'string', short: 'o' },
        'hash-every': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`trace collect: ${firstLine((error as Error).message)}; see tsray trace collect --help`);
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const hashEveryEvents = wholeNumber('--hash-every', parsed.values['hash-every'], defaultHashEveryEvents, 1);
  const { session, address, token } = parsed.values;
  if (session !== undefined && address !== undefined) throw new UsageError('trace collect: pass --session DIR (a session on this machine) or --address A (a cluster), not both');
  if (token !== undefined && address === undefined) throw new UsageError('trace collect: --token goes with --address; see tsray trace collect --help');
  // A session's logs are read as they are merged; a cluster's are spooled to files as they come over
  // its connections, and read so too.
  let logs: readonly LogSource[];
  let closeLogs = (): void => undefined;
  let output: string;
  let from: string;
  let workload: string;
  let incomplete = false;
  if (address !== undefined) {
    const target = clusterTarget('trace collect', { address, token });
    output = resolve(parsed.values.output ?? defaultTraceFileName);
    const fetched = await fetchClusterSources('tsray trace collect', target);
    ({ logs, from, incomplete } = fetched);
    closeLogs = fetched.close;
    workload = `cluster ${target.address}`;
  } else {
    const sessionDir = sessionDirOf(session);
    output = resolve(parsed.values.output ?? join(sessionDir, defaultTraceFileName));
    const opened = openSessionSources(sessionDir);
    logs = opened.sources;
    closeLogs = opened.close;
    from = sessionDir;
    workload = basename(sessionDir);
  }
  try {
    return writeTrace(logs, { output, from, workload, hashEveryEvents, incomplete });
  } finally {
    closeLogs();
  }
}

/** Merges `logs` into a trace written to `output` as it goes; the exit code (1 when a replay diverged or logs are missing). */
function writeTrace(logs: readonly LogSource[], options: { output: string; from: string; workload: string; hashEveryEvents: number; incomplete: boolean }): number {
  const { output, from, workload, hashEveryEvents, incomplete } = options;
  // The trace is written as the logs are merged: the writer takes its snapshots from the merge's
  // replay, and no event is kept once written.
  let events = 0;
  const { bytes, result: trace } = writeOutputFile('trace', output, (path) => new TraceFile(path), (file): MergeResult => {
    file.write(traceHeaderOf(logs, workload));
    const merged = mergeLogsInto(logs, { hashEveryEvents, workload }, (entry, applied, text) => {
      events += 1;
      file.write(entry, applied, text);
    });
    for (const note of merged.notes) file.write(note);
    return merged;
  });
  process.stdout.write(`${output}\n`);
  process.stderr.write(
    `collected ${events} events from ${logs.length} components of ${from} (${formatBytes(bytes)}); ${trace.checkedLiveHashes} live state hashes reproduced by replay\n`,
  );
  for (const line of trace.divergences) process.stderr.write(`tsray trace collect: ${line}\n`);
  return trace.divergences.length === 0 && !incomplete ? 0 : 1;
}
