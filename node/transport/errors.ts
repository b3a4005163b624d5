/**
 * The errors the transport throws or reports. Each message is one line that says what happened and
 * what to do; each bound's error names its option.
 */

/** A message that cannot be framed: alone it is larger than `maxFrameBytes`. */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
  constructor(
    message: string,
    /** The bound that was passed. */
    readonly limitBytes: number,
  ) {
    super(message);
  }
}

/** A send that would queue more than `maxQueuedBytes` for one peer. */
export class QueueLimitError extends Error {
  override readonly name = 'QueueLimitError';
  constructor(
    message: string,
    /** The bound that was passed. */
    readonly limitBytes: number,
  ) {
    super(message);
  }
}

/**
 * The cluster refused this side's handshake (a wrong or missing token, or another protocol
 * version). Retrying cannot help, so a client that gets it stops reconnecting.
 */
export class ClusterRefusedError extends Error {
  override readonly name = 'ClusterRefusedError';
  constructor(
    message: string,
    /** The refusal as the cluster gave it, e.g. `wrong cluster token`. */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** The client could not reach the cluster within its retry bound (`reconnect.giveUpAfterMs`). */
export class ClusterUnreachableError extends Error {
  override readonly name = 'ClusterUnreachableError';
}
