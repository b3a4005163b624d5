/** Encoding: scan, rewrite when needed, then msgpackr with the codec's extensions. */
import { packWithExtensions } from './extensions.js';
import { rewriteValue } from './rewrite.js';
import { CodecError, scanValue } from './scan.js';
import type { CodecHooks, EncodedValue, EncodeOptions } from './types.js';

/** Binary data of this size and up travels out of band unless the caller says otherwise. */
export const defaultBlobThresholdBytes = 1024 * 1024;

let busy = false;

/**
 * Encodes a value that a task takes or returns. Throws a TypeError naming the path of the first
 * value that cannot travel (see API.md, Objects); a failed encode leaves nothing behind.
 */
export function encodeValue(value: unknown, hooks: CodecHooks, options: EncodeOptions = {}): EncodedValue {
  // msgpackr keeps one output buffer per process, so an encode inside a hook would corrupt this one.
  if (busy) throw new Error('encodeValue is not re-entrant: a codec hook must not call it');
  busy = true;
  try {
    return encode(value, hooks, options.rootPath ?? 'value', options.blobThresholdBytes ?? defaultBlobThresholdBytes);
  } finally {
    busy = false;
  }
}

function encode(value: unknown, hooks: CodecHooks, rootPath: string, blobThresholdBytes: number): EncodedValue {
  const input = scanValue(value, hooks, rootPath) ? rewriteValue(value, hooks) : value;
  let packed;
  try {
    packed = packWithExtensions(input, hooks, blobThresholdBytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CodecError(`${rootPath} could not be encoded: ${message}`, { cause: error });
  }
  // msgpackr returns a view of a buffer it shares between encodes (and may have grown large); a
  // copy owns exactly its bytes, so the runtime may keep it or transfer it.
  const body = new Uint8Array(packed.bytes);
  let sizeBytes = body.byteLength;
  for (const blob of packed.blobs) sizeBytes += blob.byteLength;
  return { body, blobs: packed.blobs, refs: packed.refs, sizeBytes };
}
