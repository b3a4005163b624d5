/**
 * The append-only event log of one component instance, in its own LMDB environment. The shell stamps
 * each input and appends it here before applying it; replay reads it back from the last snapshot.
 *
 * Group commit: `append` only encodes the event and buffers it. In the check phase of the event loop
 * (setImmediate) the buffered records are handed to lmdb-js as one batch; lmdb-js writes them on its
 * own writer thread in one transaction, so the shell never waits per event. `committed(seq)` is how a
 * caller (the GCS, before it replies) waits until the batch holding `seq` is on disk.
 *
 * Bound: at most `maxBufferedEvents` events (64k) or `maxBufferedBytes` (16 MiB) wait in the buffer.
 * When an append goes over, the buffer is handed to lmdb-js at once, whose writer thread starts the
 * transaction while the caller keeps appending; past 300k outstanding writes lmdb-js itself blocks the
 * caller (Atomics.wait) until its writer catches up. That is the backpressure: a loop that appends
 * millions of events in one turn is slowed to the disk's pace instead of growing memory.
 *
 * Durability: with `durable: true` (the default) `committed` waits until the batch is flushed to disk
 * (fsync), so it survives power loss as well as process death. With `durable: false` (noSync, for
 * owner and raylet logs that die with their process) `committed` resolves as soon as the transaction is
 * committed: it survives the process dying, since the pages are in the OS page cache, but not the
 * machine crashing.
 */
import { asBinary, open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import { join } from 'node:path';
import type { Address } from '../../core/ids.js';
import type { ComponentKind } from '../../core/trace/format.js';
import { RecordCodec, StoredBatch, type CorruptRecord, type LoggedEvent, type LoggedSnapshot } from './event-log-codec.js';
import { claimLogDir, logDataFileName, logDisplayName } from './event-log-dir.js';
import { RecordBuffer } from './record-buffer.js';

export type { CorruptRecord, LoggedEvent, LoggedSnapshot } from './event-log-codec.js';
export { logDirFor, logDirName, openSessionLogs, type SessionLog } from './event-log-dir.js';

/** How `EventLog.open` opens a log. */
export interface EventLogOptions {
  readonly component: ComponentKind;
  /** The component instance: `gcs`, `raylet:n1`, `worker:n1.w3`. */
  readonly address: Address;
  /** The initial LMDB map size; lmdb-js grows the map when the log outgrows it. */
  readonly mapSizeBytes?: number;
  /** Whether `committed` waits for fsync (the default) or only for the commit (noSync). */
  readonly durable?: boolean;
  /**
   * When appends are handed to lmdb-js: in the check phase (`immediate`, the default), which collects
   * the appends of every callback of one event-loop pass into one hand-off, or at the end of the
   * current callback's microtasks (`microtask`). Both commit one event in about the same time, but
   * with 100 callbacks of 10 appends per pass `immediate` measured 380-550k events/s against
   * 200-430k, since every hand-off costs a batch and a commit promise. `lagging` hands over at most
   * every `lagMs`: for logs nobody waits on (owner and raylet logs), where a component that applies
   * one event per turn would otherwise pay a whole transaction per event.
   */
  readonly batching?: 'microtask' | 'immediate' | 'lagging';
  /** With `lagging`, how long appends may wait before they are handed over (default 20 ms). */
  readonly lagMs?: number;
  /**
   * Whether a hand-off writes its records at once, in one synchronous transaction on this thread
   * (appending, as seqs only grow), instead of through lmdb-js's writer thread; and records encoded
   * elsewhere (`appendEncoded`, which come in batches already) are written so as they come. For a
   * log of the log thread, which does nothing else: it measured 0.6 µs of CPU a record against 1.1 to
   * 1.5 µs, and a tiny task writes four. Only with `durable: false` (the sync commit does not wait
   * for fsync).
   */
  readonly syncWrites?: boolean;
  /** The most events that wait in the buffer before it is handed over early (default 65,536). */
  readonly maxBufferedEvents?: number;
  /** The most encoded bytes that wait in the buffer before it is handed over early (default 16 MiB). */
  readonly maxBufferedBytes?: number;
}

/** What a component's shell needs of its log: appending stamped events, and waiting for a commit. */
export type ComponentLog = Pick<EventLog, 'append' | 'lastSeq' | 'committed'> & {
  /**
   * Appends a message that came packed from another thread as its packed fields (`fields` from
   * `start`, with `templates`), when the log stores such records (see `ForwardedLog.appendPacked`).
   */
  readonly appendPacked?: (atMs: number, event: unknown, parent: number | undefined, fields: readonly unknown[], start: number, templates: readonly unknown[][]) => number;
};

/** The snapshots kept: the newest, and one before it in case the newest is damaged. */
const snapshotsKept = 2;
const defaultMaxBufferedEvents = 65_536;
const defaultMaxBufferedBytes = 16 * 1024 * 1024;
const defaultLagMs = 20;
// Beyond this seq, keys stop being exact integers; nothing real gets there.
const lastPossibleSeq = Number.MAX_SAFE_INTEGER;

/** A lmdb-js commit promise, which carries a flush promise when `separateFlushed` is on. */
type CommitPromise = Promise<boolean> & { flushed?: Promise<unknown> };

/** Appends that go to disk in one transaction, and the promise their callers wait on. */
class Batch {
  lastSeq = 0;
  settled = false;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Nobody may be waiting on this batch; its failure still reaches every later caller via `failure`.
    this.done.catch(() => undefined);
  }
}

