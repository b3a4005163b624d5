/**
 * While a resumed head waits for its nodes to reconnect (ClusterNode.resumeGcs), messages for a node
 * that has not reconnected yet wait for it here instead of being dropped by the star routing: the
 * nodes send again what the killed head took with it (TransportClient's resend window), and one that
 * reconnects first would otherwise send it to a node that is not there yet. Once the head resumes,
 * what still waits (for nodes that did not come back) is dropped, and routing is as usual.
 */
import type { NodeId } from '../../core/ids.js';
import type { Delivered, Message } from '../../core/protocol.js';
import type { Port } from '../runtime/router.js';
import { isMessageBatch } from '../runtime/router.js';
import type { Peer, RoutedMessage } from '../transport/index.js';
import { nodeOfAddress } from './node-routing.js';

/** The most messages held for absent nodes; past it, further ones take the usual way (and are dropped). */
export const maxHeldRelays = 100_000;

/** A port in front of the head's peer routing that holds messages for absent nodes until they connect. */
export class HeldRelays {
  private readonly held = new Map<NodeId, RoutedMessage[]>();
  private heldCount = 0;
  private holding = true;

  constructor(
    private readonly inner: Port,
    private readonly peers: ReadonlyMap<NodeId, Peer>,
    private readonly log: (line: string) => void,
  ) {}

  /** The port the head's router sends other nodes' messages to. */
  get port(): Port {
    return { postMessage: (value: unknown) => this.post(value) };
  }

  /** A node connected: what waited for it goes now, ahead of anything later. */
  release(nodeId: NodeId): void {
    const messages = this.held.get(nodeId);
    if (messages === undefined) return;
    this.held.delete(nodeId);
    this.heldCount -= messages.length;
    this.send(messages);
  }

  /** The head resumed: nothing is held any more, and what waited for nodes still absent is dropped. */
  stop(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.heldCount > 0) this.log(`dropped ${this.heldCount} messages for nodes that did not reconnect (${[...this.held.keys()].sort().join(', ')})`);
    this.held.clear();
    this.heldCount = 0;
  }

  private post(value: unknown): void {
    if (!this.holding || !isMessageBatch(value)) {
      this.inner.postMessage(value);
      return;
    }
    const now: RoutedMessage[] = [];
    for (const message of value.messages as unknown as readonly RoutedMessage[]) {
      const nodeId = nodeOfAddress(message.to);
      const peer = nodeId === undefined ? undefined : this.peers.get(nodeId);
      if (nodeId === undefined || (peer !== undefined && !peer.isClosed) || this.heldCount >= maxHeldRelays) {
        now.push(message);
        continue;
      }
      let waiting = this.held.get(nodeId);
      if (waiting === undefined) {
        waiting = [];
        this.held.set(nodeId, waiting);
      }
      waiting.push(message);
      this.heldCount += 1;
    }
    this.send(now);
  }

  private send(messages: RoutedMessage[]): void {
    if (messages.length > 0) this.inner.postMessage({ kind: 'tsray/messages', messages: messages as unknown as Delivered<Message>[] });
  }
}
