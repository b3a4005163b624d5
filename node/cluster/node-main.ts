/**
 * The entry of a node daemon that `tsray start` spawns: it takes its configuration as the first IPC
 * message, runs the node, reports ready (or why not) over IPC, and then lets the IPC channel go, so
 * that the daemon outlives the command that started it. A head daemon is a supervisor
 * (node-supervisor.ts) that runs the head in a child process of this same entry and starts it again
 * from its GCS log when it crashes.
 */
import type { NodeProcessConfig, NodeStartReport } from './node-process.js';
import { runNodeProcess } from './node-process.js';
import { superviseHead, supervisedEnv } from './node-supervisor.js';

/** How long the daemon waits for its configuration before it gives up. */
const configTimeoutMs = 10_000;

let reported = false;

function send(report: NodeStartReport): void {
  reported = true;
  if (process.send === undefined || !process.connected) return;
  process.send(report, () => {
    if (process.connected) process.disconnect();
  });
}

if (process.send === undefined) {
  process.stderr.write('tsray: the node daemon is started by `tsray start`, not run by hand\n');
  process.exit(2);
}
if (process.env[supervisedEnv] === '1') {
  // A supervised head whose supervisor died before it was up (killed with it, as by `tsray stop`)
  // would run on unrecorded and unwatched: it ends instead. Once up, it is recorded and lets go.
  process.once('disconnect', () => {
    if (reported) return;
    process.stderr.write('tsray: the supervisor ended before the head was up; the head exits\n');
    process.exit(1);
  });
}
const timer = setTimeout(() => {
  process.stderr.write(`tsray: no configuration arrived within ${configTimeoutMs} ms; the node daemon exits\n`);
  process.exit(1);
}, configTimeoutMs);
process.once('message', (config: NodeProcessConfig) => {
  clearTimeout(timer);
  const run = config.head && process.env[supervisedEnv] !== '1' ? superviseHead : runNodeProcess;
  run(config, send).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`tsray: the node failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
});
