/**
 * Write detection for objects in the node's store. Views that `get` hands out over the shared store
 * are read-only by contract, but JavaScript cannot freeze a typed array, so a write through one would
 * silently change what every later reader sees. Instead, each object's header holds a fingerprint of
 * its bytes taken when it is stored; it is checked again when a view's pin ends and when the object is
 * freed, in whichever thread that happens, and a difference is reported once per object.
 *
 * Two strengths. The default samples: every word of the first and last 64 bytes of the body and of
 * each blob (where a stray `view[0] = x` lands), plus one word in every KiB at a per-object phase,
 * but at most 4,096 such words per range (one per 16 KiB of a 64 MiB array), so a check costs a
 * fraction of a millisecond whatever the size: each sampled word is a cache miss, and one per KiB of
 * 64 MiB took 2 to 3.5 ms per check here, three checks per object (at the put, when the view's pin
 * ends and when the object is freed), against 10 to 30 ms for a plain copy of 64 MiB. It catches a
 * write elsewhere only by chance. With `TSRAY_CHECK_WRITES=1` every byte is covered, at about 25 to
 * 30 ms per 64 MiB and check.
 *
 * The guard words sit in the 64 bytes just before the object's data (the reader-pin counters precede
 * them): mode, phase, two hash lanes, whether a write was reported, and a bitmask of the reader slots
 * that ever viewed the object in place.
 */
import { int32View, uint8View } from './shared-views.js';

/** Bytes of guard words just before each object's data (a multiple of 64, so data stays aligned). */
export const guardHeaderBytes = 64;

/** How much of an object the fingerprint covers. */
export type WriteCheckMode = 'sampled' | 'full';

/** The byte ranges of one object, relative to its data offset: [start, length] each. */
export type ByteRanges = readonly (readonly [number, number])[];

const modeCodes: Record<WriteCheckMode, number> = { sampled: 1, full: 2 };
const word = { mode: 0, phase: 1, hash1: 2, hash2: 3, reported: 4, readersLow: 5, readersHigh: 6 } as const;
/** Words of the first and last 64 bytes of each range that the sampled mode always covers. */
const edgeWords = 16;
/** At least this many words between sampled words (1 KiB: four per 4 KiB page)... */
const minStrideWords = 256;
/** ...and at most this many sampled words per range besides its edges, however long the range. */
const maxSampledWords = 4096;
/** Phases are drawn below this; a range's samples start `phase % stride` words past its first edge. */
const phaseLimit = 2 ** 30;

const words = int32View;
const bytes = uint8View;

function guardIndex(dataOffset: number, field: number): number {
  return (dataOffset - guardHeaderBytes) / Int32Array.BYTES_PER_ELEMENT + field;
}

/** The mode new objects are stored with: `TSRAY_CHECK_WRITES=1` covers every byte. */
export function writeCheckMode(): WriteCheckMode {
  return process.env.TSRAY_CHECK_WRITES === '1' ? 'full' : 'sampled';
}

/** The two 32-bit hash lanes of the object's ranges (data offsets are multiples of 64). */
function fingerprint(buffer: SharedArrayBuffer, dataOffset: number, ranges: ByteRanges, full: boolean, phase: number): [number, number] {
  const w = words(buffer);
  const b = bytes(buffer);
  let h1 = 0x811c9dc5 ^ phase;
  let h2 = 0x9e3779b9;
  for (const [at, length] of ranges) {
    const start = dataOffset + at;
    const first = start >> 2;
    const end = first + (length >> 2);
    if (full || end - first <= 2 * edgeWords + minStrideWords) {
      for (let i = first; i < end; i += 1) {
        const value = w[i] as number;
        h1 = Math.imul(h1 ^ value, 0x01000193);
        h2 = Math.imul(h2 + value, 0x5bd1e995) ^ (h2 >>> 15);
      }
    } else {
      for (let i = first; i < first + edgeWords; i += 1) {
        const value = w[i] as number;
        h1 = Math.imul(h1 ^ value, 0x01000193);
        h2 = Math.imul(h2 + value, 0x5bd1e995) ^ (h2 >>> 15);
      }
      const stride = Math.max(minStrideWords, Math.ceil((end - first) / maxSampledWords));
      for (let i = first + edgeWords + (phase % stride); i < end - edgeWords; i += stride) {
        const value = w[i] as number;
        h1 = Math.imul(h1 ^ value, 0x01000193);
        h2 = Math.imul(h2 + value, 0x5bd1e995) ^ (h2 >>> 15);
      }
      for (let i = end - edgeWords; i < end; i += 1) {
        const value = w[i] as number;
        h1 = Math.imul(h1 ^ value, 0x01000193);
        h2 = Math.imul(h2 + value, 0x5bd1e995) ^ (h2 >>> 15);
      }
    }
    // The bytes past the last whole word.
    for (let i = start + (length & ~3); i < start + length; i += 1) h1 = Math.imul(h1 ^ (b[i] as number), 0x01000193);
  }
  return [h1 | 0, h2 | 0];
}

