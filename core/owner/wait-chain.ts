/**
 * What a running task waits for in turn. An owner knows only that its task runs on some worker; the
 * worker that hosts it knows whether the task's code waits in a `get`, or whether the call still
 * queues behind another one on that worker (an actor runs `maxConcurrency` calls at a time). Joining
 * what every worker hosts follows a wait from task to task, and finds the cycles that never end: two
 * actors that call each other and wait for the answer inside a call, for one.
 */
import { taskOfObject } from '../ids.js';
import type { ObjectId, TaskId } from '../ids.js';
import type { HostedTaskReport } from '../protocol.js';
import { tableValues } from '../table.js';
import type { OwnerState } from './state.js';
import { getRefs } from './state.js';
import type { RefMarker } from '../values.js';

/** Bound on the tasks one explanation describes (a longer chain ends with "…"). */
export const maxWaitHops = 16;

/** Bound on the tasks one explanation follows, looking for the cycle of a deadlock. */
export const maxWaitFollowed = 1_000;

/** Bound on the tasks one worker reports hosting (a state query cuts them further to its limit). */
export const maxHostedListed = 10_000;

/** Bound on the objects named of one task's gets (a task may get a million refs at once); the rest are counted. */
export const maxWaitRefsListed = 16;

/**
 * The tasks this worker hosts, as its listing reports them: at most `limit` (the running ones first),
 * since an actor may have thousands of calls queued.
 */
export function hostedTasks(state: OwnerState, limit: number): HostedTaskReport[] {
  const getsByTask = new Map<TaskId, { objectIds: ObjectId[]; count: number }>();
  for (const get of tableValues(state.gets)) {
    if (get.inTaskId === undefined || get.awaitingResume === true) continue;
    const refs = getRefs(get);
    const cursor = get.cursor ?? 0;
    let waits = getsByTask.get(get.inTaskId);
    if (waits === undefined) getsByTask.set(get.inTaskId, (waits = { objectIds: [], count: 0 }));
    for (let index = cursor; index < refs.length && waits.objectIds.length < maxWaitRefsListed; index += 1) waits.objectIds.push((refs[index] as RefMarker).objectId);
    waits.count += refs.length - cursor;
  }
  const hosted: HostedTaskReport[] = [];
  const queued: HostedTaskReport[] = [];
  let runningCall: TaskId | undefined;
  let runningTask: TaskId | undefined;
  const executions = tableValues(state.executions);
  for (const execution of executions) {
    if (execution.phase === 'queued') continue;
    const taskId = execution.spec.taskId;
    if (execution.actorSeq === undefined) runningTask ??= taskId;
    else runningCall ??= taskId;
    const waits = getsByTask.get(taskId);
    const inGet = waits === undefined || waits.count === 0 ? {} : { waitsInGetFor: waits.objectIds, ...(waits.count > waits.objectIds.length ? { waitsInGetCount: waits.count } : {}) };
    hosted.push({ taskId, name: execution.spec.name, attempt: execution.attempt, workerId: state.workerId, phase: 'running', ...inGet });
  }
  // Pipelined tasks start in push order once the task under way replies.
  for (const execution of executions) {
    if (execution.phase !== 'queued' || hosted.length + queued.length >= limit) continue;
    queued.push({ taskId: execution.spec.taskId, name: execution.spec.name, attempt: execution.attempt, workerId: state.workerId, phase: 'queued', ...(runningTask === undefined ? {} : { behind: runningTask }) });
  }
  const actor = state.actor;
  if (actor !== undefined) {
    // Admitted calls wait for a concurrency slot, which the running calls hold.
    for (const call of actor.runnable) {
      if (hosted.length + queued.length >= limit) break;
      queued.push({ taskId: call.spec.taskId, name: call.spec.name, attempt: call.attempt, workerId: state.workerId, phase: 'queued', ...(runningCall === undefined ? {} : { behind: runningCall }) });
    }
    // Calls that arrived ahead of their turn wait for an earlier call of the same caller.
    for (const order of Object.values(actor.callers)) {
      for (const call of Object.values(order.buffered)) {
        if (hosted.length + queued.length >= limit) break;
        queued.push({ taskId: call.spec.taskId, name: call.spec.name, attempt: call.attempt, workerId: state.workerId, phase: 'queued' });
      }
    }
  }
  return [...hosted, ...queued].slice(0, Math.max(0, limit));
}

