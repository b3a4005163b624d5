/**
 * "Why": the causal chain from any event of a trace back to its root. A root is an injected fault,
 * a thrown error, a crash, a user call or a timeout (or, for the cluster's own periodic work, its
 * start). The walk follows each event's recorded `parent`, except where the event itself says more
 * than its parent: a worker's death leads to how that worker ended, a node's death to the fault that
 * killed it, an attempt that threw is its own root, and a crash is matched with the fault note the
 * simulator wrote for it.
 *
 * For a task, `taskAttempts` lists every attempt (where it ran and how it ended), so a task retried
 * after a worker crash shows both the crash and the retry; `explainEntity` renders all of it as the
 * text of `tsray why` (the debugger shows the same chains).
 */
import type { Address } from '../ids.js';
import { actorOfHandleObject, isDriverId, nodeOfWorker, ownerOfObject, taskOfObject } from '../ids.js';
import { findEntity } from './entities.js';
import type { EntityInfo, TraceIndex } from './entities.js';
import type { Trace, TraceEntry, TraceNote } from './format.js';
import { counted } from '../counted.js';

/** What a chain ends at. */
export type WhyRootKind = 'fault' | 'error' | 'crash' | 'call' | 'timeout' | 'limit' | 'start' | 'unknown';

/** One event of a chain. */
export interface WhyStep {
  readonly seq: number;
  readonly address: Address;
  readonly type: string;
  /** One short line: what happened. */
  readonly summary: string;
}

/** Where a chain ends. */
export interface WhyRoot {
  readonly kind: WhyRootKind;
  /** One line: the root cause. */
  readonly summary: string;
  /** The seq of the root event, or of the event a fault note follows. */
  readonly seq?: number;
}

/** The chain from an event (first step) back to its root. */
export interface WhyChain {
  readonly steps: readonly WhyStep[];
  readonly root: WhyRoot;
}

/** Chains longer than this are cut (a well-formed trace never needs as many). */
const maxSteps = 64;

/** The owner events that are calls of the user's code (the public API), as opposed to the runtime's own. */
const userCalls = new Set([
  'task/submitted',
  'actor-task/submitted',
  'actor/creation-submitted',
  'object/put',
  'refs/released',
  'actor/handle-acquired',
  'get/requested',
  'wait/requested',
  'cancel/requested',
  'kill/requested',
  'actor-lookup/requested',
  'owner/stopping',
]);

type Fields = Record<string, unknown> & { readonly type: string };
type Cause = { readonly next: number } | { readonly root: WhyRoot; readonly via?: number };

