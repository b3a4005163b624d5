/**
 * Binary values: the classes the codec carries and how a blob given to `decodeValue` becomes a
 * value of the class it was encoded from, without copying when its alignment allows.
 */

/** A value the codec treats as binary data. */
export type BinaryValue = ArrayBufferView | ArrayBuffer;

interface ViewClass {
  readonly prototype: object;
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView;
  new (length: number): ArrayBufferView;
}

/** Typed array classes by code; a blob reference carries the code of its class. */
const typedArrayClasses: readonly ViewClass[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];
const dataViewCode = typedArrayClasses.length;
const arrayBufferCode = dataViewCode + 1;
/** Node's Buffer, a Uint8Array subclass that users pass often enough to keep its class. */
export const bufferCode = arrayBufferCode + 1;

/** The binary code of each exact builtin class; subclasses other than Buffer are not binary data. */
export const binaryCodeByPrototype: ReadonlyMap<object, number> = new Map<object, number>([
  ...typedArrayClasses.map((cls, code): [object, number] => [cls.prototype, code]),
  [DataView.prototype, dataViewCode],
  [ArrayBuffer.prototype, arrayBufferCode],
  [Buffer.prototype, bufferCode],
]);

/** The bytes a binary value holds, as a view that shares its memory. */
export function viewOf(value: BinaryValue): ArrayBufferView {
  return ArrayBuffer.isView(value) ? value : new Uint8Array(value);
}

/** The code of a binary value's class; the caller has classified it as binary. */
export function binaryCodeOf(value: BinaryValue): number {
  const code = binaryCodeByPrototype.get(Object.getPrototypeOf(value) as object);
  if (code === undefined) throw new TypeError('not a binary value');
  return code;
}

/**
 * Rebuilds a binary value of class `code` over a blob. Views share the blob's memory, except a typed
 * array whose blob starts at a byteOffset that is not a multiple of its element size: JavaScript
 * cannot view that memory, so it is copied into a fresh, aligned buffer. An ArrayBuffer is the blob's
 * own buffer only when the blob spans all of a non-shared ArrayBuffer; otherwise it is a copy.
 */
export function binaryFromBlob(code: number, blob: ArrayBufferView): BinaryValue {
  const { buffer, byteOffset, byteLength } = blob;
  if (code === bufferCode) return Buffer.from(buffer, byteOffset, byteLength);
  if (code === dataViewCode) return new DataView(buffer, byteOffset, byteLength);
  if (code === arrayBufferCode) {
    const whole = byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer;
    return whole ? buffer : new Uint8Array(buffer, byteOffset, byteLength).slice().buffer;
  }
  const cls = typedArrayClasses[code];
  if (cls === undefined) throw new RangeError(`unknown binary class code ${code} in an encoded value`);
  const elementBytes = cls.BYTES_PER_ELEMENT;
  if (byteLength % elementBytes !== 0) {
    throw new RangeError(`a blob of ${byteLength} bytes cannot hold a whole number of ${elementBytes}-byte elements`);
  }
  if (byteOffset % elementBytes === 0) return new cls(buffer, byteOffset, byteLength / elementBytes);
  const aligned = new cls(byteLength / elementBytes);
  new Uint8Array(aligned.buffer).set(new Uint8Array(buffer, byteOffset, byteLength));
  return aligned;
}
