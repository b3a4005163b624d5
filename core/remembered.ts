/**
 * Bounded memories of things that are over (dead workers, finished leases): a record of flags and
 * the order they were set in, so that past the bound the oldest is forgotten first. Messages arrive
 * late and out of order, and these let a handler see that one is stale; the bound keeps a component
 * that runs for weeks from growing with everything that ever ended.
 */

/**
 * Sets `key` in `flags`, appends it to `order`, and forgets the oldest keys past `bound`, calling
 * `forgotten` with each (to drop what else was kept about it). The caller checks first whether the
 * key was already set.
 */
export function rememberBounded(flags: Record<string, true>, order: string[], key: string, bound: number, forgotten?: (key: string) => void): void {
  rememberBoundedValue(flags, order, key, true, bound, forgotten);
}

/** `rememberBounded` of a value per key (what a redirect or an alias stands for) rather than a flag. */
export function rememberBoundedValue<V>(record: Record<string, V>, order: string[], key: string, value: V, bound: number, forgotten?: (key: string) => void): void {
  record[key] = value;
  order.push(key);
  while (order.length > bound) {
    const oldest = order.shift();
    if (oldest === undefined) continue;
    delete record[oldest];
    forgotten?.(oldest);
  }
}
