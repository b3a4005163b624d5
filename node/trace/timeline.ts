/**
 * A merged trace as a Chrome trace-event timeline, the JSON that Perfetto (ui.perfetto.dev) and
 * chrome://tracing open: one track per component (the GCS, each raylet, the driver, each worker),
 * a span per task attempt on the worker that ran it, named after the task (its function's name or
 * the actor method), and per actor life a span for its constructor. Attempts that threw or whose
 * worker died are coloured as failures, retries are marked with an instant where they start, and
 * object transfers (values a message carries from one component to another) are drawn as flows
 * from the sending event to the receiving one.
 */
import type { Address } from '../../core/ids.js';
import { isDriverId } from '../../core/ids.js';
import type { TraceEntry } from '../../core/trace/format.js';

/** One Chrome trace event (the fields this timeline uses). */
export interface ChromeTraceEvent {
  readonly name: string;
  readonly ph: 'X' | 'M' | 'i' | 's' | 'f';
  readonly pid: number;
  readonly tid: number;
  /** Microseconds. */
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly id?: number;
  readonly bp?: 'e';
  readonly s?: 't' | 'p' | 'g';
  readonly cname?: string;
  readonly args?: Record<string, unknown>;
}

/** The file: `{ traceEvents: [...] }`. */
export interface ChromeTrace {
  readonly traceEvents: ChromeTraceEvent[];
  readonly displayTimeUnit: 'ms';
  readonly otherData: Record<string, unknown>;
}

/** How an attempt ended. */
type Outcome = 'returned' | 'threw' | 'killed' | 'crashed' | 'unfinished';

interface OpenSpan {
  readonly name: string;
  readonly startUs: number;
  readonly args: Record<string, unknown>;
  /** A later attempt of a task (or a restarted actor's constructor). */
  readonly retry: boolean;
  /** The lane of its worker's track it is drawn in: 0 unless other calls ran at the same time. */
  lane?: number;
}

/** The process id every track lives in (one session, one node process). */
const pid = 1;
/** Endpoint slices of flows last this long (µs), so that Perfetto has a slice to bind each end to. */
const markUs = 1;

/**
 * Builds the timeline of `entries` (a merged trace, in order), held whole (see `TimelineBuilder`
 * for one built as a merge goes).
 */
export function buildTimeline(entries: readonly TraceEntry[], title = 'tsray session'): ChromeTrace {
  const traceEvents: ChromeTraceEvent[] = [];
  const builder = new TimelineBuilder(new Set(entries.map((entry) => entry.address)), title, (event) => traceEvents.push(event));
  for (const entry of entries) builder.add(entry);
  return { traceEvents, displayTimeUnit: 'ms', otherData: builder.finish() };
}

/**
 * Builds a timeline from a merged trace's entries as they come, in order, handing each trace event
 * to `emit` as soon as it is known (a span when its attempt ends), so that neither the trace nor the
 * timeline is ever held whole: `tsray timeline` of a session of 300,000 tiny tasks held 3 GB.
 * Event times are the components' wall clocks; events in the same millisecond are spread 1 µs apart
 * in trace order, so that spans and flows keep the happens-before order that the trace has. Of the
 * events before, it keeps each one's time and track (12 bytes), for the flows of the transfers they start.
 */
export class TimelineBuilder {
  /** Each component's track, numbered in `compareAddresses` order from 1; `addresses[tid]` is its component. */
  private readonly tids = new Map<Address, number>();
  private readonly addresses: Address[] = [''];
  private readonly open = new Map<string, OpenSpan>();
  /**
   * Calls that run at once on one worker (an async actor with maxConcurrency) overlap, which one
   * track cannot draw: each overlapping span gets a lane, a track of its own under the worker's.
   */
  private readonly busyLanes = new Map<Address, boolean[]>();
  private readonly laneTids = new Map<string, number>();
  private nextTid: number;
  private readonly lastUsOf = new Map<Address, number>();
  /** The time (µs) and track of each entry added, by its trace seq (see the class comment). */
  private usBySeq = new Float64Array(1024);
  private tidBySeq = new Int32Array(1024);
  private startMs: number | undefined;
  private lastUs = -1;
  private flowId = 0;
  private entries = 0;

