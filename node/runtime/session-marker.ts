/**
 * The marker a session folder holds while its process runs: `session.json` names the process (pid, and
 * on Linux its start time and the boot it ran in), when the session started, and, after a clean
 * shutdown, when it ended. Retention reads it to tell a live session (never pruned) from one whose
 * process ended or died. A reused pid is not mistaken for the session's process where the system says
 * when a process started (Linux); elsewhere a live pid is trusted, which errs on keeping a folder.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The marker's file name inside a session folder. */
export const sessionMarkerFileName = 'session.json';

/** The contents of `session.json`. */
export interface SessionMarker {
  readonly kind: 'tsray-session';
  readonly formatVersion: 1;
  readonly pid: number;
  readonly startedAtMs: number;
  /** The process's start time in clock ticks since boot (Linux `/proc/PID/stat` field 22), if known. */
  readonly processStart?: string;
  /** The boot the process ran in (Linux `/proc/sys/kernel/random/boot_id`), if known. */
  readonly bootId?: string;
  /** Set by a clean shutdown. */
  readonly endedAtMs?: number;
}

/** Whether a session's process still runs it. */
export type SessionState = 'live' | 'ended' | 'exited';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The start time field of `/proc/PID/stat` (after the command name, which may hold spaces or parentheses). */
function processStartOf(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the name start at field 3 (state); the start time is field 22.
  return fields[22 - 3];
}

let ownIdentity: Pick<SessionMarker, 'processStart' | 'bootId'> | undefined;

function thisProcessIdentity(): Pick<SessionMarker, 'processStart' | 'bootId'> {
  if (ownIdentity === undefined) {
    const processStart = processStartOf(process.pid);
    const bootId = readText('/proc/sys/kernel/random/boot_id');
    ownIdentity = { ...(processStart === undefined ? {} : { processStart }), ...(bootId === undefined ? {} : { bootId }) };
  }
  return ownIdentity;
}

function writeMarker(sessionDir: string, marker: SessionMarker): void {
  // Written aside and renamed, so a reader never sees half a marker.
  const path = join(sessionDir, sessionMarkerFileName);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(marker)}\n`);
  renameSync(temporary, path);
}

/** Marks `sessionDir` as this process's live session. Returns the marker written. */
export function markSessionLive(sessionDir: string, startedAtMs: number): SessionMarker {
  const marker: SessionMarker = { kind: 'tsray-session', formatVersion: 1, pid: process.pid, startedAtMs, ...thisProcessIdentity() };
  writeMarker(sessionDir, marker);
  return marker;
}

/**
 * Marks the session ended (a clean shutdown), so it may be pruned while this process goes on. Never
 * throws: a folder removed under a running session only loses its marker.
 */
export function markSessionEnded(sessionDir: string, marker: SessionMarker, endedAtMs: number): void {
  try {
    writeMarker(sessionDir, { ...marker, endedAtMs });
  } catch {
    // The folder is gone or read-only; a dead pid marks it as not live all the same.
  }
}

/** Reads a session's marker; undefined if it is missing or not a tsray marker. */
export function readSessionMarker(sessionDir: string): SessionMarker | undefined {
  const text = readText(join(sessionDir, sessionMarkerFileName));
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const marker = value as Partial<SessionMarker>;
  if (marker.kind !== 'tsray-session' || !Number.isSafeInteger(marker.pid) || typeof marker.startedAtMs !== 'number') return undefined;
  return marker as SessionMarker;
}

/** Whether a process with this pid exists (one of another user counts: signalling it is refused, not unknown). */
function pidExists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process that started a session still runs. With only a pid (a folder from before markers,
 * or one whose marker is not written yet), a live pid counts as the session's process.
 */
export function sessionProcessAlive(pid: number, marker: SessionMarker | undefined): boolean {
  if (!pidExists(pid)) return false;
  if (marker === undefined) return true;
  const own = thisProcessIdentity();
  if (marker.bootId !== undefined && own.bootId !== undefined && marker.bootId !== own.bootId) return false;
  if (marker.processStart === undefined) return true;
  const now = processStartOf(pid);
  return now === undefined || now === marker.processStart;
}

/** A session's state from its marker and whether its process runs. */
export function sessionState(pid: number, marker: SessionMarker | undefined): SessionState {
  if (marker?.endedAtMs !== undefined) return 'ended';
  return sessionProcessAlive(pid, marker) ? 'live' : 'exited';
}
