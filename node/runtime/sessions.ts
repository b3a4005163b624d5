/**
 * The sessions kept on this machine and how many of them stay. Every `init()` without a `sessionDir`
 * makes a folder `session_<pid>_<ms>_<n>` under the sessions root (`os.tmpdir()/tsray`, or
 * `TSRAY_SESSIONS_ROOT`), and first prunes that root: the oldest sessions go until at most
 * `TSRAY_SESSIONS_KEEP` remain (the new one included) and those before the new one take at most
 * `TSRAY_SESSIONS_MAX_BYTES` of disk. A live session (its process still runs it) is never removed, nor
 * is anything in the root that is not named like a session. A folder that cannot be read or removed is
 * skipped: pruning never fails an `init`.
 */
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { markSessionLive, readSessionMarker, sessionState } from './session-marker.js';
import type { SessionMarker, SessionState } from './session-marker.js';

/** How many sessions the root keeps when `TSRAY_SESSIONS_KEEP` is not set (the new one included). */
export const defaultSessionsKeep = 20;

/** How much disk the root's sessions may take when `TSRAY_SESSIONS_MAX_BYTES` is not set: 1 GiB. */
export const defaultSessionsMaxBytes = 1024 ** 3;

/** The retention bounds in force. */
export interface SessionRetention {
  /** Where default sessions go. */
  readonly root: string;
  /** At most this many sessions stay after an `init` prunes, the new one included. */
  readonly keep: number;
  /** The sessions kept before the new one take at most this many bytes of disk (its own growth counts at the next prune). */
  readonly maxBytes: number;
}

/** One session folder found under the root. */
export interface SessionInfo {
  /** The folder's name, `session_<pid>_<ms>_<n>`. */
  readonly name: string;
  readonly dir: string;
  readonly pid: number;
  readonly startedAtMs: number;
  /** Set if the session ended with a clean shutdown. */
  readonly endedAtMs?: number;
  readonly state: SessionState;
  /** Disk blocks the folder's files take (LMDB files may be sparse, so this can be below their length). */
  readonly sizeBytes: number;
  /** The sum of the files' lengths. */
  readonly apparentSizeBytes: number;
}

const sessionNamePattern = /^session_(\d+)_(\d+)_(\d+)$/;

