/**
 * One TCP connection as frames: reading (framing, then decoding at the edge), writing (coalesced per
 * turn, bounded, with backpressure) and closing with a one-line reason. It knows nothing of the
 * handshake; server.ts and client.ts run that over it, then hand it to a Peer.
 */
import { connect } from 'node:net';
import type { Socket, TcpNetConnectOpts } from 'node:net';
import * as E from 'fp-ts/lib/Either.js';
import { QueueLimitError } from './errors.js';
import { FrameReader } from './frame-reader.js';
import type { RawLanding } from './frame-reader.js';
import { decodeFrame, encodeFrame, isRawPart, oneLine } from './frames.js';
import type { Frame, RawFrame } from './frames.js';
import { formatBytes } from './limits.js';
import type { TransportLimits } from './limits.js';

/**
 * Who ended a connection: this side (the peer broke a rule, or `close` was called), the peer with a
 * `refused` frame saying why, the peer by closing its end without a word, or the network.
 */
export type CloseInitiator = 'this-side' | 'peer-refused' | 'peer' | 'network';

/** Why a connection ended, as one line, and who ended it. */
export interface CloseInfo {
  readonly reason: string;
  readonly initiator: CloseInitiator;
}

/** Counters of one connection. `writes` counts socket writes: one per turn that had frames to send. */
export interface ConnectionStats {
  framesSent: number;
  writes: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
}

/** What the owner of a FramedSocket hears. */
export interface FramedSocketHandlers {
  /**
   * A decoded frame other than `refused` (which closes the connection with the peer's reason); a
   * `raw` header comes here only when `onRawHeader` is not given (the handshake's handlers refuse it).
   */
  readonly onFrame: (frame: Frame) => void;
  /** A raw frame's header: where its bytes land (they are read next, see FrameReader.beginRaw). */
  readonly onRawHeader?: (frame: RawFrame) => RawLanding;
  /** Every byte of a raw frame has landed (or was dropped, when the landing's target was taken away). */
  readonly onRawBytes?: (frame: RawFrame, landing: RawLanding) => void;
  /** Called once, when the socket has closed. */
  readonly onClose: (info: CloseInfo) => void;
}

/** Frames among queued buffers: a raw frame's bytes, queued beside its header, are not one of their own. */
function countFrames(frames: readonly Buffer[]): number {
  let count = 0;
  for (const frame of frames) if (!isRawPart(frame)) count += 1;
  return count;
}

/** The size of the one buffer a socket of `connectReusingReads` reads into. */
const readBufferBytes = 1024 * 1024;

/**
 * Connects a socket whose reads all land in one buffer of its own, reused for every read, instead of
 * a fresh 64 KiB buffer per read as a socket's 'data' events bring. Those buffers are freed only
 * when V8 collects them, and glibc gives the freed heap back to the kernel: the next ones are fresh
 * pages, each faulted in again. A first write to a page costs ~17 us on this machine's VM, so a node
 * receiving 256 MiB took ~34,000 faults and ~600 ms of kernel time in its main thread, more than the
 * rest of the transfer. One buffer, written again and again, is faulted in once. The bytes are
 * taken out of it before the next read (FramedSocket.onRead): raw frames land in their target,
 * frame bodies are copied into buffers of their own, and the reader keeps nothing of it.
 * `framedOf` is the FramedSocket made over the socket (it exists before the first read).
 */
export function connectReusingReads(options: TcpNetConnectOpts, framedOf: () => FramedSocket | undefined): Socket {
  const buffer = Buffer.allocUnsafeSlow(readBufferBytes);
  return connect({
    ...options,
    onread: {
      buffer,
      callback: (bytes: number, into: Uint8Array) => {
        framedOf()?.onRead(bytes, into);
        return true;
      },
    },
  });
}

/** How long a closing connection waits for the peer to read its reason before dropping it. */
const closeGraceMs = 2000;

/** A socket that carries frames. */
export class FramedSocket {
  readonly stats: ConnectionStats = { framesSent: 0, writes: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0 };
  private readonly reader: FrameReader;
  /** The raw frame whose bytes are being read, with where they land. */
  private raw: { readonly frame: RawFrame; readonly landing: RawLanding } | undefined;
  /** The largest frame accepted now: a raw frame's bytes are bounded by it too. */
  private maxFrameBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private closeInfo: CloseInfo | undefined;
  private closed = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** `host:port` of the other end, for log lines (kept: a closed socket forgets it). */
  readonly remoteLabel: string;

