/**
 * How the head relays messages between nodes: its router hands every message for an address it
 * does not hold (`raylet:n2`, `worker:n2.w3`, `cli:c1`) to this port, which sends it to the peer of
 * the node the address belongs to. Nodes send everything that is not theirs to the head, so the
 * cluster is a star around the head, except for the chunks of objects that other nodes move over
 * direct links (peer-links.ts).
 */
import type { Address, NodeId } from '../../core/ids.js';
import { nodeOfWorker } from '../../core/ids.js';
import type { Port } from '../runtime/router.js';
import { isMessageBatch } from '../runtime/router.js';
import type { Peer, RoutedMessage } from '../transport/index.js';
import { isSpilledData, isStoredData } from '../runtime/stored-values.js';
import type { MappedData, RemoteStoredData, SpilledData, StoredData } from '../runtime/stored-values.js';
import type { Delivered, Message } from '../../core/protocol.js';
import { layoutBytes, objectsAddress } from './object-transfer.js';

/** The node an address belongs to: `raylet:n2`, `worker:n2.w3` and `cli:n2` all belong to `n2`. */
export function nodeOfAddress(address: Address): NodeId | undefined {
  const colon = address.indexOf(':');
  if (colon < 0) return undefined;
  const kind = address.slice(0, colon);
  const rest = address.slice(colon + 1);
  if (kind === 'worker') return nodeOfWorker(rest);
  return rest === '' ? undefined : rest;
}

/**
 * A router port that sends each message to the peer of its address's node. A message for a node
 * with no connection now is dropped: the protocol's senders retry what matters, and a node that
 * stays away is declared dead by the health checks. `onChunkRelayed` hears of each object chunk
 * that passes through (a pull between two other nodes that has no direct link).
 */
export function peerRoutingPort(peers: ReadonlyMap<NodeId, Peer>, onError: (error: Error, nodeId: NodeId) => void, onChunkRelayed?: (message: RoutedMessage, nodeId: NodeId) => void): Port {
  return {
    postMessage(value: unknown): void {
      if (!isMessageBatch(value)) return;
      const byNode = new Map<NodeId, RoutedMessage[]>();
      for (const message of value.messages as unknown as readonly RoutedMessage[]) {
        const nodeId = nodeOfAddress(message.to);
        if (nodeId === undefined) continue;
        if (message.type === 'object/chunk-sent' && message.via.from.startsWith('objects:')) onChunkRelayed?.(message, nodeId);
        let batch = byNode.get(nodeId);
        if (batch === undefined) {
          batch = [];
          byNode.set(nodeId, batch);
        }
        batch.push(message);
      }
      for (const [nodeId, messages] of byNode) {
        const peer = peers.get(nodeId);
        if (peer === undefined || peer.isClosed) continue;
        try {
          peer.send(messages);
        } catch (error) {
          onError(error instanceof Error ? error : new Error(String(error)), nodeId);
        }
      }
    },
  };
}

/** A stored descriptor as it leaves this node: where to pull its bytes from. */
function remoteData(data: StoredData, nodeId: NodeId): RemoteStoredData {
  const { layout } = data;
  return {
    remoteObjectId: data.storedObjectId,
    nodeId,
    holder: objectsAddress(nodeId),
    totalBytes: layoutBytes({ offset: 0, body: layout.body, blobs: layout.blobs }),
    layout: { offset: 0, body: layout.body, blobs: layout.blobs },
  };
}

/** A spilled descriptor as it leaves this node: the file's path means nothing elsewhere, so readers pull its bytes from this node. */
export function remoteSpilledData(data: SpilledData, nodeId: NodeId): RemoteStoredData {
  return { remoteObjectId: data.spilledObjectId, nodeId, holder: objectsAddress(nodeId), totalBytes: data.totalBytes, layout: data.layout };
}

/**
 * A port that keeps descriptors of this node's shared store inside this process: a fetched value
 * that lives in the store (`object/fetched` with a stored descriptor) leaves as a RemoteStoredData
 * naming this node's transfer address, from which the reader's process pulls the bytes
 * (node-objects.ts, driver-objects.ts) instead of reading its own store at that offset.
 *
 * With `stage` (the port of a driver on this host), the value is staged in the node's handoff folder
 * instead, and leaves as what `stage` resolves with (or the TCP way when that is undefined). Batches
 * leave in order: one behind a staging waits for it, so that the receiver never sees a gap in a
 * sender's sequence numbers wider than the few messages of a copy's time.
 */
export function withRemoteStoredData(port: Port, nodeId: NodeId, stage?: (objectId: string, data: StoredData) => Promise<MappedData | undefined> | undefined): Port {
  let behind: Promise<void> | undefined;
  let waitingBatches = 0;
  return {
    postMessage(value: unknown): void {
      if (!isMessageBatch(value)) {
        port.postMessage(value);
        return;
      }
      let staging = false;
      const messages = value.messages.map((message): Delivered<Message> | Promise<Delivered<Message>> => {
        // A spilled object leaves as one to pull too: its holder serves its chunks from the file.
        if (message.type === 'object/fetched' && isSpilledData(message.data)) return { ...message, data: remoteSpilledData(message.data, nodeId) };
        if (message.type !== 'object/fetched' || !isStoredData(message.data)) return message;
        const remote = { ...message, data: remoteData(message.data, nodeId) };
        const staged = stage?.(message.objectId, message.data);
        if (staged === undefined) return remote;
        staging = true;
        return staged.then((mapped) => (mapped === undefined ? remote : { ...message, data: mapped }));
      });
      if (!staging && waitingBatches === 0) {
        port.postMessage({ ...value, messages });
        return;
      }
      waitingBatches += 1;
      behind = (behind ?? Promise.resolve())
        .then(async () => port.postMessage({ ...value, messages: await Promise.all(messages.map(async (message) => message)) }))
        // Stagings never reject (a failed one goes the TCP way), so this is a bug's last line, not a path.
        .catch((error: unknown) => {
          process.stderr.write(`tsray: a batch of messages of node ${nodeId} was lost: ${error instanceof Error ? error.message : String(error)}\n`);
        })
        .finally(() => {
          waitingBatches -= 1;
        });
    },
  };
}
