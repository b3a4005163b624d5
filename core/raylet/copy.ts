/**
 * Copies that keep state, events and effects apart. Under immer a value read from the draft is a
 * proxy that is revoked when the step ends, and a value taken from an event into the state would be
 * frozen along with it; so everything that crosses between them is copied here.
 */
import type { SchedulingStrategy } from '../protocol.js';
import type { Resources } from '../resources.js';
import { roundQuantity } from '../resources.js';
import type { RefMarker } from '../values.js';

/** A fresh copy of a resource shape, without zero entries and on the fixed-point grid. */
export function copyResources(shape: Resources): Resources {
  const copy: Resources = {};
  for (const name of Object.keys(shape)) {
    const quantity = shape[name] ?? 0;
    if (quantity !== 0) copy[name] = roundQuantity(quantity);
  }
  return copy;
}

/** A fresh copy of a scheduling strategy. */
export function copyStrategy(strategy: SchedulingStrategy): SchedulingStrategy {
  return typeof strategy === 'string' ? strategy : { nodeId: strategy.nodeId, soft: strategy.soft };
}

/** Fresh copies of ref markers. */
export function copyRefs(refs: readonly RefMarker[]): RefMarker[] {
  return refs.map((ref) => ({ objectId: ref.objectId, owner: ref.owner }));
}

/**
 * A deep copy of opaque object data as far as immer would draft it (arrays and plain objects);
 * anything else (bytes, primitives) is immutable by contract and passes through uncopied, so that
 * large binary values are never duplicated.
 */
export function copyData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => copyData(item));
  if (typeof value !== 'object' || value === null) return value;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = copyData(item);
  return copy;
}
