/**
 * Which session a command reads: the folder `--session` names, else the newest session under the
 * sessions root (as `tsray sessions` lists them).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { listSessions, sessionRetention } from '../runtime/sessions.js';
import { UsageError } from './usage.js';

/**
 * The session folder to read.
 *
 * @throws Error (exit 1) when the named folder does not exist or no session is kept.
 * @throws UsageError when a retention variable is set to something it cannot take.
 */
export function sessionDirOf(given: string | undefined): string {
  if (given !== undefined) {
    const dir = resolve(given);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`no session folder ${dir}; pass the folder init() returned, or see tsray sessions`);
    return dir;
  }
  let root: string;
  try {
    root = sessionRetention().root;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const newest = listSessions(root)[0];
  if (newest === undefined) throw new Error(`no sessions under ${root}; pass --session DIR (the folder init() returned)`);
  return newest.dir;
}
