/**
 * Collecting a live session into one trace: every component's LMDB event log (the GCS, the raylet,
 * the driver's owner and each worker thread's owner) is read, and the events are merged into one
 * sequence in happens-before order, then replayed per component to record state hashes.
 *
 * The order: each log's events keep their order, and an event that delivers a message comes after
 * the event that sent it. The live transport stamps every message's envelope with the seq of the
 * sending event in the sender's log (`via.cause`), so the sender is known exactly; it becomes the
 * entry's `parent`. Among the events whose causes are already placed, the earliest (by the shared
 * wall clock of the process) goes next, so unrelated components interleave as they ran. A timer's
 * firing names as parent the event that last armed that timer.
 *
 * The hashes: each component's state is hashed every `hashEveryEvents` of its events (an interval
 * that stretches as its log and its state grow, see `defaultHashEveryEvents`) and after its last one. Where the live runtime recorded the hash of its own state (at shutdown, or when a worker
 * thread exits), that hash is the one written, and a replay that does not reproduce it is reported:
 * `tsray replay --verify` then fails at that event too, because the trace tells what ran.
 */
import { gcsCore } from '../../core/gcs/index.js';
import { ownerCore } from '../../core/owner/index.js';
import { rayletCore } from '../../core/raylet/index.js';
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import { hashedCharsPerEvent, hashStateSized, stableStringify } from '../../core/hash.js';
import type { Address } from '../../core/ids.js';
import { traceFormatVersion } from '../../core/trace/format.js';
import type { ComponentKind, TraceEntry, TraceHeader, TraceNote } from '../../core/trace/format.js';
import { applyDirect } from '../../core/step.js';
import type { AppliedStep } from '../../core/trace/snapshots.js';
import { EventLog, openSessionLogs } from '../store/event-log.js';
import type { SessionLog } from '../store/event-log.js';

/**
 * How often, in a component's own events, its state hash is recorded (and after its last event). The
 * interval stretches to an eighth of the events before it, because hashing costs the whole state and
 * states grow with their logs: at most about 8 hashes per doubling of a log keep the hashing of a
 * 10,000-task driver from taking most of the collection (it took 35 of 39 s at a fixed 64).
 */
export const defaultHashEveryEvents = 64;

/** The interval grows to this fraction of the events applied so far (and to at least `hashedCharsPerEvent` of the state's length). */
const hashIntervalGrowth = 1 / 8;


/** One event read from a component's log, in the form the trace keeps. */
export interface CollectedEvent {
  /** The event's seq in its own log. */
  readonly seq: number;
  readonly atMs: number;
  readonly event: AnyEvent;
  /** The sending event of a delivered message, as its envelope names it. */
  readonly cause?: { readonly address: Address; readonly seq: number };
}

/** One component's log, read whole. */
export interface CollectedLog {
  readonly address: Address;
  readonly component: ComponentKind;
  readonly events: readonly CollectedEvent[];
  /** Hashes of the live state the runtime recorded, by event seq. */
  readonly liveHashes: ReadonlyMap<number, string>;
}

/** A merged trace and what collecting it found. */
export interface CollectedTrace {
  readonly header: TraceHeader;
  readonly entries: readonly TraceEntry[];
  readonly notes: readonly TraceNote[];
  /** Components whose replay did not reproduce their live state or could not go on: one line each. */
  readonly divergences: readonly string[];
  /** Live hashes that were compared with the replay and matched. */
  readonly checkedLiveHashes: number;
}

/** A log that cannot be read: one line naming it and what to do. */
export class CollectError extends Error {
  override name = 'CollectError';
}

/**
 * Reads every component log of `sessionDir`.
 *
 * @throws CollectError when the folder holds no logs, a log cannot be opened, or a record is damaged.
 */
export function readSessionLogs(sessionDir: string): CollectedLog[] {
  let found;
  try {
    found = openSessionLogs(sessionDir);
  } catch (error) {
    throw new CollectError(`cannot list the logs of ${sessionDir}: ${(error as Error).message}; pass the folder init() returned`);
  }
  if (found.length === 0) throw new CollectError(`${sessionDir} holds no tsray event logs (no logs/*/log.json); pass the session folder init() returned, or see tsray sessions`);
  return found.map(readLogDir);
}

