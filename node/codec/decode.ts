/** Decoding: msgpackr with the codec's extensions, over the given blobs. */
import { unpackWithExtensions } from './extensions.js';
import type { CodecHooks } from './types.js';

/**
 * Decodes a value from its body and blobs. Binary values that travelled as blobs are views of the
 * given blobs' memory (no copy), so that memory must outlive the value and must not change; the one
 * exception is a typed array whose blob is not aligned to its element size, which is copied.
 */
export function decodeValue(body: Uint8Array, blobs: readonly ArrayBufferView[], hooks: CodecHooks): unknown {
  return unpackWithExtensions(body, blobs, hooks);
}
