/**
 * Hangs explain themselves: for a ref whose value is not here yet, a sentence saying what it waits
 * for (arguments not ready, no lease yet and why, running where, actor restarting, owner asked).
 */
import { fifoIndexOf } from '../fifo.js';
import { taskOfObject } from '../ids.js';
import type { RefMarker } from '../values.js';
import type { Ctx } from './context.js';
import { viewFor } from './actor-calls.js';
import type { OwnedTask } from './state.js';
import { tableGet } from '../table.js';
import { counted } from '../counted.js';

/** Why `ref` is not available yet, as a sentence fragment starting with a verb. */
export function explainPending(ctx: Ctx, ref: RefMarker): string {
  if (ref.owner !== ctx.s.workerId) {
    const entry = tableGet(ctx.s.borrowed, ref.objectId);
    if (entry?.status === 'ready') return `is being read from the node that stores it`;
    return `waits for its owner ${ref.owner} to report it ready`;
  }
  const object = tableGet(ctx.s.objects, ref.objectId);
  if (object === undefined) return 'was freed';
  if (object.state === 'ready') return 'is being read from the node that stores it';
  const taskId = taskOfObject(ref.objectId);
  const task = taskId === undefined ? undefined : tableGet(ctx.s.tasks, taskId);
  if (task === undefined) return 'is being stored';
  return explainTask(ctx, task);
}

/** The arguments of `task` that are not ready yet, as a list of objects. */
function argsNotReady(task: OwnedTask): string {
  return (task.waitingFor ?? []).join(', ') || 'being resolved';
}

/** What a pending task waits for. */
export function explainTask(ctx: Ctx, task: OwnedTask): string {
  const name = `task ${task.spec.fn.name} (attempt ${task.attempt})`;
  switch (task.state) {
    case 'PENDING_ARGS':
      return `waits for ${name}, whose arguments are not ready: ${argsNotReady(task)}`;
    case 'PENDING_NODE': {
      if (task.kind === 'actor-task') {
        const actorId = task.spec.fn.actor?.actorId ?? '';
        const target = viewFor(ctx, actorId);
        const position = target === undefined ? 0 : fifoIndexOf(target.queue, task.spec.taskId);
        if (target?.state === 'RESTARTING') return `waits for ${name}: actor ${actorId} is restarting`;
        if (target?.state === 'PENDING' && target.infeasible !== undefined) return `waits for ${name}: actor ${actorId} is not created yet, and its creation is infeasible: ${target.infeasible}`;
        if (target?.state === 'PENDING') {
          // An actor this process creates may still wait for its constructor's arguments.
          const creation = target.creationTaskId === undefined ? undefined : tableGet(ctx.s.tasks, target.creationTaskId);
          if (creation?.state === 'PENDING_ARGS') return `waits for ${name}: actor ${actorId} is not created yet, as its constructor's arguments are not ready: ${argsNotReady(creation)}`;
          return `waits for ${name}: actor ${actorId} is not created yet`;
        }
        return `waits for ${name}, queued behind ${counted(Math.max(0, position), 'call')} to actor ${actorId}`;
      }
      for (const cls of Object.values(ctx.s.classes)) {
        const position = fifoIndexOf(cls.queue, task.spec.taskId);
        if (position < 0) continue;
        const shape = Object.entries(cls.resources)
          .map(([key, value]) => `${key}: ${value}`)
          .join(', ');
        const requested = cls.leases.filter((id) => ctx.s.leases[id]?.state === 'requested').length;
        const infeasible = cls.leases.map((id) => ctx.s.leases[id]).find((lease) => lease?.state === 'requested' && lease.infeasible !== undefined)?.infeasible;
        if (infeasible !== undefined) return `waits for ${name}, whose lease request is infeasible: ${infeasible}`;
        return `waits for ${name}, queued behind ${counted(position, 'task')} for a worker lease of {${shape}} (${counted(requested, 'lease request')} outstanding, no node has those resources free yet)`;
      }
      return `waits for ${name}, which is waiting for a worker`;
    }
    case 'RUNNING':
      return `waits for ${name}, running on node ${task.nodeId ?? '?'} (worker ${task.workerId ?? '?'})`;
    case 'FINISHED':
    case 'FAILED':
    case 'CANCELLED':
      return `waits for ${name}, which ended ${task.state}`;
  }
}
