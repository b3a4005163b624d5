/** Batches of component messages as frames, split so that no frame passes `maxFrameBytes`. */
import { FrameTooLargeError } from './errors.js';
import { frameHeaderBytes } from './frame-reader.js';
import { encodeFrame, encodeRawFrame, rawBytesOf } from './frames.js';
import type { RoutedMessage } from './frames.js';
import { formatBytes } from './limits.js';

/**
 * Encodes `messages` in order: each message with large binary `bytes` (an object's chunk) as a raw
 * frame (its header, then a view of its bytes: see frames.ts), the runs of others between them as
 * `messages` frames (see encodeBatch). Raw bytes over `maxFrameBytes` throw FrameTooLargeError.
 */
export function encodeMessageFrames(messages: readonly RoutedMessage[], maxFrameBytes: number): Buffer[] {
  let firstRaw = -1;
  for (let index = 0; index < messages.length && firstRaw < 0; index += 1) if (rawBytesOf(messages[index] as RoutedMessage) !== undefined) firstRaw = index;
  if (firstRaw < 0) return encodeBatch(messages, maxFrameBytes);
  const frames: Buffer[] = [];
  let runStart = 0;
  for (let index = firstRaw; index < messages.length; index += 1) {
    const message = messages[index] as RoutedMessage;
    const bytes = rawBytesOf(message);
    if (bytes === undefined) continue;
    frames.push(...encodeBatch(messages.slice(runStart, index), maxFrameBytes));
    if (bytes.byteLength > maxFrameBytes) {
      throw new FrameTooLargeError(
        `a '${message.type}' message to ${message.to} carries ${formatBytes(bytes.byteLength)} of bytes, over the frame limit of ${formatBytes(maxFrameBytes)} (maxFrameBytes); send large values in chunks or raise maxFrameBytes`,
        maxFrameBytes,
      );
    }
    frames.push(...encodeRawFrame(message, bytes));
    runStart = index + 1;
  }
  frames.push(...encodeBatch(messages.slice(runStart), maxFrameBytes));
  return frames;
}

/**
 * Encodes `messages` as one `messages` frame, or as several when one would be too large (a batch is
 * halved until each part fits, keeping the messages' order). A single message that alone is over the
 * bound throws FrameTooLargeError naming `maxFrameBytes`.
 */
function encodeBatch(messages: readonly RoutedMessage[], maxFrameBytes: number): Buffer[] {
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
  return [...encodeBatch(messages.slice(0, half), maxFrameBytes), ...encodeBatch(messages.slice(half), maxFrameBytes)];
}
