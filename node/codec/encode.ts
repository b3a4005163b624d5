/** Encoding: scan, rewrite when needed, then msgpackr with the codec's extensions. */
import { packWithExtensions } from './extensions.js';
import { rewriteValue } from './rewrite.js';
import { CodecError, scanValue } from './scan.js';
import type { RefMarker } from '../../core/values.js';
import type { CodecHooks, EncodedValue, EncodeOptions } from './types.js';

/** Binary data of this size and up travels out of band unless the caller says otherwise. */
export const defaultBlobThresholdBytes = 1024 * 1024;

let busy = false;

const noBlobs: readonly ArrayBufferView[] = Object.freeze([]);
const noRefs: readonly RefMarker[] = Object.freeze([]);

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
  // Most values hold no blob and no ref: they share one frozen empty list of each rather than keep
  // two empty arrays apiece (a queued task keeps its argument's; P5 in bench/).
  return { body, blobs: packed.blobs.length === 0 ? noBlobs : packed.blobs, refs: packed.refs.length === 0 ? noRefs : packed.refs, sizeBytes };
}
