/**
 * Values between user code and the core: encoding a value into the core's ValueData (inline msgpack
 * plus out-of-band blobs) and decoding it back. Whether decoded refs count as held by this process
 * depends on where the value is decoded, so the caller passes the ref maker.
 */
import type { RefMarker } from '../../core/values.js';
import type { ValueData } from '../../core/owner/index.js';
import { decodeValue, encodeValue } from '../codec/index.js';
import type { CodecHooks } from '../codec/index.js';
import { canPin, pinWhileReachable } from '../store/reader-pins.js';
import { isStoredData, storedParts } from './stored-values.js';

/** The data of a value as the core carries it: msgpack body and blobs. */
export interface EncodedData {
  readonly body: Uint8Array;
  readonly blobs: ArrayBufferView[];
}

/** Encodes `value`; TypeErrors name the path (`rootPath`) of anything that cannot travel. */
export function toValueData(value: unknown, hooks: CodecHooks, rootPath: string): ValueData {
  const encoded = encodeValue(value, hooks, { rootPath });
  const data: EncodedData = { body: encoded.body, blobs: encoded.blobs };
  return { data, sizeBytes: encoded.sizeBytes, refs: encoded.refs };
}

let storeBuffer: SharedArrayBuffer | undefined;

/** The node's shared store buffer, for decoding stored values in this thread. */
export function setStoreBuffer(buffer: SharedArrayBuffer | undefined): void {
  storeBuffer = buffer;
}

/** Decodes a value the core handed back: inline bytes, or a descriptor of its place in the store. */
export function fromValueData(value: ValueData, hooks: CodecHooks): unknown {
  if (isStoredData(value.data)) {
    if (storeBuffer === undefined) throw new Error(`object ${value.data.storedObjectId} is in a node store this thread cannot see`);
    const parts = storedParts(storeBuffer, value.data, !canPin());
    const buffer = storeBuffer;
    const dataOffset = value.data.layout.offset;
    // Each view over the store pins the object until it is collected, so its memory is not reused under it.
    const pinning: CodecHooks = { ...hooks, blobDecoded: (binary) => (ArrayBuffer.isView(binary) && binary.buffer === buffer ? pinWhileReachable(binary, buffer, dataOffset) : undefined) };
    return decodeValue(parts.body, parts.blobs, pinning);
  }
  const data = value.data as EncodedData;
  return decodeValue(data.body, data.blobs, hooks);
}

/** Whether two markers name the same object. */
export function sameRef(a: RefMarker, b: RefMarker): boolean {
  return a.objectId === b.objectId;
}
