/**
 * The embedded node's object store as the raylet's shell keeps it: large values written into the
 * shared arena (the raylet's recipe sees only their descriptors), freed objects deleted, and garbage
 * collection asked of every thread when the store fills up. Collection matters here because both
 * kinds of hold on store memory end only when V8 collects something: an ObjectRef nothing reaches
 * (its owner then frees the object), and a view read in place (its pin then ends).
 */
import type { Delivered, MessageOf } from '../../core/protocol.js';
import { ObjectArena } from '../store/arena.js';
import { ObjectStore, ObjectStoreFull } from '../store/object-store.js';
import { collectGarbage } from './collect.js';
import { claimWriteReport, readersOf, reportWrite, sealFingerprint } from '../store/write-guard.js';
import { pinHeaderBytes } from '../store/reader-pins.js';
import { PAGE_BYTES } from '../store/arena-prefault.js';
import { isSpilledData, isStoredData, layoutRanges, storeValue } from './stored-values.js';
import type { SpilledData, StoredData, StoredLayout } from './stored-values.js';
import { SpillSpace } from '../store/spill-space.js';
import { storeFullReason } from '../../core/raylet/index.js';
import type { EncodedData } from './values.js';

/**
 * How far beyond the highest allocation the store's pages are faulted in ahead of use: none. The
 * main thread's turns of faulting in cost what the first writes would, and in a loop of large puts
 * they only slowed each lap (128 MiB ahead cost ~9 ms of each 64 MiB put+get for its first ~15
 * laps), while warm memory comes from reuse (see afterStored). The arena's pre-faulting still tracks
 * the highest allocation, which is what `prefaultedBytes` says here.
 */
const prefaultAheadBytes = 0;
/** Freed memory still pinned by views, as a share of the store, past which every thread collects garbage. */
const lingeringShareBeforeCollect = 0.125;
/** Share of the store in use past which a put has every thread collect garbage (unreachable refs free objects). */
const usedShareBeforeCollect = 0.75;
/** Garbage collections asked for because of the store are at least this far apart... */
const minCollectIntervalMs = 100;
/** ...and back off up to this far apart while they free nothing (a store kept full on purpose). */
const maxCollectIntervalMs = 10_000;
/** Values this large have the main thread collect at once when the next of their size would need fresh memory. */
const largeBytesForWarmCollect = 16 * 1024 * 1024;
/**
 * What a first write to a page costs, at least (2 to 11 us here), until a large put into memory never
 * written has measured it: the collections large puts ask for to reuse warm memory stop once they
 * have cost as much as faulting the rest of the store in would.
 */
const minFirstTouchMsPerPage = 0.002;
/** A put that does not fit waits for at most this many collections before it fails. */
const collectRoundsBeforeFull = 3;
/**
 * ...or before it is spilled, when the node has a spill space: one round frees what dropped refs and
 * views held, and a put that still does not fit goes to disk at once rather than after more rounds
 * that would free nothing (a store full of objects in use is what spilling is for).
 */
const collectRoundsBeforeSpill = 1;
/** How long a collection's released refs get to free their objects before a put tries again. */
const releaseWaitMs = 20;

/** Where a stored value's memory starts (its pin header) and ends, in bytes from the start of the store. */
function extentOf(data: StoredData): { startBytes: number; endBytes: number } {
  const { offset, body, blobs } = data.layout;
  return { startBytes: offset - pinHeaderBytes, endBytes: offset + blobs.reduce((end, [at, length]) => Math.max(end, at + length), body[0] + body[1]) };
}

/** A put request whose value arrived as bytes. */
export type PutRequest = Delivered<MessageOf<'object/put-requested'>>;

/** Where a put landed: in the shared-memory store, or in the spill space. */
export type PlacedData = StoredData | SpilledData;

