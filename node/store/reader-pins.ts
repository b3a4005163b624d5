/**
 * Reader pins in shared memory. Every object in the node's store starts with a header of one Int32
 * counter per reader slot: each thread of the node that reads in place has its own slot (the main
 * thread 0, worker threads the ones the store hands out), and a decoded typed array over the store
 * adds one to its thread's counter until it is garbage-collected. The store frees a deleted object's
 * memory only when every counter is back at zero, and when a thread dies its slot is cleared in
 * every header, since its views died with it. A pin is always taken while the object's owner still
 * holds it, so it never races the free it prevents.
 *
 * When a pin ends, the object's fingerprint is checked first (write-guard.ts), while the pin still
 * keeps its memory from being reused, so a write through a view is reported naming who read it.
 */
import { int32View } from './shared-views.js';
import { claimWriteReport, guardHeaderBytes, noteReader, reportWrite, type ByteRanges } from './write-guard.js';

/** How many threads of one node can pin at once; a thread without a slot reads copies. */
export const readerSlots = 64;

/**
 * Bytes ahead of each object's data: its pin counters, then its write-guard words (a multiple of 64,
 * so data stays aligned).
 */
export const pinHeaderBytes = readerSlots * Int32Array.BYTES_PER_ELEMENT + guardHeaderBytes;

const counters = int32View;

function counterIndex(dataOffset: number, slot: number): number {
  return (dataOffset - pinHeaderBytes) / Int32Array.BYTES_PER_ELEMENT + slot;
}

/** The number of reader pins, over all slots, on the object whose data starts at `dataOffset`. */
export function readerPins(buffer: SharedArrayBuffer, dataOffset: number): number {
  const view = counters(buffer);
  let pins = 0;
  for (let slot = 0; slot < readerSlots; slot += 1) pins += Atomics.load(view, counterIndex(dataOffset, slot));
  return pins;
}

/** Zeroes the counters of a fresh object (its header may hold a freed object's bytes). */
export function resetReaderPins(buffer: SharedArrayBuffer, dataOffset: number): void {
  const view = counters(buffer);
  for (let slot = 0; slot < readerSlots; slot += 1) Atomics.store(view, counterIndex(dataOffset, slot), 0);
}

/** Zeroes one slot's counter of an object: the thread that had that slot is gone. */
export function clearReaderSlot(buffer: SharedArrayBuffer, dataOffset: number, slot: number): void {
  Atomics.store(counters(buffer), counterIndex(dataOffset, slot), 0);
}

/** This thread's slot: the main thread has 0; a worker thread is told its own at start, if any. */
let ownSlot: number | undefined = 0;
/** How reports name this thread. */
let ownName = 'the driver';

/** Sets this thread's reader slot (undefined: it has none, and reads copies) and how reports name it. */
export function setReaderSlot(slot: number | undefined, name?: string): void {
  ownSlot = slot;
  if (name !== undefined) ownName = name;
}

/** How reports name this thread: `the driver`, or `worker n1.w2`. */
export function readerName(): string {
  return ownName;
}

/** Whether this thread can pin, and so read the store in place. */
export function canPin(): boolean {
  return ownSlot !== undefined;
}

/** What a pin's end checks: which object, its byte ranges, and who read it (for the report). */
export interface PinWatch {
  readonly objectId: string;
  readonly ranges: ByteRanges;
  /** Who made the view: `task n1.d1.t3 in worker n1.w2`, or `the driver`. */
  readonly reader: string;
}

interface PinnedView {
  readonly buffer: SharedArrayBuffer;
  readonly index: number;
  readonly dataOffset: number;
  readonly watch: PinWatch | undefined;
}

const collected = new FinalizationRegistry<PinnedView>(({ buffer, index, dataOffset, watch }) => {
  // Checked before the pin ends: until then the memory cannot be handed to another object.
  if (watch !== undefined && claimWriteReport(buffer, dataOffset, watch.ranges)) {
    reportWrite(watch.objectId, `found when a view read by ${watch.reader} was collected; that reader or code it passed the view to wrote it`);
  }
  Atomics.sub(counters(buffer), index, 1);
});

/**
 * Pins the object whose data starts at `dataOffset` for as long as `view` is reachable (this thread
 * must have a slot); when the pin ends, `watch` says what to check for writes. Views made from
 * `view` afterwards (`subarray`, a new typed array over `.buffer`) do not extend the pin.
 */
export function pinWhileReachable(view: object, buffer: SharedArrayBuffer, dataOffset: number, watch?: PinWatch): void {
  if (ownSlot === undefined) throw new Error('this thread has no reader slot, so it must read copies');
  const index = counterIndex(dataOffset, ownSlot);
  Atomics.add(counters(buffer), index, 1);
  noteReader(buffer, dataOffset, ownSlot);
  collected.register(view, { buffer, index, dataOffset, watch });
}
