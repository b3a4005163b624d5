/**
 * A first-in, first-out queue as plain data, so that it hashes, replays and drafts under immer like
 * the rest of a state. Under immer, a write copies, freezes and diffs every array it changes, so the
 * items are kept in chunks of at most `chunkLength`, and the chunks in lists of at most `pageLength`:
 * the front list `chunks`, then (once that list is full) the pages of `later`. A push copies the page
 * list, the last page and the last chunk: at 100k items, about 135 slots and 40 µs per push, where a
 * list of 256-item chunks copied about 520 slots and took 84 µs. Taking from the front moves a head index within
 * the first chunk and drops that chunk once it is used up, and the first page of `later` becomes the
 * front list once that runs out, so takes are O(1) apart from an O(`pageLength`) drop every
 * `chunkLength` takes (V8's `shift` of a flat array of 100k items cost 70 µs per take).
 *
 * In a step under immer without patches, the functions below copy the lists and chunks they change
 * themselves instead of having immer draft them (see core/own-copies.ts). Items are values: they are
 * handed out as they are, never copied to be changed.
 */
import { isDraft } from 'immer';
import { ownCopiesFor, readField, writableField } from './own-copies.js';

/** The queue's data: `chunks[0][head]` is the front; items before `head` in the first chunk are already taken. */
export interface Fifo<T> {
  /** The front chunks: never empty chunks, each at most `chunkLength` long when pushed to. */
  chunks: T[][];
  head: number;
  /** How many items wait. */
  size: number;
  /**
   * The chunks after `chunks`, in pages of at most `pageLength` (never empty pages or chunks);
   * absent until `chunks` holds `pageLength` chunks, so that a short queue is three fields.
   */
  later?: T[][][];
}

/** How many items a chunk takes before the next push starts another. */
export const chunkLength = 32;

/** How many chunks the front list, or a page of `later`, takes before the next push starts a page. */
export const pageLength = 32;

/** An empty queue. */
export function emptyFifo<T>(): Fifo<T> {
  return { chunks: [], head: 0, size: 0 };
}

/** How many items wait in the queue. */
export function fifoSize<T>(queue: Fifo<T>): number {
  return queue.size;
}

/**
 * The queue's fields as they are, without immer drafting them (for reads in a step with own copies;
 * a list immer drafted earlier in the step is still read through its draft).
 */
function rawView<T>(queue: Fifo<T>): Fifo<T> {
  if (!ownCopiesFor(queue)) return queue;
  const later = readField(queue, 'later') as T[][][] | undefined;
  return { chunks: readField(queue, 'chunks') as T[][], head: queue.head, size: queue.size, ...(later === undefined ? {} : { later }) };
}

/** In a step with own copies: copies the front list, `later`, and every page and chunk in them that is frozen. */
function thawAll<T>(queue: Fifo<T>): void {
  const thawList = (list: object | undefined): void => {
    if (list === undefined) return;
    const length = (list as unknown[]).length;
    for (let index = 0; index < length; index++) writableField(list, index);
  };
  thawList(writableField(queue, 'chunks') as object);
  const later = writableField(queue, 'later') as object | undefined;
  if (later === undefined) return;
  thawList(later);
  for (let index = 0; index < (later as unknown[]).length; index++) thawList(readField(later, index) as object);
}

/**
 * In a step with own copies: copies the list that pushes go to and its last chunk, when frozen, and
 * returns that list (undefined when `later` has no page, which cannot be once it exists).
 */
function thawBack<T>(queue: Fifo<T>): T[][] | undefined {
  const later = writableField(queue, 'later') as T[][][] | undefined;
  const list = (later === undefined ? writableField(queue, 'chunks') : writableField(later, later.length - 1)) as T[][] | undefined;
  if (list !== undefined && list.length > 0) writableField(list, list.length - 1);
  return list;
}

/** The chunk lists in order: the front list, then the pages of `later`. */
function chunkLists<T>(queue: Fifo<T>): T[][][] {
  return queue.later === undefined ? [queue.chunks] : [queue.chunks, ...queue.later];
}

/** The waiting items, front first (a copy). */
export function fifoItems<T>(queue: Fifo<T>): T[] {
  queue = rawView(queue);
  const items: T[] = [];
  chunkLists(queue).forEach((list, page) => {
    list.forEach((chunk, index) => {
      for (let at = page === 0 && index === 0 ? queue.head : 0; at < chunk.length; at++) items.push(chunk[at] as T);
    });
  });
  return items;
}

/** The front item, left in place; undefined when the queue is empty. */
export function fifoPeek<T>(queue: Fifo<T>): T | undefined {
  queue = rawView(queue);
  return queue.chunks[0]?.[queue.head];
}

