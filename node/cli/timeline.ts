/**
 * `tsray timeline [--session DIR | --address A] [-o FILE]`: a live session, or every live node and
 * driver of a cluster, as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
 * chrome://tracing open (see node/trace/timeline.ts).
 */
import { writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../runtime/sessions.js';
import { mergeLogs, readSessionLogs } from '../trace/collect.js';
import type { CollectedLog } from '../trace/collect.js';
import { buildTimeline } from '../trace/timeline.js';
import { fetchClusterLogs } from './cluster-logs.js';
import { clusterTarget } from './cluster-target.js';
import { sessionDirOf } from './session-arg.js';
import { UsageError, firstLine } from './usage.js';

/** The timeline's file in the session folder when `-o` is not given. */
export const defaultTimelineFileName = 'timeline.json';

const usage = `usage: tsray timeline [--session DIR | --address HOST:PORT|auto [--token T]] [-o FILE]

Writes a live session, or every live node and driver of a cluster, as Chrome trace-event JSON: open
it in https://ui.perfetto.dev or chrome://tracing. One track per component (gcs, raylets, drivers,
each worker), a span per task attempt named after the task, failures in red, retries marked, object
transfers as arrows.

  --session DIR      the session folder init() returned (default: the newest, see tsray sessions)
  --address A        a running cluster's head: its nodes and drivers send their logs over the
                     cluster's connections; those that cannot are named, and the command exits 1;
                     dead nodes that ran on this machine are read from their session dirs
  --token T          the cluster token (default: TSRAY_TOKEN, else this machine's address file)
  -o, --output FILE  where to write the JSON (default: DIR/${defaultTimelineFileName}; with --address, ./${defaultTimelineFileName})
  -h, --help         show this help`;

/** Runs `tsray timeline`; resolves to the exit code. */
export async function timelineCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      options: { session: { type: 'string' }, address: { type: 'string' }, token: { type: 'string' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    throw new UsageError(`timeline: ${firstLine((error as Error).message)}; see tsray timeline --help`);
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const { session, address, token } = parsed.values;
  if (session !== undefined && address !== undefined) throw new UsageError('timeline: pass --session DIR (a session on this machine) or --address A (a cluster), not both');
  if (token !== undefined && address === undefined) throw new UsageError('timeline: --token goes with --address; see tsray timeline --help');
  let logs: CollectedLog[];
  let output: string;
  let name: string;
  let incomplete = false;
  if (address !== undefined) {
    const target = clusterTarget('timeline', { address, token });
    output = resolve(parsed.values.output ?? defaultTimelineFileName);
    ({ logs, incomplete } = await fetchClusterLogs('tsray timeline', target));
    name = `cluster ${target.address}`;
  } else {
    const sessionDir = sessionDirOf(session);
    output = resolve(parsed.values.output ?? join(sessionDir, defaultTimelineFileName));
    logs = readSessionLogs(sessionDir);
    name = basename(sessionDir);
  }
  const trace = mergeLogs(logs, { workload: name });
  const timeline = buildTimeline(trace.entries, `tsray ${name}`);
  const text = JSON.stringify(timeline);
  try {
    writeFileSync(output, text);
  } catch (error) {
    throw new Error(`cannot write the timeline to ${output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; pass -o with a writable path`);
  }
  process.stdout.write(`${output}\n`);
  process.stderr.write(`timeline of ${trace.entries.length} events, ${timeline.traceEvents.length} trace events (${formatBytes(Buffer.byteLength(text))}); open it in https://ui.perfetto.dev\n`);
  return incomplete ? 1 : 0;
}
