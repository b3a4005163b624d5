/** Hooks for values that hold no runtime handles: nothing is recognized, and nothing rebuilt. */
import type { CodecHooks } from './types.js';

function noHandles(): never {
  throw new TypeError('this value holds a runtime handle (ObjectRef, ActorHandle, ...), but it was decoded with plainDataHooks');
}

/** Codec hooks that know no runtime classes: such instances are rejected like any class instance. */
export const plainDataHooks: CodecHooks = {
  refOf: () => undefined,
  makeRef: noHandles,
  actorOf: () => undefined,
  makeActor: noHandles,
  functionOf: () => undefined,
  makeFunction: noHandles,
  actorClassOf: () => undefined,
  makeActorClass: noHandles,
};
