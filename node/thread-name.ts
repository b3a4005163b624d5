/**
 * Names the calling thread as the OS sees it, so that /proc (`/proc/<pid>/task/<tid>/comm`), top -H
 * and per-thread CPU figures (bench/hot-path.ts) tell tsray's threads apart: Node 20 leaves every
 * thread of a process named `node`, and its Worker `name` option does not reach the OS.
 * `/proc/thread-self` is the thread that opens it, and a synchronous write runs on the calling
 * thread, so the name lands on this thread and no other. Linux only; elsewhere, or where /proc is
 * not writable, the thread keeps its name.
 */
import { writeFileSync } from 'node:fs';

/** The OS name of a node's log thread (node/store/log-thread.ts), which writes the workers', the driver's and the raylet's logs. */
export const logThreadName = 'tsray-log';
/** The OS name of a worker thread (node/runtime/worker-main.ts). */
export const workerThreadName = 'tsray-worker';

/** The longest name Linux keeps (16 bytes with the terminating NUL); a longer one is cut. */
export const maxThreadNameBytes = 15;

/** Names the calling thread `name` (cut to `maxThreadNameBytes`); false when the OS would not take it. */
export function nameThisThread(name: string): boolean {
  if (process.platform !== 'linux') return false;
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, maxThreadNameBytes));
    return true;
  } catch {
    return false;
  }
}
