/**
 * The object codec: the values tasks take and return, as msgpack with large binary data out of
 * band. See API.md, Objects, for what it accepts.
 */
export { decodeValue } from './decode.js';
export { defaultBlobThresholdBytes, encodeValue } from './encode.js';
export { plainDataHooks } from './plain-data-hooks.js';
export { maxDepth } from './scan.js';
export type { ActorHandleData, CodecHooks, EncodedValue, EncodeOptions, ShippedCodeData } from './types.js';
