/**
 * The bounds of the cluster transport, with their defaults. Every bound that is reached fails with an
 * error (or a logged close reason) naming the option, so a user who hits one knows what to raise.
 */

/** The bounds one connection honours. */
export interface TransportLimits {
  /**
   * The largest frame (one msgpack body) sent or accepted, in bytes. Default 64 MiB: objects cross
   * nodes in chunks (8 MiB in bench/tcp-loopback.ts), so this leaves room for a chunk eight times
   * larger or a batch of thousands of control messages, while a corrupt or hostile length prefix
   * costs at most this much memory per connection, and only for bytes that actually arrive.
   */
  readonly maxFrameBytes: number;
  /**
   * Queued bytes per peer (not yet handed to the kernel) above which `send` answers false and the
   * sender should wait for `whenWritable()`. Default 16 MiB: two 8 MiB chunks keep the socket busy.
   */
  readonly highWaterMarkBytes: number;
  /**
   * The hard bound on queued bytes per peer: a send that would pass it throws QueueLimitError.
   * Default 256 MiB, so a sender that ignores backpressure fails long before it exhausts memory.
   */
  readonly maxQueuedBytes: number;
  /** How long a peer has to complete the handshake before the connection is closed. Default 10 s. */
  readonly handshakeTimeoutMs: number;
}

/** The defaults of every bound (see each field for why). */
export const defaultTransportLimits: TransportLimits = {
  maxFrameBytes: 64 * 1024 * 1024,
  highWaterMarkBytes: 16 * 1024 * 1024,
  maxQueuedBytes: 256 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
};

/**
 * The largest frame accepted before the handshake completes: a hello is a few hundred bytes, so an
 * unauthenticated peer can make this side hold at most this much.
 */
export const maxHandshakeFrameBytes = 4096;

/** The length prefix is a 32-bit unsigned integer, so no frame can be larger than this. */
const maxEncodableFrameBytes = 0xffff_ffff;

/** Below this a high-water mark would sit under the socket's own (16 KiB), and 'drain' could fail to follow it. */
const minHighWaterMarkBytes = 64 * 1024;

/**
 * The defaults overridden by `overrides`, checked: a bad value throws a RangeError that names the
 * option and says what it must be.
 */
export function resolveLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const limits = { ...defaultTransportLimits, ...overrides };
  checkWhole('maxFrameBytes', limits.maxFrameBytes, maxHandshakeFrameBytes, maxEncodableFrameBytes);
  checkWhole('highWaterMarkBytes', limits.highWaterMarkBytes, minHighWaterMarkBytes, Number.MAX_SAFE_INTEGER);
  checkWhole('maxQueuedBytes', limits.maxQueuedBytes, 1, Number.MAX_SAFE_INTEGER);
  checkWhole('handshakeTimeoutMs', limits.handshakeTimeoutMs, 1, 2 ** 31 - 1);
  if (limits.maxQueuedBytes < limits.maxFrameBytes + 4) {
    throw new RangeError(`maxQueuedBytes (${limits.maxQueuedBytes}) must hold at least one frame of maxFrameBytes (${limits.maxFrameBytes}) plus its 4-byte prefix; raise maxQueuedBytes or lower maxFrameBytes`);
  }
  if (limits.highWaterMarkBytes > limits.maxQueuedBytes) {
    throw new RangeError(`highWaterMarkBytes (${limits.highWaterMarkBytes}) must not exceed maxQueuedBytes (${limits.maxQueuedBytes}), or backpressure would never show before the hard limit`);
  }
  return limits;
}

function checkWhole(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`transport option ${name} must be a whole number from ${min} to ${max}, not ${String(value)}`);
  }
}

/** A byte count for messages: `64 MiB`, `3.5 KiB`, `12 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
