/**
 * What this machine knows of the cluster nodes it started: the address file that `tsray start --head`
 * writes (the head's address and the cluster token, so that `start --address`, `status` and drivers
 * on this machine need neither), and one record per node process (so that `tsray stop` finds them
 * all). Both live under the sessions root (TSRAY_SESSIONS_ROOT, default os.tmpdir()/tsray), readable
 * by this user only, since the address file holds the token.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { sessionRetention } from '../runtime/sessions.js';
import { tokenProblem } from '../transport/index.js';
import { isRunning } from '../process-liveness.js';

/** The address file's content. */
export interface AddressFile {
  /** `HOST:PORT` a driver or node connects to. */
  readonly address: string;
  readonly token: string;
  /** The head's node id and process. */
  readonly nodeId: string;
  readonly pid: number;
  readonly sessionDir: string;
  /** The head daemon's supervisor, which starts the head again when it crashes (absent for `--block`). */
  readonly supervisorPid?: number;
}

/** One node process this machine started. */
export interface NodeRecord {
  readonly pid: number;
  readonly nodeId: string;
  readonly head: boolean;
  /** The head's `HOST:PORT`. */
  readonly address: string;
  readonly sessionDir: string;
  /** The record is of a head daemon's supervisor (node-supervisor.ts), not of a node. */
  readonly supervisor?: boolean;
}

/** The folder of the cluster files. */
export function clusterDir(): string {
  return join(sessionRetention().root, 'cluster');
}

/** The address file's path. */
export function addressFilePath(): string {
  return join(clusterDir(), 'address.json');
}

function nodesDir(): string {
  return join(clusterDir(), 'nodes');
}

/**
 * Writes `text` to `path` readable by this user only (mode 0600), atomically: written under a
 * temporary name with that mode, then renamed, so no reader sees half of it.
 */
export function writePrivateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', 0o600);
  try {
    chmodSync(temporary, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** Writes the address file. */
export function writeAddressFile(file: AddressFile): void {
  writePrivateFile(addressFilePath(), `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * Reads the address file, or undefined when there is none; a file that is there but unreadable or
 * malformed throws a one-line error naming it.
 */
export function readAddressFile(): AddressFile | undefined {
  const path = addressFilePath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the address file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); run \`tsray stop\` and start the head again`);
  }
  let value: Partial<AddressFile>;
  try {
    value = JSON.parse(text) as Partial<AddressFile>;
  } catch {
    throw new Error(`the address file ${path} is not JSON; run \`tsray stop\` and start the head again`);
  }
  if (typeof value.address !== 'string' || typeof value.token !== 'string' || tokenProblem(value.token) !== undefined || typeof value.pid !== 'number') {
    throw new Error(`the address file ${path} lacks a valid address, token or pid; run \`tsray stop\` and start the head again`);
  }
  return value as AddressFile;
}

/** Records a node process started on this machine. */
export function recordNode(record: NodeRecord): void {
  writePrivateFile(join(nodesDir(), `${record.pid}.json`), `${JSON.stringify(record)}\n`);
}

/** Forgets a node process (it stopped). */
export function forgetNode(pid: number): void {
  rmSync(join(nodesDir(), `${pid}.json`), { force: true });
}

/** The node processes this machine recorded; unreadable records are skipped. */
export function recordedNodes(): NodeRecord[] {
  let names: string[];
  try {
    names = readdirSync(nodesDir());
  } catch {
    return [];
  }
  const records: NodeRecord[] = [];
  for (const name of names) {
    if (!/^\d+\.json$/.test(name)) continue;
    try {
      records.push(JSON.parse(readFileSync(join(nodesDir(), name), 'utf8')) as NodeRecord);
    } catch {
      // A record being written or damaged: its pid is in its name, which `stop` still uses.
      records.push({ pid: Number(name.slice(0, -5)), nodeId: '?', head: false, address: '?', sessionDir: '' });
    }
  }
  return records;
}

/** Removes the address file (the head stopped). */
export function removeAddressFile(): void {
  rmSync(addressFilePath(), { force: true });
}


/**
 * Whether the process with this pid is a tsray node (a daemon, or `tsray start --block`), so that a
 * record left by a node that died, whose pid the system has since given to another program, never
 * gets that program signalled. Where /proc cannot tell (not Linux), the record is trusted.
 */
export function isNodeProcess(pid: number): boolean {
  if (!isRunning(pid)) return false;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return true;
  }
  return argv.some((arg) => arg.endsWith('node-main.js')) || (argv.includes('start') && argv.includes('--block'));
}

/** Splits `HOST:PORT`, or fails with a one-line reason naming the text. */
export function parseAddress(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const host = colon < 0 ? '' : text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const portText = colon < 0 ? '' : text.slice(colon + 1);
  const port = Number(portText);
  if (host === '' || !/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new RangeError(`'${text}' is not an address; give HOST:PORT, such as 127.0.0.1:6380`);
  }
  return { host, port };
}
