/**
 * A first-in, first-out queue as plain data, so that it hashes, replays and drafts under immer like
 * the rest of a state. Under immer, a write copies, freezes and diffs every array it changes, so the
 * queue is a shallow tree whose nodes stay short: the items in chunks of at most `chunkLength`, the
 * chunks in pages of at most `pageLength`. The front page `chunks` is where takes happen; pushes go
 * to the last chunk of the back page `back`, and a full back page moves into `later`, the list of
 * pages between the two (as a persistent vector keeps a tail, so that an append copies only it).
 * A push under immer copies the back page and its last chunk, two arrays of at most 32 slots, and
 * `later` once every `chunkLength * pageLength` pushes: at 100k items about 35 slots per push, where
 * a list of all the pages copied at every push (the shape before) took about 130, and 1,000 at 1M.
 * Taking from the front moves a head index within the first chunk and drops that chunk once it is
 * used up, and the next page (the first of `later`, else `back`) becomes the front page once that
 * runs out, so takes are O(1) apart from an O(`pageLength`) drop every `chunkLength` takes and an
 * O(pages) one every `chunkLength * pageLength` takes (V8's `shift` of a flat array of 100k items
 * cost 70 µs per take).
 *
 * In a step under immer without patches, the functions below copy the lists and chunks they change
 * themselves instead of having immer draft them (see core/own-copies.ts). Items are values: they are
 * handed out as they are, never copied to be changed.
 */
import { noteEntered, ownCopiesFor, readField, writableField } from './own-copies.js';

/** The queue's data: `chunks[0][head]` is the front; items before `head` in the first chunk are already taken. */
export interface Fifo<T> {
  /** The front page: never empty chunks, each at most `chunkLength` long when pushed to. */
  chunks: T[][];
  head: number;
  /** How many items wait. */
  size: number;
  /**
   * The pages between `chunks` and `back` (never empty pages or chunks), absent while there are
   * none: a short queue is three fields.
   */
  later?: T[][][];
  /**
   * The page pushes go to once `chunks` held `pageLength` chunks (never empty, nor its chunks);
   * absent before that, and from when the pages before it run out until the next push.
   */
  back?: T[][];
}

/** How many items a chunk takes before the next push starts another. */
export const chunkLength = 32;

/** How many chunks a page takes before the next push starts a page. */
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
  const back = readField(queue, 'back') as T[][] | undefined;
  return { chunks: readField(queue, 'chunks') as T[][], head: queue.head, size: queue.size, ...(later === undefined ? {} : { later }), ...(back === undefined ? {} : { back }) };
}

/** In a step with own copies: copies every page, `later`, and every chunk in them that is frozen. */
function thawAll<T>(queue: Fifo<T>): void {
  const thawList = (list: object | undefined): void => {
    if (list === undefined) return;
    const length = (list as unknown[]).length;
    for (let index = 0; index < length; index++) writableField(list, index);
  };
  thawList(writableField(queue, 'chunks') as object);
  thawList(writableField(queue, 'back') as object | undefined);
  const later = writableField(queue, 'later') as object | undefined;
  if (later === undefined) return;
  thawList(later);
  for (let index = 0; index < (later as unknown[]).length; index++) thawList(readField(later, index) as object);
}

/** The pages in order: the front page, the pages of `later`, then the back page. */
function pagesOf<T>(queue: Fifo<T>): T[][][] {
  const pages = [queue.chunks];
  if (queue.later !== undefined) pages.push(...queue.later);
  if (queue.back !== undefined) pages.push(queue.back);
  return pages;
}

