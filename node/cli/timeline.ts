/**
 * `tsray timeline [--session DIR | --address A] [-o FILE]`: a live session, or every live node and
 * driver of a cluster, as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
 * chrome://tracing open (see node/trace/timeline.ts).
 */
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../runtime/sessions.js';
import { mergeLogsInto, openSessionSources, type LogSource } from '../trace/collect.js';
import { TimelineBuilder } from '../trace/timeline.js';
import { ChunkedFile } from '../trace/write.js';
import { fetchClusterSources } from './cluster-logs.js';
import { writeOutputFile } from './output-file.js';
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
  // The logs are read, and the timeline written, as the merge goes: none is held whole.
  let logs: readonly LogSource[];
  let closeLogs = (): void => undefined;
  let output: string;
  let name: string;
  let incomplete = false;
  if (address !== undefined) {
    const target = clusterTarget('timeline', { address, token });
    output = resolve(parsed.values.output ?? defaultTimelineFileName);
    const fetched = await fetchClusterSources('tsray timeline', target);
    ({ logs, incomplete } = fetched);
    closeLogs = fetched.close;
    name = `cluster ${target.address}`;
  } else {
    const sessionDir = sessionDirOf(session);
    output = resolve(parsed.values.output ?? join(sessionDir, defaultTimelineFileName));
    const opened = openSessionSources(sessionDir);
    logs = opened.sources;
    closeLogs = opened.close;
    name = basename(sessionDir);
  }
  try {
    writeTimeline(logs, output, name);
  } finally {
    closeLogs();
  }
  return incomplete ? 1 : 0;
}

/**
 * Merges `logs` and writes their timeline to `output` as they merge: the file is the JSON that
 * `JSON.stringify` gives of the whole timeline (see `buildTimeline`), written one trace event at a
 * time, so no string of it all is ever made (V8 makes none past 512 MiB).
 */
function writeTimeline(logs: readonly LogSource[], output: string, name: string): void {
  let traceEvents = 0;
  let events = 0;
  const { bytes } = writeOutputFile('timeline', output, (path) => new ChunkedFile(path), (file) => {
    file.write('{"traceEvents":[');
    const builder = new TimelineBuilder(
      logs.filter((log) => log.lastSeq > 0).map((log) => log.address),
      `tsray ${name}`,
      (event) => {
        file.write(traceEvents === 0 ? JSON.stringify(event) : `,${JSON.stringify(event)}`);
        traceEvents += 1;
      },
    );
    // Without replay: the timeline draws what the events say, and needs neither hashes nor states.
    mergeLogsInto(logs, { workload: name, replay: false }, (entry) => {
      events += 1;
      builder.add(entry);
    });
    file.write(`],"displayTimeUnit":"ms","otherData":${JSON.stringify(builder.finish())}}`);
  });
  process.stdout.write(`${output}\n`);
  process.stderr.write(`timeline of ${events} events, ${traceEvents} trace events (${formatBytes(bytes)}); open it in https://ui.perfetto.dev\n`);
}
