/**
 * The frames of the cluster transport and their msgpack encoding. A connection opens with `hello`
 * (client) and `welcome` (server); then either side sends `messages` frames, each a batch of the
 * component messages of core/protocol.ts with the address they are for. `refused` carries the
 * one-line reason a side closes the connection for, so both sides can say why. A `raw` frame carries
 * one message whose `bytes` travel beside it, outside msgpack: its header is a frame like any other,
 * and the `rawBytes` bytes follow it on the wire as they are (see encodeRawFrame).
 *
 * Decoding is the edge where bytes from the network become typed values: it returns an Either whose
 * Left is a one-line reason (not msgpack, unknown kind, a field of the wrong type), and never throws.
 */
import * as E from 'fp-ts/lib/Either.js';
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import type { Address, NodeId } from '../../core/ids.js';
import { decodeDelivered } from '../../core/protocol-decode.js';
import type { Delivered, Message } from '../../core/protocol.js';
import { frameHeaderBytes } from './frame-reader.js';

/** The wire protocol's version; both sides of a connection must speak the same one. */
export const protocolVersion = 1;

/** What a connecting process is, which the other side may use to route or to refuse. */
export type PeerRole = 'gcs' | 'raylet' | 'driver' | 'worker' | 'cli';

const peerRoles: readonly PeerRole[] = ['gcs', 'raylet', 'driver', 'worker', 'cli'];

/** Who is at the other end of a connection, as its handshake said. */
export interface PeerIdentity {
  readonly nodeId: NodeId;
  readonly role: PeerRole;
}

/** A component message on its way over the wire: the delivered message plus the address it is for. */
export type RoutedMessage = Delivered<Message> & { readonly to: Address };

/** Every frame kind. */
export type Frame =
  /** First frame of a client. `token` is optional on the wire so that its absence gets its own reason. */
  | { readonly kind: 'hello'; readonly protocol: number; readonly token?: string; readonly nodeId: NodeId; readonly role: PeerRole }
  /** The server's answer to a good hello: the handshake is complete. */
  | { readonly kind: 'welcome'; readonly protocol: number; readonly nodeId: NodeId; readonly role: PeerRole }
  /** The sender is closing the connection, for this one-line reason. */
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'messages'; readonly messages: readonly RoutedMessage[] }
  /**
   * One message whose binary `bytes` field is left out of the header and follows the frame on the
   * wire as `rawBytes` plain bytes: no msgpack encode of them on the sender, and the receiver reads
   * them straight into where they belong (an object's range of the store).
   */
  | RawFrame;

/** The header of a raw frame (see Frame). */
export interface RawFrame {
  readonly kind: 'raw';
  readonly message: RoutedMessage;
  readonly rawBytes: number;
}

/** Binary fields below this size stay inside msgpack: a raw frame saves a copy, not worth a frame of its own for a few bytes. */
export const minRawBytes = 64 * 1024;

/** Whether a message goes as a raw frame: it has a binary `bytes` field of at least minRawBytes. */
export function rawBytesOf(message: RoutedMessage): Uint8Array | undefined {
  const bytes = (message as { readonly bytes?: unknown }).bytes;
  return bytes instanceof Uint8Array && bytes.byteLength >= minRawBytes ? bytes : undefined;
}

/**
 * Records are off so that each frame stands alone (no structure table shared between frames, which
 * a reconnect or a hostile peer could desynchronise); moreTypes keeps typed arrays, Maps, Sets and
 * undefined intact, as the worker threads' structured clone does.
 */
const packr = new Packr({ useRecords: false, moreTypes: true });

/**
 * Encodes a frame's body alone (for tests and tools that frame bytes by hand, with `frameOf`). The
 * result is a view of msgpackr's output buffer, which later encodes do not write over (see `encodeFrame`).
 */
export function encodeFrameBody(frame: Frame): Uint8Array {
  return packr.pack(frame);
}

/**
 * Encodes a frame ready for the socket: the 4-byte length prefix and the msgpack body, in one buffer
 * and without a copy. msgpackr is asked to leave 4 bytes free before the body (RESERVE_START_SPACE),
 * and the prefix is written there. The buffer is a view of msgpackr's output buffer: msgpackr never
 * writes over a range it has returned (each encode starts after the last one, or in a new buffer;
 * RESET_BUFFER_MODE only rewinds to that encode's own start), so the frame may wait in a queue.
 * frames.test.ts checks that this holds.
 */
export function encodeFrame(frame: Frame): Buffer {
  const bytes = packr.pack(frame, RESERVE_START_SPACE | frameHeaderBytes);
  bytes.writeUInt32BE(bytes.byteLength - frameHeaderBytes, 0);
  return bytes;
}

/**
 * Encodes a message whose `bytes` go raw: the header frame (the message without them), then the
 * bytes themselves as a Buffer view of the same memory, not a copy. The caller writes both, in order,
 * in the same write (FramedSocket.write takes them together).
 */
export function encodeRawFrame(message: RoutedMessage, bytes: Uint8Array): [Buffer, Buffer] {
  const { bytes: _left, ...header } = message as RoutedMessage & { readonly bytes?: unknown };
  const frame = encodeFrame({ kind: 'raw', message: header as RoutedMessage, rawBytes: bytes.byteLength });
  // A Buffer goes as it is: whatever keeps its memory while it is reachable (a pin on a view of the
  // store, node-objects.ts) keeps it until the socket has written it. Another view is kept reachable
  // from the Buffer made of it, for the same reason.
  const raw = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  rawParts.set(raw, bytes);
  return [frame, raw];
}

