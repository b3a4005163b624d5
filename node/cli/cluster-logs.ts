/**
 * The logs that `tsray trace collect --address` and `tsray timeline --address` merge: fetched from
 * every live node and driver of a cluster over its connections (node/cluster/cluster-tool.ts), of
 * each dead node this machine ran from its disk (node/cluster/dead-node-logs.ts), and of each ended
 * driver from its session on this machine (node/cluster/ended-driver-logs.ts), with one stderr line
 * for each node or live driver left out and why, and one for the ended drivers not found here.
 */
import { ClusterTool } from '../cluster/cluster-tool.js';
import { readDeadNodeLogs } from '../cluster/dead-node-logs.js';
import { readEndedDriverLogs } from '../cluster/ended-driver-logs.js';
import type { CollectedLog } from '../trace/collect.js';
import type { Target } from './cluster-target.js';
import { counted } from '../../core/counted.js';

/** How many ended drivers whose logs are not here the stderr line names; it counts the rest. */
const maxNamedDrivers = 3;

/** A cluster's logs, and whether some live node or driver could not send its own. */
export interface FetchedLogs {
  readonly logs: CollectedLog[];
  /** What was fetched, for the summary line: `3 nodes and 1 driver`. */
  readonly from: string;
  readonly incomplete: boolean;
}

/**
 * Fetches the logs of the cluster at `target`; writes a line to stderr for each source left out.
 *
 * @throws Error (one line) when the head cannot be reached or no live source sent any log.
 */
export async function fetchClusterLogs(command: string, target: Target, chunkBytes?: number): Promise<FetchedLogs> {
  const tool = await ClusterTool.connect(target.address, target.token);
  try {
    const fetched = await tool.logs(chunkBytes);
    for (const { source, reason } of fetched.missing) process.stderr.write(`${command}: the logs of ${source} are left out: ${reason}\n`);
    if (fetched.logs.length === 0) throw new Error(`no node of the cluster at ${target.address} sent any log; see the lines above`);
    // A dead node sends nothing, but the logs of one this machine ran are still on its disk.
    const dead = readDeadNodeLogs(fetched.deadNodes, new Set(fetched.logs.map((log) => log.address)));
    for (const { nodeId, reason } of dead.missing) process.stderr.write(`${command}: the logs of dead node ${nodeId} are left out: ${reason}\n`);
    // An ended driver sends nothing either, but the log of one that ran here is in its session.
    const ended = readEndedDriverLogs(fetched.jobs, new Set(fetched.logs.map((log) => log.address)));
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
