/**
 * The logs of cluster nodes that died (`kill -9`, a crash), read from this machine's disk for
 * `tsray trace collect --address` and `tsray timeline --address`: a dead node sends nothing, but its
 * LMDB logs (its raylet's and its worker threads') stay in its session dir. The session dirs of the
 * nodes this machine started are known from their records (local-nodes.ts), and a dead head's from
 * the address file (a resumed head runs in the same session dir). A node that ran on another
 * machine, or whose session dir is gone, is reported as missing.
 *
 * A log ends where its process died: the events it had not committed yet are not in it (a lagging
 * log loses its last moments), which the trace's merge already allows for (a message whose sending
 * event is not in its sender's log is placed by its time), and no live state hash is recorded at its
 * end, so replay checks it only for running without an error.
 */
import type { Address, NodeId } from '../../core/ids.js';
import { nodeOfWorker } from '../../core/ids.js';
import { openSessionLogs } from '../store/event-log.js';
import type { SessionLog } from '../store/event-log.js';
import { readAddressFile, recordedNodes } from './local-nodes.js';

/** What was found on this machine of the dead nodes' logs. */
export interface DeadNodeLogs<L> {
  readonly logs: L[];
  /**
   * The dead nodes whose logs the trace holds: read here from their session dirs, or already sent by
   * a live node that shares the session dir (a head that resumed a dead head's session serves its logs).
   */
  readonly included: ReadonlySet<NodeId>;
  /** The dead nodes with no log on this machine, or whose logs could not be read, and why. */
  readonly missing: readonly { readonly nodeId: NodeId; readonly reason: string }[];
}

/** The node whose process wrote the log at `address` (a raylet's or a worker thread's), if any. */
function nodeOfLog(address: Address): NodeId | undefined {
  if (address.startsWith('raylet:')) return address.slice('raylet:'.length);
  if (address.startsWith('worker:')) return nodeOfWorker(address.slice('worker:'.length));
  return undefined;
}

/** The session dirs of the nodes this machine started that it still knows of. */
function localSessionDirs(): string[] {
  const dirs = new Set<string>();
  for (const record of recordedNodes()) if (record.sessionDir !== '') dirs.add(record.sessionDir);
  try {
    const file = readAddressFile();
    if (file?.sessionDir !== undefined) dirs.add(file.sessionDir);
  } catch {
    // A damaged address file names no session dir; the node records may still.
  }
  return [...dirs];
}

/**
 * Reads the logs that the dead nodes `deadNodes` left in the session dirs of this machine, except
 * those at `fetched` (sent by a live process already: a head that resumed a dead head's session
 * serves that head's logs with its own). A dead process's worker-thread logs sit beside its
 * raylet's, so a driver's log (another process, with a session dir of its own) is never among them.
 * Each log is read by `read` (whole, or opened as a source the merge reads as it goes).
 */
export function readDeadNodeLogs<L extends { readonly address: Address }>(deadNodes: readonly NodeId[], fetched: ReadonlySet<Address>, read: (entry: SessionLog) => L): DeadNodeLogs<L> {
  const dead = new Set(deadNodes);
  const logs: L[] = [];
  const failed = new Map<NodeId, string>();
  if (dead.size > 0) {
    for (const sessionDir of localSessionDirs()) {
      let listed: SessionLog[];
      try {
        listed = openSessionLogs(sessionDir);
      } catch {
        // A session dir removed (`tsray sessions` clean-up) or unreadable holds nothing to read.
        continue;
      }
      for (const entry of listed) {
        const nodeId = nodeOfLog(entry.address);
        if (nodeId === undefined || !dead.has(nodeId) || fetched.has(entry.address) || failed.has(nodeId)) continue;
        try {
          logs.push(read(entry));
        } catch (error) {
          // A log cut short mid-record would fail the replay's checks for no fault of the run: the
          // node's logs are all left out, as a live node's are when one fails.
          failed.set(nodeId, (error as Error).message);
        }
      }
    }
  }
  const kept = logs.filter((log) => {
    const nodeId = nodeOfLog(log.address);
    return nodeId === undefined || !failed.has(nodeId);
  });
  const included = new Set<NodeId>();
  for (const address of [...fetched, ...kept.map((log) => log.address)]) {
    const nodeId = nodeOfLog(address);
    if (nodeId !== undefined && dead.has(nodeId) && !failed.has(nodeId)) included.add(nodeId);
  }
  const missing = deadNodes.flatMap((nodeId) => {
    const reason = failed.get(nodeId);
    if (reason !== undefined) return [{ nodeId, reason }];
    return included.has(nodeId) ? [] : [{ nodeId, reason: 'its logs are not on this machine (it ran on another host, or its session dir is gone)' }];
  });
  return { logs: kept, included, missing };
}