/** An append-only, group-committed event log of one component instance. */
export class EventLog {
  /** The component kind whose reducer this log feeds. */
  readonly component: ComponentKind;
  /** The component instance that writes this log. */
  readonly address: Address;
  /** The log's folder. */
  readonly dir: string;

  private readonly name: string;
  private nextFreeSeq: number;
  private committedThrough: number;
  private buffer = new RecordBuffer();
  private bufferFirstSeq = 0;
  private bufferedBytes = 0;
  private pending: Batch | undefined;
  private readonly inflight: Batch[] = [];
  private scheduled = false;
  private immediate: NodeJS.Immediate | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  /** The batch `recordAt` last found a record in: the records a delta is read against are mostly near each other. */
  private lastLookedUp: { readonly key: number; readonly value: StoredBatch } | undefined;
  private readonly handOffNow = (): void => {
    this.scheduled = false;
    this.immediate = undefined;
    if (this.lagTimer !== undefined) clearTimeout(this.lagTimer);
    this.lagTimer = undefined;
    this.handOff();
  };

  private constructor(
    private readonly env: RootDatabase,
    private readonly events: Database<unknown, number>,
    private readonly snapshots: Database<unknown, number>,
    private readonly hashes: Database<unknown, number>,
    private readonly codec: RecordCodec,
    private readonly settings: { durable: boolean; batching: 'microtask' | 'immediate' | 'lagging'; syncWrites: boolean; lagMs: number; maxEvents: number; maxBytes: number },
    identity: { address: Address; component: ComponentKind; dir: string },
  ) {
    this.address = identity.address;
    this.component = identity.component;
    this.dir = identity.dir;
    this.name = codec.name;
    let last = 0;
    // A batch value (format 4) ends at its first seq plus its records.
    for (const { key, value } of events.getRange({ reverse: true, limit: 1 })) last = value instanceof StoredBatch ? key + value.length - 1 : key;
    this.nextFreeSeq = last + 1;
    this.committedThrough = last;
  }