  /**
   * @param socket a connected socket; this object owns it from now on.
   * @param limits the connection's bounds.
   * @param maxFrameBytes the largest frame accepted for now (small until the handshake completes).
   * @param handlers who hears frames and the close (see `setHandlers`).
   */
  constructor(
    readonly socket: Socket,
    private readonly limits: TransportLimits,
    maxFrameBytes: number,
    private handlers: FramedSocketHandlers,
  ) {
    this.remoteLabel = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.reader = new FrameReader(maxFrameBytes);
    this.maxFrameBytes = maxFrameBytes;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (error: NodeJS.ErrnoException) => this.noteClose(`network error: ${oneLine(error.code ?? error.message)}`, 'network'));
    socket.on('drain', () => this.settleWaiters());
    socket.on('close', () => this.onSocketClose());
  }

  /**
   * Hands later frames and the close to `handlers` (the handshake's handlers give way to a Peer's).
   * Called from within a frame handler, it applies from the next frame of the same chunk on.
   */
  setHandlers(handlers: FramedSocketHandlers): void {
    this.handlers = handlers;
  }

  /** Whether the connection is closing or closed. */
  get isClosing(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Widens (or narrows) the largest frame accepted from the peer. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
    this.reader.setMaxFrameBytes(maxFrameBytes);
  }

  /** Bytes queued for this peer and not yet taken by the kernel: ours to flush plus the socket's buffer. */
  get queuedBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  /** Encodes and queues one frame (see `write`). */
  sendFrame(frame: Frame): boolean {
    return this.write([encodeFrame(frame)]);
  }

  /**
   * Queues encoded frames for this turn's write (a raw frame is two buffers, its header then its
   * bytes, which must be queued in the same call). Returns false when the queue is over the high-water
   * mark (wait for `whenWritable()`); throws QueueLimitError when it would pass `maxQueuedBytes`.
   * Frames queued on a closing connection are dropped (its close is reported through `onClose`);
   * frames queued before it began closing stay for `takeUnsent`. `bounded` false skips the hard limit,
   * for frames that are already held in memory (a reconnecting client's), which must not be lost.
   */
  write(frames: readonly Buffer[], bounded = true): boolean {
    if (this.closeInfo !== undefined) return false;
    let bytes = 0;
    for (const frame of frames) bytes += frame.byteLength;
    const queued = this.queuedBytes;
    if (bounded && queued + bytes > this.limits.maxQueuedBytes) {
      throw new QueueLimitError(
        `the send queue to ${this.remoteLabel} holds ${formatBytes(queued)}, and ${formatBytes(bytes)} more would pass its limit of ${formatBytes(this.limits.maxQueuedBytes)} (maxQueuedBytes); wait for whenWritable() when send() returns false, or raise maxQueuedBytes`,
        this.limits.maxQueuedBytes,
      );
    }
    for (const frame of frames) this.pending.push(frame);
    this.pendingBytes += bytes;
    this.stats.framesSent += countFrames(frames);
    this.scheduleFlush();
    return this.queuedBytes < this.limits.highWaterMarkBytes;
  }

  /**
   * Takes the frames queued but never handed to the socket (a closed connection keeps them for
   * this): a reconnecting client sends them on its next connection.
   */
  takeUnsent(): Buffer[] {
    const frames = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return frames;
  }

  /** Resolves once the queue is under the high-water mark; rejects if the connection closes first. */
  whenWritable(): Promise<void> {
    if (this.closeInfo !== undefined) return Promise.reject(new Error(`the connection to ${this.remoteLabel} closed: ${this.closeInfo.reason}`));
    if (this.queuedBytes < this.limits.highWaterMarkBytes) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Hands every frame queued this turn to the socket as one write (corked, so libuv uses writev). */
  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closeInfo !== undefined) return;
    const frames = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.socket.cork();
    for (const frame of frames) this.socket.write(frame);
    this.socket.uncork();
    this.stats.writes += 1;
    for (const frame of frames) this.stats.bytesSent += frame.byteLength;
    this.settleWaiters();
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0 || this.queuedBytes >= this.limits.highWaterMarkBytes) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /**
   * A read into the buffer a socket of `connectReusingReads` reuses: its bytes are taken now, as
   * 'data' would bring them, and whatever the reader still holds of them is copied out before the
   * next read overwrites the buffer.
   */
  onRead(bytes: number, buffer: Uint8Array): void {
    this.onData(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
    this.reader.detach();
  }

  private onData(chunk: Buffer): void {
    // A closing connection reads on only so that the peer's unread bytes do not turn our FIN into a reset.
    if (this.closeInfo !== undefined) return;
    this.stats.bytesReceived += chunk.byteLength;
    this.reader.push(chunk);
    while (this.closeInfo === undefined) {
      const raw = this.raw;
      if (raw !== undefined) {
        if (!this.reader.fillRaw()) return;
        this.raw = undefined;
        this.handlers.onRawBytes?.(raw.frame, raw.landing);
        continue;
      }
      const body = this.reader.next();
      if (E.isLeft(body)) {
        this.close(body.left);
        return;
      }
      if (body.right === undefined) return;
      this.stats.framesReceived += 1;
      const frame = decodeFrame(body.right);
      if (E.isLeft(frame)) {
        this.close(frame.left);
        return;
      }
      if (frame.right.kind === 'refused') {
        this.noteClose(oneLine(frame.right.reason, 300), 'peer-refused');
        this.socket.destroy();
        return;
      }
      if (frame.right.kind === 'raw' && this.handlers.onRawHeader !== undefined) {
        this.beginRaw(frame.right, this.handlers.onRawHeader);
        continue;
      }
      // The handler may change the frame bound (a hello that passed): `next` reads the next frame under it.
      this.handlers.onFrame(frame.right);
    }
  }

  /** A raw frame's header: its bytes are bounded as a frame is, and read next into where the handler says. */
  private beginRaw(frame: RawFrame, onRawHeader: (frame: RawFrame) => RawLanding): void {
    if (frame.rawBytes > this.maxFrameBytes) {
      this.close(`a raw frame of ${formatBytes(frame.rawBytes)} (${frame.rawBytes} bytes) is over the limit of ${formatBytes(this.maxFrameBytes)} (maxFrameBytes)`);
      return;
    }
    const landing = onRawHeader(frame);
    this.reader.beginRaw(frame.rawBytes, landing);
    this.raw = { frame, landing };
  }

  private onEnd(): void {
    const partial = this.reader.partialFrame();
    if (partial === undefined) this.noteClose('the peer closed the connection', 'peer');
    else {
      const of = partial.raw === true ? `the ${partial.expectedBytes ?? 0} raw bytes of a frame` : partial.expectedBytes === undefined ? 'a length prefix' : `a frame of ${partial.expectedBytes} bytes`;
      this.noteClose(`the peer closed the connection in the middle of ${of} (${partial.receivedBytes} bytes received)`, 'peer');
    }
  }

  /**
   * Closes the connection for `reason`, which the peer is sent as a `refused` frame (unless the peer
   * is gone): its queued frames are not sent (see `takeUnsent`), and the socket ends once the reason
   * is written, or after a grace period if the peer does not read.
   */
  close(reason: string): void {
    if (this.closeInfo !== undefined || this.closed) return;
    this.noteClose(reason, 'this-side');
    this.rejectWaiters();
    if (this.socket.writable) this.socket.end(encodeFrame({ kind: 'refused', reason }));
    else this.socket.destroy();
    this.graceTimer = setTimeout(() => this.socket.destroy(), closeGraceMs);
    this.graceTimer.unref();
  }

  /** Drops the connection at once, without telling the peer why. */
  destroy(reason: string): void {
    this.noteClose(reason, 'this-side');
    this.socket.destroy();
  }

  /** Keeps the first reason: later ones (the reset that follows a refusal) are consequences. */
  private noteClose(reason: string, initiator: CloseInitiator): void {
    if (this.closeInfo === undefined) this.closeInfo = { reason, initiator };
  }

  private rejectWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    const reason = this.closeInfo?.reason ?? 'the connection closed';
    for (const waiter of waiters) waiter.reject(new Error(`the connection to ${this.remoteLabel} closed: ${reason}`));
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.noteClose('the connection closed', 'network');
    this.rejectWaiters();
    this.handlers.onClose(this.closeInfo ?? { reason: 'the connection closed', initiator: 'network' });
  }
}
