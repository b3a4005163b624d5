/**
 * Duplicate suppression for delivered messages. The transport delivers at least once; each receiver
 * keeps, per sender incarnation, the highest sequence number below which it has seen everything and
 * the seen numbers above it. The window is bounded: a sender that runs more than `maxGap` messages
 * ahead of its oldest undelivered one has that gap treated as seen (the transport retransmits within
 * far less than that).
 */
import type { Address } from './ids.js';
import type { Via } from './protocol.js';

/** What a receiver remembers of one sender incarnation. */
export interface SenderWindow {
  /** Every sequence number below this has been seen. */
  floor: number;
  /** Seen sequence numbers at or above `floor`, ascending. */
  above: number[];
}

/** Per sender incarnation (`from#incarnation`), what has been seen. */
export type Inbox = Record<string, SenderWindow>;

/** The bound on out-of-order sequence numbers remembered per sender. */
export const maxGap = 4096;

/** How many senders `windowKeyOf` remembers before it starts afresh. */
const maxRememberedSenders = 1024;

/**
 * The key of each sender's latest incarnation, by sender address. Only a cache of the pure function
 * `${from}#${incarnation}` (bounded, and the same in every process), so it changes no result: every
 * delivered message is admitted, and building and hashing a new key string for each one was a
 * twentieth of an owner's step; the remembered string is hashed once and found at once thereafter.
 */
const windowKeys = new Map<string, { readonly incarnation: number; readonly key: string }>();

/** `${from}#${incarnation}`, the inbox key of a sender incarnation. */
function windowKeyOf(via: Via): string {
  const known = windowKeys.get(via.from);
  if (known !== undefined && known.incarnation === via.incarnation) return known.key;
  if (windowKeys.size >= maxRememberedSenders) windowKeys.clear();
  const key = `${via.from}#${via.incarnation}`;
  windowKeys.set(via.from, { incarnation: via.incarnation, key });
  return key;
}

/**
 * Records the delivery and tells whether it is new. Returns false for a duplicate, which the caller
 * must ignore entirely.
 */
export function admit(inbox: Inbox, via: Via): boolean {
  const key = windowKeyOf(via);
  let window = inbox[key];
  if (window === undefined) {
    window = { floor: 0, above: [] };
    inbox[key] = window;
  }
  // The common case, a message in order with none ahead of it, moves the floor alone.
  if (via.seq === window.floor && window.above.length === 0) {
    window.floor += 1;
    return true;
  }
  if (via.seq < window.floor || window.above.includes(via.seq)) return false;
  // Inserted in order by moving the greater numbers up one: findIndex with an arrow made a closure
  // per message that arrived ahead of its turn, and splice a list of the (no) elements it removed.
  const above = window.above;
  const seq = via.seq;
  let index = above.length;
  above.push(seq);
  while (index > 0 && (above[index - 1] as number) > seq) {
    above[index] = above[index - 1] as number;
    index -= 1;
  }
  above[index] = seq;
  while (window.above.length > 0 && window.above[0] === window.floor) {
    window.above.shift();
    window.floor += 1;
  }
  if (window.above.length > maxGap) {
    const next = window.above.shift() ?? window.floor;
    window.floor = next + 1;
  }
  return true;
}

/**
 * Forgets what `inbox` remembers of `address`, a worker that died long enough ago that the
 * component has just forgotten its death too (each keeps a bounded list of dead workers). Without
 * this, every worker that ever sent to a component left its window there for the component's life:
 * a driver that creates and kills actors as it goes grew by one in its own inbox and one in the
 * GCS's per actor. A worker never restarts under its address (a restarted actor gets a new worker),
 * so its only incarnation is 0. A message of its arriving after this would be taken as new; by then
 * thousands of deaths have passed since its own, far beyond any delay of the transport.
 */
export function forgetSender(inbox: Inbox, address: Address): void {
  delete inbox[`${address}#0`];
}
