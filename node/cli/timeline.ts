/**
 * `tsray timeline [--session DIR] [-o FILE]`: a live session as Chrome trace-event JSON, which
 * Perfetto (ui.perfetto.dev) and chrome://tracing open (see node/trace/timeline.ts).
 */
import { writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../runtime/sessions.js';
import { mergeLogs, readSessionLogs } from '../trace/collect.js';
import { buildTimeline } from '../trace/timeline.js';
import { sessionDirOf } from './session-arg.js';
import { UsageError } from './usage.js';

/** The timeline's file in the session folder when `-o` is not given. */
export const defaultTimelineFileName = 'timeline.json';

const usage = `usage: tsray timeline [--session DIR] [-o FILE]

Writes a live session as Chrome trace-event JSON: open it in https://ui.perfetto.dev or
chrome://tracing. One track per component (gcs, raylet, driver, each worker), a span per task
attempt named after the task, failures in red, retries marked, object transfers as arrows.

  --session DIR      the session folder init() returned (default: the newest, see tsray sessions)
  -o, --output FILE  where to write the JSON (default: DIR/${defaultTimelineFileName})
  -h, --help         show this help`;

/** Runs `tsray timeline`; resolves to the exit code. */
export function timelineCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: false, options: { session: { type: 'string' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h', default: false } } });
  } catch (error) {
    throw new UsageError(`timeline: ${(error as Error).message}; see tsray timeline --help`);
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    return Promise.resolve(0);
  }
  const sessionDir = sessionDirOf(parsed.values.session);
  const output = resolve(parsed.values.output ?? join(sessionDir, defaultTimelineFileName));
  const trace = mergeLogs(readSessionLogs(sessionDir), { workload: basename(sessionDir) });
  const timeline = buildTimeline(trace.entries, `tsray ${basename(sessionDir)}`);
  const text = JSON.stringify(timeline);
  try {
    writeFileSync(output, text);
  } catch (error) {
    throw new Error(`cannot write the timeline to ${output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; pass -o with a writable path`);
  }
  process.stdout.write(`${output}\n`);
  process.stderr.write(`timeline of ${trace.entries.length} events, ${timeline.traceEvents.length} trace events (${formatBytes(Buffer.byteLength(text))}); open it in https://ui.perfetto.dev\n`);
  return Promise.resolve(0);
}
