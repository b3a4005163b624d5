/**
 * Jobs: one per driver. A job ends when its driver says so or dies; its non-detached actors end with it.
 */
import { send } from '../effects.js';
import type { JobId, WorkerId } from '../ids.js';
import { workerAddress } from '../ids.js';
import { destroyActor } from './actors.js';
import type { GcsEffect } from './events.js';
import type { GcsState } from './state.js';

/** Registers the driver's job, once per driver; a repeated request gets the same job id. */
export function registerJob(state: GcsState, driverId: WorkerId, namespace: string, effects: GcsEffect[]): void {
  let jobId = state.jobOfDriver[driverId];
  if (jobId === undefined) {
    state.jobCounter += 1;
    jobId = `j${state.jobCounter}`;
    // A driver already known dead gets its id, but its job is over before it starts.
    const alive = state.deadWorkers[driverId] !== true;
    state.jobs[jobId] = { jobId, driverId, namespace, alive };
    state.jobOfDriver[driverId] = jobId;
  }
  effects.push(send(workerAddress(driverId), { type: 'job/registration-replied', jobId }));
}

/** Ends the job and kills its non-detached actors; an unknown or ended job is left alone. */
export function endJob(state: GcsState, jobId: JobId, effects: GcsEffect[]): void {
  const job = state.jobs[jobId];
  if (job === undefined || !job.alive) return;
  job.alive = false;
  for (const actorId of Object.keys(state.actors)) {
    const actor = state.actors[actorId];
    if (actor === undefined || actor.state === 'DEAD' || actor.spec.detached || actor.spec.jobId !== jobId) continue;
    destroyActor(state, actor, 'job finished', { kind: 'kill', reason: 'killed' }, effects);
  }
}
