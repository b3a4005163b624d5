/**
 * What kind of value an object is, for the scan, the rewrite and the msgpackr extensions alike, so
 * that they agree on what is accepted. The common kinds are settled by the prototype alone.
 */
import type { RefMarker } from '../../core/values.js';
import { binaryCodeByPrototype } from './binary.js';
import { Rewritten } from './rewritten.js';
import type { ActorHandleData, CodecHooks, ShippedCodeData } from './types.js';

/** The kinds of objects (and functions) the codec tells apart. */
export const Kind = {
  plain: 0,
  array: 1,
  nullProto: 2,
  map: 3,
  set: 4,
  date: 5,
  regExp: 6,
  error: 7,
  binary: 8,
  ref: 9,
  actor: 10,
  function: 11,
  actorClass: 12,
  rewritten: 13,
  rejected: 14,
} as const;
/** One of `Kind`. */
export type Kind = (typeof Kind)[keyof typeof Kind];

const builtinErrorClasses = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError];

const kindByPrototype = new Map<object, Kind>([
  [Map.prototype, Kind.map],
  [Set.prototype, Kind.set],
  [Date.prototype, Kind.date],
  [RegExp.prototype, Kind.regExp],
  [Rewritten.prototype, Kind.rewritten],
  ...[...binaryCodeByPrototype.keys()].map((proto): [object, Kind] => [proto, Kind.binary]),
  ...builtinErrorClasses.map((cls): [object, Kind] => [cls.prototype, Kind.error]),
]);

/** Where `classify` leaves the hook data of a runtime instance, so that it is asked for only once. */
export interface HookData {
  data: RefMarker | ActorHandleData | ShippedCodeData | undefined;
}

/**
 * The kind of an object or function. Runtime instances are recognized through the hooks, whose
 * answer is left in `out` when given; anything unrecognized is `Kind.rejected`.
 */
export function classify(value: object, hooks: CodecHooks, out?: HookData): Kind {
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype) return Kind.plain;
  if (proto === Array.prototype) return Kind.array;
  if (proto === null) return Kind.nullProto;
  const builtin = kindByPrototype.get(proto);
  if (builtin !== undefined) return builtin;
  let data: RefMarker | ActorHandleData | ShippedCodeData | undefined;
  let kind: Kind = Kind.rejected;
  if ((data = hooks.refOf(value)) !== undefined) kind = Kind.ref;
  else if ((data = hooks.actorOf(value)) !== undefined) kind = Kind.actor;
  else if ((data = hooks.functionOf(value)) !== undefined) kind = Kind.function;
  else if ((data = hooks.actorClassOf(value)) !== undefined) kind = Kind.actorClass;
  // Error subclasses are accepted and come back as Error under their name, as API.md says.
  else if (value instanceof Error) kind = Kind.error;
  if (out !== undefined) out.data = data;
  return kind;
}

/** The name of a builtin error class, for decode to rebuild that class; else undefined. */
export function builtinErrorClass(name: string): (typeof builtinErrorClasses)[number] | undefined {
  return builtinErrorClasses.find((cls) => cls.name === name);
}
