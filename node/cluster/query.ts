/**
 * Asks a running cluster's GCS a state query as a tool (`tsray status`, `tsray list nodes|jobs`):
 * connect to the head with the cluster token as role `cli`, send the query, take the reply,
 * disconnect. Every wait is bounded and fails naming its bound.
 */
import { gcsAddress } from '../../core/ids.js';
import type { JobReport, MessageOf, NodeReport, ResourceDemand } from '../../core/protocol.js';
import { ClusterTool, defaultQueryTimeoutMs } from './cluster-tool.js';

export { defaultQueryTimeoutMs };

/** Every node the GCS knows, alive or dead, with its resources. */
export async function queryNodes(address: string, token: string, timeoutMs = defaultQueryTimeoutMs): Promise<NodeReport[]> {
  return (await queryNodeStatus(address, token, timeoutMs)).nodes;
}

/** What `tsray status` shows: the nodes, and the actors the GCS holds unplaced since no alive node can ever fit them. */
export interface NodeStatus {
  readonly nodes: NodeReport[];
  readonly pendingActors: ResourceDemand[];
}

/** The nodes and the unplaced actors, in one query. */
export async function queryNodeStatus(address: string, token: string, timeoutMs = defaultQueryTimeoutMs): Promise<NodeStatus> {
  const reply = await query(address, token, timeoutMs, 'cluster/nodes-requested', 'cluster/nodes-replied');
  return { nodes: [...reply.nodes], pendingActors: [...(reply.pendingActors ?? [])] };
}

/** Every job the GCS registered (one per driver), running or ended. */
export async function queryJobs(address: string, token: string, timeoutMs = defaultQueryTimeoutMs): Promise<JobReport[]> {
  return [...(await query(address, token, timeoutMs, 'cluster/jobs-requested', 'cluster/jobs-replied')).jobs];
}

/**
 * Connects as a tool, asks the GCS one query of `type` for its reply of `replyType`, and
 * disconnects: the same session `ClusterTool` gives the other commands, held for one question.
 */
async function query<R extends 'cluster/nodes-replied' | 'cluster/jobs-replied'>(address: string, token: string, timeoutMs: number, type: 'cluster/nodes-requested' | 'cluster/jobs-requested', replyType: R): Promise<MessageOf<R>> {
  const tool = await ClusterTool.connect(address, token, timeoutMs);
  try {
    return await tool.ask(gcsAddress, `the cluster at ${address} (is it a tsray head?)`, replyType, (requestId, requester) => ({ type, requestId, requester }), timeoutMs);
  } finally {
    await tool.close();
  }
}