/** The node's store and its collection policy. */
export class NodeStore {
  readonly store: ObjectStore;
  private collecting: Promise<void> | undefined;
  private lastCollectMs = Number.NEGATIVE_INFINITY;
  private collectIntervalMs = minCollectIntervalMs;
  /** Whether anything was deleted since the last collection began (else the next one waits longer). */
  private deletedSinceCollect = true;
  /** How many objects were deleted so far. */
  private deletedCount = 0;
  /** The highest end of any value written into the store. */
  private writtenBytes = 0;
  private closed = false;
  /** Milliseconds spent in the collections large puts asked for, to reuse warm memory. */
  private warmCollectMs = 0;
  /** ...of which since a large put last wrote memory never written before (warm memory grew then). */
  private warmCollectMsSinceGrowth = 0;
  /** What a first write to a page of the store costs, as large puts into fresh memory measured it. */
  private firstTouchMsPerPage = minFirstTouchMsPerPage;
  /** What a copy into warm memory costs per page, as the last large put into warm memory measured it. */
  private warmCopyMsPerPage: number | undefined;
  /** How many collections ran (for tests and diagnostics). */
  collections = 0;
  /** How write reports name the thread of each reader slot (0 is the main thread). */
  private readonly readerNames = new Map<number, string>([[0, 'the driver']]);

  /**
   * @param collectInWorkers has every worker thread collect garbage; resolves when they have.
   * @param nowMs the clock that spaces collections out (tests pass their own).
   */
  /**
   * @param spill where puts go that do not fit in memory; without one they fail.
   */
  constructor(
    capacityBytes: number,
    private readonly collectInWorkers: () => Promise<unknown>,
    private readonly nowMs: () => number = () => performance.now(),
    readonly spill?: SpillSpace,
  ) {
    // No faulting in of the whole store at start (that costs the main thread about a second per
    // 512 MiB here): memory is faulted in by its first writes, and once touched it is reused.
    this.store = new ObjectStore(new ObjectArena({ capacityBytes, prefault: 'background', prefaultAheadBytes }));
  }

  /** Reports name the thread with reader slot `slot` so. */
  nameReader(slot: number, name: string): void {
    this.readerNames.set(slot, name);
  }

  /**
   * Writes a value into the store at once, in the caller's turn (a put in the main thread), and
   * returns its descriptor; undefined when it does not fit now (the caller then captures a copy and
   * goes the way of `put`, which collects garbage and tries again).
   */
  storeNow(objectId: string, data: EncodedData): StoredData | undefined {
    const stored = this.storeTimed(objectId, data);
    if (stored !== undefined) this.afterStored(stored);
    return stored;
  }

  /** Writes a value into the store, learning from a large one what a copy and a first write cost. */
  private storeTimed(objectId: string, data: EncodedData): StoredData | undefined {
    const warmBytes = this.warmBytes();
    const startedMs = this.nowMs();
    const stored = storeValue(this.store, objectId, data);
    if (stored !== undefined) this.learnFromLargePut(stored, this.nowMs() - startedMs, warmBytes);
    return stored;
  }

  /**
   * What the copy of a large value cost per page: into warm memory, the copy alone; into memory
   * never written (`warmBytes` was the end of warm memory before it), the first writes besides. The
   * first-write cost was a fixed 2 us a page, which is right for an idle machine with a small heap;
   * but where a collection costs more (a large heap, a loaded machine) a first write does too, and
   * with the fixed figure two collections in a process that had done other work used up the whole
   * budget, so that every later put of a put+get loop wrote fresh memory (~4 times slower). A value
   * written mostly into fresh memory also grew warm memory by about its size, which starts the count
   * of collections since warm memory last grew over (see `afterStored`).
   */
  private learnFromLargePut(data: StoredData, elapsedMs: number, warmBytes: number): void {
    const { startBytes, endBytes } = extentOf(data);
    const sizeBytes = endBytes - startBytes;
    if (sizeBytes < largeBytesForWarmCollect) return;
    const pages = sizeBytes / PAGE_BYTES;
    const coldBytes = Math.max(0, endBytes - Math.max(startBytes, warmBytes));
    if (coldBytes === 0) {
      this.warmCopyMsPerPage = elapsedMs / pages;
      return;
    }
    // Only a copy that went mostly into fresh memory says much about a first write.
    if (coldBytes < sizeBytes / 2) return;
    this.warmCollectMsSinceGrowth = 0;
    const measured = (elapsedMs - (this.warmCopyMsPerPage ?? 0) * pages) / (coldBytes / PAGE_BYTES);
    this.firstTouchMsPerPage = Math.max(minFirstTouchMsPerPage, measured);
  }

