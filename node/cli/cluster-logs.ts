/**
 * The logs that `tsray trace collect --address` and `tsray timeline --address` merge: fetched from
 * every live node and driver of a cluster over its connections (node/cluster/cluster-tool.ts), of
 * each dead node this machine ran from its disk (node/cluster/dead-node-logs.ts), and of each ended
 * driver from its session on this machine (node/cluster/ended-driver-logs.ts), with one stderr line
 * for each node or live driver left out and why, and one for the ended drivers not found here.
 * Both take them as sources, none held whole.
 */
import { ClusterTool } from '../cluster/cluster-tool.js';
import { readDeadNodeLogs } from '../cluster/dead-node-logs.js';
import { readEndedDriverLogs } from '../cluster/ended-driver-logs.js';
import { OpenedSources, type LogSource } from '../trace/collect.js';
import { LogSpool } from '../trace/spooled-log.js';
import type { Target } from './cluster-target.js';
import { counted } from '../../core/counted.js';

/** How many ended drivers whose logs are not here the stderr line names; it counts the rest. */
const maxNamedDrivers = 3;

/**
 * A cluster's logs as sources the merge reads as it goes, whether some live node or driver could not
 * send its own, and how to let go of their files.
 */
export interface FetchedSources {
  readonly logs: LogSource[];
  /** What was fetched, for the summary line: `3 nodes and 1 driver`. */
  readonly from: string;
  readonly incomplete: boolean;
  /** Deletes the spooled logs and closes the logs read from this machine's disk. */
  readonly close: () => void;
}

/**
 * Fetches the logs of the cluster at `target` as sources (for `tsray trace collect` and `tsray timeline`): the live
 * processes' logs are spooled to files as they arrive (node/trace/spooled-log.ts), and the logs on
 * this machine's disk are opened, after a first read through that finds a damaged record while the
 * log can still be left out (as one read whole would), so no log is held whole. The caller `close`s
 * them once merged.
 *
 * @throws Error (one line) when the head cannot be reached or no live source sent any log.
 */
export async function fetchClusterSources(command: string, target: Target, chunkBytes?: number): Promise<FetchedSources> {
  const spool = new LogSpool();
  const opened = new OpenedSources();
  const kept = keptUntilExit(() => spool.remove());
  const close = (): void => {
    opened.close();
    spool.remove();
    kept.release();
  };
  try {
    return { ...(await fetchInto(command, target, spool, opened, chunkBytes)), close };
  } catch (error) {
    close();
    throw error;
  }
}

/** Fetches a cluster's live logs into `spool`, and opens those of its dead nodes and ended drivers on this machine into `opened`. */
async function fetchInto(command: string, target: Target, spool: LogSpool, opened: OpenedSources, chunkBytes: number | undefined): Promise<Omit<FetchedSources, 'close'>> {
  const tool = await ClusterTool.connect(target.address, target.token);
  try {
    const fetched = await tool.spooledLogs(spool, chunkBytes);
    const fetchedAddresses = new Set(fetched.logs.map((log) => log.address));
    for (const { source, reason } of fetched.missing) process.stderr.write(`${command}: the logs of ${source} are left out: ${reason}\n`);
    if (fetched.logs.length === 0) throw new Error(`no node of the cluster at ${target.address} sent any log; see the lines above`);
    // A dead node sends nothing, but the logs of one this machine ran are still on its disk.
    const dead = readDeadNodeLogs(fetched.deadNodes, fetchedAddresses, opened.openChecked);
    for (const { nodeId, reason } of dead.missing) process.stderr.write(`${command}: the logs of dead node ${nodeId} are left out: ${reason}\n`);
    // An ended driver sends nothing either, but the log of one that ran here is in its session.
    const ended = readEndedDriverLogs(fetched.jobs, fetchedAddresses, opened.openChecked);
    if (ended.missing.length > 0) {
      const shown = ended.missing.slice(0, maxNamedDrivers).map((driver) => driver.driverId);
      const more = ended.missing.length > shown.length ? ` and ${ended.missing.length - shown.length} more` : '';
      process.stderr.write(`${command}: the logs of ${counted(ended.missing.length, 'ended driver')} are left out (${shown.join(', ')}${more}): ${ended.missing[0]?.reason ?? ''}\n`);
    }
    const nodes = fetched.sources.filter((source) => source.startsWith('node ')).length;
    const drivers = fetched.sources.length - nodes;
    const deadRead = dead.included.size === 0 ? '' : `, ${counted(dead.included.size, 'dead node')} (the logs it left on disk)`;
    const driversRead = ended.included.length === 0 ? ` and ${counted(drivers, 'driver')}` : `, ${counted(drivers, 'live driver')} and ${counted(ended.included.length, 'ended driver')} (read from this machine's sessions)`;
    return {
      logs: [...fetched.logs, ...dead.logs, ...ended.logs],
      from: `${counted(nodes, 'node')}${deadRead}${driversRead} of ${target.address}`,
      incomplete: fetched.missing.length > 0,
    };
  } finally {
    await tool.close();
  }
}

/** The signals on which a command that keeps files in the temporary folder deletes them before it ends. */
const endingSignals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs `remove` if the process ends before `release` is called: at its exit, or on Ctrl-C, SIGTERM or
 * SIGHUP, after which the signal is raised again so the process ends as it would have. The spooled
 * logs of a long collect are hundreds of MB, which an interrupted collect would otherwise leave behind.
 */
function keptUntilExit(remove: () => void): { release: () => void } {
  const onSignal = (signal: NodeJS.Signals): void => {
    release();
    remove();
    process.kill(process.pid, signal);
  };
  const release = (): void => {
    process.off('exit', remove);
    for (const signal of endingSignals) process.off(signal, onSignal);
  };
  process.once('exit', remove);
  for (const signal of endingSignals) process.once(signal, onSignal);
  return { release };
}
