/**
 * Invariants that span components: what one process believes must agree with what another holds.
 * Each allows for what a process cannot know yet (a node the GCS has declared dead may still run).
 */
import { nodeOfWorker, workerAddress } from '../ids.js';
import type { OwnerState } from '../owner/index.js';
import type { Simulator } from './simulator.js';
import { tableGet, tableValues } from '../table.js';

/** Every broken cross-component invariant of the simulated cluster. */
export function crossInvariants(sim: Simulator): string[] {
  const broken: string[] = [];
  const runningAt = new Map<string, string>();
  for (const instance of sim.instances.values()) {
    if (instance.kind !== 'owner' || !instance.alive) continue;
    const worker = instance.state as OwnerState;
    if (!worker.started || sim.gcsConsidersDead(worker.nodeId)) continue;
    for (const execution of tableValues(worker.executions)) {
      const taskId = execution.spec.taskId;
      const other = runningAt.get(taskId);
      if (other !== undefined) broken.push(`task ${taskId} runs on two live workers, ${other} and ${worker.workerId}`);
      runningAt.set(taskId, worker.workerId);
      if (execution.phase !== 'running') continue;
      const owner = sim.instances.get(workerAddress(execution.replyTo));
      if (owner === undefined || !owner.alive) continue;
      const ownerState = owner.state as OwnerState;
      if (ownerState.deadNodes[worker.nodeId] === true || ownerState.deadWorkers[worker.workerId] === true) continue;
      // An owner that killed the actor for good has failed its calls already; the worker is on its way out.
      const actorId = execution.spec.actor?.actorId;
      if (actorId !== undefined && ownerState.actors[actorId]?.state === 'DEAD') continue;
      const task = tableGet(ownerState.tasks, taskId);
      // A task cancelled while running has ended for its owner while its body finishes here.
      // Once its returns are dropped it may be forgotten: a drained lease (a task) or nothing (an actor call) is left.
      if (task?.state === 'CANCELLED') continue;
      if (task === undefined && (execution.spec.actor !== undefined || Object.values(ownerState.leases).some((lease) => lease.draining === true && lease.runningTaskId === taskId))) continue;
      if (task === undefined || task.state !== 'RUNNING' || task.attempt !== execution.attempt || task.workerId !== worker.workerId) {
        broken.push(`task ${taskId} attempt ${execution.attempt} runs on ${worker.workerId} but its owner has it ${task === undefined ? 'forgotten' : `${task.state} attempt ${task.attempt} on ${task.workerId ?? 'no worker'}`}`);
      }
    }
    for (const entry of tableValues(worker.borrowed)) {
      if (entry.registration !== 'registered' || entry.status === 'failed') continue;
      const owner = sim.instances.get(workerAddress(entry.owner));
      if (owner === undefined || !owner.alive || sim.gcsConsidersDead(nodeOfWorker(entry.owner))) continue;
      const ownerState = owner.state as OwnerState;
      if (ownerState.deadWorkers[worker.workerId] === true || ownerState.deadNodes[worker.nodeId] === true) continue;
      const object = tableGet(ownerState.objects, entry.objectId);
      if (object === undefined) broken.push(`object ${entry.objectId} was freed by ${entry.owner} while ${worker.workerId} still holds a registered ref to it`);
      else if (object.borrowers?.includes(worker.workerId) !== true) broken.push(`object ${entry.objectId} does not list ${worker.workerId} as a borrower although it registered`);
    }
  }
  return broken;
}
