/**
 * Helpers for the transport tests: messages of core/protocol.ts addressed for the wire, and a raw
 * socket that speaks frames by hand (to play a hostile or silent peer).
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import * as E from 'fp-ts/lib/Either.js';
import { FrameReader, TransportClient, TransportServer, decodeFrame, encodeFrameBody, frameOf, protocolVersion } from '../../node/transport/index.js';
import type { ClientOptions, Frame, RoutedMessage, ServerOptions } from '../../node/transport/index.js';

/** A small control message from `from` to `to`, numbered `seq`. */
export function smallMessage(seq: number, from = 'raylet:n2', to = 'gcs'): RoutedMessage {
  return { type: 'lease/cancelled', leaseId: `n2.d1.l${seq}`, via: { from, incarnation: 0, seq }, to };
}

/** A message carrying `data` as an object's bytes (what object transfer will send in chunks). */
export function chunkMessage(seq: number, data: Uint8Array, to = 'raylet:n1'): RoutedMessage {
  return { type: 'object/fetched', objectId: `n2.d1.p${seq}`, data, sizeBytes: data.byteLength, refs: [], via: { from: 'raylet:n2', incarnation: 0, seq }, to };
}

/** A log that keeps its lines. */
export function memoryLog(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** One event-loop turn (lets a transport flush what it queued). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Waits until `done()` holds, probing every 5 ms; after `boundMs` it fails naming `what`, so a test
 * whose condition never comes fails instead of hanging.
 */
export async function until(what: string, done: () => boolean, boundMs = 10_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${boundMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A hello frame's bytes. */
export function helloBytes(token: string | undefined, nodeId = 'n9'): Buffer {
  const hello: Frame = token === undefined ? { kind: 'hello', protocol: protocolVersion, nodeId, role: 'raylet' } : { kind: 'hello', protocol: protocolVersion, token, nodeId, role: 'raylet' };
  return frameOf(encodeFrameBody(hello));
}

/** A raw socket to a transport server, which decodes the frames it receives. */
export class RawPeer {
  readonly frames: Frame[] = [];
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  private readonly reader = new FrameReader(1024 * 1024 * 1024);

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      const bodies = this.reader.pushAll(chunk);
      if (E.isLeft(bodies)) return;
      for (const body of bodies.right) {
        const frame = decodeFrame(body);
        if (E.isRight(frame)) this.frames.push(frame.right);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  /** The reason of the `refused` frame received, if one was. */
  get refusal(): string | undefined {
    const refused = this.frames.find((frame) => frame.kind === 'refused');
    return refused?.kind === 'refused' ? refused.reason : undefined;
  }

  /** Resolves once a frame of `kind` has arrived (or the socket closed first). */
  async frameOfKind(kind: Frame['kind']): Promise<Frame | undefined> {
    await until(`a '${kind}' frame`, () => this.socket.closed || this.frames.some((frame) => frame.kind === kind));
    return this.frames.find((frame) => frame.kind === kind);
  }
}

/** Servers, clients and raw peers a test file opened, each closed by `close` (call it in `after`). */
export interface TransportFixture {
  /** A server on a free loopback port, as the head listens (role gcs), with `options` over the defaults. */
  readonly startServer: (options?: Partial<ServerOptions>) => Promise<TransportServer>;
  /** A client of `port`, as a raylet connects (node n2), with `options` over the defaults. */
  readonly startClient: (port: number, options?: Partial<ClientOptions>) => Promise<TransportClient>;
  /** A raw socket to `port` that speaks frames by hand. */
  readonly raw: (port: number) => Promise<RawPeer>;
  readonly close: () => Promise<void>;
}

/** What the transport tests open, with the cluster token `token`, quiet logs and no-op message handlers. */
export function transportFixture(token: string): TransportFixture {
  const servers: TransportServer[] = [];
  const clients: TransportClient[] = [];
  const raws: RawPeer[] = [];
  return {
    startServer: async (options = {}) => {
      const server = await TransportServer.listen({ token, identity: { nodeId: 'head', role: 'gcs' }, log: () => undefined, onMessages: () => undefined, ...options });
      servers.push(server);
      return server;
    },
    startClient: async (port, options = {}) => {
      const client = await TransportClient.connect({ host: '127.0.0.1', port, token, identity: { nodeId: 'n2', role: 'raylet' }, log: () => undefined, onMessages: () => undefined, ...options });
      clients.push(client);
      return client;
    },
    raw: async (port) => {
      const peer = await RawPeer.open(port);
      raws.push(peer);
      return peer;
    },
    close: async () => {
      for (const peer of raws) peer.socket.destroy();
      await Promise.all(clients.map((client) => client.close()));
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}
