/**
 * Serving a process's event logs to `tsray trace collect --address` and `tsray timeline --address`:
 * each node (and each driver) lists its logs once they are committed, then hands out one log's events
 * in chunks of bounded size that the tool asks for one after another, so no reply nears the frame
 * bound and the tool sets the pace. Events travel in trace form (stable JSON), the form
 * `mergeLogs` replays, so the hashes the tool computes are those `tsray replay` recomputes.
 */
import { stableStringify } from '../../core/hash.js';
import type { LogEventRecord, LogIndexEntry } from '../../core/protocol.js';
import type { EventLog } from '../store/event-log.js';

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

/**
 * The events of `log` from `fromSeq` through `toSeq`, up to about `maxBytes` of them in trace form
 * (at least one, so every chunk moves the tool on), clamped to maxLogChunkBytes.
 *
 * @throws Error naming the record when the log holds a damaged record or an event with no JSON form.
 */
export function readEvents(log: EventLog, fromSeq: number, toSeq: number, maxBytes: number): LogEventRecord[] {
  const budget = Math.min(Math.max(1, Number.isFinite(maxBytes) ? maxBytes : defaultLogChunkBytes), maxLogChunkBytes);
  const events: LogEventRecord[] = [];
  let bytes = 0;
  for (const record of log.read(Math.max(1, fromSeq))) {
    if (record.seq > toSeq) break;
    if ('corrupt' in record) throw new Error(record.corrupt);
    let json: string;
    try {
      json = stableStringify(record.event);
    } catch (error) {
      throw new Error(`event ${record.seq} of ${log.address} has no JSON form (${(error as Error).message}); the log is damaged`);
    }
    if (events.length > 0 && bytes + json.length > budget) break;
    events.push({ seq: record.seq, atMs: record.atMs, json });
    bytes += json.length;
  }
  return events;
}
