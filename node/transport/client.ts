/**
 * The connecting side of the cluster transport: connects to a server, says hello with the cluster
 * token, and keeps the connection up by itself. A lost connection is retried with exponential backoff
 * (so raylets and drivers ride out a GCS restart, issue 10 item 6) until `reconnect.giveUpAfterMs` of
 * failed attempts; a refusal (wrong token, other protocol version) stops at once, since retrying
 * cannot help. Messages sent while reconnecting, and those queued but not yet written when the
 * connection broke, wait (within the same queue bound) for the next connection. Frames already
 * handed to a socket that then broke may have died with the server (in its socket, or read but not
 * yet handled, as when the head is killed); with `reconnect.resendWindowMs` the client sends those
 * of the last moments again on the next connection. That is safe for component messages, whose
 * receivers drop repeats by sender and sequence number (core/inbox.ts), and it keeps their delivery
 * at least once across a restart of the head (core/protocol.ts).
 */
import { ClusterRefusedError, ClusterUnreachableError, QueueLimitError } from './errors.js';
import type { CloseInfo } from './framed-socket.js';
import { connectReusingReads, FramedSocket } from './framed-socket.js';
import { isRawPart, protocolVersion } from './frames.js';
import type { Frame, PeerIdentity, RoutedMessage } from './frames.js';
import { frameNamed, refusalMessage } from './handshake.js';
import { formatBytes, maxHandshakeFrameBytes, resolveLimits } from './limits.js';
import type { TransportLimits } from './limits.js';
import { stderrLog } from './log.js';
import type { TransportLog } from './log.js';
import { encodeMessageFrames } from './message-frames.js';
import { Peer } from './peer.js';
import type { PeerHandlers } from './peer.js';

/** How a client retries. */
export interface ReconnectPolicy {
  /** The wait before the first retry. Default 50 ms. */
  readonly initialDelayMs: number;
  /** Waits double after each failure up to this. Default 2 s, so a restarted server is found within about 2 s. */
  readonly maxDelayMs: number;
  /**
   * The retry bound: after failing attempts for this long (since the connection was lost, or since
   * the first attempt) the client gives up with ClusterUnreachableError. Default 60 s, longer than a
   * GCS restart replaying a large log.
   */
  readonly giveUpAfterMs: number;
  /**
   * The retry bound before the first connection succeeds, when it should differ from
   * `giveUpAfterMs`: a node that is starting wants to hear soon that the address is wrong, while
   * one that was connected rides out a restart of the head. Default: `giveUpAfterMs`.
   */
  readonly firstConnectGiveUpAfterMs?: number;
  /**
   * Frames written to a connection this recently before it broke are sent again on the next one
   * (their receivers must drop repeats). Default 0: none are. A crashed server's connection breaks
   * at once on a live host, so a few seconds cover what it took with it.
   */
  readonly resendWindowMs: number;
  /** At most the newest this many bytes of those frames are kept to be sent again. Default 8 MiB. */
  readonly resendWindowBytes: number;
}

/** The default retry policy (see each field). */
export const defaultReconnectPolicy: ReconnectPolicy = { initialDelayMs: 50, maxDelayMs: 2000, giveUpAfterMs: 60_000, resendWindowMs: 0, resendWindowBytes: 8 * 1024 * 1024 };

/** What a client is started with. */
export interface ClientOptions {
  readonly host: string;
  readonly port: number;
  /** The cluster token; undefined sends a hello without one (which the cluster refuses, saying so). */
  readonly token: string | undefined;
  /** This side's identity, sent in the hello. */
  readonly identity: PeerIdentity;
  readonly limits?: Partial<TransportLimits>;
  readonly reconnect?: Partial<ReconnectPolicy>;
  /** Where disconnects, reconnects and refusals are reported (default: stderr). */
  readonly log?: TransportLog;
  /** A batch of messages from the server. */
  readonly onMessages: (messages: readonly RoutedMessage[], peer: Peer) => void;
  /** Where a raw frame's bytes land (see PeerHandlers.landRaw). */
  readonly landRaw?: PeerHandlers['landRaw'];
  /** A connection completed its handshake (the first one, and each reconnect). */
  readonly onConnected?: (peer: Peer) => void;
  /** The connection was lost; the client is reconnecting. */
  readonly onDisconnected?: (info: CloseInfo) => void;
  /** The client stopped for good after its first connection: refused, or out of retries. */
  readonly onFailed?: (error: Error) => void;
}

