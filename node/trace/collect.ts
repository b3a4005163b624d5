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
import { hashedCharsPerEvent, hashStateSized } from '../../core/hash.js';
import type { Address } from '../../core/ids.js';
import type { LogIndexEntry } from '../../core/protocol.js';
import { eventText, traceFormatVersion } from '../../core/trace/format.js';
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
  /** The event's text in a trace line (`eventText`), which `event` was parsed from, when it was. */
  readonly text?: string;
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
 * One component's log as the merge reads it: its events in order, one at a time, so that a log
 * read from its LMDB file is never held whole (collecting 400,000 tiny tasks held 1.6 million
 * events, 3 GB, at once). A `CollectedLog` read whole is one too (see `sourceOf`).
 */
export interface LogSource {
  readonly address: Address;
  readonly component: ComponentKind;
  /** Hashes of the live state the runtime recorded, by event seq. */
  readonly liveHashes: ReadonlyMap<number, string>;
  /** The seq of its last event; 0 for an empty log. */
  readonly lastSeq: number;
  /** Its first few events (what a trace's header is made from). */
  readonly firstEvents: readonly CollectedEvent[];
  /** Its next event, not yet taken; undefined at its end. */
  peek(): CollectedEvent | undefined;
  /** Takes the event `peek` gives. */
  take(): void;
}

/** How many of a log's first events `LogSource.firstEvents` holds. */
export const firstEventCount = 4;

/** A log read whole, as a source. */
export function sourceOf(log: CollectedLog): LogSource {
  let next = 0;
  const events = log.events;
  return {
    address: log.address,
    component: log.component,
    liveHashes: log.liveHashes,
    lastSeq: events[events.length - 1]?.seq ?? 0,
    firstEvents: events.slice(0, firstEventCount),
    peek: () => events[next],
    take: () => {
      next += 1;
    },
  };
}

/** A session's logs, each read as the merge takes its events; `close` lets go of their files. */
export interface SessionSources {
  readonly sources: readonly LogSource[];
  readonly close: () => void;
}

/**
 * Opens every component log of `sessionDir`, to be read as the merge goes (see `LogSource`). Each
 * log is read up to its last event committed when it was opened.
 *
 * @throws CollectError when the folder holds no logs or a log cannot be opened; a damaged record
 *   throws it when the merge reaches it.
 */
export function openSessionSources(sessionDir: string): SessionSources {
  const opened = new OpenedSources();
  try {
    const sources = sessionLogsOf(sessionDir).map(opened.open);
    return { sources, close: () => opened.close() };
  } catch (error) {
    opened.close();
    throw error;
  }
}

/** The logs `sessionDir` holds, or a CollectError naming why there are none to read. */
function sessionLogsOf(sessionDir: string): SessionLog[] {
  let found;
  try {
    found = openSessionLogs(sessionDir);
  } catch (error) {
    throw new CollectError(`cannot list the logs of ${sessionDir}: ${(error as Error).message}; pass the folder init() returned`);
  }
  if (found.length === 0) throw new CollectError(`${sessionDir} holds no tsray event logs (no logs/*/log.json); pass the session folder init() returned, or see tsray sessions`);
  return found;
}

/**
 * Logs opened as sources one by one (those of dead nodes and ended drivers, say), and `close` to let
 * go of all of their files.
 */
export class OpenedSources {
  private readonly logs: EventLog[] = [];

  /**
   * The log in `found`'s folder, opened to be read as the merge goes.
   *
   * @throws CollectError when it cannot be opened.
   */
  readonly open = (found: SessionLog): LogSource => this.opened(found).source;

  /**
   * `open`, after reading the log through once (each event decoded and dropped), so that a damaged
   * record is found now, where its caller can leave the log out and go on, rather than midway
   * through the merge, which it would end: for the logs a dead process left (node/cluster/dead-node-logs.ts).
   *
   * @throws CollectError when it cannot be opened or a record is damaged.
   */
  readonly openChecked = (found: SessionLog): LogSource => {
    const { log, source } = this.opened(found);
    for (const event of collectedEvents(log, found.address, source.lastSeq)) void event;
    return source;
  };

