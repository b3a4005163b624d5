/**
 * Length-prefixed framing: every frame on the wire is a 4-byte big-endian length, then that many
 * bytes of msgpack. The reader cuts a byte stream into frame bodies and checks each length against
 * the bound before keeping anything: an oversize prefix fails at once and is never allocated. A
 * frame within the bound gets its buffer when its first body bytes arrive, so a peer costs at most
 * one frame of the current bound (4 KiB until its handshake completes).
 *
 * A raw frame's bytes (frames.ts) follow its header outside any length prefix: once the header is
 * decoded, `beginRaw` tells the reader how many come and where they land, and `fillRaw` copies them
 * from the socket's chunks straight there, the only copy they get on this side.
 */
import * as E from 'fp-ts/lib/Either.js';
import { copyBytes } from '../store/shared-copy.js';
import { formatBytes } from './limits.js';

/** Bytes of the length prefix. */
export const frameHeaderBytes = 4;

/** One frame ready for the socket: the prefix and `body` in a single buffer of its own. */
export function frameOf(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafeSlow(frameHeaderBytes + body.byteLength);
  frame.writeUInt32BE(body.byteLength, 0);
  frame.set(body, frameHeaderBytes);
  return frame;
}

/**
 * Where the bytes of a raw frame land. The receiver may set `target` to undefined while they are
 * still arriving (it gave up on them, and the memory may go to something else): the rest are then
 * read and dropped, and nothing more is written there.
 */
export interface RawLanding {
  target: Uint8Array | undefined;
}

/**
 * Cuts incoming chunks into frame bodies. Each body is a buffer of its own (exactly the frame's
 * bytes), so values decoded as views of it keep only that frame alive, never a socket's read chunk.
 */
export class FrameReader {
  private readonly chunks: Buffer[] = [];
  /** Bytes already consumed from `chunks[0]`. */
  private offset = 0;
  private bufferedBytes = 0;
  /** The length of the frame being read, once its prefix is in. */
  private expectedBytes: number | undefined;
  /** The body of the frame being read, and how much of it has arrived. */
  private body: Buffer | undefined;
  private filled = 0;
  /** The raw bytes being read (see `beginRaw`): where they land, how many, and how many have come. */
  private raw: { readonly landing: RawLanding; readonly lengthBytes: number; filled: number } | undefined;

  /** @param maxFrameBytes the largest body accepted (see `setMaxFrameBytes`). */
  constructor(private maxFrameBytes: number) {}

  /** Changes the bound (it widens once the handshake completes). */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held that do not yet make a whole frame. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** Where the reader stands inside a frame, for a close reason: undefined between frames. */
  partialFrame(): { readonly receivedBytes: number; readonly expectedBytes: number | undefined; readonly raw?: true } | undefined {
    if (this.raw !== undefined) return { receivedBytes: this.raw.filled + this.bufferedBytes, expectedBytes: this.raw.lengthBytes, raw: true };
    const receivedBytes = this.bufferedBytes + (this.body === undefined ? 0 : this.filled);
    if (receivedBytes === 0 && this.expectedBytes === undefined) return undefined;
    return { receivedBytes, expectedBytes: this.expectedBytes };
  }