  /** The end of the memory written at least once: the allocator hands out low addresses first, so all below it is warm. */
  private warmBytes(): number {
    return Math.max(this.writtenBytes, this.store.arena.prefaultedBytes);
  }

  /**
   * A put for the raylet, as its shell receives it: a value already in the store (a descriptor, or a
   * copy of a put stored before) goes to `apply` as its descriptor; bytes go into the store once
   * first, or to `rejected` when they cannot be placed. The raylet's recipe and log see descriptors only.
   */
  receivePut(request: PutRequest, apply: (data: PlacedData) => boolean, rejected: (reason: string) => void): void {
    if (isStoredData(request.data) || isSpilledData(request.data)) {
      this.landPut(request, request.data, apply);
      return;
    }
    const present = this.store.get(request.objectId);
    if (present !== undefined) {
      this.landPut(request, { storedObjectId: request.objectId, layout: present.metadata as StoredLayout }, apply);
      return;
    }
    const spilled = this.spill?.get(request.objectId);
    if (spilled !== undefined) {
      this.landPut(request, spilled, apply);
      return;
    }
    this.put(request, (data) => this.landPut(request, data, apply), rejected);
  }

  /**
   * Hands a stored put to the raylet (`apply` says whether its recipe kept it). Memory the recipe
   * turned away (its own count says the store is full, or the owner is dead) goes back to the store,
   * or it would leak.
   */
  landPut(request: PutRequest, data: PlacedData, apply: (data: PlacedData) => boolean): void {
    if (apply(data)) return;
    if (isSpilledData(data)) {
      if (this.spill?.get(request.objectId) === data) this.spill.delete(request.objectId);
      return;
    }
    const entry = this.store.get(request.objectId);
    if (entry !== undefined && entry.offset === data.layout.offset) this.delete([request.objectId]);
  }

  /**
   * Writes the value of `request` into the store and hands its descriptor to `stored`; if it does not
   * fit, collects garbage everywhere and tries again a few times, then writes it to the spill space,
   * before `rejected` gets the reason (naming both limits).
   */
  put(request: PutRequest, stored: (data: PlacedData) => void, rejected: (reason: string) => void): void {
    const data = this.storeTimed(request.objectId, request.data as EncodedData);
    if (data === undefined) {
      // Refs and views that nothing reaches any more may be all that stands in the way.
      void this.putAfterCollecting(request, stored, rejected);
      return;
    }
    stored(data);
    this.afterStored(data);
  }

  /** Whether the store is full enough, or pinned enough by views, to collect garbage for. */
  private crowded(): boolean {
    return this.store.usedBytes > this.store.capacityBytes * usedShareBeforeCollect || this.store.lingeringBytes > this.store.capacityBytes * lingeringShareBeforeCollect;
  }

  /**
   * Collects garbage soon when the store is filling up, and at once in the main thread when the next
   * value as large as this one would have to go into memory never written before: a first write costs
   * ~2 to 11 us a page here (30 to 180 ms for 64 MiB) against ~8 ms for the main thread's collection
   * of a small heap, and it is dropped refs and views that keep the warm memory of earlier objects
   * from being reused. Every such put collects, without waiting for a round under way and whether or
   * not the last one freed anything: the value it stores was still referenced during the last round,
   * and may be dropped by the next put (a loop of put and get of one large array frees each lap's
   * object at the next lap's put, and so keeps reusing two or three warm ranges). Only values of
   * `largeBytesForWarmCollect` or more cause them, only until every page of the store has been
   * written once, and only as long as they have cost less in all than a first write to the pages
   * still unwritten would (a loop that goes on for long then writes the rest of the store once, and
   * needs no more collections: a collection is paid again and again, a first write once). And once
   * the collections since warm memory last grew have cost as much as a first write of one more value
   * of this size would, the next one goes into fresh memory instead (and warm memory grows by it):
   * a loop that reuses k warm ranges collects at every (k-2)th put, since the value of the put before
   * is still held (its view is still in the loop's variable), so three ranges collected at every put
   * (~7 ms of a ~15 ms lap of a 64 MiB put+get), four at every other.
   *
   * Only the main thread collects: it is most often the driver's own dropped refs and views that hold
   * the memory, and a full collection costs each idle worker ~20 ms here.
   */
  private afterStored(data: StoredData): void {
    const { startBytes, endBytes } = extentOf(data);
    this.writtenBytes = Math.max(this.writtenBytes, endBytes);
    const warmBytes = this.warmBytes();
    const sizeBytes = endBytes - startBytes;
    const nextIsCold = warmBytes < this.store.capacityBytes && warmBytes - this.store.usedBytes < sizeBytes;
    const coldPages = (this.store.capacityBytes - warmBytes) / PAGE_BYTES;
    const growthMs = (sizeBytes / PAGE_BYTES) * this.firstTouchMsPerPage;
    if (sizeBytes >= largeBytesForWarmCollect && nextIsCold && this.warmCollectMs < coldPages * this.firstTouchMsPerPage && this.warmCollectMsSinceGrowth < growthMs) this.collectMainNow();
    if (this.store.usedBytes > this.store.capacityBytes * usedShareBeforeCollect) this.collectSoon();
  }