  /** The log in `found`'s folder and its source, kept to be closed. */
  private opened(found: SessionLog): { log: EventLog; source: LogSource } {
    const opened = openLogSource(found);
    this.logs.push(opened.log);
    return opened;
  }

  /** Closes every log opened. */
  close(): void {
    // Closing a log opened only to read commits nothing; its promise settles at once.
    for (const log of this.logs.splice(0)) void log.close().catch(() => undefined);
  }
}

/** One log opened to be read as a source, event by event. */
function openLogSource({ address, component, dir }: SessionLog): { log: EventLog; source: LogSource } {
  const log = openLogDir(address, dir);
  try {
    const lastSeq = log.lastSeq;
    const firstEvents: CollectedEvent[] = [];
    for (const event of collectedEvents(log, address, lastSeq)) {
      firstEvents.push(event);
      if (firstEvents.length === firstEventCount) break;
    }
    const events = collectedEvents(log, address, lastSeq);
    let head: IteratorResult<CollectedEvent> | undefined;
    const source: LogSource = {
      address,
      component,
      liveHashes: log.readStateHashes(),
      lastSeq,
      firstEvents,
      peek: () => (head ??= events.next()).value as CollectedEvent | undefined,
      take: () => {
        head = undefined;
      },
    };
    return { log, source };
  } catch (error) {
    void log.close().catch(() => undefined);
    throw error;
  }
}

/** The events of `log` up to `lastSeq`, in the form a trace keeps. */
function* collectedEvents(log: EventLog, address: Address, lastSeq: number): Generator<CollectedEvent> {
  for (const record of log.read()) {
    if (record.seq > lastSeq) return;
    if ('corrupt' in record) throw new CollectError(`${record.corrupt}; collect cannot merge a damaged log`);
    yield collectedEvent(record.seq, record.atMs, record.event, address, record.parent);
  }
}

/** The log in `dir`, opened, or a CollectError saying it cannot be. */
function openLogDir(address: Address, dir: string): EventLog {
  try {
    return EventLog.open(dir);
  } catch (error) {
    throw new CollectError(`cannot open the log of ${address} in ${dir}: ${oneLine(error)}; the log is damaged`);
  }
}

/**
 * Reads every component log of `sessionDir`, whole: what a merge from `openSessionSources`, which
 * `tsray trace collect` and `tsray timeline` use, is checked against.
 *
 * @throws CollectError when the folder holds no logs, a log cannot be opened, or a record is damaged.
 */
export function readSessionLogs(sessionDir: string): CollectedLog[] {
  return sessionLogsOf(sessionDir).map(readLogDir);
}

/**
 * Reads one component log whole, from its folder (one that `openSessionLogs` listed).
 *
 * @throws CollectError when the log cannot be opened or a record is damaged.
 */
export function readLogDir({ address, component, dir }: SessionLog): CollectedLog {
  const log = openLogDir(address, dir);
  try {
    const events = [...collectedEvents(log, address, log.lastSeq)];
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
  const notAnEvent = (): CollectError => new CollectError(`event ${seq} of ${address} is not an event (no string 'type'); the log is damaged`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw notAnEvent();
  let text: string;
  let event: AnyEvent;
  try {
    // The trace form, as a reader of the trace file parses it from its line, so that the hashes
    // recorded here are those replay of the file computes; the writer then writes this text.
    text = eventText(raw as AnyEvent);
    event = JSON.parse(text) as AnyEvent;
  } catch (error) {
    throw new CollectError(`event ${seq} of ${address} has no JSON form (${oneLine(error)}); the log is damaged or was written by another tsray`);
  }
  if (typeof event.type !== 'string') throw notAnEvent();
  const via = (event as { via?: { from?: unknown; cause?: unknown } }).via;
  const sent = via !== undefined && typeof via.from === 'string' && Number.isInteger(via.cause) ? { address: via.from, seq: via.cause as number } : undefined;
  // A parent is an earlier event of the same log; a later one would be a damaged record, and is not followed.
  const cause = sent ?? (parent !== undefined && parent < seq ? { address, seq: parent } : undefined);
  return cause === undefined ? { seq, atMs, event, text } : { seq, atMs, event, cause, text };
}

/**
 * An event a cluster process sent as JSON text (`LogEventRecord.json`), from `name` (a node or a
 * driver), in the form a trace keeps.
 *
 * @throws CollectError (one line) when the text is not JSON, or not an event.
 */
export function fetchedEvent(name: string, address: Address, seq: number, atMs: number, json: string, parent: number | undefined): CollectedEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new CollectError(`${name} sent event ${seq} of ${address} as text that is no JSON`);
  }
  return collectedEvent(seq, atMs, raw, address, parent);
}