/** The hosted tasks of every worker, by task id, for `explainHostedWait`. */
export function hostedIndex(reports: Iterable<readonly HostedTaskReport[] | undefined>): Map<TaskId, HostedTaskReport> {
  const index = new Map<TaskId, HostedTaskReport>();
  for (const list of reports) for (const hosted of list ?? []) index.set(hosted.taskId, hosted);
  return index;
}

/**
 * What the running task `taskId` (attempt `attempt`) waits for in turn, as clauses to follow its
 * owner's "running on node …": the get its code waits in, the call it queues behind, and so on from
 * task to task, ending in "a deadlock (…)" when the chain comes back to a task already in it.
 * Undefined when no worker reports hosting that attempt, or when it simply runs.
 */
export function explainHostedWait(taskId: TaskId, attempt: number, hosted: ReadonlyMap<TaskId, HostedTaskReport>): string | undefined {
  const first = hosted.get(taskId);
  if (first === undefined || first.attempt !== attempt) return undefined;
  const chain: TaskId[] = [];
  const positions = new Map<TaskId, number>();
  const clauses: string[] = [];
  // Clauses past the bound are not written, but the chain is still followed: a ring of twenty actors
  // is a deadlock however long its text would be.
  const say = (clause: string): void => {
    if (chain.length <= maxWaitHops) clauses.push(clause);
  };
  let current: HostedTaskReport | undefined = first;
  while (current !== undefined) {
    positions.set(current.taskId, chain.length);
    chain.push(current.taskId);
    const subject = chain.length === 1 ? 'it' : `${current.taskId} (${current.name})`;
    let next: TaskId | undefined;
    if (current.phase === 'queued') {
      if (current.behind === undefined) {
        say(`${subject} is queued on worker ${current.workerId} until an earlier call from its caller arrives`);
        break;
      }
      say(`${subject} is queued on worker ${current.workerId} behind ${current.behind}`);
      next = current.behind;
    } else {
      const refs = current.waitsInGetFor ?? [];
      if (refs.length === 0) {
        if (chain.length > 1) say(`${subject} runs on worker ${current.workerId}`);
        break;
      }
      // Follow the ref whose task some worker hosts: that is where the wait goes on.
      const followed = refs.find((objectId) => hosted.has(taskOfObject(objectId) ?? '')) ?? refs[0] ?? '';
      const count = Math.max(refs.length, current.waitsInGetCount ?? 0);
      const others = count > 1 ? ` (and ${count - 1} more)` : '';
      say(`${subject} ${chain.length === 1 ? 'waits' : `runs on worker ${current.workerId} and waits`} in get for ${followed}${others}`);
      next = taskOfObject(followed);
    }
    if (next === undefined) break;
    const repeat = positions.get(next);
    if (repeat !== undefined) return `${shownClauses(clauses, chain.length)}: ${deadlockText(chain.slice(repeat))}`;
    if (chain.length >= maxWaitFollowed) break;
    current = hosted.get(next);
  }
  return clauses.length === 0 ? undefined : shownClauses(clauses, chain.length);
}

/** The clauses written, and an ellipsis for the tasks followed past them. */
function shownClauses(clauses: readonly string[], followed: number): string {
  return followed > maxWaitHops ? `${clauses.join('; ')}; …` : clauses.join('; ');
}

/** A cycle of waits, back to its first task; a long one names its first and last tasks only. */
function deadlockText(cycle: readonly TaskId[]): string {
  const start = cycle[0] ?? '';
  if (cycle.length <= maxWaitHops) return `a deadlock (${[...cycle, start].join(' → ')})`;
  const head = cycle.slice(0, maxWaitHops / 2);
  const tail = cycle.slice(-2);
  return `a deadlock of ${cycle.length} tasks (${[...head, '…', ...tail, start].join(' → ')})`;
}
