/**
 * Per-entity timelines, read from the events that name the entity: a task's attempts with the
 * worker and node of each and how each ended; an actor's lives and restarts; an object's creation,
 * copies, pins and lineage; a node's life. Every line ends with the seq to jump to.
 */
import { nodeOfWorker, taskOfObject } from '../core/ids.js';
import type { TraceEntry } from '../core/trace/format.js';
import { kindOfId } from './entities.js';
import type { EntityKind } from './entities.js';
import { describeEvent, resultText } from './event-text.js';
import type { TraceIndex } from './trace-index.js';

type Fields = Record<string, unknown>;

function field(entry: TraceEntry, name: string): unknown {
  return (entry.event as unknown as Fields)[name];
}

function str(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** The kind the timeline is drawn for: the id's shape, else the kind the trace saw it as. */
export function timelineKind(trace: TraceIndex, id: string): EntityKind | undefined {
  const known = trace.entities.get(id);
  const shaped = kindOfId(id);
  if (shaped !== undefined) return shaped;
  return known === undefined ? undefined : [...known.kinds][0];
}

/** The timeline of entity `id` as lines, or a line saying the trace never names it. */
export function timelineOf(trace: TraceIndex, id: string): string[] {
  const known = trace.entities.get(id);
  if (known === undefined) return [`${id} is not named by any event of this trace`];
  const kind = timelineKind(trace, id);
  // A node or worker may be named by most of a long trace: its periodic chatter is counted, not
  // decoded, and the rest is capped, so a timeline opens at once whatever the trace's size.
  const entries: TraceEntry[] = [];
  let chatter = 0;
  for (const index of known.events) {
    if (periodicTypes.has(trace.typeOf(index))) {
      chatter++;
      continue;
    }
    if (entries.length >= maxDecoded) break;
    entries.push(trace.entry(index));
  }
  const more = known.events.length - chatter - entries.length;
  const tail = [...(chatter > 0 ? [`${chatter} heartbeats, cluster views and timers not listed`] : []), ...(more > 0 ? [`… ${more} more events (filter by ${id} to see them all)`] : [])];
  return [...drawTimeline(trace, id, kind, entries), ...tail];
}

/** Event types that recur all through a run and say nothing about one entity's story. */
const periodicTypes = new Set(['node/heartbeat', 'cluster/view-published', 'timer/fired']);

/** Events a timeline decodes at most. */
const maxDecoded = 2000;

function drawTimeline(trace: TraceIndex, id: string, kind: EntityKind | undefined, entries: readonly TraceEntry[]): string[] {
  switch (kind) {
    case 'task':
      return taskTimeline(trace, id, entries);
    case 'actor':
      return actorTimeline(id, entries);
    case 'object':
      return objectTimeline(trace, id, entries);
    case 'node':
      return nodeTimeline(id, entries);
    case 'worker':
    case 'owner':
      return workerTimeline(id, entries);
    case 'lease':
    case undefined:
      return [`${kind ?? 'entity'} ${id}: ${entries.length} events`, ...entries.map(eventLine)];
  }
}

function eventLine(entry: TraceEntry): string {
  return `seq ${entry.seq} ${entry.address} ${entry.event.type} ${describeEvent(entry.event)}`.trimEnd();
}

/** How one attempt of a task went. */
interface Attempt {
  worker?: string;
  pushedSeq?: number;
  ended?: string;
}

function taskTimeline(trace: TraceIndex, taskId: string, entries: readonly TraceEntry[]): string[] {
  const lines: string[] = [];
  const attempts = new Map<number, Attempt>();
  const attempt = (number: number): Attempt => {
    let found = attempts.get(number);
    if (found === undefined) {
      found = {};
      attempts.set(number, found);
    }
    return found;
  };
  for (const entry of entries) {
    const type = entry.event.type;
    if ((type === 'task/submitted' || type === 'actor-task/submitted') && str(field(entry, 'parentTaskId')) === taskId) {
      lines.push(`child task ${str(field(entry, 'name'))} submitted by ${entry.address} while it ran (seq ${entry.seq})`);
    } else if (type === 'task/submitted' || type === 'actor-task/submitted') {
      lines.push(`task ${taskId} ${str(field(entry, 'name'))} submitted by ${entry.address} (seq ${entry.seq}), max retries ${str(field(entry, 'maxRetries')) || 'of the actor'}`);
    } else if (type === 'task/pushed' || type === 'actor-task/pushed') {
      const spec = field(entry, 'spec') as Fields | undefined;
      if (str(spec?.['taskId']) !== taskId) continue;
      const state = attempt(Number(field(entry, 'attempt')));
      state.worker = entry.address.replace(/^worker:/, '');
      state.pushedSeq = entry.seq;
    } else if (type === 'task/replied' && str(field(entry, 'taskId')) === taskId) {
      const state = attempt(Number(field(entry, 'attempt')));
      state.worker ??= str(field(entry, 'workerId'));
      state.ended = `${resultText(field(entry, 'result'))} (seq ${entry.seq})`;
    } else if (type === 'task/executed' && str(field(entry, 'taskId')) === taskId) {
      const state = attempt(Number(field(entry, 'attempt')));
      state.ended ??= `body ${resultText(field(entry, 'result'))}, reply pending (seq ${entry.seq})`;
    }
  }
  for (const [number, state] of [...attempts].sort((a, b) => a[0] - b[0])) {
    const where = state.worker === undefined ? 'not pushed' : `worker ${state.worker} on node ${nodeOfWorker(state.worker)} (seq ${state.pushedSeq ?? '?'})`;
    const ended = state.ended ?? workerEnd(trace, state.worker, state.pushedSeq) ?? 'no outcome recorded';
    lines.push(`attempt ${number}: ${where} → ${ended}`);
  }
  if (attempts.size === 0) lines.push('no attempt was pushed to a worker');
  lines.push(`${entries.length} events name ${taskId}:`, ...entries.map(eventLine));
  return lines;
}

/** How a worker ended after `afterSeq`, when it did: the attempt it ran ended with it. */
function workerEnd(trace: TraceIndex, worker: string | undefined, afterSeq: number | undefined): string | undefined {
  if (worker === undefined) return undefined;
  for (const index of trace.entities.get(worker)?.events ?? []) {
    const entry = trace.entry(index);
    if (afterSeq !== undefined && entry.seq < afterSeq) continue;
    const type = entry.event.type;
    if ((type === 'worker/exited' || type === 'worker/died' || type === 'lease/worker-died') && str(field(entry, 'workerId')) === worker) {
      return `worker ${str(field(entry, 'reason'))} (seq ${entry.seq})`;
    }
  }
  return undefined;
}

function actorTimeline(actorId: string, entries: readonly TraceEntry[]): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const type = entry.event.type;
    const restart = str(field(entry, 'restartCount'));
    let line: string | undefined;
    if (type === 'actor/creation-submitted') line = `created ${str(field(entry, 'className'))} by ${entry.address}, max restarts ${str(field(entry, 'maxRestarts'))}`;
    else if (type === 'actor/creation-pushed') line = `life ${restart}: constructing on ${entry.address.replace(/^worker:/, 'worker ')}`;
    else if (type === 'actor/state-changed') {
      const worker = str(field(entry, 'workerId'));
      const cause = str(field(entry, 'deathCause'));
      line = `life ${restart}: ${str(field(entry, 'state'))}${worker === '' ? '' : ` on worker ${worker} node ${str(field(entry, 'nodeId')) || nodeOfWorker(worker)}`}${cause === '' ? '' : `: ${cause}`}`;
    } else if (type === 'kill/requested') line = `kill requested by ${entry.address}${field(entry, 'noRestart') === true ? ' (no restart)' : ''}`;
    else if (type === 'actor/constructed') line = `life ${restart}: constructor ${field(entry, 'error') === undefined ? 'returned' : 'threw'}`;
    if (line === undefined) continue;
    // The GCS publishes each change to every subscriber: one line per change is enough.
    if (seen.has(line)) continue;
    seen.add(line);
    lines.push(`${line} (seq ${entry.seq})`);
  }
  return [`actor ${actorId}: ${lines.length} lifecycle steps`, ...lines, `${entries.length} events name ${actorId}:`, ...entries.map(eventLine)];
}