  /**
   * Opens (creating if need be) the log in `dir`, continuing after the last event on disk. Without
   * options the folder must already hold a log, which is opened to be read (or appended to) as its
   * owner left it.
   *
   * @throws Error when `dir` is another component's log, or no log and no options are given.
   */
  static open(dir: string, options?: EventLogOptions): EventLog {
    const identity = claimLogDir(dir, options === undefined ? undefined : { component: options.component, address: options.address });
    const durable = options?.durable ?? true;
    const codec = new RecordCodec(logDisplayName(dir));
    const env = open<unknown, number>({
      // An explicit file name, because lmdb-js takes a path with a `.` in it (worker-n1.w3) for a file.
      path: join(dir, logDataFileName),
      noSubdir: true,
      encoder: codec.lmdbEncoder,
      noSync: !durable,
      separateFlushed: true,
      maxDbs: 4,
      ...(options?.mapSizeBytes === undefined ? {} : { mapSize: options.mapSizeBytes }),
    });
    // A named database inherits the root's encoding but not its encoder, so each is given it.
    const dbOptions = { encoder: codec.lmdbEncoder } as DatabaseOptions;
    const events = env.openDB<unknown, number>('events', dbOptions);
    const snapshots = env.openDB<unknown, number>('snapshots', dbOptions);
    const hashes = env.openDB<unknown, number>('hashes', dbOptions);
    const settings = {
      durable,
      batching: options?.batching ?? 'immediate',
      syncWrites: options?.syncWrites === true && !durable,
      lagMs: options?.lagMs ?? defaultLagMs,
      maxEvents: options?.maxBufferedEvents ?? defaultMaxBufferedEvents,
      maxBytes: options?.maxBufferedBytes ?? defaultMaxBufferedBytes,
    };
    return new EventLog(env, events, snapshots, hashes, codec, settings, identity);
  }

  /** The seq of the last appended event (committed or not); 0 for an empty log. */
  get lastSeq(): number {
    return this.nextFreeSeq - 1;
  }

  /** Every event up to this seq is committed (durable, for a durable log). */
  get committedSeq(): number {
    return this.committedThrough;
  }

  /**
   * Stamps `event` with the next seq and buffers it for this turn's commit. Synchronous: the event is
   * encoded now, so later changes to the object do not reach the log.
   *
   * @throws TypeError when `atMs` or `parent` is not a number of the right kind.
   * @throws Error when the event holds a value MessagePack cannot carry (no seq is used up), when the
   *   log is closed, or when an earlier commit failed.
   */
  append(atMs: number, event: unknown, parent?: number): number {
    this.checkWritable();
    if (!Number.isFinite(atMs)) throw new TypeError(`an event's time must be a finite number of ms, not ${String(atMs)}`);
    if (parent !== undefined && !(Number.isInteger(parent) && parent >= 0)) {
      throw new TypeError(`an event's parent must be a seq (an integer from 0), not ${String(parent)}`);
    }
    const seq = this.nextFreeSeq;
    const bytes = this.codec.encodeEvent(seq, atMs, parent, event);
    this.nextFreeSeq = seq + 1;
    if (this.buffer.length === 0) this.bufferFirstSeq = seq;
    this.buffer.push(bytes);
    this.bufferedBytes += bytes.length;
    const batch = (this.pending ??= new Batch());
    batch.lastSeq = seq;
    if (this.buffer.length >= this.settings.maxEvents || this.bufferedBytes >= this.settings.maxBytes) this.handOff();
    else if (!this.scheduled) this.schedule();
    return seq;
  }

  /**
   * Appends records another thread encoded (see forwarded-log.ts), which must continue this log
   * without a gap: `firstSeq` is the seq of the first. Records this log already has (a repeated
   * delivery) are skipped; a gap is an error naming it.
   */
  appendEncoded(firstSeq: number, records: readonly Uint8Array[]): void {
    this.checkWritable();
    if (this.settings.syncWrites) {
      this.writeEncodedSync(firstSeq, records);
      return;
    }
    let seq = firstSeq;
    for (const record of records) {
      if (seq < this.nextFreeSeq) {
        seq += 1;
        continue;
      }
      if (seq > this.nextFreeSeq) throw new RangeError(`${this.name} got record ${seq} while it waits for ${this.nextFreeSeq}: records were lost on their way`);
      this.nextFreeSeq = seq + 1;
      if (this.buffer.length === 0) this.bufferFirstSeq = seq;
      this.buffer.push(record);
      this.bufferedBytes += record.byteLength;
      const batch = (this.pending ??= new Batch());
      batch.lastSeq = seq;
      seq += 1;
    }
    if (this.buffer.length >= this.settings.maxEvents || this.bufferedBytes >= this.settings.maxBytes) this.handOff();
    else if (this.pending !== undefined && !this.scheduled) this.schedule();
  }