/** The raw parts encodeRawFrame made, each with the bytes it was made of (see isRawPart). */
const rawParts = new WeakMap<Buffer, Uint8Array>();

/** Whether a queued buffer is a raw frame's bytes rather than a frame of its own (for frame counters and resend windows). */
export function isRawPart(buffer: Buffer): boolean {
  return rawParts.has(buffer);
}

/** Decodes a frame body; the Left is one line saying what is wrong. Binary fields are views of `body`. */
export function decodeFrame(body: Uint8Array): E.Either<string, Frame> {
  let value: unknown;
  try {
    value = packr.unpack(body);
  } catch (error) {
    return E.left(`a frame that is not valid msgpack (${oneLine(error instanceof Error ? error.message : String(error))})`);
  }
  return checkFrame(value);
}

/** Checks a decoded value against the frame kinds. */
export function checkFrame(value: unknown): E.Either<string, Frame> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return E.left(`a frame that is not a map (got ${describe(value)})`);
  const record = value as Record<string, unknown>;
  const kind = record['kind'];
  switch (kind) {
    case 'hello':
      return checkFields(record, 'hello', { protocol: 'integer', nodeId: 'string', role: 'role' }, ['token']);
    case 'welcome':
      return checkFields(record, 'welcome', { protocol: 'integer', nodeId: 'string', role: 'role' }, []);
    case 'refused':
      return checkFields(record, 'refused', { reason: 'string' }, []);
    case 'messages':
      return checkMessages(record);
    case 'raw':
      return checkRaw(record);
    default:
      return E.left(typeof kind === 'string' ? `a frame of unknown kind '${oneLine(kind)}'` : `a frame whose 'kind' is ${describe(kind)}, not a string`);
  }
}

type FieldRule = 'string' | 'integer' | 'role';

/** Checks required fields by rule and optional string fields; everything else in the record is ignored. */
function checkFields(record: Record<string, unknown>, kind: Frame['kind'], required: Record<string, FieldRule>, optionalStrings: readonly string[]): E.Either<string, Frame> {
  for (const [field, rule] of Object.entries(required)) {
    const value = record[field];
    const ok = rule === 'string' ? typeof value === 'string' && value !== '' : rule === 'integer' ? Number.isInteger(value) : peerRoles.includes(value as PeerRole);
    if (!ok) {
      const wanted = rule === 'string' ? 'a non-empty string' : rule === 'integer' ? 'an integer' : `one of ${peerRoles.join(', ')}`;
      return E.left(`a '${kind}' frame whose field '${field}' should be ${wanted} but is ${describe(value)}`);
    }
  }
  for (const field of optionalStrings) {
    const value = record[field];
    if (value !== undefined && typeof value !== 'string') return E.left(`a '${kind}' frame whose field '${field}' should be a string but is ${describe(value)}`);
  }
  return E.right(record as unknown as Frame);
}

/** Checks a `messages` frame: every message passes core's edge check and names the address it is for. */
function checkMessages(record: Record<string, unknown>): E.Either<string, Frame> {
  const messages = record['messages'];
  if (!Array.isArray(messages)) return E.left(`a 'messages' frame whose field 'messages' should be an array but is ${describe(messages)}`);
  if (messages.length === 0) return E.left(`a 'messages' frame with no messages`);
  for (let index = 0; index < messages.length; index += 1) {
    const problem = messageProblem(messages[index]);
    if (problem !== undefined) return E.left(`a 'messages' frame whose message ${index} ${problem}`);
  }
  return E.right(record as unknown as Frame);
}

/**
 * Checks a `raw` frame's header: a whole number of raw bytes (their bound is the connection's, which
 * framed-socket.ts checks), and one message that passes the edge check and has no `bytes` of its own.
 */
function checkRaw(record: Record<string, unknown>): E.Either<string, Frame> {
  const rawBytes = record['rawBytes'];
  if (!Number.isInteger(rawBytes) || (rawBytes as number) < 1) return E.left(`a 'raw' frame whose field 'rawBytes' should be a positive integer but is ${describe(rawBytes)}`);
  const message = record['message'];
  if (typeof message === 'object' && message !== null && 'bytes' in message) return E.left(`a 'raw' frame whose message carries 'bytes' of its own; they follow the header raw`);
  const problem = messageProblem(message);
  if (problem !== undefined) return E.left(`a 'raw' frame whose message ${problem}`);
  return E.right(record as unknown as Frame);
}

/** What is wrong with a message of a frame (`is bad: ...`, `has no address: ...`), or undefined. */
function messageProblem(message: unknown): string | undefined {
  const decoded = decodeDelivered(message);
  if (E.isLeft(decoded)) return `is bad: ${decoded.left}`;
  const to = (message as { to?: unknown }).to;
  if (typeof to !== 'string' || to === '') return `has no address: 'to' should be a non-empty string but is ${describe(to)}`;
  return undefined;
}

/** A bad value, described on one line. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'string') return `the string ${JSON.stringify(oneLine(value))}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `the ${typeof value} ${String(value)}`;
  return `a value of type ${typeof value}`;
}

/** Text that goes into a one-line reason: no line breaks or control characters, at most `maxLength` characters. */
export function oneLine(text: string, maxLength = 80): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must not reach a log line
  const flat = text.replace(/[\r\n\t]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '?');
  return flat.length > maxLength ? `${flat.slice(0, maxLength - 3)}...` : flat;
}