/** Adds items at the back. */
export function fifoPush<T>(queue: Fifo<T>, ...items: T[]): void {
  if (ownCopiesFor(queue)) {
    // One item into a chunk with room: written into the copies `thawBack` made, without reading
    // `later` or `chunks` again through the queue's draft (a proxy trap each).
    const list = thawBack(queue);
    const last = list?.[list.length - 1];
    if (items.length === 1 && last !== undefined && !isDraft(last) && last.length < chunkLength) {
      last.push(items[0] as T);
      queue.size += 1;
      return;
    }
  }
  for (const item of items) {
    let list = queue.later === undefined ? queue.chunks : queue.later[queue.later.length - 1];
    const last = list?.[list.length - 1];
    if (last !== undefined && last.length < chunkLength) {
      last.push(item);
      continue;
    }
    if (list === undefined || list.length >= pageLength) (queue.later ??= []).push((list = []));
    list.push([item]);
  }
  queue.size += items.length;
}

/**
 * Adds one item at the back: `fifoPush(queue, item)` without the list a rest parameter makes per
 * call (every task queued for a lease or an actor passes here).
 */
export function fifoPushOne<T>(queue: Fifo<T>, item: T): void {
  if (ownCopiesFor(queue)) {
    // Into a chunk with room: written into the copies `thawBack` made, as in `fifoPush`.
    const list = thawBack(queue);
    const last = list?.[list.length - 1];
    if (last !== undefined && !isDraft(last) && last.length < chunkLength) {
      last.push(item);
      queue.size += 1;
      return;
    }
  }
  let list = queue.later === undefined ? queue.chunks : queue.later[queue.later.length - 1];
  const last = list?.[list.length - 1];
  if (last !== undefined && last.length < chunkLength) last.push(item);
  else {
    if (list === undefined || list.length >= pageLength) (queue.later ??= []).push((list = []));
    list.push([item]);
  }
  queue.size += 1;
}

/** Puts items back at the front, in the order given (so `items[0]` is taken first). */
export function fifoPushFront<T>(queue: Fifo<T>, items: readonly T[]): void {
  if (items.length === 0) return;
  if (ownCopiesFor(queue)) writableField(queue, 'chunks');
  const first = queue.chunks[0];
  // The taken prefix of the first chunk is cut off, so that the new chunks can go before it. The
  // front list may grow past `pageLength` here: only pushes at the back keep to it.
  if (first !== undefined && queue.head > 0) queue.chunks[0] = first.slice(queue.head);
  const front: T[][] = [];
  for (let at = 0; at < items.length; at += chunkLength) front.push(items.slice(at, at + chunkLength));
  queue.chunks.unshift(...front);
  queue.head = 0;
  queue.size += items.length;
}

/** Takes the front item; undefined when the queue is empty. */
export function fifoTake<T>(queue: Fifo<T>): T | undefined {
  if (ownCopiesFor(queue)) {
    if (queue.size === 0) return undefined;
    writableField(queue, 'chunks');
  }
  const first = queue.chunks[0];
  if (first === undefined) return undefined;
  const item = first[queue.head];
  queue.head += 1;
  queue.size -= 1;
  if (queue.head >= first.length) {
    queue.chunks.shift();
    queue.head = 0;
    if (queue.chunks.length === 0) refill(queue);
  }
  return item;
}

/** The front list ran out: the first page of `later` takes its place. */
function refill<T>(queue: Fifo<T>): void {
  const later = (ownCopiesFor(queue) ? writableField(queue, 'later') : queue.later) as T[][][] | undefined;
  if (later === undefined) return;
  queue.chunks = later.shift() ?? [];
  if (later.length === 0) delete queue.later;
}

/** Empties the queue; returns what waited, front first. */
export function fifoTakeAll<T>(queue: Fifo<T>): T[] {
  const items = fifoItems(queue);
  queue.chunks = [];
  queue.head = 0;
  queue.size = 0;
  delete queue.later;
  return items;
}

/** Where `item` waits (0 is the front), or -1. */
export function fifoIndexOf<T>(queue: Fifo<T>, item: T): number {
  queue = rawView(queue);
  let before = -queue.head;
  for (const [page, list] of chunkLists(queue).entries()) {
    for (const [index, chunk] of list.entries()) {
      const at = chunk.indexOf(item, page === 0 && index === 0 ? queue.head : 0);
      if (at >= 0) return before + at;
      before += chunk.length;
    }
  }
  return -1;
}

/** Removes the first occurrence of `item`; returns whether there was one. */
export function fifoRemove<T>(queue: Fifo<T>, item: T): boolean {
  const at = fifoIndexOf(queue, item);
  if (at < 0) return false;
  if (ownCopiesFor(queue)) thawAll(queue);
  if (at === 0) {
    fifoTake(queue);
    return true;
  }
  // Find the chunk again by position (not by value: an earlier equal item was taken already).
  let left = at + queue.head;
  const lists = chunkLists(queue);
  for (const [page, list] of lists.entries()) {
    for (const [index, chunk] of list.entries()) {
      if (left >= chunk.length) {
        left -= chunk.length;
        continue;
      }
      // Only a chunk after the first can empty here: the first one keeps its front item.
      if (chunk.length === 1) list.splice(index, 1);
      else chunk.splice(left, 1);
      queue.size -= 1;
      // A page of `later` emptied by that goes, and `later` with its last page.
      if (page > 0 && list.length === 0 && queue.later !== undefined) {
        queue.later.splice(page - 1, 1);
        if (queue.later.length === 0) delete queue.later;
      }
      return true;
    }
  }
  return false;
}
