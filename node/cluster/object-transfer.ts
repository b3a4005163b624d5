/**
 * Moving a stored object's bytes between processes, as Ray's object manager does: the reader's side
 * pulls them from the process that holds them in chunks (`object/chunk-requested`, answered by
 * `object/chunk-sent`), a few chunks of a pull in flight at once and a few pulls at once, so that what
 * the transport queues for a peer stays far below its bounds (limits.ts: 64 MiB frames, 256 MiB queued).
 *
 * Every chunk is checked against what the reader was told (the object's size, the chunk's offset and
 * length): a transfer whose bytes do not match is started again, and after `maxAttempts` fails with a
 * reason that says what did not match. Nothing half-written is ever handed to a reader.
 */
import type { Address, ObjectId } from '../../core/ids.js';
import type { Message, MessageOf } from '../../core/protocol.js';
import type { StoredLayout } from '../runtime/stored-values.js';
import type { RawLanding } from '../transport/frame-reader.js';
import { formatBytes } from '../transport/limits.js';

/** How pulls are sized and bounded. */
export interface TransferOptions {
  /** Bytes asked for per chunk. Default 8 MiB (bench/tcp-loopback.ts's chunk). */
  readonly chunkBytes: number;
  /** Chunks of one pull in flight at once. Default 2. */
  readonly chunksInFlight: number;
  /** Pulls under way at once; more wait their turn. Default 4, so at most 64 MiB is in flight. */
  readonly maxParallelPulls: number;
  /** Attempts at a pull whose bytes did not match (or did not come) before it fails. Default 3. */
  readonly maxAttempts: number;
  /** How long a chunk may take before the attempt is given up. Default 30 s. */
  readonly chunkTimeoutMs: number;
}

/** The defaults (see each field). */
export const defaultTransferOptions: TransferOptions = {
  chunkBytes: 8 * 1024 * 1024,
  chunksInFlight: 2,
  maxParallelPulls: 4,
  maxAttempts: 3,
  chunkTimeoutMs: 30_000,
};

/** The largest chunk a holder serves, whatever a reader asks for: well within maxFrameBytes. */
export const maxServedChunkBytes = 32 * 1024 * 1024;

/** The address at which a node serves and receives chunks. */
export function objectsAddress(nodeId: string): Address {
  return `objects:${nodeId}`;
}

/** What a reader knows of an object before pulling it. */
export interface PullSource {
  readonly objectId: ObjectId;
  /** The address that serves its chunks. */
  readonly holder: Address;
  /** The node (or process) the holder is, for messages. */
  readonly nodeId: string;
  readonly totalBytes: number;
}

/** A pull failed; `gone` when the holder no longer has the object (not worth trying again). */
export class TransferError extends Error {
  override readonly name = 'TransferError';

  constructor(
    message: string,
    readonly gone: boolean,
  ) {
    super(message);
  }
}

/** The bytes a layout (at offset 0) spans: what a transfer of the object carries. */
export function layoutBytes(layout: StoredLayout): number {
  let end = layout.body[0] + layout.body[1];
  for (const [at, length] of layout.blobs) end = Math.max(end, at + length);
  return Math.max(end, 1);
}

type ChunkReply = MessageOf<'object/chunk-sent' | 'object/chunk-failed'>;

/**
 * Answers a chunk request from `bytesOf(objectId)` (the object's bytes, or undefined when it is not
 * here). The reply's bytes are a view of them, encoded when the reply is sent: the holder keeps
 * that memory unchanged while the view is reachable (a node pins it, node-objects.ts). The view is a
 * Buffer, which msgpack carries as plain binary, read back as a view of the frame with no copy (a
 * Uint8Array would go as a typed-array extension, copied on both sides: twice the cost).
 */
