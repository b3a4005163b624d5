/**
 * The pools' side of bench/peer.ts (piscina and tinypool): the tasks they run, each the counterpart
 * of a tsray one.
 * Both pools call the export named in `run(task, { name })`.
 */

/** The tiny task: returns its argument. */
export function echo<T>(value: T): T {
  return value;
}

let total = 0;

/** The nearest thing to an actor method: state kept in the worker's module, updated by each call. */
export function add(amount: number): number {
  total += amount;
  return total;
}
