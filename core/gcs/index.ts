/**
 * The GCS's pure core: nodes and their health, jobs, actors (names, placement through leases,
 * restarts, pubsub). The shell in node/gcs feeds it events and carries out its effects.
 */
import type { ComponentCore } from '../component.js';
import { applyGcs } from './apply.js';
import type { GcsEffect, GcsEvent } from './events.js';
import { gcsInvariants } from './invariants.js';
import type { GcsState } from './state.js';
import { initialGcsState } from './state.js';

export * from './events.js';
export * from './state.js';
export { applyGcs } from './apply.js';
export { gcsInvariants } from './invariants.js';
export { legalActorTransitions, transitionActor } from './transition.js';

/** The GCS reducer as every driver (live shell, simulator, replayer) runs it. */
export const gcsCore: ComponentCore<GcsState, GcsEvent, GcsEffect> = {
  kind: 'gcs',
  version: 10,
  initial: initialGcsState,
  apply: applyGcs,
  invariants: gcsInvariants,
};
