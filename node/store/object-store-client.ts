/**
 * The worker thread's side of the object store: requests go to the main thread (which owns the
 * allocator, see object-store-rpc.ts), bytes go straight into the shared buffer, and reads are
 * zero-copy views of it that stay pinned until the view is garbage collected or released.
 */
import { viewOf } from './arena.js';
import type { ObjectEntry } from './object-store.js';
import { ObjectStoreFull } from './object-store.js';
import type { ObjectStoreFailure, ObjectStoreRequest } from './object-store-rpc.js';
import { isObjectStoreReply } from './object-store-rpc.js';

/** A request without its id, which the client assigns. */
type Unsent = ObjectStoreRequest extends infer R ? (R extends ObjectStoreRequest ? Omit<R, 'requestId'> : never) : never;

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface PinnedPlace {
  readonly objectId: string;
  readonly offset: number;
}

/** One worker's handle on the node's object store. */
export class ObjectStoreClient {
  private nextRequestId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly pinnedByView = new WeakMap<object, PinnedPlace>();
  // A view that is collected while still pinned ends its pin here, so forgetting `release` cannot
  // leak store memory, only delay its reuse until the next collection.
  private readonly finalizer = new FinalizationRegistry<PinnedPlace>((place) => {
    void this.unpin(place.objectId, place.offset).catch(() => undefined);
  });

  /**
   * `buffer` is the node's shared buffer (sent to the worker once, at start); `post` sends a
   * request to the main thread, whose reply must be passed to `handleReply`.
   */
  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly post: (request: ObjectStoreRequest) => void,
  ) {}

  /** Settles the request a reply answers; returns false for messages that are not store replies. */
  handleReply(message: unknown): boolean {
    if (!isObjectStoreReply(message)) return false;
    const pending = this.pending.get(message.requestId);
    if (pending === undefined) return true;
    this.pending.delete(message.requestId);
    if ('failure' in message) pending.reject(errorOf(message.failure));
    else pending.resolve(message.result);
    return true;
  }

  /** Reserves memory for a new object and returns a writable view of it; `seal` it once written. */
  async create(objectId: string, sizeBytes: number): Promise<Uint8Array> {
    const { offset } = (await this.request({ kind: 'objectStore.create', objectId, sizeBytes })) as { offset: number };
    return viewOf(this.buffer, offset, sizeBytes);
  }

  /** Makes a created object readable; its bytes must not change afterwards. */
  async seal(objectId: string, metadata: unknown): Promise<void> {
    await this.request({ kind: 'objectStore.seal', objectId, metadata });
  }

  /** Copies `bytes` into the store as a new sealed object (one copy, into pre-faulted memory). */
  async put(objectId: string, bytes: ArrayBufferView, metadata: unknown): Promise<void> {
    const target = await this.create(objectId, bytes.byteLength);
    try {
      target.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
      await this.delete(objectId);
      throw error;
    }
    await this.seal(objectId, metadata);
  }

  /** Pins a sealed object for this worker; undefined if it is not in the store. Pair with `unpin`. */
  async pin(objectId: string): Promise<ObjectEntry | undefined> {
    return ((await this.request({ kind: 'objectStore.pin', objectId })) as ObjectEntry | null) ?? undefined;
  }

  /** Ends a pin taken by `pin`; `offset` is the pinned entry's. */
  async unpin(objectId: string, offset: number): Promise<void> {
    await this.request({ kind: 'objectStore.unpin', objectId, offset });
  }

  /**
   * Reads an object without copying: pins it and returns `makeView`'s view of its bytes (by default
   * a Uint8Array; a Float64Array etc. works too, since offsets are 64-byte aligned). The pin ends
   * when that view is garbage collected or passed to `release`. Keep the returned view itself
   * alive while using its memory: a view derived from its `.buffer` does not hold the pin.
   */
  async read<V extends object = Uint8Array>(
    objectId: string,
    makeView: (buffer: SharedArrayBuffer, entry: ObjectEntry) => V = (buffer, entry) => viewOf(buffer, entry.offset, entry.sizeBytes) as unknown as V,
  ): Promise<{ view: V; metadata: unknown } | undefined> {
    const entry = await this.pin(objectId);
    if (entry === undefined) return undefined;
    const view = makeView(this.buffer, entry);
    const place = { objectId, offset: entry.offset };
    this.pinnedByView.set(view, place);
    this.finalizer.register(view, place, view);
    return { view, metadata: entry.metadata };
  }

  /** Ends the pin of a view from `read` now, rather than when it is collected; the view must not be used after. */
  async release(view: object): Promise<void> {
    const place = this.pinnedByView.get(view);
    if (place === undefined || !this.finalizer.unregister(view)) return;
    this.pinnedByView.delete(view);
    await this.unpin(place.objectId, place.offset);
  }

  /** Deletes the object; its memory is freed once no reader pins it. Returns whether it existed. */
  async delete(objectId: string): Promise<boolean> {
    return (await this.request({ kind: 'objectStore.delete', objectId })) as boolean;
  }

  private request(unsent: Unsent): Promise<unknown> {
    const requestId = this.nextRequestId;
    this.nextRequestId += 1;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.post({ ...unsent, requestId });
    });
  }
}

function errorOf(failure: ObjectStoreFailure): Error {
  if (failure.sizes !== undefined) {
    const error = new ObjectStoreFull(failure.sizes.sizeBytes, failure.sizes.usedBytes, failure.sizes.capacityBytes, 0);
    // The main thread's message already says whether fragmentation was the cause.
    error.message = failure.message;
    return error;
  }
  const error = new Error(failure.message);
  error.name = failure.name;
  return error;
}
