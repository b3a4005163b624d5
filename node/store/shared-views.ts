/**
 * Whole-buffer views of the node's shared store, made once per buffer and thread: the pin counters
 * and write guards of every object are read through them on hot paths.
 */

const int32Views = new WeakMap<SharedArrayBuffer, Int32Array>();
const uint8Views = new WeakMap<SharedArrayBuffer, Uint8Array>();

/** An Int32Array over all of `buffer`, the same one each time. */
export function int32View(buffer: SharedArrayBuffer): Int32Array {
  let view = int32Views.get(buffer);
  if (view === undefined) {
    view = new Int32Array(buffer);
    int32Views.set(buffer, view);
  }
  return view;
}

/** A Uint8Array over all of `buffer`, the same one each time. */
export function uint8View(buffer: SharedArrayBuffer): Uint8Array {
  let view = uint8Views.get(buffer);
  if (view === undefined) {
    view = new Uint8Array(buffer);
    uint8Views.set(buffer, view);
  }
  return view;
}
