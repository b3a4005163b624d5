/**
 * The msgpackr side of the codec: one Packr, and the extensions that carry what msgpack has no type
 * for. Plain objects (as msgpackr records), arrays, Maps, Sets, Dates, RegExps, bigints, undefined
 * and small typed arrays are msgpackr's own (`moreTypes`); these extensions add ObjectRefs and the
 * other runtime handles, Errors with their stacks, null-prototype objects, Buffers, out-of-band blobs
 * and the stand-ins of rewritten.ts.
 *
 * msgpackr keeps its extensions in one list for the whole process (LMDB's encoder included), and
 * picks one by `instanceof`. So each extension's class answers `instanceof` through
 * `Symbol.hasInstance`, true only while `packWithExtensions` runs and only for its own kind of value:
 * other users of msgpackr never see these extensions. Extension type codes 0x20 to 0x25 are taken.
 */
import { addExtension, Packr } from 'msgpackr';
import type { RefMarker } from '../../core/values.js';
import { binaryCodeOf, binaryFromBlob, viewOf, type BinaryValue } from './binary.js';
import { builtinErrorClass, classify, Kind, type HookData } from './classify.js';
import { Rewritten, RewrittenKind } from './rewritten.js';
import type { ActorHandleData, CodecHooks, ShippedCodeData } from './types.js';

/** The msgpack extension type codes this codec owns. */
export const extensionTypes = { ref: 0x20, blob: 0x21, error: 0x22, nullProto: 0x23, other: 0x24, rejected: 0x25 } as const;

/** A blob reference carries `index * blobCodeSpan + binary class code`, one msgpack integer. */
const blobCodeSpan = 32;

/** The kinds of the `other` extension: rare values, tagged in their payload. */
const Other = { actor: 0, function: 1, actorClass: 2, buffer: 3, rewritten: 4 } as const;

interface EncodeState {
  readonly hooks: CodecHooks;
  readonly blobThresholdBytes: number;
  readonly refs: RefMarker[];
  readonly blobs: ArrayBufferView[];
  /** The last value classified, its kind and hook data: msgpackr asks each extension in turn. */
  lastValue: object | undefined;
  lastKind: Kind;
  readonly last: HookData;
}

interface DecodeState {
  readonly hooks: CodecHooks;
  readonly blobs: readonly ArrayBufferView[];
}

let encoding: EncodeState | undefined;
let decoding: DecodeState | undefined;

function kindOf(state: EncodeState, value: object): Kind {
  if (state.lastValue !== value) {
    state.lastKind = classify(value, state.hooks, state.last);
    state.lastValue = value;
  }
  return state.lastKind;
}

function isBlob(state: EncodeState, value: object): boolean {
  return kindOf(state, value) === Kind.binary && (value as BinaryValue).byteLength >= state.blobThresholdBytes;
}

/** The tag of a value the `other` extension carries, or undefined for any other value. */
function otherTag(state: EncodeState, value: object): number | undefined {
  const kind = kindOf(state, value);
  if (kind === Kind.actor) return Other.actor;
  if (kind === Kind.function) return Other.function;
  if (kind === Kind.actorClass) return Other.actorClass;
  if (kind === Kind.rewritten) return Other.rewritten + (value as Rewritten).kind;
  if (kind === Kind.binary && Object.getPrototypeOf(value) === Buffer.prototype) return Other.buffer;
  return undefined;
}

/** A class whose `instanceof` is `test`, during an encode only. */
function matcher(test: (state: EncodeState, value: object) => boolean): abstract new () => object {
  return class {
    static [Symbol.hasInstance](value: unknown): boolean {
      return encoding !== undefined && ((typeof value === 'object' && value !== null) || typeof value === 'function') && test(encoding, value);
    }
  };
}

/** The current encode's state; extensions only run inside one. */
function encodeState(): EncodeState {
  if (encoding === undefined) throw new Error('a tsray codec extension ran outside encodeValue');
  return encoding;
}

/** The current decode's state; data of this codec decoded by another Unpackr has no hooks to use. */
function decodeState(): DecodeState {
  if (decoding === undefined) throw new Error('tsray codec data must be decoded with decodeValue');
  return decoding;
}

// msgpackr tries extensions most recently added first, so the most common kinds are added last.

// The scan rejects these before msgpackr runs; this net catches a value that a getter changed in
// between, which msgpackr would otherwise write as a plain object.
addExtension({
  Class: matcher((state, value) => kindOf(state, value) === Kind.rejected),
  type: extensionTypes.rejected,
  write(): never {
    throw new TypeError('changed while it was being encoded: it now holds a value that tasks cannot take');
  },
});

addExtension({
  Class: matcher((state, value) => otherTag(state, value) !== undefined),
  type: extensionTypes.other,
  write(value: object): [number, unknown] {
    const state = encodeState();
    const tag = otherTag(state, value)!;
    if (tag >= Other.rewritten) return [tag, (value as Rewritten).data];
    if (tag === Other.actor) {
      const handle = state.last.data as ActorHandleData;
      // A counted handle holds its actor like a ref inside the value; a fresh plain marker, as for refs.
      if (handle.ref !== undefined) state.refs.push({ objectId: handle.ref.objectId, owner: handle.ref.owner });
      return [tag, handle];
    }
    if (tag !== Other.buffer) return [tag, state.last.data];
    const buffer = value as Buffer;
    return [tag, new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)];
  },
  read([tag, data]: [number, unknown]): unknown {
    const { hooks } = decodeState();
    switch (tag) {
      case Other.actor:
        return hooks.makeActor(data as ActorHandleData);
      case Other.function:
        return hooks.makeFunction(data as ShippedCodeData);
      case Other.actorClass:
        return hooks.makeActorClass(data as ShippedCodeData);
      case Other.buffer: {
        const bytes = data as Uint8Array;
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
      default:
        return readRewritten(tag - Other.rewritten, data);
    }
  },
});