  /** Takes a chunk of the stream; `next` then cuts frames from it. */
  push(chunk: Buffer): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.byteLength;
  }

  /**
   * The next whole frame's body, undefined when more bytes are needed, or a one-line reason why the
   * stream is not valid framing (after which the reader must not be used again). One frame at a time,
   * so that a bound changed by one frame (the handshake's) applies to the very next one.
   */
  next(): E.Either<string, Buffer | undefined> {
    if (this.raw !== undefined) throw new Error('FrameReader.next: raw bytes are being read; call fillRaw until it returns true');
    if (this.expectedBytes === undefined) {
      if (this.bufferedBytes < frameHeaderBytes) return E.right(undefined);
      const length = this.take(frameHeaderBytes).readUInt32BE(0);
      if (length === 0) return E.left('an empty frame (length 0): every frame carries a msgpack body');
      if (length > this.maxFrameBytes) {
        return E.left(`a frame of ${formatBytes(length)} (${length} bytes) is over the limit of ${formatBytes(this.maxFrameBytes)} (maxFrameBytes)`);
      }
      this.expectedBytes = length;
    }
    const expectedBytes = this.expectedBytes;
    // The body is copied in as its bytes arrive, while they are still in the cache, so the socket's
    // chunks are let go at once; it is allocated only once its first bytes are here.
    if (this.body === undefined) {
      if (this.bufferedBytes === 0) return E.right(undefined);
      this.body = Buffer.allocUnsafeSlow(expectedBytes);
      this.filled = 0;
    }
    const count = Math.min(this.bufferedBytes, expectedBytes - this.filled);
    this.takeInto(this.body, this.filled, count);
    this.filled += count;
    if (this.filled < expectedBytes) return E.right(undefined);
    const body = this.body;
    this.body = undefined;
    this.expectedBytes = undefined;
    return E.right(body);
  }

  /** Whether raw bytes are being read (`fillRaw` comes before `next`). */
  get readingRaw(): boolean {
    return this.raw !== undefined;
  }

  /**
   * The next `lengthBytes` of the stream are a raw frame's bytes, for `landing` (whose target, if
   * set, is exactly that long). Called between frames, right after the raw frame's header.
   */
  beginRaw(lengthBytes: number, landing: RawLanding): void {
    if (this.expectedBytes !== undefined || this.raw !== undefined) throw new Error('FrameReader.beginRaw: called inside a frame');
    if (landing.target !== undefined && landing.target.byteLength !== lengthBytes) {
      throw new Error(`FrameReader.beginRaw: a target of ${landing.target.byteLength} bytes for ${lengthBytes} raw bytes`);
    }
    this.raw = { landing, lengthBytes, filled: 0 };
  }

  /** Moves the buffered bytes of the raw frame into its landing; true once every one of them has come. */
  fillRaw(): boolean {
    const raw = this.raw;
    if (raw === undefined) throw new Error('FrameReader.fillRaw: no raw bytes are being read');
    const count = Math.min(this.bufferedBytes, raw.lengthBytes - raw.filled);
    if (count > 0) {
      const target = raw.landing.target;
      if (target === undefined) this.skip(count);
      else this.takeInto(target, raw.filled, count);
      raw.filled += count;
    }
    if (raw.filled < raw.lengthBytes) return false;
    this.raw = undefined;
    return true;
  }

  /**
   * Copies the bytes it still holds into memory of its own, for a socket that reads into one buffer
   * over and over (framed-socket.ts), whose next read overwrites them. Frame bodies and raw bytes are
   * copied out as they arrive, so what is left after a read is at most a partial length prefix.
   */
  detach(): void {
    if (this.bufferedBytes === 0) return;
    const rest = this.take(this.bufferedBytes);
    this.chunks.length = 0;
    this.offset = 0;
    this.push(rest);
  }

  /** Takes a chunk and returns every frame body it completes, or the reason the stream is bad (see `next`). */
  pushAll(chunk: Buffer): E.Either<string, Buffer[]> {
    this.push(chunk);
    const bodies: Buffer[] = [];
    for (;;) {
      const body = this.next();
      if (E.isLeft(body)) return body;
      if (body.right === undefined) return E.right(bodies);
      bodies.push(body.right);
    }
  }

  /** Removes `count` buffered bytes (count <= bufferedBytes) into a new buffer of exactly that size. */
  private take(count: number): Buffer {
    const out = Buffer.allocUnsafeSlow(count);
    this.takeInto(out, 0, count);
    return out;
  }

  /** Drops `count` buffered bytes (count <= bufferedBytes). */
  private skip(count: number): void {
    let left = count;
    while (left > 0) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new Error('FrameReader.skip: fewer bytes buffered than counted');
      const n = Math.min(left, chunk.byteLength - this.offset);
      left -= n;
      this.offset += n;
      if (this.offset === chunk.byteLength) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.bufferedBytes -= count;
  }

  /** Moves `count` buffered bytes (count <= bufferedBytes) into `out` at `at`. */
  private takeInto(out: Uint8Array, at: number, count: number): void {
    let written = 0;
    while (written < count) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new Error('FrameReader.take: fewer bytes buffered than counted');
      const n = Math.min(count - written, chunk.byteLength - this.offset);
      // Not `chunk.copy`: into a store's SharedArrayBuffer that is V8's relaxed atomic copy, byte by
      // byte when the two sides are not aligned alike (a raw frame's bytes follow a header of any
      // length): 83 against 19 ms per 256 MiB of 64 KiB chunks here. copyBytes is one memcpy.
      copyBytes(out, at + written, chunk.subarray(this.offset, this.offset + n));
      written += n;
      this.offset += n;
      if (this.offset === chunk.byteLength) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.bufferedBytes -= count;
  }
}
