/**
 * Deep copies of data that leaves the state in a message. An effect must never alias the state: the
 * live shell keeps mutating its state after the effect is handed over, and immer freezes it.
 */

/**
 * A deep copy of plain data: arrays, plain objects, and binary buffers (which user payloads may hold).
 * Anything else is returned as it is, since the core never stores other objects.
 */
export function cloneData<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => cloneData(item)) as T;
  if (value instanceof ArrayBuffer) return value.slice(0) as T;
  if (value instanceof DataView) {
    return new DataView(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength)) as T;
  }
  if (ArrayBuffer.isView(value)) return (value as unknown as { slice: () => T }).slice();
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = cloneData(item);
  return copy as T;
}
