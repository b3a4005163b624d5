/**
 * Resource arithmetic. Quantities are kept in fixed point (1/10000 units, as Ray does) so that
 * fractional CPUs add and subtract without drift and the invariants can compare exactly.
 */

/** A resource shape: name to quantity, e.g. `{ CPU: 1, GPU: 0.5 }`. */
export type Resources = Record<string, number>;

const unitsPerWhole = 10_000;

/** Rounds a quantity to the fixed-point grid. */
export function roundQuantity(value: number): number {
  return Math.round(value * unitsPerWhole) / unitsPerWhole;
}

/** True when `available` holds at least `demand` of every resource that `demand` names. */
export function fits(available: Resources, demand: Resources): boolean {
  for (const [name, quantity] of Object.entries(demand)) {
    if (quantity <= 0) continue;
    if ((available[name] ?? 0) < quantity) return false;
  }
  return true;
}

/** Subtracts `demand` from `pool` in place. */
export function take(pool: Resources, demand: Resources): void {
  for (const [name, quantity] of Object.entries(demand)) {
    if (quantity === 0) continue;
    pool[name] = roundQuantity((pool[name] ?? 0) - quantity);
  }
}

/** Adds `amount` back to `pool` in place. */
export function give(pool: Resources, amount: Resources): void {
  for (const [name, quantity] of Object.entries(amount)) {
    if (quantity === 0) continue;
    pool[name] = roundQuantity((pool[name] ?? 0) + quantity);
  }
}

/**
 * A stable key for a resource shape, used to group leases into scheduling classes: `name:quantity`
 * for each resource it names a non-zero quantity of, sorted by name, joined by commas. Built in one
 * pass with the names sorted by insertion (a shape names a few): owners key every task they queue,
 * and filter, sort, map and join made five arrays and a closure each time.
 */
export function shapeKey(shape: Resources): string {
  const names = Object.keys(shape);
  let count = 0;
  for (let at = 0; at < names.length; at++) {
    const name = names[at] as string;
    if ((shape[name] ?? 0) === 0) continue;
    // Insertion into the sorted prefix, comparing as `sort()` does (by UTF-16 code units).
    let into = count;
    while (into > 0 && (names[into - 1] as string) > name) {
      names[into] = names[into - 1] as string;
      into--;
    }
    names[into] = name;
    count++;
  }
  let key = '';
  for (let at = 0; at < count; at++) {
    const name = names[at] as string;
    key += `${at === 0 ? '' : ','}${name}:${roundQuantity(shape[name] ?? 0)}`;
  }
  return key;
}

/** The resources that `demand` names but the node lacks entirely, for "why is this pending" answers. */
export function missingResources(total: Resources, demand: Resources): string[] {
  return Object.keys(demand).filter((name) => (demand[name] ?? 0) > (total[name] ?? 0));
}

/**
 * What an actor holds while it runs and what must be free to place it, from its `numCpus` (undefined
 * when not given) and custom resources. As Ray: an actor that names no resources needs one CPU free
 * to be placed but holds none, so any number of them run on a node with a CPU; one that names any
 * (numCpus, even 0, or a custom resource) needs exactly those, both to be placed and while it runs,
 * so a `numCpus: 0` actor is placed even on a node whose CPUs are all busy.
 */
export function actorResourceShapes(numCpus: number | undefined, custom: Resources): { resources: Resources; placementResources: Resources } {
  const resources: Resources = { ...(numCpus !== undefined && numCpus > 0 ? { CPU: numCpus } : {}), ...custom };
  const named = numCpus !== undefined || Object.keys(custom).length > 0;
  return { resources, placementResources: named ? { ...resources } : { CPU: 1 } };
}
