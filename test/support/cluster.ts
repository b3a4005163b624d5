/**
 * For tests of real cluster processes: running node with arguments and an environment, finding the
 * node processes a test's sessions root recorded (so an `after` hook can stop them by pid), starting
 * a head and nodes with the CLI, and talking to a driver script that runs in a child process.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { handoffRoot } from '../../node/store/shm-handoff.js';

/** How a process ended and what it printed. */
export interface ProcessRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs node with `args`; `env` adds to (or blanks) this process's environment; the process is killed after `timeoutMs`. */
export function runNode(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<ProcessRun> {
  return new Promise((done) => {
    execFile(process.execPath, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

/** A `runNode` for a test's own sessions root, with no cluster address or token inherited from the environment. */
export function runnerIn(root: string): (args: string[], env?: Record<string, string>, timeoutMs?: number) => Promise<ProcessRun> {
  return (args, env = {}, timeoutMs = undefined) => runNode(args, { TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: '', TSRAY_TOKEN: '', ...env }, timeoutMs);
}

/**
 * Ends `pids` with SIGKILL, whichever are still running (for `after` hooks: daemons are detached),
 * and removes their handoff folders in /dev/shm, which a killed node cannot remove itself (the next
 * `tsray start` or `stop` on the machine would, but a test leaves nothing behind).
 */
export function killPids(pids: Iterable<number>): void {
  const killed = new Set<number>();
  for (const pid of pids) {
    killed.add(pid);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  removeHandoffsOf(killed);
}

function removeHandoffsOf(pids: ReadonlySet<number>): void {
  let names: string[];
  try {
    names = readdirSync(handoffRoot());
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(handoffRoot(), name);
    try {
      const owner = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8')) as { pid?: unknown };
      if (typeof owner.pid === 'number' && pids.has(owner.pid)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Not a handoff folder, or one another process is removing.
    }
  }
}

/** The pids of the node processes recorded in `clusterDir` (the sessions root's `cluster` folder). */
export function recordedNodePids(clusterDir: string): number[] {
  try {
    return readdirSync(join(clusterDir, 'nodes'))
      .filter((name) => name.endsWith('.json'))
      .map((name) => Number(name.slice(0, -5)));
  } catch {
    return [];
  }
}

/** A cluster of real node processes started with the CLI under one sessions root. */
export interface TestCluster {
  readonly root: string;
  readonly address: string;
  readonly token: string;
  readonly headNodeId: string;
  /** The joined nodes' ids, in the order of `nodes` given to startTestCluster. */
  readonly nodeIds: readonly string[];
  /** The pid of a node's process, from the records `tsray start` wrote. */
  readonly pidOf: (nodeId: string) => number;
  /** Runs the CLI (or a script, when args[0] is not a CLI command) with this cluster's root and no other address. */
  readonly run: (args: string[], env?: Record<string, string>) => Promise<ProcessRun>;
  /** For an `afterEach` hook: after a failed test, `stop` keeps the root and prints the nodes' log tails. */
  readonly noteOutcome: (test: { readonly name: string; readonly passed?: boolean }) => void;
  /** Kills every node process of the cluster and removes their /dev/shm folders (for an `after` hook), and the root, unless a test failed. */
  readonly stop: () => void;
}

/**
 * Starts a head with `headArgs` and then one node per entry of `nodes` (each the extra arguments of
 * its `tsray start --address`), one after another so that their ids keep that order.
 */
export async function startTestCluster(cli: string, rootPrefix: string, headArgs: string[], nodes: string[][]): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), rootPrefix));
  const clusterDir = join(root, 'cluster');
  const env = { TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: '', TSRAY_TOKEN: '' };
  const run = (args: string[], extra: Record<string, string> = {}): Promise<ProcessRun> => runNode(args, { ...env, ...extra });
  const failed: string[] = [];
  const noteOutcome = (test: { readonly name: string; readonly passed?: boolean }): void => {
    if (test.passed === false) failed.push(test.name);
  };
  const stop = (): void => {
    // The logs are read before the kill, whose pids come from the same records.
    if (failed.length > 0) printNodeLogTails(clusterDir, failed);
    // Their /dev/shm folders go with them: killed nodes cannot remove their own.
    killPids(recordedNodePids(clusterDir));
    // A failed test's cluster stays on disk, so that its nodes' full logs and event logs can be read.
    if (failed.length === 0) rmSync(root, { recursive: true, force: true });
  };
  try {
    const head = await run([cli, 'start', '--head', '--port', '0', ...headArgs]);
    if (head.code !== 0) throw new Error(`the head did not start: ${head.stderr}`);
    const file = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { address: string; token: string; nodeId: string };
    const nodeIds: string[] = [];
    for (const args of nodes) {
      const joined = await run([cli, 'start', '--address', file.address, ...args]);
      const nodeId = /node (n[0-9a-f]+) joined/.exec(joined.stdout)?.[1];
      if (joined.code !== 0 || nodeId === undefined) throw new Error(`a node did not join: ${joined.stderr}`);
      nodeIds.push(nodeId);
    }
    const pidOf = (nodeId: string): number => nodeRecord(clusterDir, nodeId).pid;
    return { root, address: file.address, token: file.token, headNodeId: file.nodeId, nodeIds, pidOf, run, noteOutcome, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

/** How many lines of each node's log a failed cluster test prints. */
const failedLogTailLines = 60;

/**
 * Prints where a failed test's cluster is kept and the last lines of each node's node.log to stderr,
 * so that a failure in CI, whose clone is gone afterwards, still shows what the nodes were doing.
 */
function printNodeLogTails(clusterDir: string, failed: readonly string[]): void {
  const lines = [`tsray test cluster kept at ${dirname(clusterDir)} after failed test(s): ${failed.join('; ')}`];
  for (const pid of recordedNodePids(clusterDir)) {
    try {
      const record = JSON.parse(readFileSync(join(clusterDir, 'nodes', `${pid}.json`), 'utf8')) as { nodeId: string; sessionDir: string };
      const log = readFileSync(join(record.sessionDir, 'node.log'), 'utf8').split('\n');
      lines.push(`--- node ${record.nodeId} (pid ${pid}), last ${failedLogTailLines} lines of ${join(record.sessionDir, 'node.log')}:`, ...log.slice(-failedLogTailLines - 1));
    } catch (error) {
      lines.push(`--- node record ${pid}: ${(error as Error).message}`);
    }
  }
  console.error(lines.join('\n'));
}

/** What `tsray start` recorded in `clusterDir` of node `nodeId`: its process and its session dir (where its node.log is). */
export function nodeRecord(clusterDir: string, nodeId: string): { readonly pid: number; readonly sessionDir: string } {
  for (const pid of recordedNodePids(clusterDir)) {
    const record = JSON.parse(readFileSync(join(clusterDir, 'nodes', `${pid}.json`), 'utf8')) as { nodeId: string; sessionDir: string };
    if (record.nodeId === nodeId) return { pid, sessionDir: record.sessionDir };
  }
  throw new Error(`no record of node ${nodeId}`);
}

/** The bytes of the files under `dir`, its subfolders included. */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
  }
  return total;
}

/** The lines a script printed as `KEY value`, by key (the last of each key). */
export function printedLines(stdout: string): Map<string, string> {
  const lines = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) lines.set(line.slice(0, space), line.slice(space + 1));
  }
  return lines;
}

/**
 * A driver script running in a child process that a test talks to: it waits for the `KEY value`
 * lines the script prints and writes lines to its stdin.
 */
export class ScriptProcess {
  readonly child: ChildProcess;
  private stdout = '';
  private stderr = '';
  private readonly waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(path: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [path], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.exited = new Promise((done) => this.child.once('exit', (code) => done(code)));
    const wake = (): void => {
      for (const waiter of this.waiters.splice(0)) waiter();
    };
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      wake();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    void this.exited.then(wake);
  }

  /** What the script printed so far, as `KEY value` lines by key. */
  get lines(): Map<string, string> {
    return printedLines(this.stdout);
  }

  /** Resolves with the value of `key` once the script printed it; rejects if it exits first or `timeoutMs` passes. */
  async waitFor(key: string, timeoutMs = 40_000): Promise<string> {
    const deadlineMs = Date.now() + timeoutMs;
    for (;;) {
      const value = this.lines.get(key);
      if (value !== undefined) return value;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`the script exited before it printed ${key}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      if (Date.now() > deadlineMs) throw new Error(`the script did not print ${key} within ${timeoutMs} ms; stdout: ${this.stdout} stderr: ${this.stderr}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, 1000);
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  /** Writes one line to the script's stdin. */
  say(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** Everything the script wrote to stderr so far. */
  get errors(): string {
    return this.stderr;
  }

  /** Kills the script if it still runs. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
