/** Batches of component messages as frames, split so that no frame passes `maxFrameBytes`. */
import { FrameTooLargeError } from './errors.js';
import { frameHeaderBytes } from './frame-reader.js';
import { encodeFrame } from './frames.js';
import type { RoutedMessage } from './frames.js';
import { formatBytes } from './limits.js';

/**
 * Encodes `messages` as one `messages` frame, or as several when one would be too large (a batch is
 * halved until each part fits, keeping the messages' order). A single message that alone is over the
 * bound throws FrameTooLargeError naming `maxFrameBytes`.
 */
export function encodeMessageFrames(messages: readonly RoutedMessage[], maxFrameBytes: number): Buffer[] {
  if (messages.length === 0) return [];
  const frame = encodeFrame({ kind: 'messages', messages });
  const bodyBytes = frame.byteLength - frameHeaderBytes;
  if (bodyBytes <= maxFrameBytes) return [frame];
  const [first] = messages;
  if (messages.length === 1 && first !== undefined) {
    throw new FrameTooLargeError(
      `a '${first.type}' message to ${first.to} encodes to ${formatBytes(bodyBytes)}, over the frame limit of ${formatBytes(maxFrameBytes)} (maxFrameBytes); send large values in chunks or raise maxFrameBytes`,
      maxFrameBytes,
    );
  }
  const half = Math.ceil(messages.length / 2);
  return [...encodeMessageFrames(messages.slice(0, half), maxFrameBytes), ...encodeMessageFrames(messages.slice(half), maxFrameBytes)];
}
