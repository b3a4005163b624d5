/**
 * Direct connections between the nodes of a cluster, for moving objects, as Ray's object managers
 * talk to each other rather than through the GCS. Each node other than the head listens on a port of
 * its own (on the interface through which it reaches the head) and registers that address with the
 * GCS (`node/registered`'s transferAddress, published to every raylet in the cluster view). A node
 * that pulls an object from another non-head node connects to it there, with the same token
 * handshake as any connection, and its chunk requests and the holder's replies go over that
 * connection: one hop instead of two through the head, which then carries none of the bytes.
 *
 * Only object transfer goes over these connections (chunk requests and replies for the receiving
 * node's `objects:` address); anything else closes the connection with its reason. When a direct
 * connection cannot be made (no address, refused, unreachable, or the bound of `maxLinks` reached)
 * the pull goes through the head as before; when one breaks, the pulls that used it start again
 * through the head (`onLost`).
 *
 * The same port takes the drivers of its host that attach to this node (`TSRAY_NODE_ID`,
 * driver-link.ts): their connections are no links and carry anything; they go to the node
 * (`drivers`), which routes what they send as it does its own workers' messages.
 */
import type { NodeId } from '../../core/ids.js';
import type { Port, Router } from '../runtime/router.js';
import { TransportClient, TransportServer, routerPort } from '../transport/index.js';
import type { Peer, RawLanding, RoutedMessage } from '../transport/index.js';
import { objectsAddress } from './object-transfer.js';

/** Direct connections a node keeps at most, both ways together; past it, pulls go through the head. */
export const defaultMaxPeerLinks = 16;

/** How long a node tries to connect to another before it pulls through the head instead. */
export const peerConnectTimeoutMs = 2000;

/** The messages that may go over a direct connection. */
const transferTypes: ReadonlySet<string> = new Set(['object/chunk-requested', 'object/chunk-sent', 'object/chunk-failed']);

/** What a node's direct links are started with. */
export interface PeerLinksOptions {
  readonly nodeId: NodeId;
  readonly token: string;
  /** The node's router: each link is the way to the other node's `objects:` address while it is up. */
  readonly router: Router;
  /** The address to listen on: the interface through which this node reaches the head. */
  readonly host: string;
  /** The other node's transfer address from the GCS's node table (the raylet's cluster view), if it has one. */
  readonly transferAddressOf: (nodeId: NodeId) => string | undefined;
  /** Where a chunk's raw bytes land (NodeObjects: in the store). */
  readonly landRaw: (message: RoutedMessage, lengthBytes: number) => RawLanding | undefined;
  /** The link to `nodeId` broke: the pulls that had chunks on it go again, through the head. */
  readonly onLost: (nodeId: NodeId, reason: string) => void;
  /** Links kept at most (default defaultMaxPeerLinks). */
  readonly maxLinks?: number;
  /** Where one-line reports go (the node's log). */
  readonly log: (line: string) => void;
  /** The node's handling of the drivers that attach to it over this port; without it, a driver is refused. */
  readonly drivers?: {
    /** Messages from an attached driver's connection. */
    readonly deliver: (messages: readonly RoutedMessage[], peer: Peer) => void;
    /** An attached driver's connection closed. */
    readonly closed: (peer: Peer) => void;
  };
}

/** A direct connection to one node, which this node opened (`client`) or accepted. */
interface Link {
  readonly nodeId: NodeId;
  client: TransportClient | undefined;
  peer: Peer | undefined;
  port: Port | undefined;
  /** Settles with whether the link is up (at once for an accepted one). */
  ready: Promise<boolean>;
}

/** Counters of a node's direct links, for its log and tests. */
export interface PeerLinkStats {
  /** Links this node opened. */
  opened: number;
  /** Links other nodes opened to this one. */
  accepted: number;
  /** Connections this node could not make, or refused at its bound. */
  failed: number;
}

/** A node's direct connections to other nodes. */
export class PeerLinks {
  readonly stats: PeerLinkStats = { opened: 0, accepted: 0, failed: 0 };
  private readonly links = new Map<NodeId, Link>();
  /** Accepted connections of a node that this node had a link to already (both connected at once): served, not routed to. */
  private readonly extra = new Set<Peer>();
  /** The connections of drivers attached to this node. */
  private readonly driverPeers = new Set<Peer>();
  private readonly maxLinks: number;
  private boundLogged = false;
  private closed = false;
  private server: TransportServer | undefined;

  private constructor(private readonly options: PeerLinksOptions) {
    this.maxLinks = options.maxLinks ?? defaultMaxPeerLinks;
  }

  /** Listens for other nodes' direct connections. */
  static async start(options: PeerLinksOptions): Promise<PeerLinks> {
    const links = new PeerLinks(options);
    links.server = await TransportServer.listen({
      token: options.token,
      identity: { nodeId: options.nodeId, role: 'raylet' },
      host: options.host,
      port: 0,
      log: options.log,
      onPeer: (peer) => links.accept(peer),
      onPeerClosed: (peer, info) => links.closedPeer(peer, info.reason),
      onMessages: (messages, peer) => links.deliver(messages, peer),
      landRaw: (message, lengthBytes) => options.landRaw(message, lengthBytes),
    });
    return links;
  }

  /** The `host:port` other nodes connect to (registered with the GCS). */
  get address(): string {
    return `${this.options.host}:${this.server?.address.port ?? 0}`;
  }

  /** How many links are up or being made. */
  get size(): number {
    return this.links.size;
  }