/**
 * Reads one component log whole, from its folder (one that `openSessionLogs` listed).
 *
 * @throws CollectError when the log cannot be opened or a record is damaged.
 */
export function readLogDir({ address, component, dir }: SessionLog): CollectedLog {
  let log: EventLog;
  try {
    log = EventLog.open(dir);
  } catch (error) {
    throw new CollectError(`cannot open the log of ${address} in ${dir}: ${oneLine(error)}; the log is damaged`);
  }
  try {
    const events: CollectedEvent[] = [];
    for (const record of log.read()) {
      if ('corrupt' in record) throw new CollectError(`${record.corrupt}; collect cannot merge a damaged log`);
      events.push(collectedEvent(record.seq, record.atMs, record.event, address, record.parent));
    }
    return { address, component, events, liveHashes: log.readStateHashes() };
  } finally {
    // Closing a log opened only to read commits nothing; its promise settles at once.
    void log.close().catch(() => undefined);
  }
}

/**
 * The event in the form a trace keeps (JSON, as `encodeTraceLine` writes it), with its cause; `raw`
 * may be a logged event or one already in that form. The cause is the sender its message names, else
 * `parent`, the event of the same log that its shell recorded as having led to it.
 */
export function collectedEvent(seq: number, atMs: number, raw: unknown, address: Address, parent?: number): CollectedEvent {
  let event: AnyEvent;
  try {
    // The trace form, so that the hashes recorded here are those replay of the file computes.
    event = JSON.parse(stableStringify(raw)) as AnyEvent;
  } catch (error) {
    throw new CollectError(`event ${seq} of ${address} has no JSON form (${oneLine(error)}); the log is damaged or was written by another tsray`);
  }
  if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
    throw new CollectError(`event ${seq} of ${address} is not an event (no string 'type'); the log is damaged`);
  }
  const via = (event as { via?: { from?: unknown; cause?: unknown } }).via;
  const sent = via !== undefined && typeof via.from === 'string' && Number.isInteger(via.cause) ? { address: via.from, seq: via.cause as number } : undefined;
  // A parent is an earlier event of the same log; a later one would be a damaged record, and is not followed.
  const cause = sent ?? (parent !== undefined && parent < seq ? { address, seq: parent } : undefined);
  return cause === undefined ? { seq, atMs, event } : { seq, atMs, event, cause };
}

const cores: Record<ComponentKind, ComponentCore<unknown, AnyEvent, unknown>> = {
  gcs: gcsCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  raylet: rayletCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  owner: ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
};

/** How to merge. */
export interface MergeOptions {
  readonly hashEveryEvents?: number;
  /** Goes into the header's `workload` (the session's name, say). */
  readonly workload?: string;
}

/** What replaying one event gave: the hash to record with it, whether it was a live hash checked, and the step for the writer. */
interface Replayed {
  readonly hash?: string;
  readonly checked: boolean;
  readonly applied: AppliedStep | 'threw';
}

/** Per-log bookkeeping while merging. */
interface Cursor {
  readonly log: CollectedLog;
  readonly core: ComponentCore<unknown, AnyEvent, unknown>;
  next: number;
  /** The trace seq of each of this log's events placed so far, by its own seq. */
  readonly placed: Map<number, number>;
  state: unknown;
  /** Events applied; the replay stops (and hashes stop) at a recipe that throws. */
  applied: number;
  /** The count of applied events at which the next periodic hash is due. */
  nextHashAt: number;
  broken: boolean;
  /** The trace seq of the event that last armed each timer. */
  readonly armedBy: Map<string, number>;
}

/** Merges the logs of one session into a trace (see the file comment for the order and the hashes). */
export function mergeLogs(logs: readonly CollectedLog[], options: MergeOptions = {}): CollectedTrace {
  const entries: TraceEntry[] = [];
  const merged = mergeLogsInto(logs, options, (entry) => entries.push(entry));
  return { ...merged, entries };
}

/** What merging found, besides the entries it placed. */
export type MergeResult = Omit<CollectedTrace, 'entries'>;

