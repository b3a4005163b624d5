/**
 * Lists made on the hot paths (a task's arguments, its return refs, a batch's rebuilt pushes) with
 * one layout in V8 whichever code made them. `Array.prototype.map` makes a packed list while its
 * caller runs in the interpreter, but a holey one once TurboFan has compiled the caller (its inlined
 * `map` fills a list made at full length): the same list had two hidden classes, which changed the
 * moment its maker was optimised, and every function compiled in between for the first one (the
 * recipes reading a task's `args`, the event log's writer and compiled comparisons, the worker's
 * `execute`) was thrown away at its next read ('wrong map') and compiled again.
 */

/**
 * `items.map(fn, thisArg)`, as a list that is always packed: it grows from an empty list one item at
 * a time, which V8 lays out alike in the interpreter and in compiled code. A list of one item (a
 * task's one argument, its one return ref: most lists here) is a literal of one, as packed and of the
 * same hidden class: the first push into an empty list reserved room for 17 items, 150 bytes.
 */
export function packedMap<T, U, This = undefined>(items: readonly T[], fn: (this: This, item: T, index: number) => U, thisArg?: This): U[] {
  if (items.length === 1) return [fn.call(thisArg as This, items[0] as T, 0)];
  const mapped: U[] = [];
  for (let index = 0; index < items.length; index += 1) mapped.push(fn.call(thisArg as This, items[index] as T, index));
  return mapped;
}