  /**
   * Appends `count` records another thread encoded and laid out as one stored batch (format 4, see
   * `LogRecords.bytes` in forwarded-log.ts), whose first record is `firstSeq`. A log with `syncWrites`
   * that continues exactly there stores `value` as it is, in one put; otherwise (a repeated delivery,
   * or a log that buffers) the batch is taken apart and appended as `appendEncoded` does.
   */
  appendStoredBatch(firstSeq: number, value: Uint8Array, count: number): void {
    if (count === 0) return;
    this.checkWritable();
    if (!this.settings.syncWrites || firstSeq !== this.nextFreeSeq) {
      const batch = StoredBatch.decode(value);
      if (!(batch instanceof StoredBatch) || batch.length !== count || batch.firstSeq !== firstSeq) throw new Error(`${this.name} got a batch of ${count} records from ${firstSeq} that is damaged`);
      this.appendEncoded(firstSeq, Array.from({ length: count }, (_, index) => batch.record(index)));
      return;
    }
    this.handOff();
    try {
      this.events.putSync(firstSeq, asBinary(value), { append: true });
    } catch (error) {
      this.fail(error);
      throw this.failure ?? error;
    }
    this.nextFreeSeq = firstSeq + count;
    this.committedThrough = this.nextFreeSeq - 1;
  }

  /**
   * `appendEncoded` for a log with `syncWrites`: the records are written at once, without waiting in
   * the buffer (they come in batches already), after what `append` buffered, as one value under the
   * seq of the first (format 4): one put a batch rather than one a record, which was most of the log
   * thread's cost per record.
   */
  private writeEncodedSync(firstSeq: number, records: readonly Uint8Array[]): void {
    this.handOff();
    // Records this log holds already (sent again) are skipped.
    const skipped = Math.max(0, this.nextFreeSeq - firstSeq);
    if (skipped >= records.length) return;
    const first = firstSeq + skipped;
    if (first > this.nextFreeSeq) throw new RangeError(`${this.name} got record ${first} while it waits for ${this.nextFreeSeq}: records were lost on their way`);
    try {
      this.events.putSync(first, asBinary(StoredBatch.encode(first, skipped === 0 ? records : records.slice(skipped))), { append: true });
    } catch (error) {
      this.fail(error);
      throw this.failure ?? error;
    }
    this.nextFreeSeq = firstSeq + records.length;
    this.committedThrough = this.nextFreeSeq - 1;
  }

  /**
   * Resolves once the event `seq` is committed (and flushed, for a durable log); at once when it
   * already is. Rejects when `seq` was never appended or the commit failed.
   */
  committed(seq: number): Promise<void> {
    if (!Number.isInteger(seq) || seq < 0 || seq > this.lastSeq) {
      return Promise.reject(new RangeError(`event ${seq} was never appended to ${this.name} (the last is ${this.lastSeq})`));
    }
    if (seq <= this.committedThrough) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    for (const batch of this.inflight) if (batch.lastSeq >= seq) return batch.done;
    if (this.pending !== undefined) {
      const waited = this.pending.done;
      // Someone waits: a lagging log hands its buffer over now rather than at the end of its lag.
      if (this.lagTimer !== undefined) this.handOffNow();
      return waited;
    }
    return Promise.reject(new Error(`event ${seq} of ${this.name} is in no batch; this is a tsray bug`));
  }

  /**
   * Writes what is still buffered in one synchronous transaction, for a process that is exiting
   * (from a `process.on('exit')` handler, where nothing asynchronous runs any more): a lagging log
   * then keeps the last events before a crash, which are the ones a post-mortem needs.
   */
  writeBufferedSync(): void {
    if (this.closing !== undefined || this.failure !== undefined || this.pending === undefined) return;
    const batch = this.pending;
    const records = this.buffer;
    let seq = this.bufferFirstSeq;
    this.pending = undefined;
    this.buffer = new RecordBuffer();
    this.bufferedBytes = 0;
    this.events.transactionSync(() => {
      for (const record of records.records()) this.events.putSync(seq++, asBinary(record));
    });
    batch.resolve();
  }

  /** Commits what is buffered now and resolves when every appended event is committed. */
  flush(): Promise<void> {
    this.handOff();
    return this.committed(this.lastSeq);
  }

