/**
 * Serving a process's event logs to `tsray trace collect --address` and `tsray timeline --address`:
 * each node (and each driver) lists its logs once they are committed, then hands out one log's events
 * in chunks of bounded size that the tool asks for one after another, so no reply nears the frame
 * bound and the tool sets the pace. A log stays open, with its reading where the last chunk left it,
 * across the chunks of one collection (`LogServer`), so serving a log costs one pass over it rather
 * than a fresh open and seek per chunk. Events travel in trace form (stable JSON), the form
 * `mergeLogs` replays, so the hashes the tool computes are those `tsray replay` recomputes.
 */
import { stableStringify } from '../../core/hash.js';
import type { LogEventRecord, LogIndexEntry } from '../../core/protocol.js';
import type { CorruptRecord, EventLog, LoggedEvent } from '../store/event-log.js';

/** The most event bytes (in trace form) one chunk carries, whatever the tool asks: far below the 64 MiB frame bound. */
export const maxLogChunkBytes = 8 * 1024 * 1024;

/** The chunk size a tool asks for when not told. */
export const defaultLogChunkBytes = 1024 * 1024;

/**
 * A log as its index entry lists it: through its last committed event, since a chunk reads only what
 * is committed. An event appended after the node's flush, before the index was made (a message that
 * arrived in between), would otherwise be listed and then never sent, and the tool would drop the
 * node's logs as incomplete.
 */
export function indexEntry(log: EventLog): LogIndexEntry {
  const committedSeq = log.committedSeq;
  const liveHashes = [...log.readStateHashes()].filter(([seq]) => seq <= committedSeq);
  return { address: log.address, component: log.component, lastSeq: committedSeq, liveHashes };
}

/** How long a log being served stays open after its last chunk, for a tool that stopped asking. */
export const servingIdleMs = 10_000;

/** What serving needs of a log: reading its events from a seq on. */
export type ServedLog = Pick<EventLog, 'read' | 'address'>;

/** A log to serve, and how to let go of it once served (close it, when it was opened to be served). */
export interface OpenedLog {
  readonly log: ServedLog;
  readonly release: () => void;
}

type StoredRecord = LoggedEvent | CorruptRecord;

/** Where the reading of one log stands between two chunks. */
interface Reading {
  readonly opened: OpenedLog;
  iterator: Iterator<StoredRecord> | undefined;
  /** The seq the next chunk continues from when the tool asks for it. */
  nextSeq: number;
  /** The record read past the last chunk's bound: the next chunk starts with it. */
  lookahead: StoredRecord | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Serves logs chunk by chunk, keeping each open with its read position across the chunks of one
 * collection: a chunk that starts where the last one ended goes on with the same LMDB cursor, so no
 * record is read twice and the log is opened once. Opening a log from disk for each chunk of ~20
 * events made serving quadratic once a stored value held many records. A log is let go when its last
 * chunk is served, when a request fails, or `servingIdleMs` after its last chunk (a tool that died).
 */
export class LogServer {
  private readonly readings = new Map<string, Reading>();

  constructor(private readonly idleMs = servingIdleMs) {}

  /**
   * The events from `fromSeq` through `toSeq` of the log kept under `key`, up to about `maxBytes` of
   * them in trace form (see `readEvents`); `open` opens the log when it is not open yet.
   *
   * @throws Error naming the record when the log holds a damaged record or an event with no JSON form.
   */
  events(key: string, open: () => OpenedLog, fromSeq: number, toSeq: number, maxBytes: number): LogEventRecord[] {
    const from = Math.max(1, fromSeq);
    let reading = this.readings.get(key);
    if (reading === undefined) {
      reading = { opened: open(), iterator: undefined, nextSeq: 0, lookahead: undefined, timer: undefined };
      this.readings.set(key, reading);
    }
    if (reading.timer !== undefined) clearTimeout(reading.timer);
    reading.timer = undefined;
    let events: LogEventRecord[];
    try {
      const continued = reading.iterator !== undefined && reading.nextSeq === from;
      if (!continued) restart(reading, from);
      events = take(reading, reading.opened.log.address, toSeq, maxBytes);
      // A cursor reads the log as it was when it started: a live log may have grown since.
      if (events.length === 0 && continued) {
        restart(reading, from);
        events = take(reading, reading.opened.log.address, toSeq, maxBytes);
      }
    } catch (error) {
      this.end(key);
      throw error;
    }
    const last = events[events.length - 1];
    if (last === undefined || last.seq >= toSeq) this.end(key);
    else reading.timer = setTimeout(() => this.end(key), this.idleMs).unref();
    return events;
  }