/** A connection to the cluster that reconnects by itself. */
export class TransportClient {
  /** Handshakes completed, the first included. */
  connects = 0;
  private current: Peer | undefined;
  private readonly limits: TransportLimits;
  private readonly policy: ReconnectPolicy;
  private readonly log: TransportLog;
  private failures = 0;
  private failingSinceMs: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt: FramedSocket | undefined;
  private stopped = false;
  private failure: Error | undefined;
  /** Frames sent while no connection was up, written first on the next one. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Frames handed to the connection within the resend window, oldest first, with when (from `recentStart` on). */
  private recent: { readonly frame: Buffer; readonly atMs: number }[] = [];
  private recentStart = 0;
  private recentBytes = 0;
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private firstConnect: { resolve: () => void; reject: (error: Error) => void } | undefined;

  private constructor(private readonly options: ClientOptions) {
    this.limits = resolveLimits(options.limits);
    this.policy = { ...defaultReconnectPolicy, ...options.reconnect };
    this.log = options.log ?? stderrLog;
  }

  /**
   * Connects and completes the handshake. Rejects with ClusterRefusedError when the cluster refuses
   * this side, or ClusterUnreachableError when no attempt succeeds within the retry bound.
   */
  static async connect(options: ClientOptions): Promise<TransportClient> {
    const client = new TransportClient(options);
    await new Promise<void>((resolve, reject) => {
      client.firstConnect = { resolve, reject };
      client.tryConnect();
    });
    return client;
  }

