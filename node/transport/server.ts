/**
 * The listening side of the cluster transport: accepts connections, runs the handshake (hello with
 * the cluster token, compared in constant time; welcome or a refusal with its reason), and hands
 * each authenticated peer's messages to the owner together with the peer's identity. Every
 * connection that ends for a reason other than a clean close is logged with that reason, on one line.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { CloseInfo } from './framed-socket.js';
import { FramedSocket } from './framed-socket.js';
import { protocolVersion } from './frames.js';
import type { Frame, PeerIdentity, RoutedMessage } from './frames.js';
import { frameNamed, helloProblem } from './handshake.js';
import { maxHandshakeFrameBytes, resolveLimits } from './limits.js';
import type { TransportLimits } from './limits.js';
import { stderrLog } from './log.js';
import type { TransportLog } from './log.js';
import { Peer } from './peer.js';
import type { PeerHandlers } from './peer.js';
import { tokenProblem } from './token.js';

/** What a server is started with. */
export interface ServerOptions {
  /** The cluster token every hello must carry. */
  readonly token: string;
  /** This side's identity, sent in the welcome. */
  readonly identity: PeerIdentity;
  /** The address to bind. Default 127.0.0.1: only this machine can connect until `--host` opens it wider. */
  readonly host?: string;
  /** The port; 0 (the default) picks a free one (see `address`). */
  readonly port?: number;
  /** Bounds that differ from the defaults (limits.ts). */
  readonly limits?: Partial<TransportLimits>;
  /** Where refusals and closes are reported (default: stderr). */
  readonly log?: TransportLog;
  /** A peer completed its handshake. */
  readonly onPeer?: (peer: Peer) => void;
  /** A batch of messages from an authenticated peer. */
  readonly onMessages: (messages: readonly RoutedMessage[], peer: Peer) => void;
  /** Where a raw frame's bytes land (see PeerHandlers.landRaw). */
  readonly landRaw?: PeerHandlers['landRaw'];
  /** An authenticated peer's connection ended. */
  readonly onPeerClosed?: (peer: Peer, info: CloseInfo) => void;
}

/** Counters of a server's connections. */
export interface ServerStats {
  accepted: number;
  authenticated: number;
  /** Connections closed before their handshake completed (refusals, garbage, timeouts, early hang-ups). */
  refused: number;
  /** Authenticated connections this side closed: the peer broke the protocol, or the owner called `Peer.close`. */
  closedByThisSide: number;
  /** Authenticated connections the peer (or the network) ended; a truncated frame counts here, with its reason logged. */
  disconnected: number;
}

/** A listening transport server. */
export class TransportServer {
  readonly stats: ServerStats = { accepted: 0, authenticated: 0, refused: 0, closedByThisSide: 0, disconnected: 0 };
  private readonly connections = new Set<FramedSocket>();
  private readonly livePeers = new Set<Peer>();
  /** The connections whose handshake completed. */
  private readonly isPeer = new WeakSet<FramedSocket>();
  private readonly limits: TransportLimits;
  private readonly log: TransportLog;
  private closing = false;

  private constructor(
    private readonly server: Server,
    private readonly options: ServerOptions,
  ) {
    this.limits = resolveLimits(options.limits);
    this.log = options.log ?? stderrLog;
  }

