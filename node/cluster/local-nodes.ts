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
  /**
   * A non-head node's own `HOST:PORT`, where drivers on this machine attach to it (and other nodes
   * link to it for objects, peer-links.ts); absent on the head and on a node that could not open it.
   */
  readonly driverAddress?: string;
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

/**
 * Where a cluster started on this machine would have been found, for the errors that find none: a
 * head started with another TSRAY_SESSIONS_ROOT keeps its address file under that root, which a
 * driver or command run without it does not look in.
 */
export function noAddressFileHere(): string {
  return `no ${addressFilePath()}; a head started with TSRAY_SESSIONS_ROOT set keeps it under that root, so set the same here`;
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

/** Names of this machine's loopback address: a head recorded at one is the head reached at another. */
const loopbackHosts = new Set(['localhost', '127.0.0.1', '::1']);

/**
 * True when `a` and `b` name the same head: the same port on the same host, where `localhost`,
 * `127.0.0.1` and `::1` are one host (a driver may say `localhost:6380` for a head recorded at
 * `127.0.0.1:6380`). Text that is not an address matches only itself.
 */
export function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    const left = parseAddress(a);
    const right = parseAddress(b);
    const host = (name: string): string => (loopbackHosts.has(name.toLowerCase()) ? 'loopback' : name.toLowerCase());
    return left.port === right.port && host(left.host) === host(right.host);
  } catch {
    return false;
  }
}

/** The environment variable that names the node of this machine a driver attaches to. */
export const driverNodeEnv = 'TSRAY_NODE_ID';

/** A non-head node a driver attaches to: its id and the `HOST:PORT` it takes drivers at. */
export interface AttachNode {
  readonly nodeId: string;
  readonly address: string;
}

/**
 * The node of this machine a driver of the cluster at `headAddress` attaches to, as a Ray driver
 * attaches to the raylet of its machine; undefined for the head (reached at `headAddress`).
 *
 * - `TSRAY_NODE_ID` names it: a node that \`tsray start\` started on this machine, of this cluster
 *   (recorded with the same head address). Naming the head is the same as leaving it unset.
 * - Unset: the head when it was started on this machine (so every driver of a one-machine cluster
 *   attaches to the head, as before), else the one node of this cluster started on this machine, if
 *   there is exactly one; otherwise the head, over TCP.
 *
 * A name that matches no live node of this machine, or one of another cluster, fails with one line.
 */
export function attachNodeFor(headAddress: string): AttachNode | undefined {
  const named = process.env[driverNodeEnv]?.trim() ?? '';
  const records = recordedNodes();
  const live = records.filter((record) => record.supervisor !== true && record.nodeId !== '?' && isNodeProcess(record.pid));
  if (named !== '') {
    const record = live.find((candidate) => candidate.nodeId === named);
    if (record === undefined) {
      const known = live.map((candidate) => `${candidate.nodeId}${candidate.head ? ' (head)' : ''}`).join(', ');
      throw new Error(`${driverNodeEnv}=${named} names no node running on this machine (${known === '' ? 'it runs none' : `it runs ${known}`}); unset it to attach to the head, or start that node here with \`tsray start --address\``);
    }
    if (record.head) return undefined;
    if (!sameAddress(record.address, headAddress)) throw new Error(`${driverNodeEnv}=${named} names a node of the cluster at ${record.address}, not of ${headAddress}; connect to that address, or name a node of this cluster`);
    if (record.driverAddress === undefined) throw new Error(`node ${named} takes no drivers (it could not open a port of its own; see its node.log); unset ${driverNodeEnv} to attach to the head`);
    return { nodeId: record.nodeId, address: record.driverAddress };
  }
  // A head of this machine counts even while it restarts (its record, or its supervisor's, is there).
  if (records.some((record) => record.head && sameAddress(record.address, headAddress))) return undefined;
  const here = live.filter((record) => !record.head && sameAddress(record.address, headAddress) && record.driverAddress !== undefined);
  const only = here.length === 1 ? here[0] : undefined;
  return only?.driverAddress === undefined ? undefined : { nodeId: only.nodeId, address: only.driverAddress };
}