  /** @param addresses every component whose entries will be added (each gets its track now). */
  constructor(
    addresses: Iterable<Address>,
    private readonly title: string,
    private readonly emit: (event: ChromeTraceEvent) => void,
  ) {
    const sorted = [...new Set(addresses)].sort(compareAddresses);
    sorted.forEach((address, index) => this.tids.set(address, index + 1));
    this.addresses.push(...sorted);
    this.nextTid = sorted.length + 1;
    emit({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: title } });
    for (const address of sorted) {
      const tid = this.tids.get(address) ?? 0;
      emit({ name: 'thread_name', ph: 'M', pid, tid, args: { name: trackName(address) } });
      emit({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: tid } });
    }
  }

  /** Adds the next entry of the trace. */
  add(entry: TraceEntry): void {
    this.entries += 1;
    const startMs = (this.startMs ??= entry.atMs);
    const ts = Math.max(Math.round((entry.atMs - startMs) * 1000), this.lastUs + 1);
    this.lastUs = ts;
    const tid = this.tids.get(entry.address) ?? 0;
    this.remember(entry.seq, ts, tid);
    this.lastUsOf.set(entry.address, ts);
    const event = entry.event as unknown as Record<string, unknown> & { type: string };
    switch (event.type) {
      case 'task/pushed':
      case 'actor-task/pushed': {
        const spec = event['spec'] as { taskId: string; name: string; owner: string; actor?: { actorId: string; method: string } };
        const attempt = event['attempt'] as number;
        const key = `${entry.address}|${spec.taskId}|${attempt}`;
        const args = { taskId: spec.taskId, attempt, owner: spec.owner, ...(spec.actor === undefined ? {} : { actorId: spec.actor.actorId }) };
        // Attempts count from 1: a later one is a retry.
        this.openSpan(key, { name: spec.name, startUs: ts, args, retry: attempt > 1 });
        if (attempt > 1) this.emit({ name: `retry ${spec.name} (attempt ${attempt})`, ph: 'i', s: 't', pid, tid, ts, cat: 'retry', cname: 'yellow', args });
        break;
      }
      case 'task/executed': {
        const result = event['result'] as { kind: 'returned' | 'threw' };
        this.closeSpan(`${entry.address}|${event['taskId'] as string}|${event['attempt'] as number}`, ts, result.kind);
        break;
      }
      case 'actor/creation-pushed': {
        const spec = event['spec'] as { actorId: string; className: string; owner: string };
        const restartCount = event['restartCount'] as number;
        this.openSpan(`${entry.address}|${spec.actorId}|ctor${restartCount}`, { name: `${spec.className} constructor`, startUs: ts, args: { actorId: spec.actorId, restartCount, owner: spec.owner }, retry: restartCount > 0 });
        if (restartCount > 0) this.emit({ name: `restart ${spec.className} (${restartCount})`, ph: 'i', s: 't', pid, tid, ts, cat: 'retry', cname: 'yellow', args: { actorId: spec.actorId } });
        break;
      }
      case 'actor/constructed':
        this.closeSpan(`${entry.address}|${event['actorId'] as string}|ctor${event['restartCount'] as number}`, ts, event['error'] === undefined ? 'returned' : 'threw');
        break;
      case 'worker/exited': {
        // The raylet saw the thread end: attempts still open on it ended with it.
        const worker = `worker:${event['workerId'] as string}`;
        const reason = event['reason'] as string;
        for (const key of [...this.open.keys()]) if (key.startsWith(`${worker}|`)) this.closeSpan(key, ts, reason === 'killed' ? 'killed' : 'crashed', { exit: reason });
        if (reason !== 'killed') this.emit({ name: `${trackName(worker)} crashed`, ph: 'i', s: 't', pid, tid: this.tids.get(worker) ?? tid, ts: this.lastUsOf.get(worker) ?? ts, cat: 'failure', cname: 'terrible', args: { workerId: event['workerId'] } });
        break;
      }
      default:
        break;
    }
    const objects = transferredObjects(event);
    const parent = entry.parent;
    if (objects.length === 0 || parent === undefined || parent >= entry.seq || parent >= this.usBySeq.length) return;
    const senderTid = this.tidBySeq[parent] ?? 0;
    // A parent never added (a trace that starts later) has no track: no flow is drawn, as before.
    if (senderTid === 0 || senderTid === tid) return;
    const sentUs = this.usBySeq[parent] ?? 0;
    const from = this.addresses[senderTid] ?? '';
    const name = `${event.type} ${objects.join(' ')}`;
    const args = { objectIds: objects, from, to: entry.address, message: event.type };
    this.emit({ name: `send ${name}`, ph: 'X', pid, tid: senderTid, ts: sentUs, dur: markUs, cat: 'transfer', args });
    this.emit({ name: `receive ${name}`, ph: 'X', pid, tid, ts, dur: markUs, cat: 'transfer', args });
    this.flowId++;
    this.emit({ name, ph: 's', pid, tid: senderTid, ts: sentUs, id: this.flowId, cat: 'transfer', args });
    this.emit({ name, ph: 'f', bp: 'e', pid, tid, ts, id: this.flowId, cat: 'transfer', args });
  }

  /**
   * Ends the timeline: attempts whose worker's log ends before they did (the log was cut short with
   * its thread) are drawn as unfinished. Returns the file's `otherData`.
   */
  finish(): Record<string, unknown> {
    for (const key of [...this.open.keys()]) {
      const address = key.slice(0, key.indexOf('|'));
      this.closeSpan(key, this.lastUsOf.get(address) ?? this.lastUs, 'unfinished');
    }
    return { title: this.title, events: this.entries, startedAtMs: this.startMs ?? 0 };
  }

  /** Keeps the time and track of entry `seq`, growing the lists as seqs grow. */
  private remember(seq: number, us: number, tid: number): void {
    if (seq >= this.usBySeq.length) {
      const size = Math.max(seq + 1, this.usBySeq.length * 2);
      const us = new Float64Array(size);
      us.set(this.usBySeq);
      this.usBySeq = us;
      const tids = new Int32Array(size);
      tids.set(this.tidBySeq);
      this.tidBySeq = tids;
    }
    this.usBySeq[seq] = us;
    this.tidBySeq[seq] = tid;
  }

  private openSpan(key: string, span: OpenSpan): void {
    const address = key.slice(0, key.indexOf('|'));
    const lanes = this.busyLanes.get(address) ?? [];
    this.busyLanes.set(address, lanes);
    let lane = lanes.indexOf(false);
    if (lane < 0) lane = lanes.length;
    lanes[lane] = true;
    span.lane = lane;
    this.open.set(key, span);
  }

  private tidOf(address: Address, lane: number): number {
    if (lane === 0) return this.tids.get(address) ?? 0;
    const laneKey = `${address}|${lane}`;
    let tid = this.laneTids.get(laneKey);
    if (tid === undefined) {
      tid = this.nextTid++;
      this.laneTids.set(laneKey, tid);
      this.emit({ name: 'thread_name', ph: 'M', pid, tid, args: { name: `${trackName(address)} (concurrent ${lane + 1})` } });
      this.emit({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: (this.tids.get(address) ?? 0) + lane / 100 } });
    }
    return tid;
  }

  private closeSpan(key: string, endUs: number, outcome: Outcome, extra: Record<string, unknown> = {}): void {
    const span = this.open.get(key);
    if (span === undefined) return;
    this.open.delete(key);
    const address = key.slice(0, key.indexOf('|'));
    const lane = span.lane ?? 0;
    const lanes = this.busyLanes.get(address);
    if (lanes !== undefined) lanes[lane] = false;
    const failed = outcome === 'threw' || outcome === 'crashed';
    this.emit({
      name: span.name,
      ph: 'X',
      pid,
      tid: this.tidOf(address, lane),
      ts: span.startUs,
      dur: Math.max(endUs - span.startUs, markUs),
      cat: span.retry ? 'task,retry' : 'task',
      ...(failed ? { cname: 'terrible' } : span.retry ? { cname: 'yellow' } : {}),
      args: { ...span.args, outcome, ...extra },
    });
    if (outcome === 'crashed') this.emit({ name: `worker crashed during ${span.name}`, ph: 'i', s: 't', pid, tid: this.tidOf(address, lane), ts: endUs, cat: 'failure', cname: 'terrible', args: span.args });
  }
}

