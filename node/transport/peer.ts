/**
 * A connection whose handshake has completed: it carries batches of component messages to and from
 * one authenticated peer, whose identity (node id and role) the handshake established.
 */
import type { RawLanding } from './frame-reader.js';
import type { CloseInfo, ConnectionStats, FramedSocket } from './framed-socket.js';
import type { Frame, PeerIdentity, RawFrame, RoutedMessage } from './frames.js';
import type { TransportLimits } from './limits.js';
import { encodeMessageFrames } from './message-frames.js';

/** What the owner of a Peer hears. */
export interface PeerHandlers {
  /** A batch of messages from the peer, in the order it sent them, already checked at the edge. */
  readonly onMessages: (messages: readonly RoutedMessage[], peer: Peer) => void;
  /** The connection closed, once. */
  readonly onClose: (info: CloseInfo, peer: Peer) => void;
  /**
   * Where the raw `bytes` of `message` (a raw frame, frames.ts) should land, exactly `lengthBytes`
   * long: memory the receiver will keep them in, so that they are copied once, from the socket's
   * buffers to there. Undefined (or no landRaw) gives them a new buffer. Either way the message then
   * comes to `onMessages` with its `bytes` (a view of that memory), unless the landing's target was
   * taken away meanwhile, which drops the message (see RawLanding).
   */
  readonly landRaw?: (message: RoutedMessage, lengthBytes: number, peer: Peer) => RawLanding | undefined;
}

/** The landing of raw bytes nobody placed: a new buffer of their size. */
function newLanding(lengthBytes: number): RawLanding {
  return { target: Buffer.allocUnsafeSlow(lengthBytes) };
}

/** An authenticated connection to one peer. */
export class Peer {
  constructor(
    /** Who the peer is, as its handshake said. */
    readonly identity: PeerIdentity,
    private readonly framed: FramedSocket,
    private readonly limits: TransportLimits,
    handlers: PeerHandlers,
  ) {
    framed.setHandlers({
      onFrame: (frame) => this.onFrame(frame, handlers),
      onClose: (info) => handlers.onClose(info, this),
      onRawHeader: (frame) => this.onRawHeader(frame, handlers),
      onRawBytes: (frame, landing) => {
        if (landing.target !== undefined) handlers.onMessages([{ ...frame.message, bytes: landing.target } as RoutedMessage], this);
      },
    });
  }

  /** The peer's identity and `host:port`, for log lines: `node n2 (raylet) at 127.0.0.1:40312`. */
  get label(): string {
    return `node ${this.identity.nodeId} (${this.identity.role}) at ${this.framed.remoteLabel}`;
  }

  /** This side's address of the connection: the interface through which the peer is reached. */
  get localHost(): string | undefined {
    return this.framed.socket.localAddress;
  }

  /** Counters of this connection (see ConnectionStats). */
  get stats(): Readonly<ConnectionStats> {
    return this.framed.stats;
  }

  /** Bytes queued for the peer and not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.framed.queuedBytes;
  }

  /** Whether the connection is closing or closed (sends are dropped). */
  get isClosed(): boolean {
    return this.framed.isClosing;
  }

  /**
   * Queues `messages` for this turn's write. Returns false when the queue is over the high-water mark:
   * the sender should wait for `whenWritable()` before sending more. Throws FrameTooLargeError for a
   * message that alone passes `maxFrameBytes`, and QueueLimitError when the queue would pass
   * `maxQueuedBytes` (nothing of the batch is queued then).
   */
  send(messages: readonly RoutedMessage[]): boolean {
    return this.framed.write(encodeMessageFrames(messages, this.limits.maxFrameBytes));
  }

  /** Resolves once the queue is under the high-water mark; rejects if the connection closes first. */
  whenWritable(): Promise<void> {
    return this.framed.whenWritable();
  }

  /** Closes the connection, sending the peer `reason`. */
  close(reason: string): void {
    this.framed.close(reason);
  }

  /** Lets the process exit while this connection is open (a driver whose script is done needs no more). */
  unref(): void {
    this.framed.socket.unref();
  }

  /** Once closed: the frames that were queued but never handed to the socket (see FramedSocket.takeUnsent). */
  takeUnsent(): Buffer[] {
    return this.framed.takeUnsent();
  }

  /**
   * Queues frames encoded earlier: a client's sends while it was reconnecting, which are in memory
   * already, so the hard limit does not apply to them (it bounds what may be added); or, `bounded`,
   * new frames the caller encoded itself (a client that keeps them to send again, see client.ts).
   */
  writeEncoded(frames: readonly Buffer[], bounded = false): boolean {
    return this.framed.write(frames, bounded);
  }

  private onRawHeader(frame: RawFrame, handlers: PeerHandlers): RawLanding {
    const landing = handlers.landRaw?.(frame.message, frame.rawBytes, this);
    return landing?.target?.byteLength === frame.rawBytes ? landing : newLanding(frame.rawBytes);
  }

  private onFrame(frame: Frame, handlers: PeerHandlers): void {
    if (frame.kind === 'messages') handlers.onMessages(frame.messages, this);
    else this.framed.close(`a '${frame.kind}' frame after the handshake`);
  }
}
