/**
 * `tsray/sim`: run ordinary tsray code in the deterministic simulator, and fault plans for
 * fast-check properties over it.
 *
 * ```ts
 * import fc from 'fast-check';
 * import { simulate, faultPlans } from 'tsray/sim';
 * await fc.assert(fc.asyncProperty(faultPlans(), async (faults) => {
 *   const run = await simulate(async () => { ... tsray code ... }, { seed: 1, faults });
 *   return run.ok;
 * }));
 * ```
 */
import { register } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tsray from '../public.js';
import { addEntryUrl } from '../runtime/shipping.js';
import { runSimulated } from './script-run.js';
import type { ScriptRunOptions, ScriptRunResult } from './script-run.js';

export type { ScriptRunOptions as SimulateOptions, ScriptRunResult as SimulateResult } from './script-run.js';
export { faultPlans, FaultPlanOptionError, scheduledFaultKinds, shrinkPlan, SimFailure } from '../../core/sim/index.js';
export type { FaultPlan, FaultPlanOptions, ScheduledFault } from '../../core/sim/index.js';

let scriptRuns = 0;
let hooksRegistered = false;

/** Registers the hooks that give each run its own copy of the script's modules (module-hooks.ts), once. */
function isolateRuns(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  // tsray's own modules (its dist/ folder) stay shared: the run's API and simulator live there.
  const tsrayDist = new URL('../../', import.meta.url).href;
  register(new URL('./module-hooks.js', import.meta.url), { data: { sharedPrefixes: [tsrayDist] } });
}

/**
 * Runs `main` (a function, or the path of a script that `node SCRIPT` would run) once in a simulated
 * cluster of the real reducers, under the seed and fault plan of `options`; resolves to whether it
 * passed, what it returned or why it failed, and its trace. A script is imported afresh for each run.
 */
export async function simulate<T = unknown>(main: (() => Promise<T> | T) | string, options: ScriptRunOptions = {}): Promise<ScriptRunResult<T>> {
  if (typeof main === 'string') {
    const path = isAbsolute(main) ? main : resolve(main);
    isolateRuns();
    // A URL of its own per run: the module evaluates again, as a fresh `node SCRIPT` would.
    const url = `${pathToFileURL(path).href}?tsray-sim-run=${++scriptRuns}`;
    addEntryUrl(url);
    // The script sees the argv that `node SCRIPT ARGS` gives it.
    const savedArgv = process.argv;
    process.argv = [process.execPath, path, ...(options.argv ?? [])];
    try {
      return await runSimulated(async () => (await import(url)) as T, { name: path.split(/[\\/]/).pop() ?? 'script', ...options }, tsray, true);
    } finally {
      process.argv = savedArgv;
    }
  }
  if (typeof main !== 'function') throw new TypeError(`simulate takes an async function or a script path, not ${main === null ? 'null' : typeof main}`);
  return runSimulated(main, options, tsray);
}
