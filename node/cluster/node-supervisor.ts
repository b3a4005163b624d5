/**
 * The head daemon's supervisor: `tsray start --head` (without `--block`) runs the head node in a
 * child process of this one, and when that child dies other than by a clean stop (`kill -9`, a crash
 * of its GCS) starts it again on the same port, token and session, resuming the cluster from the
 * GCS's log exactly as a user's `tsray start --head --port P` would (ClusterNode's `resume`). A head
 * that keeps crashing is given up after `maxRestarts` within `restartWindowMs`, saying so in its log;
 * the user can then start it again by hand.
 *
 * `tsray stop` stops the supervisor and the head together (both are recorded): the head's clean
 * exit (code 0) ends the supervisor too.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAddress, recordNode, forgetNode } from './local-nodes.js';
import type { NodeProcessConfig, NodeStartReport } from './node-process.js';

/** The environment variable that tells node-main.ts it runs the supervised head, not a supervisor. */
export const supervisedEnv = 'TSRAY_SUPERVISED_HEAD';

/** At most this many automatic restarts within `restartWindowMs`; one more and the supervisor gives up. */
export const maxRestarts = 5;

/** The window in which `maxRestarts` counts. */
export const restartWindowMs = 60_000;

function log(line: string): void {
  process.stderr.write(`tsray supervisor: ${line}\n`);
}

/**
 * Runs the head under supervision until it stops cleanly, the supervisor is told to stop, or the
 * restarts run out. `report` hears once whether the first start succeeded. Resolves to the exit code.
 */
export async function superviseHead(config: NodeProcessConfig, report: (report: NodeStartReport) => void): Promise<number> {
  const entry = fileURLToPath(new URL('./node-main.js', import.meta.url));
  let stopping = false;
  let child: ChildProcess | undefined;
  const onSignal = (): void => {
    stopping = true;
    child?.kill('SIGTERM');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  recordNode({ pid: process.pid, nodeId: 'supervisor', head: true, address: `${config.host}:${config.port}`, sessionDir: config.sessionDir, supervisor: true });
  const restarts: number[] = [];
  let current: NodeProcessConfig = { ...config, supervisorPid: process.pid };
  let firstReport = true;
  try {
    for (;;) {
      const started = runChild(entry, current, (spawned) => (child = spawned));
      const reported = await started.report;
      if (firstReport) {
        report(reported);
        firstReport = false;
        if (reported.kind === 'failed') {
          started.kill();
          return 1;
        }
      }
      if (reported.kind === 'ready') {
        // A restart keeps what the first start settled: the bound port (for `--port 0`) and the session.
        const { host, port } = parseAddress(reported.address);
        current = { ...current, host, port, sessionDir: reported.sessionDir, resume: { previousNodeId: reported.nodeId } };
        recordNode({ pid: process.pid, nodeId: 'supervisor', head: true, address: reported.address, sessionDir: reported.sessionDir, supervisor: true });
      } else log(`the head could not start again: ${reported.reason}`);
      const exit = await started.exited;
      child = undefined;
      if (stopping || exit.code === 0) return exit.code ?? 0;
      // The dead head left its record behind; its successor writes its own.
      if (started.pid !== undefined) forgetNode(started.pid);
      const nowMs = Date.now();
      restarts.push(nowMs);
      while (restarts.length > 0 && (restarts[0] ?? 0) < nowMs - restartWindowMs) restarts.shift();
      const how = exit.signal === null ? `exit code ${String(exit.code)}` : `signal ${exit.signal}`;
      if (restarts.length > maxRestarts) {
        log(`the head died (${how}) ${restarts.length} times within ${restartWindowMs} ms (maxRestarts ${maxRestarts}); giving up: run \`tsray start --head --port ${current.port}\` to resume the cluster by hand`);
        return 1;
      }
      log(`the head died (${how}); starting it again on ${current.host}:${current.port} from the GCS log`);
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    forgetNode(process.pid);
  }
}

/** One run of the head in a child process: its start report (or why it has none), and its exit. */
function runChild(
  entry: string,
  config: NodeProcessConfig,
  onSpawned: (child: ChildProcess) => void,
): { pid: number | undefined; report: Promise<NodeStartReport>; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; kill: () => void } {
  // Its output goes where the supervisor's does: the session's node.log.
  const child = fork(entry, [], { env: { ...process.env, [supervisedEnv]: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  onSpawned(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const report = new Promise<NodeStartReport>((resolve) => {
    child.once('message', (message: NodeStartReport) => resolve(message));
    void exited.then(({ code, signal }) => resolve({ kind: 'failed', reason: `the head exited (${signal ?? `code ${String(code)}`}) before it was up` }));
    child.once('error', (error) => resolve({ kind: 'failed', reason: `cannot start the head process: ${error.message}` }));
  });
  child.send(config);
  return { pid: child.pid, report, exited, kill: () => child.kill('SIGKILL') };
}
