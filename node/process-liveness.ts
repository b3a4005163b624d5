/**
 * Whether another process still runs, for the records tsray leaves on disk (node records, the
 * handoff folders in /dev/shm): one place, so that every check treats a zombie alike.
 */
import { readFileSync } from 'node:fs';

/**
 * Whether a process with this pid runs. A zombie (ended, not yet reaped by whoever adopted the
 * detached daemon) answers signals but runs no more, so on Linux its state in /proc is checked too.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses and may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