/**
 * The objects whose values a message carries between components: a put on its way to the store, a
 * fetched value, a task's returns, the stored arguments pushed with a task, an object's status.
 */
function transferredObjects(event: Record<string, unknown> & { type: string }): string[] {
  if (event['via'] === undefined) return [];
  switch (event.type) {
    case 'object/put-requested':
    case 'object/fetched':
      return [event['objectId'] as string];
    case 'object/status-replied':
      return (event['outcome'] as { kind?: string } | undefined)?.kind === 'value' ? [event['objectId'] as string] : [];
    case 'task/replied': {
      const result = event['result'] as { kind?: string; payloads?: unknown[] };
      if (result.kind !== 'returned') return [];
      const spec = event as { taskId?: string };
      return (result.payloads ?? []).map((_, index) => `${spec.taskId ?? '?'}#${index}`);
    }
    case 'task/pushed':
    case 'actor-task/pushed':
    case 'actor/creation-pushed': {
      const args = (event['args'] ?? (event['spec'] as { args?: unknown } | undefined)?.args) as { kind?: string; ref?: { objectId?: string } }[] | undefined;
      return (args ?? []).filter((arg) => arg.kind === 'ref').map((arg) => arg.ref?.objectId ?? '?');
    }
    default:
      return [];
  }
}

/** Tracks in a stable order: the GCS, raylets, then workers (drivers first within a node). */
function compareAddresses(a: Address, b: Address): number {
  const rank = (address: Address): number => (address === 'gcs' ? 0 : address.startsWith('raylet:') ? 1 : isDriverId(address) ? 2 : 3);
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  return a.localeCompare(b, 'en', { numeric: true });
}

/** A track's name: `gcs`, `raylet n1`, `driver n1.d1`, `worker n1.w2`. */
function trackName(address: Address): string {
  if (address === 'gcs') return 'gcs';
  if (address.startsWith('raylet:')) return `raylet ${address.slice('raylet:'.length)}`;
  const id = address.slice('worker:'.length);
  return isDriverId(id) ? `driver ${id}` : `worker ${id}`;
}
