/**
 * The types of the object codec: the hooks through which the runtime teaches it its own classes, and
 * the encoded form of a value.
 */
import type { RefMarker } from '../../core/values.js';

/** What an `ActorHandle` travels as; the runtime may add fields beside `actorId`. */
export interface ActorHandleData {
  readonly actorId: string;
  /**
   * The ref the handle holds, if its holds are counted (a non-detached actor's handle object): it is
   * listed in the value's `refs` like an ObjectRef inside it, so the handle keeps the actor alive
   * wherever the value goes.
   */
  readonly ref?: RefMarker;
  readonly [key: string]: unknown;
}

/** What a `RemoteFunction` or an `ActorClass` travels as: a reference to its shipped code. */
export interface ShippedCodeData {
  readonly descriptor: unknown;
  readonly [key: string]: unknown;
}

/**
 * Supplied by the runtime, so that the codec knows nothing of its classes. Each `...Of` hook answers
 * for one value whether it is an instance of that runtime class, and gives the plain data it travels
 * as (data that must itself be encodable, and never the instance itself); each `make...` hook
 * rebuilds the instance on decode. Only objects and functions the codec does not know are offered
 * (not plain objects, arrays, null-prototype objects or builtins), to `refOf`, `actorOf`,
 * `functionOf` and `actorClassOf` in that order, more than once per encode. So a runtime instance
 * must have a prototype of its own: a Proxy over a plain object is taken for a plain object and
 * never offered (give the proxy's target a class). Hooks must not call `encodeValue` (the encoder
 * is not re-entrant); `make...` hooks may call `decodeValue`.
 */
export interface CodecHooks {
  /** An `ObjectRef` instance gives its marker; anything else gives undefined. */
  refOf(value: object): RefMarker | undefined;
  /** Rebuilds an `ObjectRef` from its marker. */
  makeRef(marker: RefMarker): unknown;
  /** An `ActorHandle` gives its data; anything else gives undefined. */
  actorOf(value: object): ActorHandleData | undefined;
  /** Rebuilds an `ActorHandle` from its data. */
  makeActor(data: ActorHandleData): unknown;
  /** A `RemoteFunction` gives its data; anything else gives undefined. */
  functionOf(value: object): ShippedCodeData | undefined;
  /** Rebuilds a `RemoteFunction` from its data. */
  makeFunction(data: ShippedCodeData): unknown;
  /** An `ActorClass` gives its data; anything else gives undefined. */
  actorClassOf(value: object): ShippedCodeData | undefined;
  /** Rebuilds an `ActorClass` from its data. */
  makeActorClass(data: ShippedCodeData): unknown;
  /** Called with each binary value decoded from a blob (a view of the blob's memory, or a copy). */
  blobDecoded?(value: object): void;
}

/** A value as it travels: msgpack bytes, large binary blocks beside them, and the refs inside. */
export interface EncodedValue {
  /** msgpack of the value, with the large binary blocks taken out; owns its whole ArrayBuffer. */
  readonly body: Uint8Array;
  /**
   * Typed arrays, DataViews and ArrayBuffers (as a Uint8Array over the whole buffer) of the blob
   * threshold and up, in order, out of band and not copied: they are the caller's own memory.
   */
  readonly blobs: readonly ArrayBufferView[];
  /** Every ObjectRef inside (and the ref of every counted actor handle), once per occurrence, in encounter order. */
  readonly refs: readonly RefMarker[];
  /** The body's bytes plus every blob's bytes. */
  readonly sizeBytes: number;
}

/** How to encode. */
export interface EncodeOptions {
  /** The first segment of paths in error messages, e.g. `args[1]`; default `value`. */
  readonly rootPath?: string;
  /** Binary data of this many bytes and up goes out of band into `blobs`; default 1 MiB. */
  readonly blobThresholdBytes?: number;
}