/** The live hashes a fetched log's index entry lists, by seq. */
export function liveHashesOf(entry: LogIndexEntry): ReadonlyMap<number, string> {
  return new Map(entry.liveHashes.map(([seq, hash]) => [seq, hash]));
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
  /**
   * Whether each component's events are replayed as they are placed (the default): for the hashes a
   * trace records and checks, and the parents of timer events. A timeline needs neither, and
   * replaying a driver of 300,000 tasks held most of the memory its timeline took.
   */
  readonly replay?: boolean;
}

/** What replaying one event gave: the hash to record with it, whether it was a live hash checked, and the step for the writer. */
interface Replayed {
  readonly hash?: string;
  readonly checked: boolean;
  /** Undefined when the merge does not replay (`MergeOptions.replay`). */
  readonly applied: AppliedStep | 'threw' | undefined;
}

/** An event placed by a merge that does not replay. */
const notReplayed: Replayed = { checked: false, applied: undefined };

/**
 * The trace seq of each event of one log placed so far, by its own seq: a log's events are placed in
 * order, so a list from the first placed seq on (4 bytes an event, where a Map took about 80).
 */
class PlacedSeqs {
  private firstSeq = 0;
  private count = 0;
  private traceSeqs = new Uint32Array(1024);

  /** Notes that event `seq` of the log, the one after the last noted, is trace seq `traceSeq`. */
  set(seq: number, traceSeq: number): void {
    if (this.count === 0) this.firstSeq = seq;
    if (this.count === this.traceSeqs.length) {
      const grown = new Uint32Array(this.count * 2);
      grown.set(this.traceSeqs);
      this.traceSeqs = grown;
    }
    this.traceSeqs[this.count++] = traceSeq;
  }

  /** The trace seq of event `seq`, or undefined while it is not placed. */
  get(seq: number): number | undefined {
    const index = seq - this.firstSeq;
    return this.count > 0 && index >= 0 && index < this.count ? this.traceSeqs[index] : undefined;
  }
}

/** Per-log bookkeeping while merging. */
interface Cursor {
  readonly log: LogSource;
  readonly core: ComponentCore<unknown, AnyEvent, unknown>;
  /** The trace seq of each of this log's events placed so far, by its own seq. */
  readonly placed: PlacedSeqs;
  /** The seq of the last event placed; 0 before the first. */
  lastPlaced: number;
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
export function mergeLogs(logs: readonly (CollectedLog | LogSource)[], options: MergeOptions = {}): CollectedTrace {
  const entries: TraceEntry[] = [];
  const merged = mergeLogsInto(logs, options, (entry) => entries.push(entry));
  return { ...merged, entries };
}

/** What merging found, besides the entries it placed. */
export type MergeResult = Omit<CollectedTrace, 'entries'>;

/**
 * Merges as `mergeLogs` does, handing each entry to `placed` as it is placed, with what replaying its
 * event gave (the component's state after it, which the caller must not keep: the next event of the
 * component changes it; undefined when the merge does not replay), so that a trace can be written as it is merged: the writer then takes its
 * snapshots from this replay instead of replaying every component again, and no entry is kept.
 */
export function mergeLogsInto(logs: readonly (CollectedLog | LogSource)[], options: MergeOptions, placed: (entry: TraceEntry, applied: AppliedStep | 'threw' | undefined, eventText: string | undefined) => void): MergeResult {
  const hashEvery = options.hashEveryEvents ?? defaultHashEveryEvents;
  const replay = options.replay ?? true;
  const sources = logs.map(asSource);
  const cursors: Cursor[] = sources.map((log) => ({ log, core: cores[log.component], placed: new PlacedSeqs(), lastPlaced: 0, state: cores[log.component].initial(), applied: 0, nextHashAt: hashEvery, broken: false, armedBy: new Map() }));
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
    if (sender === undefined || sender.placed.get(event.cause.seq) !== undefined) return true;
    // A cause beyond what the sender's log kept (its thread was killed before posting it) never comes.
    return event.cause.seq > sender.log.lastSeq || sender.log.peek() === undefined;
  };

