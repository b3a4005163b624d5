/**
 * Broken owner recipes for mutation tests: each wraps the real `ownerCore` and breaks one rule, so
 * that a property suite that passes on the real core must fail on it.
 */
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import type { OwnerEvent, OwnerState } from '../../core/owner/index.js';
import { ownerCore } from '../../core/owner/index.js';

/** A named mutant of the owner core. */
export interface Mutant {
  readonly name: string;
  readonly owner: ComponentCore<unknown, AnyEvent, unknown>;
}

/** The owner core with `before` run ahead of each real step and `after` after it. */
function wrapOwner(hooks: { before?: (state: OwnerState, event: OwnerEvent) => void; after?: (state: OwnerState, event: OwnerEvent) => void }): ComponentCore<unknown, AnyEvent, unknown> {
  const core: ComponentCore<OwnerState, OwnerEvent, unknown> = {
    ...ownerCore,
    apply: (state, event) => {
      hooks.before?.(state, event);
      const effects = ownerCore.apply(state, event);
      hooks.after?.(state, event);
      return effects;
    },
  };
  return core as unknown as ComponentCore<unknown, AnyEvent, unknown>;
}

/** The mutants: (a) and (b) as the brief spells them, (c) a retry rule ignored. */
export const mutants: readonly Mutant[] = [
  {
    name: 'a retry that is not counted (attempt reset to 1 once a task leaves RUNNING)',
    owner: wrapOwner({
      after: (state) => {
        for (const task of Object.values(state.tasks)) if (task.attempt > 1 && task.state !== 'RUNNING') task.attempt = 1;
      },
    }),
  },
  {
    name: 'a ref count decremented twice (submittedRefs dropped again on every task/replied)',
    owner: wrapOwner({
      after: (state, event) => {
        if (event.type !== 'task/replied') return;
        for (const object of Object.values(state.objects)) if (object.submittedRefs > 0) object.submittedRefs -= 1;
      },
    }),
  },
  {
    name: 'retryExceptions ignored (every thrown error is retried while retries last)',
    owner: wrapOwner({
      before: (state, event) => {
        if (event.type !== 'task/replied' || event.result.kind !== 'threw') return;
        const task = state.tasks[event.taskId];
        if (task !== undefined) task.spec = { ...task.spec, retryExceptions: true };
      },
    }),
  },
];
