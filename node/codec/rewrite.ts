/**
 * The rewrite: a copy of a value in which what msgpack would change is replaced by stand-ins (see
 * rewritten.ts). It runs only for the rare value the scan flagged, after the scan has accepted it, so
 * it needs no checks of its own; it copies every container, which keeps it short.
 */
import { classify, Kind } from './classify.js';
import { isWellFormed, Rewritten, RewrittenKind } from './rewritten.js';
import type { CodecHooks } from './types.js';

const negativeZero = new Rewritten(RewrittenKind.negativeZero, 0);

/** A copy of an accepted value with stand-ins for what msgpack would change (see rewritten.ts). */
export function rewriteValue(value: unknown, hooks: CodecHooks): unknown {
  if (typeof value === 'number') return value === 0 && 1 / value < 0 ? negativeZero : value;
  if (typeof value === 'string') {
    if (isWellFormed(value)) return value;
    const units = new Uint16Array(value.length);
    for (let i = 0; i < value.length; i++) units[i] = value.charCodeAt(i);
    return new Rewritten(RewrittenKind.illFormedString, units);
  }
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return value;
  switch (classify(value, hooks)) {
    case Kind.plain:
    case Kind.nullProto:
      return rewriteRecord(value as Record<string, unknown>, hooks);
    case Kind.array: {
      const array = value as readonly unknown[];
      const copy: unknown[] = new Array<unknown>(array.length);
      for (let i = 0; i < array.length; i++) copy[i] = rewriteValue(array[i], hooks);
      return copy;
    }
    case Kind.map: {
      const copy = new Map<unknown, unknown>();
      for (const [key, entry] of value as Map<unknown, unknown>) copy.set(rewriteValue(key, hooks), rewriteValue(entry, hooks));
      return copy;
    }
    case Kind.set: {
      const copy = new Set<unknown>();
      for (const item of value as Set<unknown>) copy.add(rewriteValue(item, hooks));
      return copy;
    }
    case Kind.error:
      return rewriteError(value as Error, hooks);
    case Kind.date:
    case Kind.regExp:
    case Kind.binary:
    case Kind.ref:
    case Kind.actor:
    case Kind.function:
    case Kind.actorClass:
    case Kind.rewritten:
    case Kind.rejected:
      return value;
  }
}

function rewriteRecord(record: Record<string, unknown>, hooks: CodecHooks): unknown {
  const nullProto = Object.getPrototypeOf(record) === null;
  const keys = Object.keys(record);
  if (keys.includes('__proto__') || keys.includes('constructor')) {
    // Keys and values in turn, after a flag for the prototype; decode defines each key as data.
    const entries: unknown[] = [nullProto];
    for (const key of keys) entries.push(key, rewriteValue(record[key], hooks));
    return new Rewritten(RewrittenKind.specialKeyObject, entries);
  }
  const copy: Record<string, unknown> = nullProto ? (Object.create(null) as Record<string, unknown>) : {};
  for (const key of keys) copy[key] = rewriteValue(record[key], hooks);
  return copy;
}

function rewriteError(error: Error, hooks: CodecHooks): Error {
  // A bare object of the same prototype is still classified as an error, and keeps the fields the
  // error extension reads.
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error & { errors?: unknown };
  Object.defineProperties(copy, {
    name: { value: error.name },
    message: { value: error.message },
    stack: { value: error.stack },
  });
  if (Object.hasOwn(error, 'cause')) Object.defineProperty(copy, 'cause', { value: rewriteValue(error.cause, hooks) });
  if (error instanceof AggregateError) Object.defineProperty(copy, 'errors', { value: rewriteValue(error.errors, hooks) });
  return copy;
}
