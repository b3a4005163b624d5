/**
 * A first-in, first-out queue as plain data, so that it hashes, replays and drafts under immer like
 * the rest of a state. Taking from the front moves a head index instead of shifting the array (V8's
 * `shift` copies arrays of more than about 16k items, which made a queue of 100k tasks cost 70 µs per
 * take); the taken prefix is cut off once it is at least half the array, so takes are amortized O(1).
 */

/** The queue's data: `items[head]` is the front; items before `head` are already taken. */
export interface Fifo<T> {
  items: T[];
  head: number;
}

/** The smallest taken prefix worth cutting off. */
const compactAfter = 1024;

/** An empty queue. */
export function emptyFifo<T>(): Fifo<T> {
  return { items: [], head: 0 };
}

/** How many items wait in the queue. */
export function fifoSize<T>(queue: Fifo<T>): number {
  return queue.items.length - queue.head;
}

/** The waiting items, front first (a copy). */
export function fifoItems<T>(queue: Fifo<T>): T[] {
  return queue.items.slice(queue.head);
}

/** The front item, left in place; undefined when the queue is empty. */
export function fifoPeek<T>(queue: Fifo<T>): T | undefined {
  return queue.head < queue.items.length ? queue.items[queue.head] : undefined;
}

/** Adds items at the back. */
export function fifoPush<T>(queue: Fifo<T>, ...items: T[]): void {
  for (const item of items) queue.items.push(item);
}

/** Puts items back at the front, in the order given (so `items[0]` is taken first). */
export function fifoPushFront<T>(queue: Fifo<T>, items: readonly T[]): void {
  if (items.length === 0) return;
  queue.items = [...items, ...queue.items.slice(queue.head)];
  queue.head = 0;
}

/** Takes the front item; undefined when the queue is empty. */
export function fifoTake<T>(queue: Fifo<T>): T | undefined {
  if (queue.head >= queue.items.length) return undefined;
  const item = queue.items[queue.head];
  queue.head += 1;
  if (queue.head === queue.items.length) {
    queue.items = [];
    queue.head = 0;
  } else if (queue.head >= compactAfter && queue.head * 2 >= queue.items.length) {
    queue.items = queue.items.slice(queue.head);
    queue.head = 0;
  }
  return item;
}

/** Empties the queue; returns what waited, front first. */
export function fifoTakeAll<T>(queue: Fifo<T>): T[] {
  const items = fifoItems(queue);
  queue.items = [];
  queue.head = 0;
  return items;
}

/** Where `item` waits (0 is the front), or -1. */
export function fifoIndexOf<T>(queue: Fifo<T>, item: T): number {
  const index = queue.items.indexOf(item, queue.head);
  return index < 0 ? -1 : index - queue.head;
}

/** Removes the first occurrence of `item`; returns whether there was one. */
export function fifoRemove<T>(queue: Fifo<T>, item: T): boolean {
  const index = queue.items.indexOf(item, queue.head);
  if (index < 0) return false;
  queue.items.splice(index, 1);
  return true;
}