/**
 * Merges as `mergeLogs` does, handing each entry to `placed` as it is placed, with what replaying its
 * event gave (the component's state after it, which the caller must not keep: the next event of the
 * component changes it), so that a trace can be written as it is merged: the writer then takes its
 * snapshots from this replay instead of replaying every component again, and no entry is kept.
 */
export function mergeLogsInto(logs: readonly CollectedLog[], options: MergeOptions, placed: (entry: TraceEntry, applied: AppliedStep | 'threw') => void): MergeResult {
  const hashEvery = options.hashEveryEvents ?? defaultHashEveryEvents;
  const cursors: Cursor[] = logs.map((log) => ({ log, core: cores[log.component], next: 0, placed: new Map(), state: cores[log.component].initial(), applied: 0, nextHashAt: hashEvery, broken: false, armedBy: new Map() }));
  const byAddress = new Map(cursors.map((cursor) => [cursor.log.address, cursor]));
  let placedCount = 0;
  const notes: TraceNote[] = [];
  const divergences: string[] = [];
  let checkedLiveHashes = 0;
  let orderBroken = 0;

  /** Whether `event`'s cause is placed already, or will never be (it is in no log). */
  const causeSettled = (event: CollectedEvent): boolean => {
    if (event.cause === undefined) return true;
    const sender = byAddress.get(event.cause.address);
    if (sender === undefined || sender.placed.has(event.cause.seq)) return true;
    // A cause beyond what the sender's log kept (its thread was killed before posting it) never comes.
    const last = sender.log.events[sender.log.events.length - 1];
    return last === undefined || event.cause.seq > last.seq || sender.log.events[sender.next] === undefined;
  };

  for (;;) {
    let chosen: Cursor | undefined;
    let fallback: Cursor | undefined;
    for (const cursor of cursors) {
      const head = cursor.log.events[cursor.next];
      if (head === undefined) continue;
      if (fallback === undefined || head.atMs < (fallback.log.events[fallback.next] as CollectedEvent).atMs) fallback = cursor;
      if (!causeSettled(head)) continue;
      if (chosen === undefined || head.atMs < (chosen.log.events[chosen.next] as CollectedEvent).atMs) chosen = cursor;
    }
    if (fallback === undefined) break;
    if (chosen === undefined) {
      // Causes that wait on each other cannot come from one run; place the earliest and say so.
      chosen = fallback;
      orderBroken++;
    }
    const event = chosen.log.events[chosen.next] as CollectedEvent;
    chosen.next++;
    placedCount += 1;
    const seq = placedCount;
    chosen.placed.set(event.seq, seq);
    const parent = parentOf(event, byAddress, chosen);
    const hash = replayOne(chosen, event, seq, hashEvery, (line) => {
      divergences.push(line);
      notes.push({ note: line, seq });
    });
    if (hash.checked) checkedLiveHashes++;
    placed(
      {
        seq,
        address: chosen.log.address,
        component: chosen.log.component,
        atMs: event.atMs,
        ...(parent === undefined ? {} : { parent }),
        event: event.event,
        ...(hash.hash === undefined ? {} : { hash: hash.hash }),
      },
      hash.applied,
    );
  }

  for (const cursor of cursors) {
    const last = cursor.log.events[cursor.log.events.length - 1];
    const beyond = [...cursor.log.liveHashes.keys()].filter((seq) => last === undefined || seq > last.seq);
    if (beyond.length > 0) {
      notes.push({ note: `${cursor.log.address} recorded the hash of its live state after event ${Math.max(...beyond)}, but its log ends at event ${last?.seq ?? 0}: its process exited before its last events were committed`, ...(last === undefined ? {} : { seq: cursor.placed.get(last.seq) }) });
    }
    if (last !== undefined && cursor.log.liveHashes.size === 0) {
      notes.push({ note: `${cursor.log.address}'s log has no hash of its live state to check its replay against: its thread was killed, or its process died, before it could record one`, seq: cursor.placed.get(last.seq) });
    }
  }
  if (orderBroken > 0) notes.push({ note: `${orderBroken} events were placed before the event that caused them: their causes wait on each other, which the logs of one run cannot show; collect again, and report it if it stays` });
  return { header: traceHeaderOf(logs, options.workload), notes, divergences, checkedLiveHashes };
}

