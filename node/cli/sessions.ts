/**
 * `tsray sessions [--json]`: the sessions kept on this machine (under the sessions root), newest first,
 * with their disk size and whether their process still runs them, and the bounds `init` prunes them to.
 */
import { parseArgs } from 'node:util';
import { formatBytes, listSessions, sessionRetention } from '../runtime/sessions.js';
import type { SessionRetention } from '../runtime/sessions.js';
import { UsageError } from './usage.js';
import { counted } from '../../core/counted.js';

/** Runs `tsray sessions`; resolves to the exit code. */
export function sessionsCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: false, options: { json: { type: 'boolean', default: false } } });
  } catch (error) {
    throw new UsageError(`sessions: ${(error as Error).message}; usage: tsray sessions [--json]`);
  }
  let retention: SessionRetention;
  try {
    retention = sessionRetention();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const sessions = listSessions(retention.root);
  if (parsed.values.json) {
    const rows = sessions.map((session) => ({
      ...session,
      startedAt: new Date(session.startedAtMs).toISOString(),
      ...(session.endedAtMs === undefined ? {} : { endedAt: new Date(session.endedAtMs).toISOString() }),
    }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return Promise.resolve(0);
  }
  const bounds = `init keeps the newest ${retention.keep} and at most ${formatBytes(retention.maxBytes)} (TSRAY_SESSIONS_KEEP, TSRAY_SESSIONS_MAX_BYTES)`;
  if (sessions.length === 0) {
    process.stdout.write(`no sessions under ${retention.root}; ${bounds}\n`);
    return Promise.resolve(0);
  }
  const table = [
    ['SESSION', 'STARTED', 'SIZE', 'STATE'],
    ...sessions.map((session) => [session.name, localTime(session.startedAtMs), formatBytes(session.sizeBytes), session.state === 'live' ? `live (pid ${session.pid})` : session.state]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...table.map((row) => (row[column] ?? '').length)));
  for (const row of table) {
    process.stdout.write(`${row.map((cell, column) => (column === 3 ? cell : column === 2 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ')}\n`);
  }
  const total = sessions.reduce((sum, session) => sum + session.sizeBytes, 0);
  process.stdout.write(`${counted(sessions.length, 'session')}, ${formatBytes(total)} under ${retention.root}; ${bounds}\n`);
  return Promise.resolve(0);
}

/** `2026-11-28 04:53:12` in local time: what a person compares with their clock. */
function localTime(ms: number): string {
  const date = new Date(ms);
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