  /**
   * The stored events from `fromSeq` on, in seq order, as of the moment reading starts (events still
   * in the buffer are not there yet). A record that is not a tsray event is yielded as a
   * `CorruptRecord` with a one-line reason, and reading goes on; a damaged batch value is one such
   * record, at the seq it is stored under, and reading goes on after it.
   */
  *read(fromSeq = 1): Iterable<LoggedEvent | CorruptRecord> {
    if (this.closing !== undefined) throw new Error(`${this.name} is closed; open it again to read it`);
    // A record stored as changes from an earlier one (version 3) is read with that one.
    const lookup = (seq: number): unknown => this.recordAt(seq);
    // `fromSeq` may be inside a batch stored under an earlier seq.
    let start = fromSeq;
    for (const key of this.events.getKeys({ start: fromSeq, end: 0, reverse: true, limit: 1 })) start = key;
    for (const { key, value } of this.events.getRange({ start, end: lastPossibleSeq })) {
      if (!(value instanceof StoredBatch)) {
        if (key >= fromSeq) yield this.codec.checkEvent(key, value, lookup);
        continue;
      }
      const problem = this.codec.batchProblem(key, value);
      if (problem !== undefined) {
        if (key >= fromSeq) yield problem;
        continue;
      }
      for (let index = Math.max(0, fromSeq - key); index < value.length; index += 1) yield this.codec.checkBatchEvent(key, value, index, lookup);
    }
  }

  /** The decoded value of the record `seq`, alone or in its batch (for reading a version 3 record against it). */
  private recordAt(seq: number): unknown {
    let batch = this.lastLookedUp;
    if (batch === undefined || seq < batch.key || seq >= batch.key + batch.value.length) {
      let found: { key: number; value: unknown } | undefined;
      for (const entry of this.events.getRange({ start: seq, end: 0, reverse: true, limit: 1 })) found = entry;
      if (found === undefined) return undefined;
      if (!(found.value instanceof StoredBatch)) return found.key === seq ? found.value : undefined;
      batch = { key: found.key, value: found.value };
      this.lastLookedUp = batch;
    }
    const index = seq - batch.key;
    return index < batch.value.length ? this.codec.lmdbEncoder.decode(batch.value.record(index)) : undefined;
  }

  /**
   * Stores `state` as the reducer's state after event `seq`, after every event up to `seq`, and
   * resolves when it is committed (and flushed, for a durable log). The two newest snapshots are kept.
   *
   * @throws RangeError (as a rejection) when `seq` was never appended.
   */
  async writeSnapshot(seq: number, state: unknown): Promise<void> {
    this.checkWritable();
    if (!Number.isInteger(seq) || seq < 0 || seq > this.lastSeq) {
      throw new RangeError(`cannot snapshot ${this.name} at event ${seq}: the last event is ${this.lastSeq}`);
    }
    const bytes = this.codec.encodeSnapshot(seq, state);
    // lmdb-js writes in call order, so handing the events over first puts them in this transaction or an earlier one.
    this.handOff();
    const written = this.snapshots.put(seq, asBinary(bytes)) as CommitPromise;
    const others = [...this.snapshots.getKeys({})].filter((key) => key !== seq).sort((a, b) => b - a);
    for (const key of others.slice(snapshotsKept - 1)) void this.snapshots.remove(key).catch(() => undefined);
    await this.durably(written);
  }

  /**
   * Records `hash` (see `hashState` in core/hash.ts) as the hash of the live component's state after
   * event `seq`, in one small synchronous transaction, so that a process that is exiting still
   * records it. `tsray trace collect` checks that replaying the log reproduces it. Does nothing on a
   * closed or failed log: the hash is a check, never a reason to fail a shutdown.
   */
  recordStateHash(seq: number, hash: string): void {
    if (this.closing !== undefined || this.failure !== undefined) return;
    if (!Number.isInteger(seq) || seq < 1 || !/^[0-9a-f]{16}$/.test(hash)) {
      throw new RangeError(`a state hash is 16 hex digits for an event seq from 1, not ${JSON.stringify(hash)} at ${String(seq)}`);
    }
    this.hashes.putSync(seq, hash);
  }