  /** Starts listening; resolves once the port is bound. A bad token or an address in use rejects with a one-line error. */
  static async listen(options: ServerOptions): Promise<TransportServer> {
    const problem = tokenProblem(options.token);
    if (problem !== undefined) throw new TypeError(`cannot start the transport server: ${problem}`);
    const server = createServer({ noDelay: true });
    const transport = new TransportServer(server, options);
    server.on('connection', (socket) => transport.accept(socket));
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new Error(`cannot listen on ${host}:${port}: ${error.code ?? error.message}${error.code === 'EADDRINUSE' ? '; pick another --port or stop what holds it' : ''}`));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    // Accept errors (EMFILE and the like) are reported, never thrown: the server keeps serving.
    server.on('error', (error: NodeJS.ErrnoException) => transport.log(`transport server error: ${error.code ?? error.message}`));
    return transport;
  }

  /** The bound host and port (the port the OS picked when 0 was asked for). */
  get address(): { readonly host: string; readonly port: number } {
    const info = this.server.address() as AddressInfo;
    return { host: info.address, port: info.port };
  }

  /** The peers connected now. */
  get peers(): ReadonlySet<Peer> {
    return this.livePeers;
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.stats.accepted += 1;
    let peer: Peer | undefined;
    const framed: FramedSocket = new FramedSocket(socket, this.limits, maxHandshakeFrameBytes, {
      onFrame: (frame) => {
        peer = this.onHandshakeFrame(framed, frame, timer);
      },
      onClose: (info) => {
        clearTimeout(timer);
        this.connections.delete(framed);
        if (peer === undefined) this.onHandshakeFailed(framed, info);
      },
    });
    this.connections.add(framed);
    const timer = setTimeout(() => framed.close(`no hello within ${this.limits.handshakeTimeoutMs} ms (handshakeTimeoutMs)`), this.limits.handshakeTimeoutMs);
    timer.unref();
  }

  /** The first frame must be a good hello; anything else closes the connection with the reason. */
  private onHandshakeFrame(framed: FramedSocket, frame: Frame, timer: NodeJS.Timeout): Peer | undefined {
    if (frame.kind !== 'hello') {
      framed.close(`${frameNamed(frame)} before the handshake`);
      return undefined;
    }
    const problem = helloProblem(frame, this.options.token);
    if (problem !== undefined) {
      framed.close(problem);
      return undefined;
    }
    clearTimeout(timer);
    this.stats.authenticated += 1;
    framed.setMaxFrameBytes(this.limits.maxFrameBytes);
    framed.sendFrame({ kind: 'welcome', protocol: protocolVersion, nodeId: this.options.identity.nodeId, role: this.options.identity.role });
    const peer = new Peer({ nodeId: frame.nodeId, role: frame.role }, framed, this.limits, {
      onMessages: (messages, from) => this.options.onMessages(messages, from),
      onClose: (info, closed) => this.onPeerClosed(framed, closed, info),
      ...(this.options.landRaw === undefined ? {} : { landRaw: this.options.landRaw }),
    });
    this.livePeers.add(peer);
    this.isPeer.add(framed);
    this.options.onPeer?.(peer);
    return peer;
  }

  private onHandshakeFailed(framed: FramedSocket, info: CloseInfo): void {
    this.stats.refused += 1;
    if (info.initiator === 'this-side') this.log(`refused a connection from ${framed.remoteLabel}: ${info.reason}`);
    else this.log(`a connection from ${framed.remoteLabel} ended before its handshake: ${info.reason}`);
  }

  private onPeerClosed(framed: FramedSocket, peer: Peer, info: CloseInfo): void {
    this.connections.delete(framed);
    this.livePeers.delete(peer);
    if (info.initiator === 'this-side' && !this.closing) {
      this.stats.closedByThisSide += 1;
      this.log(`closed the connection of ${peer.label}: ${info.reason}`);
    } else if (!this.closing) {
      this.stats.disconnected += 1;
      this.log(`${peer.label} disconnected: ${info.reason}`);
    }
    this.options.onPeerClosed?.(peer, info);
  }

  /** Stops listening and closes every connection (peers are told the server is shutting down). */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const framed of this.connections) {
      // A peer is told why; a connection still in its handshake is dropped, or its client would take
      // the shutdown for a refusal and stop retrying.
      if (this.isPeer.has(framed)) {
        framed.close('the server is shutting down');
        framed.socket.destroySoon();
      } else framed.destroy('the server is shutting down');
    }
    await closed;
  }
}