export function serveChunk(request: MessageOf<'object/chunk-requested'>, bytesOf: (objectId: ObjectId) => Uint8Array | ChunkSource | undefined): ChunkReply {
  const { objectId, pullId, offset, lengthBytes } = request;
  const failed = (reason: string): ChunkReply => ({ type: 'object/chunk-failed', objectId, pullId, reason });
  const bytes = bytesOf(objectId);
  if (bytes === undefined) return failed(`object ${objectId} is not here any more`);
  if (!Number.isInteger(offset) || !Number.isInteger(lengthBytes) || offset < 0 || lengthBytes <= 0 || offset + lengthBytes > bytes.byteLength) {
    return failed(`a chunk of ${String(lengthBytes)} bytes at offset ${String(offset)} is outside object ${objectId} of ${bytes.byteLength} bytes`);
  }
  if (lengthBytes > maxServedChunkBytes) return failed(`a chunk of ${formatBytes(lengthBytes)} is over the ${formatBytes(maxServedChunkBytes)} a holder serves; ask for smaller chunks`);
  let chunk: Buffer;
  try {
    chunk = bytes instanceof Uint8Array ? Buffer.from(bytes.buffer, bytes.byteOffset + offset, lengthBytes) : bytes.read(offset, lengthBytes);
  } catch (error) {
    return failed(`object ${objectId} could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { type: 'object/chunk-sent', objectId, pullId, offset, totalBytes: bytes.byteLength, bytes: chunk };
}

/** An object's bytes that are not in memory (a spilled object's file): their length, and a read of a range into new memory. */
export interface ChunkSource {
  readonly byteLength: number;
  read(offset: number, lengthBytes: number): Buffer;
}

/** One pull: its target, its attempt, and the chunks asked for and not yet come. */
interface Pull {
  readonly source: PullSource;
  readonly done: Promise<Uint8Array>;
  readonly resolve: (bytes: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly allocate: () => Promise<Uint8Array>;
  target: Uint8Array | undefined;
  attempt: number;
  pullId: string;
  nextOffset: number;
  receivedBytes: number;
  chunks: number;
  /** The chunks in flight, by offset, with the timer that gives them up. */
  readonly inFlight: Map<number, NodeJS.Timeout>;
  /** The chunks of this attempt whose bytes are landing straight in `target` (see `landingFor`), by offset. */
  readonly landings: Map<number, RawLanding>;
}

/** What the pulls of a process have done, for logs, tests and the bench. */
export interface TransferStats {
  pulls: number;
  bytes: number;
  chunks: number;
  failedAttempts: number;
}

/**
 * The reader's side: pulls objects from their holders into targets the caller allocates. A second
 * pull of an object under way joins it. `send` carries a chunk request to its holder; the holder's
 * replies come back through `onReply`.
 */
export class ObjectPuller {
  private readonly options: TransferOptions;
  private readonly active = new Map<ObjectId, Pull>();
  private readonly queue: Pull[] = [];
  private running = 0;
  private counter = 0;
  private closed = false;
  readonly stats: TransferStats = { pulls: 0, bytes: 0, chunks: 0, failedAttempts: 0 };

  constructor(
    /** Where the holders' replies are sent: this process's transfer address. */
    private readonly requester: Address,
    private readonly send: (to: Address, message: Message) => void,
    options: Partial<TransferOptions> = {},
  ) {
    this.options = { ...defaultTransferOptions, ...options };
  }

  /** Whether a pull of `objectId` is under way (or waiting its turn). */
  isPulling(objectId: ObjectId): boolean {
    return this.active.has(objectId);
  }

  /**
   * Pulls `source` into the bytes `allocate` gives (exactly `totalBytes` long); resolves with them once
   * every byte came and matched, rejects with a TransferError otherwise.
   */
  pull(source: PullSource, allocate: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const present = this.active.get(source.objectId);
    if (present !== undefined) return present.done;
    if (this.closed) return Promise.reject(new TransferError(`cannot pull object ${source.objectId}: this process is stopping`, false));
    let resolve: (bytes: Uint8Array) => void = () => undefined;
    let reject: (error: Error) => void = () => undefined;
    const done = new Promise<Uint8Array>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    const pull: Pull = { source, done, resolve, reject, allocate, target: undefined, attempt: 0, pullId: '', nextOffset: 0, receivedBytes: 0, chunks: 0, inFlight: new Map(), landings: new Map() };
    this.active.set(source.objectId, pull);
    this.queue.push(pull);
    this.startQueued();
    return done;
  }

  /**
   * Where the bytes of a chunk that arrives as a raw frame (the transport's, frames.ts) land: straight
   * in the pull's target when it is a chunk this attempt waits for, of the length asked for, so that
   * they are copied once, from the socket's buffers to the store; undefined otherwise (the transport
   * gives them a buffer of their own, and `onReply` judges them as any reply). A landing is taken
   * back when its attempt ends, so that nothing is written in a target after its pull let it go.
   */
  landingFor(message: Message, lengthBytes: number): RawLanding | undefined {
    if (message.type !== 'object/chunk-sent') return undefined;
    const pull = this.active.get(message.objectId);
    if (pull === undefined || pull.target === undefined || message.pullId !== pull.pullId || message.totalBytes !== pull.source.totalBytes) return undefined;
    if (!pull.inFlight.has(message.offset) || pull.landings.has(message.offset)) return undefined;
    if (lengthBytes !== Math.min(this.options.chunkBytes, pull.source.totalBytes - message.offset)) return undefined;
    const landing: RawLanding = { target: pull.target.subarray(message.offset, message.offset + lengthBytes) };
    pull.landings.set(message.offset, landing);
    return landing;
  }

  /** A holder's reply: the next chunk of a pull, or why it cannot be had. */
  onReply(reply: ChunkReply): void {
    const pull = this.active.get(reply.objectId);
    // A reply to an attempt given up (or a pull over) is stale.
    if (pull === undefined || reply.pullId !== pull.pullId) return;
    if (reply.type === 'object/chunk-failed') {
      this.finish(pull, new TransferError(`object ${pull.source.objectId} could not be pulled from node ${pull.source.nodeId}: ${reply.reason}`, /not here/.test(reply.reason)));
      return;
    }
    const timer = pull.inFlight.get(reply.offset);
    if (timer === undefined) return;
    clearTimeout(timer);
    pull.inFlight.delete(reply.offset);
    const expected = Math.min(this.options.chunkBytes, pull.source.totalBytes - reply.offset);
    const bytes = reply.bytes;
    if (reply.totalBytes !== pull.source.totalBytes) {
      this.retry(pull, `node ${pull.source.nodeId} holds ${reply.totalBytes} bytes of it where ${pull.source.totalBytes} were advertised`);
      return;
    }
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== expected) {
      const got = bytes instanceof Uint8Array ? `${bytes.byteLength} bytes` : 'no bytes';
      this.retry(pull, `the chunk at offset ${reply.offset} brought ${got} where ${expected} were asked for`);
      return;
    }
    // Bytes that landed in the target already (landingFor) need no copy.
    const landing = pull.landings.get(reply.offset);
    pull.landings.delete(reply.offset);
    if (landing === undefined || landing.target !== bytes) pull.target?.set(bytes, reply.offset);
    pull.receivedBytes += expected;
    pull.chunks += 1;
    if (pull.receivedBytes === pull.source.totalBytes) this.finish(pull);
    else this.requestMore(pull);
  }

  /**
   * The node `nodeId` died: its pulls fail at once as gone (the object's owner rebuilds it or finds
   * another copy), instead of waiting out chunkTimeoutMs for each of maxAttempts. A later pull of the
   * same object, from the copy that replaces it, then starts afresh rather than joining a dead one.
   */
  abandonNode(nodeId: string): void {
    for (const pull of [...this.active.values()]) {
      if (pull.source.nodeId === nodeId) this.finish(pull, new TransferError(`object ${pull.source.objectId} could not be pulled: node ${nodeId}, which held it, died`, true));
    }
  }

  /**
   * The way to node `nodeId` changed under its pulls (a direct link broke, node-objects.ts): each
   * attempt under way from it starts again, its requests going the new way, instead of waiting out
   * chunkTimeoutMs for chunks that went down with the link.
   */
  retryFrom(nodeId: string, reason: string): void {
    for (const pull of [...this.active.values()]) {
      if (pull.source.nodeId === nodeId && pull.pullId !== '') this.retry(pull, reason);
    }
  }

  /** Fails every pull (the process is stopping). */
  close(): void {
    this.closed = true;
    for (const pull of [...this.active.values()]) this.finish(pull, new TransferError(`the pull of object ${pull.source.objectId} stopped: this process is stopping`, false));
  }

  private startQueued(): void {
    while (this.running < this.options.maxParallelPulls && this.queue.length > 0) {
      const pull = this.queue.shift() as Pull;
      this.running += 1;
      void this.begin(pull);
    }
  }

  private async begin(pull: Pull): Promise<void> {
    try {
      const target = await pull.allocate();
      if (target.byteLength !== pull.source.totalBytes) throw new Error(`a target of ${target.byteLength} bytes for ${pull.source.totalBytes}`);
      pull.target = target;
    } catch (error) {
      this.finish(pull, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.active.get(pull.source.objectId) !== pull) return;
    this.startAttempt(pull);
  }

  private startAttempt(pull: Pull): void {
    this.clearInFlight(pull);
    pull.attempt += 1;
    pull.pullId = `${this.requester}/${++this.counter}`;
    pull.nextOffset = 0;
    pull.receivedBytes = 0;
    pull.chunks = 0;
    this.requestMore(pull);
  }

  private requestMore(pull: Pull): void {
    const { totalBytes } = pull.source;
    while (pull.inFlight.size < this.options.chunksInFlight && pull.nextOffset < totalBytes) {
      const offset = pull.nextOffset;
      const lengthBytes = Math.min(this.options.chunkBytes, totalBytes - offset);
      pull.nextOffset += lengthBytes;
      const pullId = pull.pullId;
      const timer = setTimeout(() => {
        if (pull.pullId === pullId) this.retry(pull, `no chunk at offset ${offset} came from node ${pull.source.nodeId} within ${this.options.chunkTimeoutMs} ms (chunkTimeoutMs)`);
      }, this.options.chunkTimeoutMs);
      timer.unref();
      pull.inFlight.set(offset, timer);
      this.send(pull.source.holder, { type: 'object/chunk-requested', objectId: pull.source.objectId, pullId, offset, lengthBytes, requester: this.requester });
    }
  }

  /** The attempt failed for `reason`: start again, or fail the pull once its attempts are spent. */
  private retry(pull: Pull, reason: string): void {
    this.clearInFlight(pull);
    this.stats.failedAttempts += 1;
    if (pull.attempt >= this.options.maxAttempts) {
      this.finish(pull, new TransferError(`object ${pull.source.objectId} (${pull.source.totalBytes} bytes) could not be pulled from node ${pull.source.nodeId} in ${pull.attempt} attempts (maxAttempts): ${reason}`, false));
      return;
    }
    process.stderr.write(`tsray: pulling object ${pull.source.objectId} from node ${pull.source.nodeId} again (attempt ${pull.attempt + 1}): ${reason}\n`);
    this.startAttempt(pull);
  }

  /** Ends the attempt's chunks in flight: their timers, and the landings of those still arriving. */
  private clearInFlight(pull: Pull): void {
    for (const timer of pull.inFlight.values()) clearTimeout(timer);
    pull.inFlight.clear();
    for (const landing of pull.landings.values()) landing.target = undefined;
    pull.landings.clear();
  }

  private finish(pull: Pull, error?: Error): void {
    if (this.active.get(pull.source.objectId) !== pull) return;
    this.active.delete(pull.source.objectId);
    this.clearInFlight(pull);
    const queued = this.queue.indexOf(pull);
    if (queued >= 0) this.queue.splice(queued, 1);
    else this.running -= 1;
    pull.pullId = '';
    if (error === undefined && pull.target !== undefined) {
      this.stats.pulls += 1;
      this.stats.bytes += pull.source.totalBytes;
      this.stats.chunks += pull.chunks;
      pull.resolve(pull.target);
    } else pull.reject(error ?? new TransferError(`object ${pull.source.objectId} had no target`, false));
    this.startQueued();
  }
}
