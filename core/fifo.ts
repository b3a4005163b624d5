/**
 * A first-in, first-out queue as plain data, so that it hashes, replays and drafts under immer like
 * the rest of a state. The items are kept in chunks of at most `chunkLength`: under immer, a push to
 * one flat array copied, froze and diffed every item (an owner queueing 100k tasks spent most of each
 * step there), where a push here copies the chunk list and the last chunk only. Taking from the front
 * moves a head index within the first chunk and drops that chunk once it is used up, so takes are
 * O(1) apart from an O(chunks) drop every `chunkLength` takes (V8's `shift` of a flat array of 100k
 * items cost 70 µs per take).
 */

/** The queue's data: `chunks[0][head]` is the front; items before `head` in the first chunk are already taken. */
export interface Fifo<T> {
  /** Never empty chunks; each at most `chunkLength` long when pushed to. */
  chunks: T[][];
  head: number;
  /** How many items wait. */
  size: number;
}

/** How many items a chunk takes before the next push starts another. */
export const chunkLength = 256;

/** An empty queue. */
export function emptyFifo<T>(): Fifo<T> {
  return { chunks: [], head: 0, size: 0 };
}

/** How many items wait in the queue. */
export function fifoSize<T>(queue: Fifo<T>): number {
  return queue.size;
}

/** The waiting items, front first (a copy). */
export function fifoItems<T>(queue: Fifo<T>): T[] {
  const items: T[] = [];
  queue.chunks.forEach((chunk, index) => {
    for (let at = index === 0 ? queue.head : 0; at < chunk.length; at++) items.push(chunk[at] as T);
  });
  return items;
}

/** The front item, left in place; undefined when the queue is empty. */
export function fifoPeek<T>(queue: Fifo<T>): T | undefined {
  return queue.chunks[0]?.[queue.head];
}

/** Adds items at the back. */
export function fifoPush<T>(queue: Fifo<T>, ...items: T[]): void {
  for (const item of items) {
    const last = queue.chunks[queue.chunks.length - 1];
    if (last === undefined || last.length >= chunkLength) queue.chunks.push([item]);
    else last.push(item);
  }
  queue.size += items.length;
}

/** Puts items back at the front, in the order given (so `items[0]` is taken first). */
export function fifoPushFront<T>(queue: Fifo<T>, items: readonly T[]): void {
  if (items.length === 0) return;
  const first = queue.chunks[0];
  // The taken prefix of the first chunk is cut off, so that the new chunks can go before it.
  if (first !== undefined && queue.head > 0) queue.chunks[0] = first.slice(queue.head);
  const front: T[][] = [];
  for (let at = 0; at < items.length; at += chunkLength) front.push(items.slice(at, at + chunkLength));
  queue.chunks.unshift(...front);
  queue.head = 0;
  queue.size += items.length;
}

/** Takes the front item; undefined when the queue is empty. */
export function fifoTake<T>(queue: Fifo<T>): T | undefined {
  const first = queue.chunks[0];
  if (first === undefined) return undefined;
  const item = first[queue.head];
  queue.head += 1;
  queue.size -= 1;
  if (queue.head >= first.length) {
    queue.chunks.shift();
    queue.head = 0;
  }
  return item;
}

/** Empties the queue; returns what waited, front first. */
export function fifoTakeAll<T>(queue: Fifo<T>): T[] {
  const items = fifoItems(queue);
  queue.chunks = [];
  queue.head = 0;
  queue.size = 0;
  return items;
}

/** Where `item` waits (0 is the front), or -1. */
export function fifoIndexOf<T>(queue: Fifo<T>, item: T): number {
  let before = -queue.head;
  for (const [index, chunk] of queue.chunks.entries()) {
    const at = chunk.indexOf(item, index === 0 ? queue.head : 0);
    if (at >= 0) return before + at;
    before += chunk.length;
  }
  return -1;
}

/** Removes the first occurrence of `item`; returns whether there was one. */
export function fifoRemove<T>(queue: Fifo<T>, item: T): boolean {
  for (const [index, chunk] of queue.chunks.entries()) {
    const at = chunk.indexOf(item, index === 0 ? queue.head : 0);
    if (at < 0) continue;
    if (index === 0 && at === queue.head) fifoTake(queue);
    else {
      // Only a later chunk can empty here: the first one keeps its front item.
      if (chunk.length === 1) queue.chunks.splice(index, 1);
      else chunk.splice(at, 1);
      queue.size -= 1;
    }
    return true;
  }
  return false;
}