  /**
   * Whether chunks of `nodeId`'s objects go over a direct link: true once one is up (made now when
   * there is none and the node has a transfer address), false to pull through the head.
   */
  ensure(nodeId: NodeId): Promise<boolean> {
    if (this.closed || nodeId === this.options.nodeId) return Promise.resolve(false);
    const present = this.links.get(nodeId);
    if (present !== undefined) return present.ready;
    const address = this.options.transferAddressOf(nodeId);
    if (address === undefined) return Promise.resolve(false);
    if (this.links.size >= this.maxLinks) {
      if (!this.boundLogged) this.options.log(`node ${this.options.nodeId} has ${this.links.size} direct links to other nodes (the bound, maxPeerLinks): further pulls go through the head`);
      this.boundLogged = true;
      return Promise.resolve(false);
    }
    const link: Link = { nodeId, client: undefined, peer: undefined, port: undefined, ready: Promise.resolve(false) };
    this.links.set(nodeId, link);
    link.ready = this.connect(link, address);
    return link.ready;
  }

  /** The node died (or left): its link closes, and nothing is pulled from it again. */
  drop(nodeId: NodeId, reason: string): void {
    const link = this.links.get(nodeId);
    if (link === undefined) return;
    this.forget(link);
    link.peer?.close(reason);
    void link.client?.close();
  }

  /** Closes every link and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    const clients = [...this.links.values()].flatMap((link) => (link.client === undefined ? [] : [link.client]));
    for (const link of [...this.links.values()]) this.forget(link);
    await Promise.all([...clients.map((client) => client.close()), this.server?.close()]);
  }

  private async connect(link: Link, address: string): Promise<boolean> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon);
    const port = Number(address.slice(colon + 1));
    try {
      const client = await TransportClient.connect({
        host,
        port,
        token: this.options.token,
        identity: { nodeId: this.options.nodeId, role: 'raylet' },
        // One connection, no reconnects: a link that breaks is made again at the next pull.
        reconnect: { firstConnectGiveUpAfterMs: peerConnectTimeoutMs, giveUpAfterMs: 0 },
        log: () => undefined,
        onMessages: (messages, peer) => this.deliver(messages, peer),
        onDisconnected: (info) => this.lost(link, info.reason),
        landRaw: (message, lengthBytes) => this.options.landRaw(message, lengthBytes),
      });
      const peer = client.peer;
      if (this.closed || this.links.get(link.nodeId) !== link || peer === undefined) {
        void client.close();
        return false;
      }
      link.client = client;
      this.stats.opened += 1;
      this.up(link, peer);
      return true;
    } catch (error) {
      if (this.links.get(link.nodeId) === link) this.links.delete(link.nodeId);
      this.stats.failed += 1;
      this.options.log(`could not connect directly to node ${link.nodeId} at ${address} (${error instanceof Error ? error.message : String(error)}); its objects come through the head`);
      return false;
    }
  }

  /** The link carries the other node's `objects:` address from now on. */
  private up(link: Link, peer: Peer): void {
    link.peer = peer;
    link.port = routerPort(peer, (error) => this.options.log(`chunks to node ${link.nodeId} could not be sent directly: ${error.message}`));
    this.options.router.addRemote(objectsAddress(link.nodeId), link.port);
  }

  private accept(peer: Peer): void {
    const nodeId = peer.identity.nodeId;
    if (this.closed) {
      peer.close(`node ${this.options.nodeId} is stopping`);
      return;
    }
    if (peer.identity.role === 'driver' && this.options.drivers !== undefined) {
      this.driverPeers.add(peer);
      return;
    }
    if (peer.identity.role !== 'raylet') {
      peer.close(`a ${peer.identity.role} connected to the transfer port of node ${this.options.nodeId}, which only nodes and drivers use; connect to the head`);
      return;
    }
    if (this.links.has(nodeId)) {
      this.extra.add(peer);
      return;
    }
    if (this.links.size >= this.maxLinks) {
      this.stats.failed += 1;
      peer.close(`node ${this.options.nodeId} has ${this.links.size} direct links already (the bound, maxPeerLinks); pull through the head`);
      return;
    }
    const link: Link = { nodeId, client: undefined, peer: undefined, port: undefined, ready: Promise.resolve(true) };
    this.links.set(nodeId, link);
    this.stats.accepted += 1;
    this.up(link, peer);
  }

  /** Hands transfer messages for this node to its router; anything else breaks the rules of a direct link. */
  private deliver(messages: readonly RoutedMessage[], peer: Peer): void {
    if (this.driverPeers.has(peer)) {
      this.options.drivers?.deliver(messages, peer);
      return;
    }
    const own = objectsAddress(this.options.nodeId);
    for (const message of messages) {
      if (!transferTypes.has(message.type) || message.to !== own) {
        peer.close(`a '${message.type}' message for ${message.to} over a direct link to node ${this.options.nodeId}: only object chunks for ${own} go direct`);
        return;
      }
      this.options.router.forward(message, message.to);
    }
  }

  private closedPeer(peer: Peer, reason: string): void {
    if (this.driverPeers.delete(peer)) {
      this.options.drivers?.closed(peer);
      return;
    }
    if (this.extra.delete(peer)) return;
    const link = this.links.get(peer.identity.nodeId);
    if (link?.peer === peer) this.lost(link, reason);
  }

  /** A link broke: its pulls go again through the head. */
  private lost(link: Link, reason: string): void {
    if (this.links.get(link.nodeId) !== link) return;
    this.forget(link);
    void link.client?.close();
    if (this.closed) return;
    this.options.log(`the direct link to node ${link.nodeId} closed (${reason}); its objects come through the head until another is made`);
    this.options.onLost(link.nodeId, reason);
  }

  private forget(link: Link): void {
    if (this.links.get(link.nodeId) === link) this.links.delete(link.nodeId);
    if (link.port !== undefined) this.options.router.removeRemote(objectsAddress(link.nodeId), link.port);
  }
}