  /** Lets go of every log being served (the process is stopping). */
  close(): void {
    for (const key of [...this.readings.keys()]) this.end(key);
  }

  private end(key: string): void {
    const reading = this.readings.get(key);
    if (reading === undefined) return;
    this.readings.delete(key);
    if (reading.timer !== undefined) clearTimeout(reading.timer);
    reading.iterator?.return?.();
    reading.opened.release();
  }
}

/** Starts reading `reading`'s log afresh at `fromSeq`. */
function restart(reading: Reading, fromSeq: number): void {
  reading.iterator?.return?.();
  reading.iterator = reading.opened.log.read(fromSeq)[Symbol.iterator]();
  reading.lookahead = undefined;
  reading.nextSeq = fromSeq;
}

/** The next chunk of `reading`, leaving the record that did not fit as its lookahead. */
function take(reading: Reading, address: string, toSeq: number, maxBytes: number): LogEventRecord[] {
  const budget = Math.min(Math.max(1, Number.isFinite(maxBytes) ? maxBytes : defaultLogChunkBytes), maxLogChunkBytes);
  const events: LogEventRecord[] = [];
  let bytes = 0;
  for (;;) {
    let record = reading.lookahead;
    reading.lookahead = undefined;
    if (record === undefined) {
      const next = reading.iterator?.next();
      if (next === undefined || next.done === true) {
        reading.iterator = undefined;
        break;
      }
      record = next.value;
    }
    if (record.seq > toSeq) {
      reading.lookahead = record;
      break;
    }
    if ('corrupt' in record) throw new Error(record.corrupt);
    let json: string;
    try {
      json = stableStringify(record.event);
    } catch (error) {
      throw new Error(`event ${record.seq} of ${address} has no JSON form (${(error as Error).message}); the log is damaged`);
    }
    if (events.length > 0 && bytes + json.length > budget) {
      reading.lookahead = record;
      break;
    }
    events.push(record.parent === undefined ? { seq: record.seq, atMs: record.atMs, json } : { seq: record.seq, atMs: record.atMs, json, parent: record.parent });
    bytes += json.length;
  }
  reading.nextSeq = reading.lookahead?.seq ?? (events.length > 0 ? (events[events.length - 1] as LogEventRecord).seq + 1 : reading.nextSeq);
  return events;
}

/**
 * The events of `log` from `fromSeq` through `toSeq`, up to about `maxBytes` of them in trace form
 * (at least one, so every chunk moves the tool on), clamped to maxLogChunkBytes: one chunk, read on
 * its own (`LogServer` serves a log's chunks one after another).
 *
 * @throws Error naming the record when the log holds a damaged record or an event with no JSON form.
 */
export function readEvents(log: ServedLog, fromSeq: number, toSeq: number, maxBytes: number): LogEventRecord[] {
  const reading: Reading = { opened: { log, release: () => undefined }, iterator: undefined, nextSeq: 0, lookahead: undefined, timer: undefined };
  restart(reading, Math.max(1, fromSeq));
  try {
    return take(reading, log.address, toSeq, maxBytes);
  } finally {
    reading.iterator?.return?.();
  }
}
