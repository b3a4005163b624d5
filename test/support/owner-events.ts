/**
 * Owner events that core tests build often, written once: a driver starting, the submission of a
 * tiny task (one inline argument, one return, one CPU), and the spec of a `Counter` actor.
 */
import type { ActorCreation, OwnerEvent } from '../../core/owner/index.js';
import type { ActorSpec } from '../../core/protocol.js';
import { defaultOwnerConfig } from '../../core/owner/index.js';

/** The driver `n1.d1` on node `n1` starting. */
export const driverStarted: OwnerEvent = { type: 'owner/started', workerId: 'n1.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: defaultOwnerConfig };

/** A tiny task submitted by the driver: `add` with one inline argument. */
export const tinySubmission: OwnerEvent = {
  type: 'task/submitted',
  functionId: 'add',
  name: 'add',
  args: [{ kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } }],
  numReturns: 1,
  maxRetries: 3,
  retryExceptions: false,
  resources: { CPU: 1 },
  strategy: 'DEFAULT',
};

/** The spec of a `Counter` actor `actorId` of the driver `n1.d1` (one inline constructor argument, one CPU to place it), with `overrides`. */
export function counterActorSpec(actorId: string, overrides: Partial<ActorSpec> = {}): ActorSpec {
  return {
    actorId,
    jobId: 'j1',
    owner: 'n1.d1',
    className: 'Counter',
    functionId: 'Counter',
    args: [{ kind: 'value', payload: { kind: 'inline', data: { start: [1, 2] }, sizeBytes: 8, refs: [] } }],
    namespace: 'default',
    detached: false,
    getIfExists: false,
    maxRestarts: 0,
    maxTaskRetries: 0,
    maxConcurrency: 1,
    resources: {},
    placementResources: { CPU: 1 },
    strategy: 'DEFAULT',
    ...overrides,
  };
}

/** The driver's `A.remote()` of the `Counter` actor of `counterActorSpec`, without constructor arguments, with `overrides`. */
export function counterActorCreation(overrides: Partial<ActorCreation> = {}): OwnerEvent {
  const { actorId: _actorId, jobId: _jobId, owner: _owner, ...creation } = counterActorSpec('');
  return { type: 'actor/creation-submitted', ...creation, args: [], ...overrides };
}
