/**
 * For tests of real cluster processes: running node with arguments and an environment, and finding
 * the node processes a test's sessions root recorded (so an `after` hook can stop them by pid).
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** How a process ended and what it printed. */
export interface ProcessRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs node with `args`; `env` adds to (or blanks) this process's environment. */
export function runNode(args: string[], env: Record<string, string>): Promise<ProcessRun> {
  return new Promise((done) => {
    execFile(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
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
