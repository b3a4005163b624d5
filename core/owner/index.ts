/**
 * The owner component's core: events, state, recipe and invariants, as one `ComponentCore`.
 */
import type { ComponentCore } from '../component.js';
import { applyOwner } from './apply.js';
import type { OwnerEffect, OwnerEvent } from './events.js';
import { ownerInvariants, ownerInvariantsSince } from './invariants.js';
import { initialOwnerState } from './state.js';
import type { OwnerState } from './state.js';

export * from './events.js';
export * from './state.js';
export { applyOwner, nextPutObjectId } from './apply.js';
export { ownerInvariants, ownerInvariantsSince } from './invariants.js';
export { explainTask } from './explain.js';
export { resolvedAliasHandle } from './actor-calls.js';

/** The owner as the shells, the simulator and the replayer run it. */
export const ownerCore: ComponentCore<OwnerState, OwnerEvent, OwnerEffect> = {
  kind: 'owner',
  version: 35,
  initial: initialOwnerState,
  apply: applyOwner,
  invariants: ownerInvariants,
  invariantsSince: ownerInvariantsSince,
};
