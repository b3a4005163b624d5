/**
 * What must hold of the GCS state after every event. Each broken invariant is reported as a sentence.
 */
import type { GcsState } from './state.js';
import { maxDeadActors, maxHeldRedirects, maxRememberedRedirects, nameKey } from './state.js';

/** Names, leases and workers point at live actors that agree with them. */
function indexProblems(state: GcsState): string[] {
  const problems: string[] = [];
  for (const [key, actorId] of Object.entries(state.names)) {
    const actor = state.actors[actorId];
    if (actor === undefined || actor.state === 'DEAD') problems.push(`name ${key} maps to ${actorId}, which is not a live actor`);
    else if (actor.spec.name === undefined || nameKey(actor.spec.namespace, actor.spec.name) !== key) {
      problems.push(`name ${key} maps to ${actorId}, which does not carry that name and namespace`);
    }
  }
  for (const [leaseId, actorId] of Object.entries(state.leaseOwners)) {
    const actor = state.actors[actorId];
    if (actor === undefined || actor.state === 'DEAD') problems.push(`lease ${leaseId} belongs to ${actorId}, which is not a live actor`);
    else if (actor.pendingLease?.leaseId !== leaseId && actor.leaseId !== leaseId) problems.push(`lease ${leaseId} is not a lease of ${actorId}`);
  }
  for (const [workerId, actorId] of Object.entries(state.actorOfWorker)) {
    const actor = state.actors[actorId];
    if (actor === undefined || actor.state === 'DEAD' || actor.workerId !== workerId) {
      problems.push(`worker ${workerId} is indexed to ${actorId}, which is not the live actor on it`);
    }
  }
  return problems;
}

/** Each actor's own record is coherent with its state. */
function actorProblems(state: GcsState): string[] {
  const problems: string[] = [];
  for (const [actorId, actor] of Object.entries(state.actors)) {
    const { spec } = actor;
    if (actor.actorId !== actorId || spec.actorId !== actorId) problems.push(`actor ${actorId} is filed under the wrong id`);
    if (spec.maxRestarts !== -1 && actor.numRestarts > spec.maxRestarts) problems.push(`actor ${actorId} restarted ${actor.numRestarts} times, above ${spec.maxRestarts}`);
    if (actor.restartCount !== actor.numRestarts) problems.push(`actor ${actorId} has restartCount ${actor.restartCount} but ${actor.numRestarts} restarts`);
    if (actor.subscribers.length > state.config.maxSubscribersPerActor) problems.push(`actor ${actorId} has ${actor.subscribers.length} subscribers, above the bound`);
    if (new Set(actor.subscribers).size !== actor.subscribers.length) problems.push(`actor ${actorId} lists a subscriber twice`);
    if (actor.pendingLease !== undefined && actor.workerId !== undefined) problems.push(`actor ${actorId} asks for a lease while it has a worker`);
    const hasWorker = actor.workerId !== undefined && actor.nodeId !== undefined && actor.leaseId !== undefined;
    const hasNone = actor.workerId === undefined && actor.nodeId === undefined && actor.leaseId === undefined;
    if (!hasWorker && !hasNone) problems.push(`actor ${actorId} has only part of a worker, node and lease`);
    if (actor.workerId !== undefined && state.actorOfWorker[actor.workerId] !== actorId) problems.push(`actor ${actorId}'s worker is not indexed to it`);
    switch (actor.state) {
      case 'ALIVE':
        if (!hasWorker) problems.push(`ALIVE actor ${actorId} has no worker`);
        else if (state.nodes[actor.nodeId ?? '']?.alive !== true) problems.push(`ALIVE actor ${actorId} is on node ${actor.nodeId}, which is not alive`);
        break;
      case 'DEAD':
        if (actor.pendingLease !== undefined || !hasNone) problems.push(`DEAD actor ${actorId} still holds a lease or worker`);
        if (actor.deathCause === undefined) problems.push(`DEAD actor ${actorId} has no death cause`);
        if (actor.subscribers.length > 0) problems.push(`DEAD actor ${actorId} keeps subscribers`);
        break;
      case 'PENDING':
      case 'RESTARTING':
        break;
    }
  }
  const deadCount = Object.values(state.actors).filter((actor) => actor.state === 'DEAD').length;
  if (deadCount > maxDeadActors) problems.push(`${deadCount} DEAD actors are kept, above the bound`);
  return problems;
}

/** Jobs, dead workers and nodes agree with their indexes and bounds. */
function bookkeepingProblems(state: GcsState): string[] {
  const problems: string[] = [];
  for (const [jobId, job] of Object.entries(state.jobs)) {
    if (job.jobId !== jobId || state.jobOfDriver[job.driverId] !== jobId) problems.push(`job ${jobId}'s driver ${job.driverId} is not known as its driver`);
  }
  for (const [driverId, jobId] of Object.entries(state.jobOfDriver)) {
    if (state.jobs[jobId]?.driverId !== driverId) problems.push(`driver ${driverId} is indexed to job ${jobId}, which it does not drive`);
  }
  if (state.deadWorkerOrder.length > state.config.maxDeadWorkers) problems.push(`${state.deadWorkerOrder.length} dead workers are kept, above the bound`);
  if (state.deadWorkerOrder.length !== Object.keys(state.deadWorkers).length) problems.push('the dead workers and their order disagree');
  const held = Object.keys(state.heldRedirects).length;
  if (held !== state.heldRedirectCount) problems.push(`${held} redirects are held but the count says ${state.heldRedirectCount}`);
  if (held > maxHeldRedirects) problems.push(`${held} redirects are held, above the bound`);
  if (state.redirectOrder.length > maxRememberedRedirects) problems.push(`${state.redirectOrder.length} redirects are remembered, above the bound`);
  for (const actorId of Object.keys(state.heldRedirects)) {
    if (state.actors[actorId] !== undefined) problems.push(`actor ${actorId} is registered and also held as a redirect`);
  }
  for (const [nodeId, node] of Object.entries(state.nodes)) {
    if (node.nodeId !== nodeId) problems.push(`node ${nodeId} is filed under the wrong id`);
    if (node.alive && node.missedChecks >= state.config.healthCheckFailureThreshold) problems.push(`node ${nodeId} missed ${node.missedChecks} checks but is alive`);
  }
  return problems;
}

/** Every broken invariant of the GCS state, as sentences; empty when all hold. */
export function gcsInvariants(state: GcsState): string[] {
  return [...indexProblems(state), ...actorProblems(state), ...bookkeepingProblems(state)];
}