function objectTimeline(trace: TraceIndex, objectId: string, entries: readonly TraceEntry[]): string[] {
  const task = taskOfObject(objectId);
  const lines = [`object ${objectId}: ${task === undefined ? 'put by its owner' : `return of task ${task}`}`];
  if (task !== undefined) {
    const submitted = (trace.entities.get(task)?.events ?? []).map((index) => trace.entry(index)).find((entry) => entry.event.type === 'task/submitted');
    const args = submitted === undefined ? [] : ((field(submitted, 'args') as { kind?: string; ref?: { objectId?: string } }[] | undefined) ?? []);
    const refs = args.filter((arg) => arg.kind === 'ref').map((arg) => arg.ref?.objectId ?? '?');
    lines.push(`lineage: ${task}${refs.length === 0 ? ' (no object arguments)' : ` ← ${refs.join(', ')}`}`);
  }
  for (const entry of entries) {
    const type = entry.event.type;
    if (type === 'object/put-requested' && entry.address.startsWith('raylet:')) lines.push(`copy stored on node ${entry.address.slice('raylet:'.length)} (seq ${entry.seq})`);
    else if (type === 'object/fetched') lines.push(`copy fetched by ${entry.address} (seq ${entry.seq})`);
    else if (type === 'object/free-requested' && entry.address.startsWith('raylet:')) lines.push(`freed on node ${entry.address.slice('raylet:'.length)} (seq ${entry.seq})`);
    else if (type === 'borrow/added') lines.push(`pinned by borrower ${str(field(entry, 'borrower'))} (seq ${entry.seq})`);
    else if (type === 'borrow/released') lines.push(`unpinned by borrower ${str(field(entry, 'borrower'))} (seq ${entry.seq})`);
    else if (type === 'refs/released') lines.push(`released by ${entry.address} (seq ${entry.seq})`);
    else if (type === 'object/fetch-failed') lines.push(`fetch failed on node ${str(field(entry, 'nodeId'))} (seq ${entry.seq})`);
  }
  lines.push(`${entries.length} events name ${objectId}:`, ...entries.map(eventLine));
  return lines;
}

