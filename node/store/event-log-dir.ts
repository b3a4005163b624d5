/**
 * Where component event logs live in a session dir, and what each one is. Every log is a folder
 * `<sessionDir>/logs/<name>` holding the LMDB files and a small `log.json` that names the component, so
 * `tsray trace collect` can list the logs without opening them and without parsing folder names.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Address } from '../../core/ids.js';
import { componentOfAddress, type ComponentKind } from '../../core/trace/format.js';

/** The file in a log folder that says whose log it is. */
export const logMetaFileName = 'log.json';

/** The LMDB data file in a log folder (its lock file sits beside it with `-lock` appended). */
export const logDataFileName = 'events.mdb';

/** One component log found in a session. */
export interface SessionLog {
  readonly address: Address;
  readonly component: ComponentKind;
  /** The log's folder, as given to `EventLog.open`. */
  readonly dir: string;
}

/** The contents of `log.json`. */
interface LogMeta {
  readonly kind: 'tsray-event-log';
  readonly formatVersion: 1;
  readonly address: Address;
  readonly component: ComponentKind;
}

// Longer names fail on some filesystems (255 bytes is the usual limit), so refuse them early and plainly.
const maxDirNameLength = 200;

/**
 * The folder name for a component's log: `gcs`, `raylet-n1`, `worker-n1.w3`. The `:` of an address
 * becomes `-`; letters, digits, `_` and `.` stay; every other byte (a literal `-`, `%`, `/`, a leading
 * `.`, anything outside ASCII) is written as `%XX`. So the name never leaves the logs folder, is never
 * `.` or `..`, and two addresses never share a folder.
 *
 * @throws RangeError for an empty address or one whose name would be too long for a file name.
 */
export function logDirName(address: Address): string {
  let name = '';
  for (const byte of Buffer.from(address, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (char === ':') name += '-';
    else if (/^[A-Za-z0-9_.]$/.test(char) && !(char === '.' && name === '')) name += char;
    else name += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (name === '') throw new RangeError('an event log needs a component address; the address is empty');
  if (name.length > maxDirNameLength) {
    throw new RangeError(`the address ${JSON.stringify(address.slice(0, 40))}… is too long to name a log folder; use a shorter node or worker id`);
  }
  return name;
}

/** The folder of `address`'s log in a session: `<sessionDir>/logs/<logDirName(address)>`. */
export function logDirFor(sessionDir: string, address: Address): string {
  return join(sessionDir, 'logs', logDirName(address));
}

/** How a log names itself in messages: its folder relative to the session, such as `logs/gcs`. */
export function logDisplayName(dir: string): string {
  return `${basename(dirname(dir))}/${basename(dir)}`;
}

/**
 * The component logs present in a session, sorted by address. A folder without a readable `log.json`
 * is not a tsray log (or its creator died before writing one, in which case it holds no events) and is
 * left out.
 */
export function openSessionLogs(sessionDir: string): SessionLog[] {
  const logsDir = join(sessionDir, 'logs');
  let names: string[];
  try {
    names = readdirSync(logsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const logs: SessionLog[] = [];
  for (const name of names) {
    const dir = join(logsDir, name);
    const meta = readLogMeta(dir);
    if (meta !== undefined) logs.push({ address: meta.address, component: meta.component, dir });
  }
  return logs.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * Makes sure `dir` is the log of `address` (writing `log.json` on first use) and says whose log it is.
 * Without an address the folder must already be a log, as when a tool opens one to read it.
 *
 * @throws Error when the folder belongs to another component, is not a log, or the address and
 *   component kind disagree.
 */
export function claimLogDir(dir: string, wanted?: { component: ComponentKind; address: Address }): SessionLog {
  const found = readLogMeta(dir);
  if (wanted === undefined) {
    if (found === undefined) throw new Error(`${dir} holds no tsray event log (${logMetaFileName} is missing or unreadable)`);
    return { address: found.address, component: found.component, dir };
  }
  const kind = componentOfAddress(wanted.address);
  if (kind !== wanted.component) {
    throw new RangeError(`the address ${JSON.stringify(wanted.address)} is not a ${wanted.component} address (gcs, raylet:<node> or worker:<worker>)`);
  }
  if (found !== undefined) {
    if (found.address !== wanted.address) {
      throw new Error(`${dir} holds the log of ${found.address}, not ${wanted.address}; give each component its own folder (logDirFor)`);
    }
    return { address: found.address, component: found.component, dir };
  }
  mkdirSync(dir, { recursive: true });
  const meta: LogMeta = { kind: 'tsray-event-log', formatVersion: 1, address: wanted.address, component: wanted.component };
  // Written beside and renamed into place, so a reader never sees half a file.
  const temporary = join(dir, `${logMetaFileName}.${process.pid}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(meta)}\n`);
  renameSync(temporary, join(dir, logMetaFileName));
  return { address: wanted.address, component: wanted.component, dir };
}

/** The `log.json` of `dir`, or undefined when there is none or it is not one of ours. */
function readLogMeta(dir: string): LogMeta | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, logMetaFileName), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const meta = parsed as Partial<LogMeta>;
  if (meta.kind !== 'tsray-event-log' || meta.formatVersion !== 1 || typeof meta.address !== 'string') return undefined;
  const component = componentOfAddress(meta.address);
  if (component === undefined || component !== meta.component) return undefined;
  return { kind: meta.kind, formatVersion: meta.formatVersion, address: meta.address, component };
}
