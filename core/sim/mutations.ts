/**
 * Deliberately broken recipes, by name: each wraps a real core and breaks one rule. The property
 * suite must catch every one (test/property/mutation.test.ts), and a curated trace shows what the
 * debugger makes of one (traces/). A run under a mutation records its name in the trace's header, so
 * replay applies the same broken recipe and reproduces the run exactly.
 */
import type { AnyEvent, ComponentCore } from '../component.js';
import { ownerCore } from '../owner/index.js';
import type { OwnerEvent, OwnerState } from '../owner/index.js';
import { tableGet, tableValues } from '../table.js';

/** A named broken recipe. */
export interface Mutation {
  /** What rule it breaks, in words. */
  readonly description: string;
  /** The cores it replaces. */
  readonly cores: Partial<Record<'gcs' | 'raylet' | 'owner', ComponentCore<unknown, AnyEvent, unknown>>>;
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

/** The mutations, by the name a trace's header records. */
export const mutations: Readonly<Record<string, Mutation>> = {
  'retry-not-counted': {
    description: 'a retry that is not counted (attempt reset to 1 once a task leaves RUNNING)',
    cores: {
      owner: wrapOwner({
        after: (state) => {
          for (const task of tableValues(state.tasks)) if (task.attempt > 1 && task.state !== 'RUNNING') task.attempt = 1;
        },
      }),
    },
  },
  'double-release': {
    description: 'a ref count decremented twice (submittedRefs dropped again on every task/replied)',
    cores: {
      owner: wrapOwner({
        after: (state, event) => {
          if (event.type !== 'task/replied') return;
          for (const object of tableValues(state.objects)) if (object.submittedRefs > 0) object.submittedRefs -= 1;
        },
      }),
    },
  },
  'retry-exceptions-ignored': {
    description: 'retryExceptions ignored (every thrown error is retried while retries last)',
    cores: {
      owner: wrapOwner({
        before: (state, event) => {
          if (event.type !== 'task/replied' || event.result.kind !== 'threw') return;
          const task = tableGet(state.tasks, event.taskId);
          if (task !== undefined) task.spec = { ...task.spec, fn: { ...task.spec.fn, retryExceptions: true } };
        },
      }),
    },
  },
};

/** The mutation called `name`, or undefined with the names there are. */
export function mutationNamed(name: string): Mutation | undefined {
  return Object.prototype.hasOwnProperty.call(mutations, name) ? mutations[name] : undefined;
}