const byteUnits: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** Parses a byte count: `1073741824`, `500MB`, `2GiB`, `1.5 GB`. Undefined if it is not one. */
export function parseByteCount(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (match === null) return undefined;
  const unit = byteUnits[(match[2] ?? '').toLowerCase() || 'b'];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A byte count for people: `0 B`, `812 KiB`, `1.4 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 || value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/**
 * The retention bounds from the environment (`TSRAY_SESSIONS_ROOT`, `TSRAY_SESSIONS_KEEP`,
 * `TSRAY_SESSIONS_MAX_BYTES`), or the defaults where one is unset or empty.
 *
 * @throws RangeError naming the variable when one is set to something it cannot take.
 */
export function sessionRetention(env: NodeJS.ProcessEnv = process.env): SessionRetention {
  const root = env.TSRAY_SESSIONS_ROOT === undefined || env.TSRAY_SESSIONS_ROOT === '' ? join(tmpdir(), 'tsray') : resolve(env.TSRAY_SESSIONS_ROOT);
  let keep = defaultSessionsKeep;
  const keepText = env.TSRAY_SESSIONS_KEEP;
  if (keepText !== undefined && keepText !== '') {
    keep = Number(keepText);
    if (!/^\s*\d+\s*$/.test(keepText) || !Number.isSafeInteger(keep) || keep < 1) {
      throw new RangeError(`TSRAY_SESSIONS_KEEP must be a whole number ≥ 1 (how many sessions ${root} keeps, default ${defaultSessionsKeep}), not '${keepText}'`);
    }
  }
  let maxBytes = defaultSessionsMaxBytes;
  const maxText = env.TSRAY_SESSIONS_MAX_BYTES;
  if (maxText !== undefined && maxText !== '') {
    const parsed = parseByteCount(maxText);
    if (parsed === undefined) {
      throw new RangeError(`TSRAY_SESSIONS_MAX_BYTES must be a byte count such as 1073741824, 500MB or 2GiB (the disk the sessions under ${root} may take, default 1GiB), not '${maxText}'`);
    }
    maxBytes = parsed;
  }
  return { root, keep, maxBytes };
}

/** The disk and apparent size of a folder; what cannot be read counts as empty. */
function folderSize(dir: string): { sizeBytes: number; apparentSizeBytes: number } {
  let sizeBytes = 0;
  let apparentSizeBytes = 0;
  const pending = [dir];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    let names: string[];
    try {
      names = readdirSync(next);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(next, name);
      let stats: Stats;
      try {
        stats = lstatSync(path);
      } catch {
        continue;
      }
      // Links are not followed: a session never holds one, and what one points at is not the session's.
      if (stats.isDirectory()) pending.push(path);
      else if (stats.isFile()) {
        apparentSizeBytes += stats.size;
        sizeBytes += process.platform === 'win32' || !Number.isFinite(stats.blocks) ? stats.size : stats.blocks * 512;
      }
    }
  }
  return { sizeBytes, apparentSizeBytes };
}

/** The names under `root` (none when it does not exist). */
function namesIn(root: string): string[] {
  try {
    return readdirSync(root);
  } catch {
    return [];
  }
}

/**
 * The folders under `root` named as sessions, in no order, without reading their markers or sizes:
 * for a look into each (`tsray trace collect` finding an ended driver's log) where `listSessions`
 * would stat every file of every session first.
 */
export function sessionDirs(root: string): string[] {
  return namesIn(root)
    .filter((name) => sessionNamePattern.test(name))
    .map((name) => join(root, name));
}

/** The session folders under `root`, newest first. A root that does not exist has none. */
export function listSessions(root: string): SessionInfo[] {
  const sessions: (SessionInfo & { readonly counter: number })[] = [];
  for (const name of namesIn(root)) {
    const match = sessionNamePattern.exec(name);
    if (match === null) continue;
    const dir = join(root, name);
    try {
      if (!lstatSync(dir).isDirectory()) continue;
    } catch {
      continue;
    }
    const marker = readSessionMarker(dir);
    const pid = marker?.pid ?? Number(match[1]);
    sessions.push({
      name,
      dir,
      pid,
      startedAtMs: marker?.startedAtMs ?? Number(match[2]),
      ...(marker?.endedAtMs === undefined ? {} : { endedAtMs: marker.endedAtMs }),
      state: sessionState(pid, marker),
      ...folderSize(dir),
      counter: Number(match[3]),
    });
  }
  sessions.sort((a, b) => b.startedAtMs - a.startedAtMs || b.counter - a.counter || (a.name < b.name ? 1 : -1));
  return sessions.map(({ counter: _counter, ...session }) => session);
}

/** What a prune did. */
export interface PruneResult {
  readonly removed: SessionInfo[];
  /** The sessions left, newest first. */
  readonly kept: SessionInfo[];
}

/**
 * The session of the cluster head started under `root`, as its address file (`cluster/address.json`,
 * see node/cluster/local-nodes.ts) names it, resolved; undefined when there is none. While the head is
 * dead that session holds the GCS log that `tsray start --head` resumes the cluster from.
 */
function clusterHeadSession(root: string): string | undefined {
  try {
    const file = JSON.parse(readFileSync(join(root, 'cluster', 'address.json'), 'utf8')) as { sessionDir?: unknown };
    return typeof file.sessionDir === 'string' ? resolve(file.sessionDir) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the oldest sessions that are not live until at most `keep - 1` remain (room for the one about
 * to start) and they take at most `maxBytes`. Live sessions count toward both bounds but stay, so the
 * bounds may be left exceeded; so does the session of this machine's cluster head, even while the head
 * is down (until `tsray stop` ends the cluster). Never throws: a folder that cannot be removed is skipped.
 */
export function pruneSessions(retention: SessionRetention): PruneResult {
  const sessions = listSessions(retention.root);
  const headSession = clusterHeadSession(retention.root);
  let count = sessions.length;
  let bytes = sessions.reduce((sum, session) => sum + session.sizeBytes, 0);
  const removed = new Set<SessionInfo>();
  for (const session of [...sessions].reverse()) {
    if (count <= retention.keep - 1 && bytes <= retention.maxBytes) break;
    if (session.state === 'live' || resolve(session.dir) === headSession) continue;
    try {
      rmSync(session.dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      continue;
    }
    removed.add(session);
    count -= 1;
    bytes -= session.sizeBytes;
  }
  return { removed: [...removed], kept: sessions.filter((session) => !removed.has(session)) };
}

let sessionCounter = 0;

/** A session started by this process: its folder and the marker that says it is live. */
export interface StartedSession {
  readonly dir: string;
  readonly marker: SessionMarker;
}

/**
 * Makes the folder of a new session and marks it live. Without `sessionDir` the folder is a new one
 * under the sessions root, which is pruned first; a given `sessionDir` is the user's to keep, and the
 * root is left alone.
 *
 * @throws RangeError if a retention variable is set to something it cannot take.
 */
export function startSession(sessionDir: string | undefined): StartedSession {
  const retention = sessionRetention();
  const startedAtMs = Date.now();
  let dir = sessionDir;
  if (dir === undefined) {
    pruneSessions(retention);
    dir = join(retention.root, `session_${process.pid}_${startedAtMs}_${++sessionCounter}`);
  }
  mkdirSync(dir, { recursive: true });
  return { dir, marker: markSessionLive(dir, startedAtMs) };
}
