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
 * Builds the timeline of `entries` (a merged trace, in order). Event times are the components'
 * wall clocks; events in the same millisecond are spread 1 µs apart in trace order, so that spans
 * and flows keep the happens-before order that the trace has.
 */
export function buildTimeline(entries: readonly TraceEntry[], title = 'tsray session'): ChromeTrace {
  const events: ChromeTraceEvent[] = [];
  const tids = new Map<Address, number>();
  const tsOf = new Map<number, number>();
  const startMs = entries[0]?.atMs ?? 0;
  let lastUs = -1;
  for (const entry of entries) {
    lastUs = Math.max(Math.round((entry.atMs - startMs) * 1000), lastUs + 1);
    tsOf.set(entry.seq, lastUs);
    if (!tids.has(entry.address)) tids.set(entry.address, 0);
  }
  const addresses = [...tids.keys()].sort(compareAddresses);
  addresses.forEach((address, index) => tids.set(address, index + 1));
  events.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: title } });
  for (const address of addresses) {
    const tid = tids.get(address) ?? 0;
    events.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: trackName(address) } });
    events.push({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: tid } });
  }

  const open = new Map<string, OpenSpan>();
  // Calls that run at once on one worker (an async actor with maxConcurrency) overlap, which one
  // track cannot draw: each overlapping span gets a lane, a track of its own under the worker's.
  const busyLanes = new Map<Address, boolean[]>();
  const laneTids = new Map<string, number>();
  let nextTid = addresses.length + 1;
  const openSpan = (key: string, span: OpenSpan): void => {
    const address = key.slice(0, key.indexOf('|'));
    const lanes = busyLanes.get(address) ?? [];
    busyLanes.set(address, lanes);
    let lane = lanes.indexOf(false);
    if (lane < 0) lane = lanes.length;
    lanes[lane] = true;
    span.lane = lane;
    open.set(key, span);
  };
  const tidOf = (address: Address, lane: number): number => {
    if (lane === 0) return tids.get(address) ?? 0;
    const laneKey = `${address}|${lane}`;
    let tid = laneTids.get(laneKey);
    if (tid === undefined) {
      tid = nextTid++;
      laneTids.set(laneKey, tid);
      events.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: `${trackName(address)} (concurrent ${lane + 1})` } });
      events.push({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: (tids.get(address) ?? 0) + lane / 100 } });
    }
    return tid;
  };
  const lastUsOf = new Map<Address, number>();
  const entryBySeq = new Map<number, TraceEntry>();
  let flowId = 0;

  const closeSpan = (key: string, endUs: number, outcome: Outcome, extra: Record<string, unknown> = {}): void => {
    const span = open.get(key);
    if (span === undefined) return;
    open.delete(key);
    const address = key.slice(0, key.indexOf('|'));
    const lane = span.lane ?? 0;
    const lanes = busyLanes.get(address);
    if (lanes !== undefined) lanes[lane] = false;
    const failed = outcome === 'threw' || outcome === 'crashed';
    events.push({
      name: span.name,
      ph: 'X',
      pid,
      tid: tidOf(address, lane),
      ts: span.startUs,
      dur: Math.max(endUs - span.startUs, markUs),
      cat: span.retry ? 'task,retry' : 'task',
      ...(failed ? { cname: 'terrible' } : span.retry ? { cname: 'yellow' } : {}),
      args: { ...span.args, outcome, ...extra },
    });
    if (outcome === 'crashed') events.push({ name: `worker crashed during ${span.name}`, ph: 'i', s: 't', pid, tid: tidOf(address, lane), ts: endUs, cat: 'failure', cname: 'terrible', args: span.args });
  };

  for (const entry of entries) {
    entryBySeq.set(entry.seq, entry);
    const ts = tsOf.get(entry.seq) ?? 0;
    const tid = tids.get(entry.address) ?? 0;
    lastUsOf.set(entry.address, ts);
    const event = entry.event as unknown as Record<string, unknown> & { type: string };
    switch (event.type) {
      case 'task/pushed':
      case 'actor-task/pushed': {
        const spec = event['spec'] as { taskId: string; name: string; owner: string; actor?: { actorId: string; method: string } };
        const attempt = event['attempt'] as number;
        const key = `${entry.address}|${spec.taskId}|${attempt}`;
        const args = { taskId: spec.taskId, attempt, owner: spec.owner, ...(spec.actor === undefined ? {} : { actorId: spec.actor.actorId }) };
        // Attempts count from 1: a later one is a retry.
        openSpan(key, { name: spec.name, startUs: ts, args, retry: attempt > 1 });
        if (attempt > 1) events.push({ name: `retry ${spec.name} (attempt ${attempt})`, ph: 'i', s: 't', pid, tid, ts, cat: 'retry', cname: 'yellow', args });
        break;
      }
      case 'task/executed': {
        const result = event['result'] as { kind: 'returned' | 'threw' };
        closeSpan(`${entry.address}|${event['taskId'] as string}|${event['attempt'] as number}`, ts, result.kind);
        break;
      }
      case 'actor/creation-pushed': {
        const spec = event['spec'] as { actorId: string; className: string; owner: string };
        const restartCount = event['restartCount'] as number;
        openSpan(`${entry.address}|${spec.actorId}|ctor${restartCount}`, { name: `${spec.className} constructor`, startUs: ts, args: { actorId: spec.actorId, restartCount, owner: spec.owner }, retry: restartCount > 0 });
        if (restartCount > 0) events.push({ name: `restart ${spec.className} (${restartCount})`, ph: 'i', s: 't', pid, tid, ts, cat: 'retry', cname: 'yellow', args: { actorId: spec.actorId } });
        break;
      }
      case 'actor/constructed':
        closeSpan(`${entry.address}|${event['actorId'] as string}|ctor${event['restartCount'] as number}`, ts, event['error'] === undefined ? 'returned' : 'threw');
        break;
      case 'worker/exited': {
        // The raylet saw the thread end: attempts still open on it ended with it.
        const worker = `worker:${event['workerId'] as string}`;
        const reason = event['reason'] as string;
        for (const key of [...open.keys()]) if (key.startsWith(`${worker}|`)) closeSpan(key, ts, reason === 'killed' ? 'killed' : 'crashed', { exit: reason });
        if (reason !== 'killed') events.push({ name: `${trackName(worker)} crashed`, ph: 'i', s: 't', pid, tid: tids.get(worker) ?? tid, ts: lastUsOf.get(worker) ?? ts, cat: 'failure', cname: 'terrible', args: { workerId: event['workerId'] } });
        break;
      }
      default:
        break;
    }
    const objects = transferredObjects(event);
    const sender = entry.parent === undefined ? undefined : entryBySeq.get(entry.parent);
    if (objects.length > 0 && sender !== undefined && sender.address !== entry.address) {
      const senderTid = tids.get(sender.address) ?? 0;
      const sentUs = tsOf.get(sender.seq) ?? 0;
      const name = `${event.type} ${objects.join(' ')}`;
      const args = { objectIds: objects, from: sender.address, to: entry.address, message: event.type };
      events.push({ name: `send ${name}`, ph: 'X', pid, tid: senderTid, ts: sentUs, dur: markUs, cat: 'transfer', args });
      events.push({ name: `receive ${name}`, ph: 'X', pid, tid, ts, dur: markUs, cat: 'transfer', args });
      flowId++;
      events.push({ name, ph: 's', pid, tid: senderTid, ts: sentUs, id: flowId, cat: 'transfer', args });
      events.push({ name, ph: 'f', bp: 'e', pid, tid, ts, id: flowId, cat: 'transfer', args });
    }
  }
  // Attempts whose worker's log ends before they did: the log was cut short with its thread.
  for (const key of [...open.keys()]) {
    const address = key.slice(0, key.indexOf('|'));
    closeSpan(key, lastUsOf.get(address) ?? lastUs, 'unfinished');
  }
  return { traceEvents: events, displayTimeUnit: 'ms', otherData: { title, events: entries.length, startedAtMs: startMs } };
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