  /**
   * Collects garbage in the main thread now, and frees what that unpinned once the released refs
   * have reached the store (they go through the owner and the raylet). Not a round: a round under way
   * goes on. It counts as the last collection for the spacing of rounds: the refs it released often
   * reach the store before the views' pins end, and a round asked for by that short linger would
   * only collect again what this one just found.
   */
  private collectMainNow(): void {
    const startedMs = this.nowMs();
    this.lastCollectMs = startedMs;
    this.collections += 1;
    collectGarbage();
    const elapsedMs = this.nowMs() - startedMs;
    this.warmCollectMs += elapsedMs;
    this.warmCollectMsSinceGrowth += elapsedMs;
    setTimeout(() => {
      if (!this.closed) this.store.sweep();
    }, releaseWaitMs).unref();
  }

  private async putAfterCollecting(request: PutRequest, stored: (data: PlacedData) => void, rejected: (reason: string) => void): Promise<void> {
    const spill = this.spill !== undefined && this.spill.capacityBytes > 0 ? this.spill : undefined;
    const rounds = spill === undefined ? collectRoundsBeforeFull : collectRoundsBeforeSpill;
    for (let round = 0; round < rounds; round += 1) {
      await this.collectEverywhere();
      // Collected ObjectRefs release their objects through their owners and the raylet: give that a moment.
      await new Promise((resolve) => setTimeout(resolve, releaseWaitMs));
      // A copy of the same put that arrived meanwhile may have stored it already.
      if (this.closed || this.store.get(request.objectId) !== undefined) return;
      this.store.sweep();
      const data = storeValue(this.store, request.objectId, request.data as EncodedData);
      if (data !== undefined) {
        stored(data);
        return;
      }
    }
    if (spill === undefined) {
      rejected(`object store full: need ${request.sizeBytes} bytes, ${this.store.usedBytes} of ${this.store.capacityBytes} in use; free objects or raise objectStoreMemory`);
      return;
    }
    // A copy of the same put that arrived meanwhile may have spilled it already.
    const spilled = spill.write(request.objectId, request.data as EncodedData);
    if (spilled === undefined) {
      rejected(
        storeFullReason({
          sizeBytes: request.sizeBytes,
          usedBytes: this.store.usedBytes,
          capacityBytes: this.store.capacityBytes,
          spilledBytes: spill.usedBytes,
          spillCapacityBytes: spill.capacityBytes,
        }),
      );
      return;
    }
    stored(spilled);
  }

  /**
   * Reserves `sizeBytes` under `objectId` for bytes that arrive later (a copy pulled from another
   * process), collecting garbage and trying again as a put does when the store is full; resolves with
   * the reservation's offset, or undefined when it still does not fit. `seal` makes it readable.
   */
  async reserve(objectId: string, sizeBytes: number): Promise<number | undefined> {
    for (let round = 0; ; round += 1) {
      try {
        return this.store.create(objectId, sizeBytes).offset;
      } catch (error) {
        if (!(error instanceof ObjectStoreFull)) throw error;
      }
      if (round >= collectRoundsBeforeFull || this.closed) return undefined;
      await this.collectEverywhere();
      await new Promise((resolve) => setTimeout(resolve, releaseWaitMs));
      if (this.closed) return undefined;
      this.store.sweep();
    }
  }