  /** The live state hashes recorded with `recordStateHash`, by event seq; a damaged entry is left out. */
  readStateHashes(): Map<number, string> {
    if (this.closing !== undefined) throw new Error(`${this.name} is closed; open it again to read it`);
    const found = new Map<number, string>();
    for (const { key, value } of this.hashes.getRange({})) {
      if (typeof key === 'number' && typeof value === 'string' && /^[0-9a-f]{16}$/.test(value)) found.set(key, value);
    }
    return found;
  }

  /** The newest readable snapshot, or undefined when there is none (replay then starts at event 1). */
  readSnapshot(): LoggedSnapshot | undefined {
    for (const { key, value } of this.snapshots.getRange({ reverse: true })) {
      const snapshot = this.codec.checkSnapshot(key, value);
      if (snapshot !== undefined) return snapshot;
    }
    return undefined;
  }

  /**
   * Commits what is buffered, waits for it, and closes the LMDB environment; no timer or handle is
   * left. Rejects (after closing) when events could not be committed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.handOffNow();
    try {
      if (this.lastSeq > this.committedThrough) await this.committed(this.lastSeq);
    } finally {
      await this.env.close();
    }
  }

  private checkWritable(): void {
    if (this.closing !== undefined) throw new Error(`${this.name} is closed; open it again to append`);
    if (this.failure !== undefined) throw this.failure;
  }

  private schedule(): void {
    this.scheduled = true;
    if (this.settings.batching === 'immediate') this.immediate = setImmediate(this.handOffNow);
    // Unref'd: a lagging log must not keep the process alive; what it still buffers dies with the process.
    else if (this.settings.batching === 'lagging') this.lagTimer = setTimeout(this.handOffNow, this.settings.lagMs).unref();
    else queueMicrotask(this.handOffNow);
  }

  /** Gives the buffered records to lmdb-js as one batch and tracks its commit. */
  private handOff(): void {
    const batch = this.pending;
    if (batch === undefined) return;
    const records = this.buffer;
    const first = this.bufferFirstSeq;
    this.pending = undefined;
    this.buffer = new RecordBuffer();
    this.bufferedBytes = 0;
    this.inflight.push(batch);
    if (this.settings.syncWrites) {
      try {
        this.putRunSync(first, records.records());
      } catch (error) {
        this.fail(error);
        return;
      }
      this.settle(batch);
      return;
    }
    let commit: CommitPromise | undefined;
    try {
      let seq = first;
      for (const record of records.records()) commit = this.events.put(seq++, asBinary(record));
    } catch (error) {
      this.fail(error);
      return;
    }
    if (commit === undefined) {
      this.settle(batch);
      return;
    }
    this.durably(commit).then(
      () => this.settle(batch),
      (error: unknown) => this.fail(error),
    );
  }

  /** Writes `records` under the seqs from `firstSeq` on, in one synchronous appending transaction (`syncWrites`). */
  private putRunSync(firstSeq: number, records: Iterable<Uint8Array>): void {
    let seq = firstSeq;
    this.events.transactionSync(() => {
      for (const record of records) this.events.putSync(seq++, asBinary(record), { append: true });
    });
  }

  /** Resolves when `commit` is committed, and also flushed for a durable log. */
  private async durably(commit: CommitPromise): Promise<void> {
    await commit;
    if (this.settings.durable) await (commit.flushed ?? this.env.flushed);
  }

  /** Marks `batch` done and resolves the done batches at the head of the queue, in seq order. */
  private settle(batch: Batch): void {
    batch.settled = true;
    while (this.inflight[0]?.settled === true) {
      const done = this.inflight.shift() as Batch;
      this.committedThrough = Math.max(this.committedThrough, done.lastSeq);
      done.resolve();
    }
  }

  /** Stops the log: every waiting caller and every later append learns that events were lost. */
  private fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.failure ??= new Error(`${this.name} could not commit events after ${this.committedThrough}: ${message}`, { cause: error });
    for (const batch of this.inflight.splice(0)) batch.reject(this.failure);
    this.pending?.reject(this.failure);
    this.pending = undefined;
    this.buffer = new RecordBuffer();
    this.bufferedBytes = 0;
  }
}