  for (;;) {
    let chosen: Cursor | undefined;
    let chosenHead: CollectedEvent | undefined;
    let fallback: Cursor | undefined;
    let fallbackHead: CollectedEvent | undefined;
    for (const cursor of cursors) {
      const head = cursor.log.peek();
      if (head === undefined) continue;
      if (fallbackHead === undefined || head.atMs < fallbackHead.atMs) {
        fallback = cursor;
        fallbackHead = head;
      }
      if (!causeSettled(head)) continue;
      if (chosenHead === undefined || head.atMs < chosenHead.atMs) {
        chosen = cursor;
        chosenHead = head;
      }
    }
    if (fallback === undefined || fallbackHead === undefined) break;
    if (chosen === undefined || chosenHead === undefined) {
      // Causes that wait on each other cannot come from one run; place the earliest and say so.
      chosen = fallback;
      chosenHead = fallbackHead;
      orderBroken++;
    }
    const event = chosenHead;
    chosen.log.take();
    placedCount += 1;
    const seq = placedCount;
    chosen.placed.set(event.seq, seq);
    chosen.lastPlaced = event.seq;
    const parent = parentOf(event, byAddress, chosen);
    const hash = replay
      ? replayOne(chosen, event, seq, hashEvery, (line) => {
          divergences.push(line);
          notes.push({ note: line, seq });
        })
      : notReplayed;
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
      event.text,
    );
  }

  for (const cursor of cursors) {
    const last = cursor.lastPlaced;
    const beyond = [...cursor.log.liveHashes.keys()].filter((seq) => seq > last);
    if (beyond.length > 0) {
      notes.push({ note: `${cursor.log.address} recorded the hash of its live state after event ${Math.max(...beyond)}, but its log ends at event ${last}: its process exited before its last events were committed`, ...(last === 0 ? {} : { seq: cursor.placed.get(last) }) });
    }
    if (last !== 0 && cursor.log.liveHashes.size === 0) {
      notes.push({ note: `${cursor.log.address}'s log has no hash of its live state to check its replay against: its thread was killed, or its process died, before it could record one`, seq: cursor.placed.get(last) });
    }
  }
  if (orderBroken > 0) notes.push({ note: `${orderBroken} events were placed before the event that caused them: their causes wait on each other, which the logs of one run cannot show; collect again, and report it if it stays` });
  return { header: traceHeaderOf(sources, options.workload), notes, divergences, checkedLiveHashes };
}

/** `log` as a source: itself when it is one, else its events read from the list. */
function asSource(log: CollectedLog | LogSource): LogSource {
  return 'events' in log ? sourceOf(log) : log;
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
  const isLast = cursor.log.peek() === undefined;
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
export function traceHeaderOf(logs: readonly (CollectedLog | LogSource)[], workload: string | undefined): TraceHeader {
  const nodes: unknown[] = [];
  let gcs: unknown;
  for (const log of logs) {
    for (const { event } of 'events' in log ? log.events.slice(0, firstEventCount) : log.firstEvents) {
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