function nodeTimeline(nodeId: string, entries: readonly TraceEntry[]): string[] {
  const lines = [`node ${nodeId}`];
  for (const entry of entries) {
    const type = entry.event.type;
    if (type === 'node/started') lines.push(`started (seq ${entry.seq})`);
    else if (type === 'node/registered') lines.push(`registered with the GCS (seq ${entry.seq})`);
    else if (type === 'node/died' && str(field(entry, 'nodeId')) === nodeId) lines.push(`declared dead, heard by ${entry.address} (seq ${entry.seq})`);
    else if (type === 'worker/started') lines.push(`worker ${str(field(entry, 'workerId'))} started (seq ${entry.seq})`);
    else if (type === 'worker/exited') lines.push(`worker ${str(field(entry, 'workerId'))} exited: ${str(field(entry, 'reason'))} (seq ${entry.seq})`);
    else if (type === 'driver/connected') lines.push(`driver ${str(field(entry, 'workerId'))} connected (seq ${entry.seq})`);
  }
  lines.push(`${entries.length} events name ${nodeId}:`, ...entries.map(eventLine));
  return lines;
}

function workerTimeline(workerId: string, entries: readonly TraceEntry[]): string[] {
  const lines = [`worker ${workerId} on node ${nodeOfWorker(workerId)}`];
  for (const entry of entries) {
    const type = entry.event.type;
    const spec = field(entry, 'spec') as Fields | undefined;
    if (type === 'worker/started' || type === 'driver/connected') lines.push(`started (seq ${entry.seq})`);
    else if (type === 'owner/started') lines.push(`its owner component started${field(entry, 'isDriver') === true ? ' (a driver)' : ''} (seq ${entry.seq})`);
    else if (type === 'lease/granted' && str(field(entry, 'workerId')) === workerId) lines.push(`leased as ${str(field(entry, 'leaseId'))} to ${entry.address} (seq ${entry.seq})`);
    else if ((type === 'task/pushed' || type === 'actor-task/pushed') && entry.address === `worker:${workerId}`) lines.push(`ran ${str(spec?.['taskId'])} ${str(spec?.['name'])} attempt ${str(field(entry, 'attempt'))} (seq ${entry.seq})`);
    else if (type === 'actor/creation-pushed' && entry.address === `worker:${workerId}`) lines.push(`hosts actor ${str(spec?.['actorId'])} (seq ${entry.seq})`);
    else if (type === 'task/executed' && entry.address === `worker:${workerId}`) lines.push(`  ${str(field(entry, 'taskId'))}: ${resultText(field(entry, 'result'))} (seq ${entry.seq})`);
    else if (type === 'worker/exited' && str(field(entry, 'workerId')) === workerId) lines.push(`exited: ${str(field(entry, 'reason'))} (seq ${entry.seq})`);
    else if (type === 'worker/died' && str(field(entry, 'workerId')) === workerId) lines.push(`death heard by ${entry.address}: ${str(field(entry, 'reason'))} (seq ${entry.seq})`);
  }
  lines.push(`${entries.length} events name ${workerId}:`, ...entries.map(eventLine));
  return lines;
}