/**
 * Takes the fingerprint of a freshly written object (before anyone can read it) and clears its
 * report flag and reader mask.
 */
export function sealFingerprint(buffer: SharedArrayBuffer, dataOffset: number, ranges: ByteRanges, mode: WriteCheckMode = writeCheckMode()): void {
  const w = words(buffer);
  const phase = Math.floor(Math.random() * phaseLimit);
  const [h1, h2] = fingerprint(buffer, dataOffset, ranges, mode === 'full', phase);
  Atomics.store(w, guardIndex(dataOffset, word.phase), phase);
  Atomics.store(w, guardIndex(dataOffset, word.hash1), h1);
  Atomics.store(w, guardIndex(dataOffset, word.hash2), h2);
  Atomics.store(w, guardIndex(dataOffset, word.reported), 0);
  Atomics.store(w, guardIndex(dataOffset, word.readersLow), 0);
  Atomics.store(w, guardIndex(dataOffset, word.readersHigh), 0);
  Atomics.store(w, guardIndex(dataOffset, word.mode), modeCodes[mode]);
}

/** Marks the header of a fresh allocation as not fingerprinted yet (it may hold a freed object's words). */
export function clearFingerprint(buffer: SharedArrayBuffer, dataOffset: number): void {
  Atomics.store(words(buffer), guardIndex(dataOffset, word.mode), 0);
}

/**
 * Whether the object was written since it was stored. True only for the first caller to find the
 * change, in any thread, so each write is reported once; false when unchanged or never fingerprinted.
 */
export function claimWriteReport(buffer: SharedArrayBuffer, dataOffset: number, ranges: ByteRanges): boolean {
  const w = words(buffer);
  const mode = Atomics.load(w, guardIndex(dataOffset, word.mode));
  if (mode === 0 || Atomics.load(w, guardIndex(dataOffset, word.reported)) !== 0) return false;
  const phase = Atomics.load(w, guardIndex(dataOffset, word.phase));
  const [h1, h2] = fingerprint(buffer, dataOffset, ranges, mode === modeCodes.full, phase);
  if (h1 === Atomics.load(w, guardIndex(dataOffset, word.hash1)) && h2 === Atomics.load(w, guardIndex(dataOffset, word.hash2))) return false;
  return Atomics.compareExchange(w, guardIndex(dataOffset, word.reported), 0, 1) === 0;
}

/** Records that the thread with reader slot `slot` viewed the object in place. */
export function noteReader(buffer: SharedArrayBuffer, dataOffset: number, slot: number): void {
  Atomics.or(words(buffer), guardIndex(dataOffset, slot < 32 ? word.readersLow : word.readersHigh), 1 << (slot % 32));
}

/** The reader slots that ever viewed the object in place. */
export function readersOf(buffer: SharedArrayBuffer, dataOffset: number): number[] {
  const w = words(buffer);
  const low = Atomics.load(w, guardIndex(dataOffset, word.readersLow));
  const high = Atomics.load(w, guardIndex(dataOffset, word.readersHigh));
  const slots: number[] = [];
  for (let slot = 0; slot < 64; slot += 1) if (((slot < 32 ? low : high) >>> (slot % 32)) & 1) slots.push(slot);
  return slots;
}

/** Says loudly, on one stderr line, that a shared object was written; never throws. */
export function reportWrite(objectId: string, detail: string): void {
  const line = `tsray: object ${objectId} was written after it was stored (${detail}); views from get() share the store's memory and are read-only, use get(ref, { copy: true }) for a writable copy\n`;
  try {
    process.stderr.write(line);
  } catch {
    // A closed stderr must not turn a report into a crash.
  }
}
