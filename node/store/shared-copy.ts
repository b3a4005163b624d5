/**
 * Copying bytes into and out of the store's shared memory at the speed of a plain memcpy. V8 copies
 * into or out of a SharedArrayBuffer (`TypedArray.prototype.set`, `slice`, and `Buffer.copy`, which
 * goes through `set` in Node 20) word by word with relaxed atomics, since another thread may be
 * writing the same bytes: 9.5 ms against 7.0 ms for a plain memcpy of 64 MiB here. The store never
 * needs that: a put writes an allocation no other thread reads before it is sealed, and a reader
 * copies an object that is sealed and pinned. `Buffer.prototype.fill` with a Buffer as its value
 * copies it with one memcpy in C++ when the value is as long as the target, so large copies take it.
 */

/** Below this many bytes the two Buffer views cost more than the faster copy saves. */
const minMemcpyBytes = 16 * 1024;

/** Copies all of `source` into `target` from `targetOffset` (which must have room for it). */
export function copyBytes(target: Uint8Array, targetOffset: number, source: ArrayBufferView): void {
  const length = source.byteLength;
  if (targetOffset < 0 || targetOffset + length > target.byteLength) throw new RangeError(`copyBytes: ${length} bytes do not fit at ${targetOffset} of ${target.byteLength}`);
  const from = new Uint8Array(source.buffer, source.byteOffset, length);
  const start = target.byteOffset + targetOffset;
  // memcpy may not copy between overlapping ranges; `set` does (as memmove would).
  const overlaps = source.buffer === target.buffer && source.byteOffset < start + length && start < source.byteOffset + length;
  if (length < minMemcpyBytes || overlaps) {
    target.set(from, targetOffset);
    return;
  }
  Buffer.from(target.buffer, start, length).fill(Buffer.from(from.buffer, from.byteOffset, length));
}

/** A private copy of `source` (a view of shared memory, say), in an ArrayBuffer of its own. */
export function copyOf(source: Uint8Array): Uint8Array {
  if (source.byteLength < minMemcpyBytes) return source.slice();
  const copy = new Uint8Array(source.byteLength);
  copyBytes(copy, 0, source);
  return copy;
}