  /** `host:port` of the server. */
  get target(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  /** The connection now up, if any. */
  get peer(): Peer | undefined {
    return this.current;
  }

  /**
   * Sends `messages` (see Peer.send); while reconnecting they wait for the next connection, within
   * the same `maxQueuedBytes`. Throws the client's failure once it has stopped for good.
   */
  send(messages: readonly RoutedMessage[]): boolean {
    if (this.failure !== undefined) throw this.failure;
    if (this.stopped) return false;
    // A connection that is closing takes no more frames; they wait for the next one.
    if (this.current !== undefined && !this.current.isClosed) {
      if (this.policy.resendWindowMs <= 0) return this.current.send(messages);
      const frames = encodeMessageFrames(messages, this.limits.maxFrameBytes);
      const writable = this.current.writeEncoded(frames, true);
      this.remember(frames);
      return writable;
    }
    const frames = encodeMessageFrames(messages, this.limits.maxFrameBytes);
    let bytes = 0;
    for (const frame of frames) bytes += frame.byteLength;
    if (this.heldBytes + bytes > this.limits.maxQueuedBytes) {
      throw new QueueLimitError(
        `${formatBytes(this.heldBytes)} wait to be sent to ${this.target} while it reconnects, and ${formatBytes(bytes)} more would pass the limit of ${formatBytes(this.limits.maxQueuedBytes)} (maxQueuedBytes); wait for whenWritable() when send() returns false`,
        this.limits.maxQueuedBytes,
      );
    }
    this.held.push(...frames);
    this.heldBytes += bytes;
    return this.heldBytes < this.limits.highWaterMarkBytes;
  }

  /** Resolves once sends would be taken under the high-water mark (after a reconnect, if one is under way). */
  async whenWritable(): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const peer = this.current;
      if (peer === undefined) {
        if (this.heldBytes < this.limits.highWaterMarkBytes) return;
        await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
        continue;
      }
      try {
        await peer.whenWritable();
        return;
      } catch {
        // That connection closed; wait on the next one.
      }
    }
  }

  /** Closes the connection and stops reconnecting. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.settleWaiters(new Error(`the connection to ${this.target} was closed by this side`));
    const attempt = this.attempt;
    if (attempt === undefined) return;
    const socketClosed = new Promise<void>((resolve) => {
      if (attempt.socket.closed) resolve();
      else attempt.socket.once('close', () => resolve());
    });
    attempt.close('the client is closing');
    attempt.socket.destroySoon();
    await socketClosed;
  }

  private tryConnect(): void {
    if (this.stopped) return;
    // Reads land in one reused buffer (see connectReusingReads); `framed` is made before the first.
    const socket = connectReusingReads({ host: this.options.host, port: this.options.port, noDelay: true }, () => framed);
    let welcomed = false;
    const framed: FramedSocket = new FramedSocket(socket, this.limits, maxHandshakeFrameBytes, {
      onFrame: (frame) => {
        if (this.onHandshakeFrame(framed, frame)) welcomed = true;
        clearTimeout(timer);
      },
      onClose: (info) => {
        clearTimeout(timer);
        if (!welcomed) this.onAttemptFailed(info);
      },
    });
    this.attempt = framed;
    const timer = setTimeout(() => framed.close(`no welcome from ${this.target} within ${this.limits.handshakeTimeoutMs} ms (handshakeTimeoutMs)`), this.limits.handshakeTimeoutMs);
    timer.unref();
    socket.once('connect', () => {
      const { nodeId, role } = this.options.identity;
      const token = this.options.token;
      framed.sendFrame(token === undefined ? { kind: 'hello', protocol: protocolVersion, nodeId, role } : { kind: 'hello', protocol: protocolVersion, token, nodeId, role });
    });
  }

  /** Returns true when the frame completed the handshake. */
  private onHandshakeFrame(framed: FramedSocket, frame: Frame): boolean {
    if (frame.kind !== 'welcome') {
      framed.close(`${frameNamed(frame)} before the welcome`);
      return false;
    }
    if (frame.protocol !== protocolVersion) {
      framed.close(`protocol version ${frame.protocol}, but this node speaks version ${protocolVersion}; run the same tsray version on every node`);
      return false;
    }
    framed.setMaxFrameBytes(this.limits.maxFrameBytes);
    const peer = new Peer({ nodeId: frame.nodeId, role: frame.role }, framed, this.limits, {
      onMessages: (messages, from) => this.options.onMessages(messages, from),
      onClose: (info) => this.onDisconnected(peer, info),
      ...(this.options.landRaw === undefined ? {} : { landRaw: this.options.landRaw }),
    });
    this.current = peer;
    this.connects += 1;
    this.failures = 0;
    this.failingSinceMs = undefined;
    if (this.connects > 1) this.log(`reconnected to the cluster at ${this.target}`);
    if (this.held.length > 0) {
      peer.writeEncoded(this.held);
      this.remember(this.held);
      this.held = [];
      this.heldBytes = 0;
    }
    this.options.onConnected?.(peer);
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
    this.settleWaiters();
    return true;
  }

  private onDisconnected(peer: Peer, info: CloseInfo): void {
    this.current = undefined;
    if (this.stopped) return;
    // Frames that never reached the socket go first on the next connection, before later sends, and
    // before them those written within the resend window, which the server may have lost.
    const unsent = peer.takeUnsent();
    const unsentFrames = new Set(unsent);
    const cutoffMs = Date.now() - this.policy.resendWindowMs;
    const resent = this.recent
      .slice(this.recentStart)
      .filter((entry) => entry.atMs >= cutoffMs && !unsentFrames.has(entry.frame))
      .map((entry) => entry.frame);
    this.forgetRecent();
    const again = [...resent, ...unsent];
    if (again.length > 0) {
      this.held = [...again, ...this.held];
      for (const frame of again) this.heldBytes += frame.byteLength;
    }
    const resending = resent.length === 0 ? '' : ` (${resent.length} frames written within ${this.policy.resendWindowMs} ms go again)`;
    this.log(`lost the connection to the cluster at ${this.target}: ${info.reason}; reconnecting${resending}`);
    this.options.onDisconnected?.(info);
    this.failingSinceMs = Date.now();
    this.scheduleRetry(info.reason);
  }

  /** An attempt ended before its welcome: a refusal ends the client, anything else is retried. */
  private onAttemptFailed(info: CloseInfo): void {
    if (this.stopped) return;
    if (info.initiator === 'peer-refused') {
      this.log(`the cluster at ${this.target} refused this node: ${info.reason}`);
      this.fail(new ClusterRefusedError(refusalMessage(info.reason), info.reason));
      return;
    }
    this.failingSinceMs ??= Date.now();
    this.scheduleRetry(info.reason);
  }

  private scheduleRetry(reason: string): void {
    const delayMs = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    const failingForMs = Date.now() - (this.failingSinceMs ?? Date.now());
    const first = this.connects === 0 && this.policy.firstConnectGiveUpAfterMs !== undefined;
    const boundMs = first ? (this.policy.firstConnectGiveUpAfterMs ?? 0) : this.policy.giveUpAfterMs;
    if (failingForMs + delayMs > boundMs) {
      const seconds = boundMs / 1000;
      const option = first ? 'reconnect.firstConnectGiveUpAfterMs' : 'reconnect.giveUpAfterMs';
      this.log(`gave up reaching the cluster at ${this.target} after ${this.failures} attempts over ${seconds} s: ${reason}`);
      this.fail(
        new ClusterUnreachableError(
          `could not reach the cluster at ${this.target} for ${seconds} s (${option}, ${this.failures} attempts): ${reason}; check that \`tsray start --head\` runs there and the address is right`,
        ),
      );
      return;
    }
    // Jitter spreads the reconnects of many nodes after a GCS restart.
    const jitteredMs = Math.round(delayMs * (0.5 + Math.random() / 2));
    // Not unref'd: a process waiting to reconnect has work to do, and must not exit for want of a socket.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.tryConnect();
    }, jitteredMs);
  }

  /**
   * Keeps frames just handed to the connection, within the resend window's time and bytes. Raw frames
   * (an object's chunks) are not kept: their bytes would crowd every control message out of the
   * window, and a lost chunk is asked for again by its puller (object-transfer.ts).
   */
  private remember(frames: readonly Buffer[]): void {
    if (this.policy.resendWindowMs <= 0) return;
    const nowMs = Date.now();
    for (let index = 0; index < frames.length; index += 1) {
      const frame = frames[index] as Buffer;
      const next = frames[index + 1];
      if (next !== undefined && isRawPart(next)) {
        index += 1;
        continue;
      }
      this.recent.push({ frame, atMs: nowMs });
      this.recentBytes += frame.byteLength;
    }
    const cutoffMs = nowMs - this.policy.resendWindowMs;
    for (;;) {
      const oldest = this.recent[this.recentStart];
      if (oldest === undefined || (oldest.atMs >= cutoffMs && this.recentBytes <= this.policy.resendWindowBytes)) break;
      this.recentBytes -= oldest.frame.byteLength;
      this.recentStart += 1;
    }
    // Dropped entries are cut off in bulk, so that each send costs O(1) on average.
    if (this.recentStart > 1024 && this.recentStart * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentStart);
      this.recentStart = 0;
    }
  }

  private forgetRecent(): void {
    this.recent = [];
    this.recentStart = 0;
    this.recentBytes = 0;
  }

  private fail(error: Error): void {
    this.stopped = true;
    this.failure = error;
    this.held = [];
    this.heldBytes = 0;
    this.forgetRecent();
    this.settleWaiters(error);
    if (this.firstConnect !== undefined) {
      this.firstConnect.reject(error);
      this.firstConnect = undefined;
    } else this.options.onFailed?.(error);
  }

  private settleWaiters(error?: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }
}
