/**
 * Asks a running cluster's GCS a state query as a tool (`tsray status`, `tsray list nodes|jobs`):
 * connect to the head with the cluster token as role `cli`, send the query, take the reply,
 * disconnect. Every wait is bounded and fails naming its bound.
 */
import { randomBytes } from 'node:crypto';
import { gcsAddress } from '../../core/ids.js';
import type { JobReport, NodeReport, ResourceDemand } from '../../core/protocol.js';
import { TransportClient } from '../transport/index.js';
import type { RoutedMessage } from '../transport/index.js';
import { parseAddress } from './local-nodes.js';

/** How long a query waits for the cluster, by default. */
export const defaultQueryTimeoutMs = 5000;

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
  return query(address, token, timeoutMs, 'cluster/nodes-requested', (message) =>
    message.type === 'cluster/nodes-replied' ? { nodes: [...message.nodes], pendingActors: [...(message.pendingActors ?? [])] } : undefined,
  );
}

/** Every job the GCS registered (one per driver), running or ended. */
export async function queryJobs(address: string, token: string, timeoutMs = defaultQueryTimeoutMs): Promise<JobReport[]> {
  return query(address, token, timeoutMs, 'cluster/jobs-requested', (message) => (message.type === 'cluster/jobs-replied' ? [...message.jobs] : undefined));
}

/** Sends one query of `type` and resolves to what `answer` makes of its reply. */
async function query<T>(address: string, token: string, timeoutMs: number, type: 'cluster/nodes-requested' | 'cluster/jobs-requested', answer: (message: RoutedMessage) => T | undefined): Promise<T> {
  const { host, port } = parseAddress(address);
  const id = `cli-${process.pid}-${randomBytes(3).toString('hex')}`;
  const requester = `cli:${id}`;
  const requestId = `${id}.q1`;
  let settle: ((value: T) => void) | undefined;
  const replied = new Promise<T>((resolve) => {
    settle = resolve;
  });
  const client = await TransportClient.connect({
    host,
    port,
    token,
    identity: { nodeId: id, role: 'cli' },
    // A tool gives up at its own bound; it has no work that would outlive a restart of the head.
    reconnect: { giveUpAfterMs: timeoutMs },
    log: () => undefined,
    onMessages: (messages) => {
      for (const message of messages) {
        if ((message as { requestId?: unknown }).requestId !== requestId) continue;
        const value = answer(message);
        if (value !== undefined) settle?.(value);
      }
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const request: RoutedMessage = { type, requestId, requester, via: { from: requester, incarnation: 0, seq: 0 }, to: gcsAddress };
    client.send([request]);
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the cluster at ${address} did not answer within ${timeoutMs} ms; is it a tsray head?`)), timeoutMs);
    });
    return await Promise.race([replied, timedOut]);
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}
