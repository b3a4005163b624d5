/**
 * Why a value cannot be encoded, in words that tell the user what to pass instead. Each reason
 * follows the value's path in the message, e.g. `args[1].cfg.onDone is a function; ...`.
 */

const weakClasses: readonly { readonly name: string; readonly prototype: object }[] = [WeakMap, WeakSet, WeakRef, FinalizationRegistry];

/** The reason an object or function classified as rejected cannot travel. */
export function rejectionReason(value: object): string {
  if (typeof value === 'function') {
    return 'is a function; tasks take data: pass a RemoteFunction or move the logic into the task';
  }
  if (value instanceof Promise) return 'is a Promise; await it before passing it, or pass an ObjectRef';
  const weak = weakClasses.find((cls) => value instanceof (cls as unknown as new () => object));
  if (weak !== undefined) {
    return `is a ${weak.name}; weak references cannot be copied to another process: use a Map, a Set or plain data`;
  }
  if (value instanceof SharedArrayBuffer) {
    return 'is a SharedArrayBuffer; it cannot be shared across processes: pass a typed array over it (its bytes are copied)';
  }
  const className = classNameOf(value);
  if (className !== undefined) {
    return `is an instance of class ${className}; tasks take plain data: pass a plain object with its fields, or make the class an actor`;
  }
  return 'is an object whose prototype is not Object.prototype; tasks take plain data: pass a plain object';
}

/** The reason a symbol cannot travel. */
export function symbolReason(symbol: symbol): string {
  return `is a symbol (${String(symbol)}); symbols cannot be copied to another process: use a string`;
}

/** The reason an object with symbol keys cannot travel. */
export function symbolKeyReason(symbol: symbol): string {
  return `has a symbol key (${String(symbol)}); symbol-keyed properties cannot be copied to another process: use a string key`;
}

function classNameOf(value: object): string | undefined {
  try {
    const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
    const ctor = proto?.constructor;
    if (typeof ctor === 'function' && ctor !== Object && ctor.name !== '') return ctor.name;
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    return tag === 'Object' ? undefined : tag;
  } catch {
    // A proxy or a getter on the prototype may throw; the message then does without the name.
    return undefined;
  }
}
