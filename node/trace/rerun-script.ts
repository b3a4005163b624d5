/**
 * Runs a simulated script once, in a process of its own, and writes its trace to stdout: the
 * debugger's counterfactual for traces of `tsray sim SCRIPT`. A separate process keeps the run's
 * virtual time and module loading away from the debugger's own (Ink's timers keep running).
 *
 *   node rerun-script.js '{"script": PATH, "options": {...}}'
 */
import { simulate } from '../sim/index.js';
import type { SimulateOptions } from '../sim/index.js';

/** What the debugger passes: the script and the run's options. */
export interface RerunRequest {
  readonly script: string;
  readonly options: SimulateOptions;
}

const request = JSON.parse(process.argv[2] ?? '{}') as Partial<RerunRequest>;
if (typeof request.script !== 'string') {
  process.stderr.write('rerun-script takes {"script": PATH, "options": {...}} as its argument\n');
  process.exit(2);
}
const result = await simulate(request.script, { ...request.options, record: true, captureOutput: true });
process.stdout.write(result.trace);
