/**
 * `tsray stop`: stops every node process that `tsray start` began on this machine. Each gets SIGTERM
 * (it stops cleanly and removes its own files); any still running after `stopTimeoutMs` gets SIGKILL,
 * and its files are removed here. A record whose pid is no tsray node now (it died, and the pid went
 * to another program) is only removed. The shared-memory folders of nodes no longer running (those
 * killed here, or before) are removed last.
 */
import { parseArgs } from 'node:util';
import { forgetNode, isNodeProcess, readAddressFile, recordedNodes, removeAddressFile } from '../cluster/local-nodes.js';
import { isRunning } from '../process-liveness.js';
import { sweepStaleHandoffs } from '../store/shm-handoff.js';
import { UsageError, firstLine } from './usage.js';

/** How long stopping nodes get before they are killed. */
export const stopTimeoutMs = 10_000;

/** Runs `tsray stop`; resolves to the exit code. */
export async function stopCommand(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args, allowPositionals: false, options: { help: { type: 'boolean', short: 'h', default: false } } }).values;
  } catch (error) {
    throw new UsageError(`stop: ${firstLine((error as Error).message)}; usage: tsray stop`);
  }
  if (values.help) {
    process.stdout.write('usage: tsray stop   stop every tsray node process that `tsray start` began on this machine\n');
    return 0;
  }
  const head = (() => {
    try {
      return readAddressFile();
    } catch {
      return undefined;
    }
  })();
  const pids = new Set(recordedNodes().map((record) => record.pid));
  if (head !== undefined) pids.add(head.pid);
  if (head?.supervisorPid !== undefined) pids.add(head.supervisorPid);
  const running = [...pids].filter((pid) => pid !== process.pid && isNodeProcess(pid));
  for (const pid of running) signal(pid, 'SIGTERM');
  const deadline = Date.now() + stopTimeoutMs;
  while (running.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const killed = running.filter(isRunning);
  for (const pid of killed) signal(pid, 'SIGKILL');
  for (const pid of pids) forgetNode(pid);
  removeAddressFile();
  sweepStaleHandoffs();
  if (running.length === 0) process.stdout.write('tsray: no node started on this machine was running\n');
  else {
    const forced = killed.length === 0 ? '' : `; ${killed.length} did not stop within ${stopTimeoutMs} ms (stopTimeoutMs) and were killed: pid ${killed.join(', ')}`;
    process.stdout.write(`tsray: stopped ${running.length} node process${running.length === 1 ? '' : 'es'} (pid ${running.join(', ')})${forced}\n`);
  }
  return 0;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // It ended on its own meanwhile.
  }
}