/** The waiting items, front first (a copy). */
export function fifoItems<T>(queue: Fifo<T>): T[] {
  queue = rawView(queue);
  const items: T[] = [];
  pagesOf(queue).forEach((page, number) => {
    page.forEach((chunk, index) => {
      for (let at = number === 0 && index === 0 ? queue.head : 0; at < chunk.length; at++) items.push(chunk[at] as T);
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
  for (const item of items) fifoPushOne(queue, item);
}

/**
 * Adds one item at the back: `fifoPush(queue, item)` without the list a rest parameter makes per
 * call (every task queued for a lease or an actor passes here).
 */
export function fifoPushOne<T>(queue: Fifo<T>, item: T): void {
  if (ownCopiesFor(queue)) {
    pushOwned(queue, item);
    return;
  }
  // The page pushes go to: the back page, else the front page while no page follows it.
  const page = queue.back ?? (queue.later === undefined ? queue.chunks : undefined);
  const last = page?.[page.length - 1];
  if (last !== undefined && last.length < chunkLength) last.push(item);
  else if (page !== undefined && page.length < pageLength) page.push([item]);
  else startPage(queue, item);
  queue.size += 1;
}

/** Starts a back page holding `item`, the one it had (if any) moving to the end of `later`. */
function startPage<T>(queue: Fifo<T>, item: T): void {
  if (queue.back !== undefined) (queue.later ??= []).push(queue.back);
  queue.back = [[item]];
}

/**
 * `fifoPushOne` in a step with own copies: reads the queue's lists without immer drafting them, and
 * copies only the page and chunk it writes (and `later`, when the back page is full).
 */
function pushOwned<T>(queue: Fifo<T>, item: T): void {
  const back = readField(queue, 'back') as T[][] | undefined;
  const onFront = back === undefined && readField(queue, 'later') === undefined;
  const page = back ?? (onFront ? (readField(queue, 'chunks') as T[][]) : undefined);
  const last = page?.[page.length - 1];
  if (page === undefined || (page.length >= pageLength && (last === undefined || last.length >= chunkLength))) {
    // A new back page: the one there (if any) joins `later`, which is copied for it.
    if (back !== undefined) {
      const later = writableField(queue, 'later') as T[][][] | undefined;
      if (later === undefined) queue.later = [back];
      else {
        later.push(back);
        noteEntered(back);
      }
    }
    queue.back = [[item]];
  } else {
    // What enters a copy here is told to own copies, which freeze what is new in it (see noteEntered).
    const writable = writableField(queue, onFront ? 'chunks' : 'back') as T[][];
    const chunk = last !== undefined && last.length < chunkLength ? (writableField(writable, writable.length - 1) as T[]) : undefined;
    if (chunk === undefined) {
      const made = [item];
      writable.push(made);
      noteEntered(made);
    } else {
      chunk.push(item);
      noteEntered(item);
    }
  }
  queue.size += 1;
}

/** Puts items back at the front, in the order given (so `items[0]` is taken first). */
export function fifoPushFront<T>(queue: Fifo<T>, items: readonly T[]): void {
  if (items.length === 0) return;
  if (ownCopiesFor(queue)) writableField(queue, 'chunks');
  const first = queue.chunks[0];
  // The taken prefix of the first chunk is cut off, so that the new chunks can go before it. The
  // front page may grow past `pageLength` here: only pushes at the back keep to it.
  if (first !== undefined && queue.head > 0) {
    queue.chunks[0] = first.slice(queue.head);
    noteEntered(queue.chunks[0]);
  }
  const front: T[][] = [];
  for (let at = 0; at < items.length; at += chunkLength) front.push(items.slice(at, at + chunkLength));
  queue.chunks.unshift(...front);
  for (const chunk of front) noteEntered(chunk);
  queue.head = 0;
  queue.size += items.length;
}

/** Takes the front item; undefined when the queue is empty. */
export function fifoTake<T>(queue: Fifo<T>): T | undefined {
  const owned = ownCopiesFor(queue);
  // With own copies, the front page is read as it is and copied only when a chunk is dropped from it.
  const first = (owned ? (readField(queue, 'chunks') as T[][]) : queue.chunks)[0];
  if (first === undefined) return undefined;
  const item = first[queue.head];
  queue.head += 1;
  queue.size -= 1;
  if (queue.head >= first.length) {
    const chunks = (owned ? writableField(queue, 'chunks') : queue.chunks) as T[][];
    chunks.shift();
    queue.head = 0;
    if (chunks.length === 0) refill(queue, owned);
  }
  return item;
}

/** The front page ran out: the next page (the first of `later`, else the back page) takes its place. */
function refill<T>(queue: Fifo<T>, owned: boolean): void {
  const later = (owned ? writableField(queue, 'later') : queue.later) as T[][][] | undefined;
  if (later !== undefined) {
    queue.chunks = later.shift() ?? [];
    if (later.length === 0) delete queue.later;
    return;
  }
  const back = (owned ? readField(queue, 'back') : queue.back) as T[][] | undefined;
  if (back === undefined) return;
  queue.chunks = back;
  delete queue.back;
}

/** Empties the queue; returns what waited, front first. */
export function fifoTakeAll<T>(queue: Fifo<T>): T[] {
  const items = fifoItems(queue);
  queue.chunks = [];
  queue.head = 0;
  queue.size = 0;
  delete queue.later;
  delete queue.back;
  return items;
}

/** Where `item` waits (0 is the front), or -1. */
export function fifoIndexOf<T>(queue: Fifo<T>, item: T): number {
  queue = rawView(queue);
  let before = -queue.head;
  for (const [number, page] of pagesOf(queue).entries()) {
    for (const [index, chunk] of page.entries()) {
      const at = chunk.indexOf(item, number === 0 && index === 0 ? queue.head : 0);
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
  const pages = pagesOf(queue);
  for (const [number, page] of pages.entries()) {
    for (const [index, chunk] of page.entries()) {
      if (left >= chunk.length) {
        left -= chunk.length;
        continue;
      }
      // Only a chunk after the first can empty here: the first one keeps its front item.
      if (chunk.length === 1) page.splice(index, 1);
      else chunk.splice(left, 1);
      queue.size -= 1;
      // A page after the front one emptied by that goes: the back page, or one of `later` (and
      // `later` with its last page).
      if (number > 0 && page.length === 0) {
        if (page === queue.back) delete queue.back;
        else if (queue.later !== undefined) {
          queue.later.splice(number - 1, 1);
          if (queue.later.length === 0) delete queue.later;
        }
      }
      return true;
    }
  }
  return false;
}

/**
 * Calls `visit` with what `after` holds that `before` did not (count 1) and what `before` held that
 * `after` does not (count -1), as multisets: two states of one queue where `after` shares with
 * `before` every page and chunk it did not change (a step under immer). An item in a chunk that
 * was copied is visited both ways, which cancel out. Shared pages and chunks are skipped without a
 * walk, so a push or a take costs the few chunks it copied (and a look at each page), not the
 * queue's length: how the owner's invariants follow a long queue step by step.
 */
export function fifoChanges<T>(before: Fifo<T>, after: Fifo<T>, visit: (item: T, count: 1 | -1) => void): void {
  if (before === after) return;
  const pagesBefore = pagesOf(before);
  const pagesAfter = pagesOf(after);
  const inBefore = new Set<T[][]>(pagesBefore);
  const shared = new Set<T[][]>(pagesAfter.filter((page) => inBefore.has(page)));
  // Each chunk of an unshared page, counted +1 in `after` and -1 in `before`: a chunk both hold cancels.
  const chunks = new Map<T[], number>();
  const count = (pages: T[][][], sign: 1 | -1): void => {
    for (const page of pages) {
      if (shared.has(page)) continue;
      for (const chunk of page) chunks.set(chunk, (chunks.get(chunk) ?? 0) + sign);
    }
  };
  count(pagesAfter, 1);
  count(pagesBefore, -1);
  for (const [chunk, times] of chunks) {
    if (times === 0) continue;
    const sign = times > 0 ? 1 : -1;
    for (let n = Math.abs(times); n > 0; n--) for (const item of chunk) visit(item, sign);
  }
  // The taken front of each first chunk is not in its queue.
  const taken = (queue: Fifo<T>, sign: 1 | -1): void => {
    const first = queue.chunks[0];
    for (let at = 0; first !== undefined && at < queue.head; at++) visit(first[at] as T, sign);
  };
  taken(after, -1);
  taken(before, 1);
}