  /** Seals the bytes written into a reservation at `offset`, laid out as `layout` (at offset 0), and returns its descriptor. */
  seal(objectId: string, offset: number, layout: StoredLayout): StoredData {
    const placed: StoredLayout = { offset, body: layout.body, blobs: layout.blobs };
    sealFingerprint(this.store.buffer, offset, layoutRanges(placed));
    this.store.seal(objectId, placed);
    if (this.store.usedBytes > this.store.capacityBytes * usedShareBeforeCollect) this.collectSoon();
    return { storedObjectId: objectId, layout: placed };
  }

  /**
   * Deletes freed objects (their memory waits for views still pinning it), checking each for writes
   * that no view's end has reported yet (say, through a `subarray` that outlived its view).
   */
  delete(objectIds: readonly string[]): void {
    for (const objectId of objectIds) {
      // A spilled object is in no memory of the store: its file goes, and nothing waits for views.
      if (this.spill?.delete(objectId) === true) continue;
      this.checkWrites(objectId);
      if (this.store.delete(objectId)) {
        this.deletedSinceCollect = true;
        this.deletedCount += 1;
      }
    }
    if (this.store.lingeringBytes > this.store.capacityBytes * lingeringShareBeforeCollect) this.collectSoon();
  }

  private checkWrites(objectId: string): void {
    const entry = this.store.get(objectId);
    if (entry === undefined || !claimWriteReport(this.store.buffer, entry.offset, layoutRanges(entry.metadata as StoredLayout))) return;
    const readers = readersOf(this.store.buffer, entry.offset).map((slot) => this.readerNames.get(slot) ?? `reader slot ${slot}`);
    reportWrite(objectId, `found when it was freed; ${readers.length === 0 ? 'no thread read it in place, so the store itself was written' : `read in place by ${readers.join(', ')}`}`);
  }

  /**
   * Collects garbage everywhere unless that was done a moment ago. While collections free nothing
   * (the store is full of objects that are really in use) they space out, up to 10 s apart, since a
   * full collection of a large heap is not free; the first one that frees something resets that.
   */
  private collectSoon(): void {
    if (this.nowMs() - this.lastCollectMs < this.collectIntervalMs) return;
    this.collectIntervalMs = this.deletedSinceCollect ? minCollectIntervalMs : Math.min(this.collectIntervalMs * 2, maxCollectIntervalMs);
    this.deletedSinceCollect = false;
    void this.collectEverywhere(true);
  }

  /**
   * Has the threads of the node collect garbage, so that refs nothing reaches release their objects
   * and views nothing reaches end their pins, then frees what they pinned. One round at a time;
   * callers during a round share it. With `mainFirst`, the main thread collects alone first, and
   * the workers are asked only if that deleted nothing or left the store crowded: most often it is
   * the driver's own dropped refs and views that hold the store, and a full collection costs each
   * idle worker ~20 ms here, more than the copy of a 64 MiB put.
   */
  private collectEverywhere(mainFirst = false): Promise<void> {
    this.collecting ??= (async () => {
      this.lastCollectMs = this.nowMs();
      this.collections += 1;
      collectGarbage();
      if (mainFirst) {
        const deletedBefore = this.deletedCount;
        // Collected refs release their objects through the owner and the raylet: give that a moment.
        await new Promise((resolve) => setTimeout(resolve, releaseWaitMs));
        this.store.sweep();
        if (this.deletedCount > deletedBefore && !this.crowded()) return;
      }
      await this.collectInWorkers();
      // Finalization callbacks run as tasks of their own after the collection.
      await new Promise((resolve) => setTimeout(resolve, 5));
      this.store.sweep();
    })().finally(() => {
      this.collecting = undefined;
    });
    return this.collecting;
  }

  /** Resolves when the collection under way, if any, is over. */
  async collected(): Promise<void> {
    await this.collecting;
  }

  /** Stops its timers, releases the arena and removes the spill files. */
  close(): void {
    this.closed = true;
    this.spill?.close();
    this.store.close();
    this.store.arena.close();
  }
}