/** The trace seq of the event that caused `event`: its message's sender, or the event that armed its timer. */
function parentOf(event: CollectedEvent, byAddress: Map<Address, Cursor>, cursor: Cursor): number | undefined {
  if (event.cause !== undefined) return byAddress.get(event.cause.address)?.placed.get(event.cause.seq);
  if (event.event.type === 'timer/fired') return cursor.armedBy.get((event.event as { timerId?: string }).timerId ?? '');
  return undefined;
}

/**
 * Applies `event` to its component's state as the live shell does (in place), notes the timers it
 * arms, and returns the hash to record with it, if any: the live one where the runtime recorded it
 * (compared with the replay), else the replay's every `hashEvery` events and after the last.
 */
function replayOne(cursor: Cursor, event: CollectedEvent, seq: number, hashEvery: number, diverged: (line: string) => void): Replayed {
  const live = cursor.log.liveHashes.get(event.seq);
  const where = `${cursor.log.address} event ${event.seq} (${event.event.type}, trace seq ${seq})`;
  if (cursor.broken) return live === undefined ? { checked: false, applied: 'threw' } : { hash: live, checked: false, applied: 'threw' };
  let effects: unknown[];
  try {
    effects = applyDirect(cursor.core, cursor.state, event.event);
  } catch (error) {
    cursor.broken = true;
    diverged(`replaying ${where} threw: ${oneLine(error)}; its later hashes are not checked`);
    return live === undefined ? { checked: false, applied: 'threw' } : { hash: live, checked: false, applied: 'threw' };
  }
  cursor.applied++;
  for (const effect of effects) {
    const typed = effect as { type?: string; timerId?: string };
    if (typed.type === 'timer/armed' && typed.timerId !== undefined) cursor.armedBy.set(typed.timerId, seq);
  }
  const isLast = cursor.next === cursor.log.events.length;
  const due = cursor.applied >= cursor.nextHashAt;
  const applied: AppliedStep = { state: cursor.state, effects };
  if (live === undefined && !isLast && !due) return { checked: false, applied };
  let replayed: string;
  try {
    const sized = hashStateSized(cursor.state);
    replayed = sized.hash;
    if (due) cursor.nextHashAt = cursor.applied + Math.max(hashEvery, Math.floor(cursor.applied * hashIntervalGrowth), Math.ceil(sized.chars / hashedCharsPerEvent));
  } catch (error) {
    cursor.broken = true;
    diverged(`the state of ${cursor.log.address} after ${where} cannot be hashed: ${oneLine(error)}`);
    // Nor can it be written as a snapshot: the writer takes it as stopped here.
    return live === undefined ? { checked: false, applied: 'threw' } : { hash: live, checked: false, applied: 'threw' };
  }
  if (live === undefined) return { hash: replayed, checked: false, applied };
  if (live !== replayed) {
    diverged(`replaying the log of ${cursor.log.address} does not reproduce its live state after ${where}: live hash ${live}, replayed ${replayed}; this is a tsray bug, please report it with the trace`);
    return { hash: live, checked: false, applied };
  }
  return { hash: live, checked: true, applied };
}

/** The header of the trace of `logs`: reducer versions and the cluster as the logs started it. */
export function traceHeaderOf(logs: readonly CollectedLog[], workload: string | undefined): TraceHeader {
  const nodes: unknown[] = [];
  let gcs: unknown;
  for (const log of logs) {
    for (const { event } of log.events.slice(0, 4)) {
      if (event.type === 'gcs/started') gcs ??= (event as { config?: unknown }).config;
      if (event.type === 'node/started') {
        const started = event as { nodeId?: unknown; resources?: unknown; config?: unknown };
        nodes.push({ nodeId: started.nodeId, resources: started.resources, config: started.config });
      }
    }
  }
  return {
    kind: 'tsray-trace',
    formatVersion: traceFormatVersion,
    reducers: { gcs: gcsCore.version, raylet: rayletCore.version, owner: ownerCore.version },
    createdBy: 'live',
    cluster: { ...(gcs === undefined ? {} : { gcs }), nodes, components: logs.map((log) => log.address) },
    ...(workload === undefined ? {} : { workload }),
  };
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim();
}
