/**
 * Effects must outlive the step that made them. Under immer, a recipe that puts part of its state
 * into an effect (a task spec into a push, a payload into a reply) hands out a draft that is revoked
 * when the step ends; `detach` swaps such drafts for plain snapshots, copying only the containers on
 * the way to a draft, so the mutable hot path pays a walk and no copies.
 */
import { current, isDraft } from 'immer';

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `value` with every immer draft inside it replaced by a snapshot of its current state. */
export function detach<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (isDraft(value)) return current(value as object) as T;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, index) => {
      const detached = detach(item);
      if (detached !== item) {
        copy ??= [...(value as unknown[])];
        copy[index] = detached;
      }
    });
    return (copy ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const detached = detach(item);
    if (detached !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = detached;
    }
  }
  return (copy ?? value) as T;
}
