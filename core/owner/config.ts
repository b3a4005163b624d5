/**
 * An owner's config made from parts, as `{ ...base, ...changes }` makes it (the same keys in the same
 * order, the same values), but built one key at a time on an empty object. V8 gives every object
 * built so, with the same keys in the same order, one hidden class. A spread copy's class changed as
 * V8 moved the code making it from one tier to the next (six new classes in 20,000 copies, none built
 * here), and a burst's `owner/pipeline-depth-set` events came as that code warmed: the compiled readers
 * of the config's fields (the pipeline of tasks on a lease, the log's elision of large values) met a class
 * they had not ('wrong map'), and they, with every function they were inlined into, were compiled again.
 */
import type { OwnerConfig } from './state.js';

/** `{ ...base, ...changes }`, built so that configs of the same keys share one hidden class. */
export function mergedConfig(base: OwnerConfig, changes: Partial<OwnerConfig>): OwnerConfig {
  const config: Record<string, unknown> = {};
  const baseKeys = Object.keys(base);
  for (let index = 0; index < baseKeys.length; index += 1) {
    const key = baseKeys[index] as string;
    config[key] = (base as unknown as Record<string, unknown>)[key];
  }
  const changedKeys = Object.keys(changes);
  for (let index = 0; index < changedKeys.length; index += 1) {
    const key = changedKeys[index] as string;
    config[key] = (changes as Record<string, unknown>)[key];
  }
  return config as unknown as OwnerConfig;
}