addExtension({
  Class: matcher((state, value) => kindOf(state, value) === Kind.nullProto),
  type: extensionTypes.nullProto,
  // Returning the value itself makes msgpackr write it as an ordinary record.
  write: (value: object): object => value,
  read: (data: object): object => Object.setPrototypeOf(data, null) as object,
});

addExtension({
  Class: matcher((state, value) => kindOf(state, value) === Kind.error),
  type: extensionTypes.error,
  write(error: Error & { errors?: unknown }): object {
    const stack = error.stack;
    const data: Record<string, unknown> = { name: String(error.name), message: String(error.message), stack: typeof stack === 'string' ? stack : undefined };
    if (Object.hasOwn(error, 'cause')) data.cause = error.cause;
    if (error instanceof AggregateError) data.errors = error.errors;
    return data;
  },
  read(data: { name: string; message: string; stack: string | undefined; cause?: unknown; errors?: unknown }): Error {
    const options = 'cause' in data ? { cause: data.cause } : undefined;
    const cls = builtinErrorClass(data.name);
    let error: Error;
    if (cls === AggregateError) error = new AggregateError(Array.isArray(data.errors) ? data.errors : [], data.message, options);
    else if (cls !== undefined) error = new (cls as ErrorConstructor)(data.message, options);
    else {
      error = new Error(data.message, options);
      error.name = data.name;
    }
    if (data.stack === undefined) delete error.stack;
    else error.stack = data.stack;
    return error;
  },
});

addExtension({
  Class: matcher(isBlob),
  type: extensionTypes.blob,
  write(value: BinaryValue): number {
    const state = encodeState();
    const index = state.blobs.push(viewOf(value)) - 1;
    return index * blobCodeSpan + binaryCodeOf(value);
  },
  read(reference: number): BinaryValue {
    const { blobs, hooks } = decodeState();
    const index = Math.floor(reference / blobCodeSpan);
    const blob = blobs[index];
    if (blob === undefined) throw new RangeError(`the encoded value refers to blob ${index}, but only ${blobs.length} were given`);
    const value = binaryFromBlob(reference % blobCodeSpan, blob);
    hooks.blobDecoded?.(value);
    return value;
  },
});

addExtension({
  Class: matcher((state, value) => kindOf(state, value) === Kind.ref),
  type: extensionTypes.ref,
  write(_ref: object): RefMarker {
    const state = encodeState();
    const marker = state.last.data as RefMarker;
    state.refs.push(marker);
    // A fresh plain object, since the hook's marker may be an instance of the runtime's classes.
    return { objectId: marker.objectId, owner: marker.owner };
  },
  read: (marker: RefMarker): unknown => decodeState().hooks.makeRef(marker),
});

function readRewritten(kind: number, data: unknown): unknown {
  switch (kind) {
    case RewrittenKind.negativeZero:
      return -0;
    case RewrittenKind.illFormedString: {
      const units = data as Uint16Array;
      let text = '';
      // In chunks, since spreading a long array into one call overflows the argument stack.
      for (let i = 0; i < units.length; i += 8192) text += String.fromCharCode(...units.subarray(i, i + 8192));
      return text;
    }
    case RewrittenKind.specialKeyObject: {
      const [nullProto, ...entries] = data as [boolean, ...unknown[]];
      const record = (nullProto ? Object.create(null) : {}) as Record<string, unknown>;
      for (let i = 0; i < entries.length; i += 2) {
        Object.defineProperty(record, entries[i] as string, { value: entries[i + 1], enumerable: true, writable: true, configurable: true });
      }
      return record;
    }
    default:
      throw new RangeError(`unknown value tag ${kind} in an encoded value`);
  }
}

const packr = new Packr({
  moreTypes: true,
  // Without this msgpackr writes a function as undefined; the scan rejects functions first, so one
  // here was put in by a getter during the encode.
  writeFunction: () => {
    throw new TypeError('changed while it was being encoded: it now holds a function');
  },
});

/** What one msgpackr pass gives: the bytes (in msgpackr's shared buffer) and what was taken out. */
export interface Packed {
  readonly bytes: Uint8Array;
  readonly refs: RefMarker[];
  readonly blobs: ArrayBufferView[];
}

/** Encodes an accepted value with the codec's extensions active. Not re-entrant. */
export function packWithExtensions(value: unknown, hooks: CodecHooks, blobThresholdBytes: number): Packed {
  if (encoding !== undefined) throw new Error('encodeValue is not re-entrant: a codec hook must not call it');
  const state: EncodeState = { hooks, blobThresholdBytes, refs: [], blobs: [], lastValue: undefined, lastKind: Kind.rejected, last: { data: undefined } };
  encoding = state;
  try {
    return { bytes: packr.pack(value), refs: state.refs, blobs: state.blobs };
  } finally {
    encoding = undefined;
  }
}

/** Decodes bytes written by `packWithExtensions`, with these blobs and hooks. Re-entrant. */
export function unpackWithExtensions(body: Uint8Array, blobs: readonly ArrayBufferView[], hooks: CodecHooks): unknown {
  const outer = decoding;
  decoding = { hooks, blobs };
  try {
    return packr.unpack(body);
  } finally {
    decoding = outer;
  }
}