function fieldsOf(entry: TraceEntry): Fields {
  return entry.event as unknown as Fields;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** The worker id of an owner address (`worker:n1.w2` is n1.w2). */
function workerOf(address: Address): string {
  return address.startsWith('worker:') ? address.slice('worker:'.length) : address;
}

/** The chain from the event at `seq` back to its root, or undefined when the trace has no such event. */
export function whyChain(trace: Trace, index: TraceIndex, seq: number): WhyChain | undefined {
  let current = index.bySeq.get(seq);
  if (current === undefined) return undefined;
  const steps: WhyStep[] = [];
  const seen = new Set<number>();
  for (;;) {
    if (steps.length >= maxSteps) return { steps, root: { kind: 'unknown', summary: `the chain was cut after ${maxSteps} steps` } };
    steps.push(stepOf(current, index));
    seen.add(current.seq);
    const cause = causeOf(current, trace, index);
    if ('root' in cause) {
      const via = cause.via === undefined ? undefined : index.bySeq.get(cause.via);
      if (via !== undefined && !seen.has(via.seq)) steps.push(stepOf(via, index));
      return { steps, root: cause.root };
    }
    const next = index.bySeq.get(cause.next);
    if (next === undefined || seen.has(next.seq)) {
      return { steps, root: { kind: 'unknown', summary: `the recorded cause, seq ${cause.next}, is not in the trace` } };
    }
    current = next;
  }
}

function stepOf(entry: TraceEntry, index: TraceIndex): WhyStep {
  return { seq: entry.seq, address: entry.address, type: entry.event.type, summary: summariseEvent(entry, index) };
}

/** The event's parent as its cause, or an unknown root when it has none. */
function parentOf(entry: TraceEntry): Cause {
  return entry.parent === undefined ? { root: { kind: 'unknown', summary: `seq ${entry.seq} records no cause` } } : { next: entry.parent };
}

/** What led to `entry`: the next event to walk to, or the root. */
function causeOf(entry: TraceEntry, trace: Trace, index: TraceIndex): Cause {
  const event = fieldsOf(entry);
  if (userCalls.has(event.type)) return { root: { kind: 'call', summary: `${callerOf(entry)} called ${apiNameOf(event.type)}`, seq: entry.seq } };
  switch (event.type) {
    case 'gcs/started':
      return { root: { kind: 'start', summary: 'the GCS started', seq: entry.seq } };
    case 'node/started':
      return { root: { kind: 'start', summary: `node ${text(event['nodeId'])} started`, seq: entry.seq } };
    case 'driver/connected':
      return { root: { kind: 'start', summary: `driver ${text(event['workerId'])} connected`, seq: entry.seq } };
    case 'owner/started':
    case 'worker/started':
      return entry.parent === undefined ? { root: { kind: 'start', summary: `${workerOf(entry.address)} started`, seq: entry.seq } } : { next: entry.parent };
    case 'gcs/restarted': {
      const note = faultNote(trace, entry.seq, /^fault: GCS down/);
      return { root: note === undefined ? { kind: 'crash', summary: 'the GCS restarted', seq: entry.seq } : noteRoot(note) };
    }
    case 'task/executed': {
      const result = record(event['result']);
      if (result['kind'] !== 'threw') return parentOf(entry);
      const thrown = record(result['thrown']);
      return { root: { kind: 'error', summary: `task ${text(event['taskId'])} attempt ${text(event['attempt'])} threw ${text(thrown['name'])}: ${text(thrown['message'])}`, seq: entry.seq } };
    }
    case 'object/put-rejected':
      // The store's reason is where the chain ends: what filled the store is in the listings, not one event.
      return { root: { kind: 'limit', summary: `the node's store could not take object ${text(event['objectId'])}: ${text(event['reason'])}`, seq: entry.seq } };
    case 'actor/constructed': {
      const error = event['error'];
      if (error === undefined) return parentOf(entry);
      const thrown = record(error);
      return { root: { kind: 'error', summary: `the constructor of actor ${text(event['actorId'])} threw ${text(thrown['name'])}: ${text(thrown['message'])}`, seq: entry.seq } };
    }
    case 'worker/exited':
      return workerExitCause(entry, trace, index);
    case 'worker/died':
    case 'lease/worker-died': {
      const workerId = text(event['workerId']);
      const parent = entry.parent === undefined ? undefined : index.bySeq.get(entry.parent);
      if (parent !== undefined && text(fieldsOf(parent)['workerId']) === workerId) return { next: parent.seq };
      const exited = lastBefore(index, workerId, entry.seq, (candidate) => candidate.event.type === 'worker/exited');
      if (exited !== undefined) return { next: exited.seq };
      if (event['reason'] === 'node-died') return { root: nodeRoot(trace, nodeOfWorker(workerId), entry.seq) };
      return parentOf(entry);
    }
    case 'node/died':
      return { root: nodeRoot(trace, text(event['nodeId']), entry.seq), ...(entry.parent === undefined ? {} : { via: entry.parent }) };
    case 'timer/fired': {
      const timerId = text(event['timerId']);
      if (timerId.startsWith('get:') || timerId.startsWith('wait:')) {
        const [kind, id] = [timerId.slice(0, timerId.indexOf(':')), timerId.slice(timerId.indexOf(':') + 1)];
        return { root: { kind: 'timeout', summary: `the timeout of ${kind} ${id} expired`, seq: entry.seq } };
      }
      if (timerId === 'health' || timerId === 'heartbeat') {
        return { root: { kind: 'start', summary: `the periodic ${timerId} timer of ${entry.address}, armed when it started`, seq: entry.seq } };
      }
      return parentOf(entry);
    }
    default:
      return parentOf(entry);
  }
}

/** How a worker's exit is explained: an injected fault, a crash or exit while running something, or what killed it. */
function workerExitCause(entry: TraceEntry, trace: Trace, index: TraceIndex): Cause {
  const event = fieldsOf(entry);
  const workerId = text(event['workerId']);
  const reason = text(event['reason']);
  if (reason === 'node-died') return { root: nodeRoot(trace, nodeOfWorker(workerId), entry.seq) };
  if (reason !== 'crashed' && reason !== 'exited') return parentOf(entry);
  const note = faultNote(trace, entry.seq, new RegExp(`^fault: \\S+ ${escapeRegExp(workerId)} `));
  if (note !== undefined) return { root: noteRoot(note) };
  const running = runningOn(index, workerId, entry.seq);
  const what = reason === 'crashed' ? 'crashed' : 'exited';
  return { root: { kind: 'crash', summary: `${isDriverId(workerId) ? 'the driver' : 'worker'} ${workerId} ${what}${running === undefined ? '' : ` while running ${running}`}`, seq: entry.seq } };
}

/** The root of a node's death: the fault note that names the node, else the GCS's verdict. */
function nodeRoot(trace: Trace, nodeId: string, seq: number): WhyRoot {
  const pattern = new RegExp(`\\bnode ${escapeRegExp(nodeId)}\\b`);
  const fault = faultNote(trace, seq, pattern, (note) => note.note.startsWith('fault:') || note.note.includes('fault injected'));
  if (fault !== undefined) return noteRoot(fault);
  const any = faultNote(trace, seq, pattern);
  if (any !== undefined) return { ...noteRoot(any), kind: 'crash' };
  return { kind: 'crash', summary: `node ${nodeId} stopped answering: the GCS missed its heartbeats and declared it dead`, seq };
}

/** The last note at or before `seq` whose text matches. */
function faultNote(trace: Trace, seq: number, pattern: RegExp, also: (note: TraceNote) => boolean = () => true): TraceNote | undefined {
  let found: TraceNote | undefined;
  for (const note of trace.notes) {
    if ((note.seq ?? 0) > seq) continue;
    if (pattern.test(note.note) && also(note)) found = note;
  }
  return found;
}

function noteRoot(note: TraceNote): WhyRoot {
  return { kind: 'fault', summary: `injected: ${note.note}${note.seq === undefined ? '' : ` (noted after seq ${note.seq})`}`, ...(note.seq === undefined ? {} : { seq: note.seq }) };
}

/** The last event of `id` before `seq` that satisfies `test`. */
function lastBefore(index: TraceIndex, id: string, seq: number, test: (entry: TraceEntry) => boolean): TraceEntry | undefined {
  const seqs = index.entities.get(id)?.seqs ?? [];
  for (let at = seqs.length - 1; at >= 0; at--) {
    const candidate = seqs[at] ?? 0;
    if (candidate >= seq) continue;
    const entry = index.bySeq.get(candidate);
    if (entry !== undefined && test(entry)) return entry;
  }
  return undefined;
}

/** What the worker was running just before `seq`: the last work pushed to it that had not finished. */
function runningOn(index: TraceIndex, workerId: string, seq: number): string | undefined {
  const running = new Map<string, string>();
  for (const at of index.entities.get(workerId)?.seqs ?? []) {
    if (at >= seq) break;
    const entry = index.bySeq.get(at);
    if (entry === undefined || entry.address !== `worker:${workerId}`) continue;
    const event = fieldsOf(entry);
    const spec = record(event['spec']);
    switch (event.type) {
      case 'task/pushed':
      case 'actor-task/pushed':
        running.set(`${text(spec['taskId'])}#${text(event['attempt'])}`, `task ${text(spec['taskId'])} (${text(spec['name'])}) attempt ${text(event['attempt'])}`);
        break;
      case 'task/executed':
        running.delete(`${text(event['taskId'])}#${text(event['attempt'])}`);
        break;
      case 'actor/creation-pushed':
        running.set(`construct:${text(spec['actorId'])}`, `the constructor of actor ${text(spec['actorId'])}`);
        break;
      case 'actor/constructed':
        running.delete(`construct:${text(event['actorId'])}`);
        break;
    }
  }
  return [...running.values()].pop();
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Who made a user call: the driver script, or a task body running on a worker. */
function callerOf(entry: TraceEntry): string {
  const workerId = workerOf(entry.address);
  const event = fieldsOf(entry);
  const inTask = text(event['inTaskId']) || text(event['parentTaskId']);
  if (isDriverId(workerId)) return `the driver ${workerId}`;
  return inTask === '' ? `worker ${workerId}` : `task ${inTask} on worker ${workerId}`;
}

function apiNameOf(type: string): string {
  switch (type) {
    case 'task/submitted':
      return 'a remote function';
    case 'actor-task/submitted':
      return 'an actor method';
    case 'actor/creation-submitted':
      return 'an actor class';
    case 'object/put':
      return 'put';
    case 'refs/released':
      return 'release (refs went out of scope)';
    case 'get/requested':
      return 'get';
    case 'wait/requested':
      return 'wait';
    case 'cancel/requested':
      return 'cancel';
    case 'kill/requested':
      return 'kill';
    case 'actor-lookup/requested':
      return 'getActor';
    case 'owner/stopping':
      return 'shutdown';
    default:
      return type;
  }
}

/** The ids of a list of refs, shortened. */
function refsText(value: unknown): string {
  const ids = Array.isArray(value) ? value.map((ref) => text(record(ref)['objectId'])) : [];
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`;
}

/** How an attempt's reply reads. */
function resultText(result: Record<string, unknown>): string {
  switch (result['kind']) {
    case 'returned':
      return 'returned';
    case 'threw': {
      const error = record(result['error']);
      return `failed: ${text(error['errorClass'])}: ${text(error['message'])}`;
    }
    case 'cancelled':
      return 'cancelled';
    case 'arg-lost':
      return `an argument was lost (${text(result['objectId'])})`;
    case 'not-run':
      return 'handed back unrun (pipelined behind a task that blocked, or pushed out of order)';
    default:
      return text(result['kind']);
  }
}

/** One short line saying what an event was. */
export function summariseEvent(entry: TraceEntry, index: TraceIndex): string {
  const event = fieldsOf(entry);
  const spec = record(event['spec']);
  const minted = index.minted.get(entry.seq) ?? [];
  const line = ((): string => {
    switch (event.type) {
      case 'task/submitted':
        return `submitted task ${minted[0] ?? '?'} (${text(event['name'])})`;
      case 'actor-task/submitted':
        return `called ${text(event['actorId'])}.${text(event['method'])} as task ${minted[0] ?? '?'}`;
      case 'actor/creation-submitted':
        return `created actor ${minted[1] ?? '?'} (${text(event['className'])})`;
      case 'object/put':
        return `put object ${minted[0] ?? '?'}`;
      case 'object/put-rejected':
        return `the store rejected object ${text(event['objectId'])}: ${text(event['reason'])}`;
      case 'get/requested':
      case 'wait/requested':
        return `${event.type === 'get/requested' ? 'get' : 'wait'} of ${refsText(event['refs'])}${event['timeoutMs'] === undefined ? '' : ` (timeout ${text(event['timeoutMs'])} ms)`}`;
      case 'cancel/requested':
        return `cancel ${text(record(event['ref'])['objectId'])}${event['force'] === true ? ' (force)' : ''}`;
      case 'kill/requested':
        return `kill actor ${text(event['actorId'])}${event['noRestart'] === true ? ' (no restart)' : ''}`;
      case 'task/pushed':
      case 'actor-task/pushed':
        return `task ${text(spec['taskId'])} (${text(spec['name'])}) attempt ${text(event['attempt'])} pushed to ${workerOf(entry.address)}`;
      case 'task/executed': {
        const result = record(event['result']);
        const thrown = record(result['thrown']);
        return `task ${text(event['taskId'])} attempt ${text(event['attempt'])} ${result['kind'] === 'threw' ? `threw ${text(thrown['name'])}: ${text(thrown['message'])}` : 'returned'}`;
      }
      case 'task/replied':
        return `task ${text(event['taskId'])} attempt ${text(event['attempt'])} on ${text(event['workerId'])}: ${resultText(record(event['result']))}`;
      case 'worker/exited':
        return `worker ${text(event['workerId'])} ended: ${text(event['reason'])}`;
      case 'worker/kill-requested':
        return `asked to end worker ${text(event['workerId'])} (${text(event['reason'])})`;
      case 'actor/kill-requested':
        return `asked to kill actor ${text(event['actorId'])}${event['noRestart'] === true ? ' (no restart)' : ''}`;
      case 'worker/died':
        return `worker ${text(event['workerId'])} on ${text(event['nodeId'])} died: ${text(event['reason'])}`;
      case 'lease/worker-died':
        return `worker ${text(event['workerId'])} of lease ${text(event['leaseId'])} died: ${text(event['reason'])}`;
      case 'node/died':
        return `node ${text(event['nodeId'])} is dead`;
      case 'actor/state-changed':
        return `actor ${text(event['actorId'])} is ${text(event['state'])} (restart ${text(event['restartCount'])})${event['deathCause'] === undefined ? '' : `: ${text(event['deathCause'])}`}`;
      case 'actor/creation-pushed':
        return `actor ${text(spec['actorId'])} (restart ${text(event['restartCount'])}) to be constructed on ${workerOf(entry.address)}`;
      case 'actor/constructed':
        return `actor ${text(event['actorId'])} (restart ${text(event['restartCount'])}) ${event['error'] === undefined ? 'constructed' : `constructor threw ${text(record(event['error'])['message'])}`}`;
      case 'actor/registration-requested':
        return `register actor ${text(spec['actorId'])} (${text(spec['className'])})`;
      case 'lease/requested':
        return `lease ${text(event['leaseId'])} requested by ${text(event['requester'])}`;
      case 'lease/granted':
        return `lease ${text(event['leaseId'])} granted: worker ${text(event['workerId'])} on ${text(event['nodeId'])}`;
      case 'lease/rejected':
        return `lease ${text(event['leaseId'])} rejected${event['permanent'] === true ? ' for good' : ''}: ${text(event['reason'])}`;
      case 'lease/infeasible':
        return `lease ${text(event['leaseId'])} is infeasible: ${text(event['reason'])}`;
      case 'lease/returned':
        return `lease ${text(event['leaseId'])} returned (worker ${text(event['workerId'])})`;
      case 'timer/fired':
        return `timer ${text(event['timerId'])} fired`;
      default: {
        const ids = ['taskId', 'actorId', 'objectId', 'workerId', 'nodeId', 'leaseId'].map((key) => text(event[key])).filter((id) => id !== '');
        return ids.length === 0 ? event.type : `${event.type} ${ids.join(' ')}`;
      }
    }
  })();
  return line.length > 140 ? `${line.slice(0, 137)}...` : line;
}

const rootNames: Record<WhyRootKind, string> = {
  fault: 'injected fault',
  error: 'thrown error',
  crash: 'crash',
  call: 'user call',
  timeout: 'timeout',
  limit: 'limit reached',
  start: 'start',
  unknown: 'unknown',
};

/** A chain as text, one line per step and one for the root, each starting with `indent`. */
export function renderChain(chain: WhyChain, indent = ''): string[] {
  const width = Math.max(...chain.steps.map((step) => String(step.seq).length));
  return [
    ...chain.steps.map((step) => `${indent}seq ${String(step.seq).padStart(width)}  ${step.address}  ${step.type}: ${step.summary}`),
    `${indent}root (${rootNames[chain.root.kind]}): ${chain.root.summary}`,
  ];
}

/** How a task attempt ended. */
export type AttemptEnd =
  | { readonly kind: 'returned' | 'failed' | 'cancelled' | 'arg-lost' | 'not-run'; readonly seq: number; readonly summary: string }
  | { readonly kind: 'worker-died'; readonly seq: number; readonly summary: string }
  | { readonly kind: 'unfinished'; readonly summary: string };

/** One attempt of a task: where it ran and how it ended. */
export interface TaskAttempt {
  readonly attempt: number;
  readonly pushedSeq: number;
  readonly workerId: string;
  readonly nodeId: string;
  readonly end: AttemptEnd;
}

/** Every attempt of a task, in attempt order, from the events that push, run and answer it. */
export function taskAttempts(index: TraceIndex, taskId: string): TaskAttempt[] {
  const seqs = index.entities.get(taskId)?.seqs ?? [];
  const attempts = new Map<number, { attempt: number; pushedSeq: number; workerId: string; end?: AttemptEnd }>();
  for (const seq of seqs) {
    const entry = index.bySeq.get(seq);
    if (entry === undefined) continue;
    const event = fieldsOf(entry);
    const attempt = Number(event['attempt']);
    if ((event.type === 'task/pushed' || event.type === 'actor-task/pushed') && text(record(event['spec'])['taskId']) === taskId) {
      // A duplicated delivery pushes the same attempt again: the first is the one that counts, unless
      // that worker handed it back unrun (pipelined), and it was pushed again elsewhere.
      if (!attempts.has(attempt) || attempts.get(attempt)?.end?.kind === 'not-run') attempts.set(attempt, { attempt, pushedSeq: seq, workerId: workerOf(entry.address) });
    } else if (event.type === 'task/replied' && text(event['taskId']) === taskId) {
      const known = attempts.get(attempt);
      if (known !== undefined && known.end === undefined) {
        const result = record(event['result']);
        const knownKinds = ['returned', 'cancelled', 'arg-lost', 'not-run'] as const;
        const kind = knownKinds.find((name) => name === result['kind']) ?? 'failed';
        known.end = { kind, seq, summary: resultText(result) };
      }
    }
  }
  return [...attempts.values()]
    .sort((a, b) => a.attempt - b.attempt)
    .map((attempt) => {
      const end = attempt.end ?? workerDeathAfter(index, attempt.workerId, attempt.pushedSeq) ?? { kind: 'unfinished' as const, summary: 'no outcome in the trace (it was still running when the trace ends)' };
      return { attempt: attempt.attempt, pushedSeq: attempt.pushedSeq, workerId: attempt.workerId, nodeId: nodeOfWorker(attempt.workerId), end };
    });
}

/** The first event after `seq` that says the worker ended. */
function workerDeathAfter(index: TraceIndex, workerId: string, seq: number): AttemptEnd | undefined {
  for (const at of index.entities.get(workerId)?.seqs ?? []) {
    if (at <= seq) continue;
    const entry = index.bySeq.get(at);
    if (entry === undefined) continue;
    const event = fieldsOf(entry);
    if ((event.type === 'worker/exited' || event.type === 'worker/died' || event.type === 'lease/worker-died') && text(event['workerId']) === workerId) {
      return { kind: 'worker-died', seq: at, summary: `worker ${workerId} died: ${text(event['reason'])}` };
    }
  }
  const node = index.entities.get(nodeOfWorker(workerId));
  for (const at of node?.seqs ?? []) {
    const entry = at > seq ? index.bySeq.get(at) : undefined;
    if (entry !== undefined && entry.event.type === 'node/died' && text(fieldsOf(entry)['nodeId']) === nodeOfWorker(workerId)) {
      return { kind: 'worker-died', seq: at, summary: `its node ${nodeOfWorker(workerId)} died` };
    }
  }
  return undefined;
}

/** Event types that mark something going wrong, whose chains `explainEntity` shows. */
function isNotable(entry: TraceEntry): boolean {
  const event = fieldsOf(entry);
  switch (event.type) {
    case 'worker/exited':
    case 'node/died':
    case 'object/fetch-failed':
    case 'object/put-rejected':
    case 'gcs/restarted':
      return true;
    case 'actor/state-changed':
      return event['state'] === 'RESTARTING' || event['state'] === 'DEAD';
    case 'actor/constructed':
      return event['error'] !== undefined;
    case 'task/executed':
      return record(event['result'])['kind'] === 'threw';
    case 'task/replied':
      return record(event['result'])['kind'] !== 'returned';
    case 'lease/rejected':
      return event['permanent'] === true;
    case 'lease/infeasible':
      return true;
    case 'timer/fired':
      return /^(get|wait):/.test(text(event['timerId']));
    default:
      return false;
  }
}

/** An actor's states as the GCS published them, each once: `ALIVE (restart 0) on n1.w3 at seq 77`. */
function actorLives(index: TraceIndex, entity: EntityInfo): string[] {
  const lives: string[] = [];
  const said = new Set<string>();
  for (const seq of entity.seqs) {
    const entry = index.bySeq.get(seq);
    if (entry === undefined || entry.event.type !== 'actor/state-changed') continue;
    const event = fieldsOf(entry);
    if (text(event['actorId']) !== entity.id) continue;
    const key = `${text(event['state'])}#${text(event['restartCount'])}`;
    if (said.has(key)) continue;
    said.add(key);
    const where = text(event['workerId']) === '' ? '' : ` on ${text(event['workerId'])}`;
    lives.push(`${text(event['state'])} (restart ${text(event['restartCount'])})${where} at seq ${seq}`);
  }
  return lives;
}

/**
 * The raylet's record of the end of the worker that last ran actor `entity`, after it was
 * constructed there, or undefined when that worker did not end in the trace.
 */
function actorWorkerExit(index: TraceIndex, entity: EntityInfo): { readonly workerId: string; readonly exit: TraceEntry } | undefined {
  let constructed: TraceEntry | undefined;
  for (const seq of entity.seqs) {
    const entry = index.bySeq.get(seq);
    if (entry?.event.type === 'actor/constructed' && text(fieldsOf(entry)['actorId']) === entity.id) constructed = entry;
  }
  if (constructed === undefined) return undefined;
  const workerId = workerOf(constructed.address);
  const after = constructed.seq;
  const exit = lastBefore(index, workerId, Number.MAX_SAFE_INTEGER, (entry) => entry.seq > after && entry.event.type === 'worker/exited' && entry.address.startsWith('raylet:') && text(fieldsOf(entry)['workerId']) === workerId);
  return exit === undefined ? undefined : { workerId, exit };
}

/** Whether a death event is this entity's own (a raylet also hears of other nodes' deaths). */
function isAbout(entry: TraceEntry, entity: EntityInfo): boolean {
  const event = fieldsOf(entry);
  if (entity.kind === 'node' && event.type === 'node/died') return text(event['nodeId']) === entity.id;
  if (entity.kind === 'worker' && (event.type === 'worker/exited' || event.type === 'worker/died')) return text(event['workerId']) === entity.id;
  return true;
}

/** How many chains or events a report shows before it counts the rest. */
const shownInReport = 5;

/**
 * The text `tsray why` prints for an entity id (or a component address), or undefined when the trace
 * has no such entity. For a task: its submission and every attempt, with the chain of each attempt
 * that did not return. For anything else: its first events and the chain of each thing that went
 * wrong with it (or of its last event, when nothing did).
 */
export function explainEntity(trace: Trace, index: TraceIndex, id: string): string[] | undefined {
  const entity = findEntity(index, id);
  if (entity === undefined) return undefined;
  const first = entity.seqs[0] ?? 0;
  const last = entity.seqs[entity.seqs.length - 1] ?? 0;
  const span = `${counted(entity.seqs.length, 'event')}, seq ${first} to ${last}`;
  return entity.kind === 'task' ? explainTask(trace, index, entity, span) : explainOther(trace, index, entity, span);
}

function explainTask(trace: Trace, index: TraceIndex, entity: EntityInfo, span: string): string[] {
  const submittedSeq = entity.seqs.find((seq) => index.mintedTasks.get(seq) === entity.id);
  const submitted = submittedSeq === undefined ? undefined : index.bySeq.get(submittedSeq);
  const name = submitted === undefined ? '' : text(fieldsOf(submitted)['name']);
  const attempts = taskAttempts(index, entity.id);
  const lines = [`task ${entity.id}${name === '' ? '' : ` (${name})`}: ${counted(attempts.length, 'attempt')}; ${span}`];
  if (submitted !== undefined) {
    const chain = whyChain(trace, index, submitted.seq);
    lines.push(`  submitted at seq ${submitted.seq} by ${chain?.root.kind === 'call' ? chain.root.summary.replace(/ called .*$/, '') : submitted.address}`);
  }
  if (attempts.length === 0) lines.push('  no attempt of it was pushed to a worker in this trace');
  for (const attempt of attempts) {
    const ended = attempt.end.kind === 'unfinished' ? attempt.end.summary : `${attempt.end.summary} (seq ${attempt.end.seq})`;
    lines.push(`  attempt ${attempt.attempt} on worker ${attempt.workerId} (node ${attempt.nodeId}), pushed at seq ${attempt.pushedSeq}: ${ended}`);
    if (attempt.end.kind === 'returned' || attempt.end.kind === 'unfinished') continue;
    const chain = whyChain(trace, index, attempt.end.seq);
    if (chain !== undefined) lines.push(...renderChain(chain, '    '));
  }
  return lines;
}

function explainOther(trace: Trace, index: TraceIndex, entity: EntityInfo, span: string): string[] {
  const lines = [`${entity.kind} ${entity.id}: ${span}`];
  if (entity.kind === 'actor') {
    const lives = actorLives(index, entity);
    if (lives.length > 0) lines.push(`  lives: ${lives.join(', ')}`);
  }
  if (entity.kind === 'object') {
    const taskId = taskOfObject(entity.id);
    const actorId = actorOfHandleObject(entity.id);
    if (actorId !== undefined) lines.push(`  stands for the handles of actor ${actorId}`);
    else lines.push(taskId === undefined ? `  put by ${ownerOfObject(entity.id)}` : `  returned by task ${taskId} (tsray why TRACE ${taskId} shows its attempts)`);
    const spilledBy = new Set<string>();
    for (const seq of entity.seqs) {
      const entry = index.bySeq.get(seq);
      if (entry?.event.type === 'object/spilled') spilledBy.add(entry.address);
    }
    if (spilledBy.size > 0) lines.push(`  spilled to disk by ${[...spilledBy].join(', ')}: the node's object store had no room for it, so it went to the node's spill space`);
  }
  for (const seq of entity.seqs.slice(0, shownInReport)) {
    const entry = index.bySeq.get(seq);
    if (entry !== undefined) lines.push(`  seq ${seq}  ${entry.address}  ${entry.event.type}: ${summariseEvent(entry, index)}`);
  }
  if (entity.seqs.length > shownInReport) lines.push(`  and ${entity.seqs.length - shownInReport} more events`);
  // One chain per distinct happening: the GCS tells every subscriber the same thing.
  const notable: TraceEntry[] = [];
  const said = new Set<string>();
  for (const seq of entity.seqs) {
    const entry = index.bySeq.get(seq);
    // A lease ends badly when its worker does; for the worker itself, its exit already says so.
    const leaseLost = entity.kind === 'lease' && entry?.event.type === 'lease/worker-died';
    if (entry === undefined || !(isNotable(entry) || leaseLost) || !isAbout(entry, entity)) continue;
    const key = `${entry.event.type} ${summariseEvent(entry, index)}`;
    if (said.has(key)) continue;
    said.add(key);
    notable.push(entry);
  }
  if (notable.length === 0 && entity.kind === 'actor') {
    // An actor whose owner died with it has no owner left to log its death; its worker's end says it.
    const ended = actorWorkerExit(index, entity);
    if (ended !== undefined) {
      lines.push(`  its worker ${ended.workerId} ended at seq ${ended.exit.seq} (${text(fieldsOf(ended.exit)['reason'])}), and the actor with it; no owner logged its death:`);
      const chain = whyChain(trace, index, ended.exit.seq);
      if (chain !== undefined) lines.push(...renderChain(chain, '    '));
      return lines;
    }
  }
  if (notable.length === 0) {
    const chain = whyChain(trace, index, entity.seqs[entity.seqs.length - 1] ?? 0);
    lines.push('  nothing went wrong with it; the chain of its last event:');
    if (chain !== undefined) lines.push(...renderChain(chain, '    '));
    return lines;
  }
  for (const entry of notable.slice(0, shownInReport)) {
    lines.push(`  why seq ${entry.seq} (${entry.event.type}):`);
    const chain = whyChain(trace, index, entry.seq);
    if (chain !== undefined) lines.push(...renderChain(chain, '    '));
  }
  if (notable.length > shownInReport) lines.push(`  and ${notable.length - shownInReport} more things that went wrong (seq ${notable.slice(shownInReport).map((entry) => entry.seq).join(', ')})`);
  return lines;
}
