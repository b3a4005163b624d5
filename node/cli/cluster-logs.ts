/**
 * The logs that `tsray trace collect --address` and `tsray timeline --address` merge: fetched from
 * every live node and driver of a cluster over its connections (node/cluster/cluster-tool.ts), and
 * of each dead node this machine ran from its disk (node/cluster/dead-node-logs.ts), with one stderr
 * line for each node or driver left out and why.
 */
import { ClusterTool } from '../cluster/cluster-tool.js';
import { readDeadNodeLogs } from '../cluster/dead-node-logs.js';
import type { CollectedLog } from '../trace/collect.js';
import type { Target } from './cluster-target.js';
import { counted } from '../../core/counted.js';

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
    const nodes = fetched.sources.filter((source) => source.startsWith('node ')).length;
    const drivers = fetched.sources.length - nodes;
    const deadRead = dead.included.size === 0 ? '' : `, ${counted(dead.included.size, 'dead node')} (the logs it left on disk)`;
    return {
      logs: [...fetched.logs, ...dead.logs],
      from: `${counted(nodes, 'node')}${deadRead} and ${counted(drivers, 'driver')} of ${target.address}`,
      incomplete: fetched.missing.length > 0,
    };
  } finally {
    await tool.close();
  }
}
