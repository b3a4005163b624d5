/**
 * The entry of a node daemon that `tsray start` spawns: it takes its configuration as the first IPC
 * message, runs the node, reports ready (or why not) over IPC, and then lets the IPC channel go, so
 * that the daemon outlives the command that started it.
 */
import type { NodeProcessConfig, NodeStartReport } from './node-process.js';
import { runNodeProcess } from './node-process.js';

/** How long the daemon waits for its configuration before it gives up. */
const configTimeoutMs = 10_000;

function send(report: NodeStartReport): void {
  if (process.send === undefined || !process.connected) return;
  process.send(report, () => {
    if (process.connected) process.disconnect();
  });
}

if (process.send === undefined) {
  process.stderr.write('tsray: the node daemon is started by `tsray start`, not run by hand\n');
  process.exit(2);
}
const timer = setTimeout(() => {
  process.stderr.write(`tsray: no configuration arrived within ${configTimeoutMs} ms; the node daemon exits\n`);
  process.exit(1);
}, configTimeoutMs);
process.once('message', (config: NodeProcessConfig) => {
  clearTimeout(timer);
  runNodeProcess(config, send).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`tsray: the node failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
});
