/**
 * The logs of a cluster's drivers that have ended, read from this machine's sessions for `tsray
 * trace collect --address` and `tsray timeline --address`. A driver is the owner of everything it
 * submitted: its log holds the submissions, the retries it decided and the gets it waited on, so a
 * trace of a finished job without it could not say why a task was retried. A live driver sends its
 * log over the cluster's connections; one that has ended sends nothing, but a driver keeps its log
 * in a session of its own under the sessions root (TSRAY_SESSIONS_ROOT), which outlives it until
 * `init` prunes old sessions. A driver that ran on another machine, was given a `sessionDir` of its
 * own, or whose session was pruned, is reported as not found.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Address } from '../../core/ids.js';
import type { JobReport } from '../../core/protocol.js';
import { sessionDirs, sessionRetention } from '../runtime/sessions.js';
import { logDirFor } from '../store/event-log.js';
import type { SessionLog } from '../store/event-log.js';
import { logMetaFileName } from '../store/event-log-dir.js';

/** What was found on this machine of the ended drivers' logs. */
export interface EndedDriverLogs<L> {
  readonly logs: L[];
  /** The ended drivers whose logs the trace holds. */
  readonly included: readonly string[];
  /** The ended drivers whose logs are not on this machine, or could not be read, and why. */
  readonly missing: readonly { readonly driverId: string; readonly reason: string }[];
}

/**
 * Reads the logs that the ended drivers of `jobs` left in the sessions under `root`, except those at
 * `fetched` (sent by a live process already). Each log is read by `read` (whole, or opened as a
 * source the merge reads as it goes).
 */
export function readEndedDriverLogs<L>(jobs: readonly JobReport[], fetched: ReadonlySet<Address>, read: (entry: SessionLog) => L, root: string = sessionRetention().root): EndedDriverLogs<L> {
  const ended = jobs.filter((job) => !job.alive && !fetched.has(`worker:${job.driverId}`));
  const logs: L[] = [];
  const included: string[] = [];
  const missing: { driverId: string; reason: string }[] = [];
  if (ended.length === 0) return { logs, included, missing };
  const sessions = sessionDirs(root);
  for (const job of ended) {
    const address: Address = `worker:${job.driverId}`;
    const session = sessions.find((dir) => existsSync(join(logDirFor(dir, address), logMetaFileName)));
    if (session === undefined) {
      missing.push({ driverId: job.driverId, reason: `its session is not under ${root} (it ran on another host, was given a sessionDir, or its session was pruned)` });
      continue;
    }
    try {
      logs.push(read({ address, component: 'owner', dir: logDirFor(session, address) }));
      included.push(job.driverId);
    } catch (error) {
      missing.push({ driverId: job.driverId, reason: (error as Error).message });
    }
  }
  return { logs, included, missing };
}
