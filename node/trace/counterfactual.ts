/**
 * The counterfactual: run a simulator trace's workload again, from the same seed and settings, with
 * one fault of its plan left out or changed, and say whether the failure remains and where the two
 * runs first differ. The simulator is deterministic, so any difference is the change's doing.
 */
import { execFile } from 'node:child_process';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as E from 'fp-ts/lib/Either.js';
import { SimFailure, simulate } from '../../core/sim/index.js';
import type { FaultPlan, ScheduledFault, SimOptions, SimProgram } from '../../core/sim/index.js';
import { stableStringify } from '../../core/hash.js';
import { decodeTrace } from '../../core/trace/decode.js';
import type { Trace, TraceEntry } from '../../core/trace/format.js';

/** One change to a fault plan. */
export type PlanChange =
  | { readonly kind: 'drop'; readonly index: number }
  | { readonly kind: 'replace'; readonly index: number; readonly fault: ScheduledFault }
  | { readonly kind: 'rate'; readonly key: 'dropRate' | 'duplicateRate' | 'jitterMs' | 'spikeRate' | 'spikeMs'; readonly value: number };

/** The two runs side by side. */
export interface Counterfactual {
  readonly originalPlan: FaultPlan;
  readonly changedPlan: FaultPlan;
  /** How each run failed (its failure note), or undefined if it did not. */
  readonly originalFailure?: string;
  readonly changedFailure?: string;
  /** The first seq where the two runs' events differ, with each side's event there (absent where a run had ended). */
  readonly firstDifference?: { readonly seq: number; readonly original?: TraceEntry; readonly changed?: TraceEntry };
  /** The changed run's trace text, to open in the debugger. */
  readonly changedTraceText: string;
}

/** Why a counterfactual could not be run: one line that says what to do. */
export class CounterfactualError extends Error {
  override readonly name = 'CounterfactualError';
}

/** `plan` with `change` made. */
export function changePlan(plan: FaultPlan, change: PlanChange): FaultPlan {
  const scheduled = plan.scheduled ?? [];
  switch (change.kind) {
    case 'drop':
    case 'replace':
      if (change.index < 0 || change.index >= scheduled.length) throw new CounterfactualError(`the plan has ${scheduled.length} scheduled faults; there is no fault ${change.index}`);
      return {
        ...plan,
        scheduled: change.kind === 'drop' ? scheduled.filter((_, index) => index !== change.index) : scheduled.map((fault, index) => (index === change.index ? change.fault : fault)),
      };
    case 'rate':
      return { ...plan, [change.key]: change.value };
  }
}

/** The failure a trace's notes record (an invariant broken, a liveness failure), if any. */
export function failureOf(trace: Trace): string | undefined {
  return trace.notes.find((note) => note.note.startsWith('failure: ') || note.note.startsWith('liveness failure'))?.note;
}

/** Loads the program a trace's header names (`workloadModule`: a path relative to the trace file, and an export). */
async function programOf(trace: Trace, tracePath: string): Promise<SimProgram> {
  const locator = trace.header.workloadModule;
  if (locator === undefined) throw new CounterfactualError('this trace does not say where its workload is (traces written by tsray sim and npm run traces do); run the workload again under another plan with tsray sim --faults');
  const [modulePath = '', exportName = 'default'] = locator.split('#');
  const url = modulePath.startsWith('file:') ? modulePath : pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(dirname(tracePath), modulePath)).href;
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new CounterfactualError(`cannot load the workload ${url}: ${(error as Error).message.split('\n')[0] ?? ''}; is the trace still beside it (or was npm run build run)?`);
  }
  const program = module[exportName] as SimProgram | undefined;
  if (typeof program?.driver !== 'function') throw new CounterfactualError(`${url} has no simulator program '${exportName}'`);
  return { ...program, actors: program.actors ?? {} };
}

/** The simulator options that repeat the trace's run, with `faults` as its plan. */
function optionsOf(trace: Trace, program: SimProgram, faults: FaultPlan): SimOptions {
  const { header } = trace;
  if (header.createdBy !== 'sim' || header.seed === undefined) throw new CounterfactualError('only a simulator trace can be run again: a live run cannot be repeated exactly');
  const cluster = header.cluster as { nodes?: SimOptions['nodes'] } | undefined;
  const settings = (header.sim ?? {}) as Partial<SimOptions>;
  const seedNumber = Number(header.seed);
  return {
    ...settings,
    seed: Number.isSafeInteger(seedNumber) && String(seedNumber) === header.seed ? seedNumber : header.seed,
    program,
    faults,
    ...(cluster?.nodes === undefined ? {} : { nodes: cluster.nodes }),
    ...(header.mutation === undefined ? {} : { mutation: header.mutation }),
    ...(header.workloadModule === undefined ? {} : { workloadModule: header.workloadModule }),
  };
}

/**
 * Runs a script's trace again under `faults`, in a process of its own (rerun-script.ts): the locator
 * is `PATH#script`, or `PATH#script#ARGV` with the script's arguments as JSON.
 */
async function rerunScript(trace: Trace, tracePath: string, faults: FaultPlan): Promise<string> {
  const { header } = trace;
  if (header.createdBy !== 'sim' || header.seed === undefined) throw new CounterfactualError('only a simulator trace can be run again: a live run cannot be repeated exactly');
  const [modulePath = '', , argvText] = (header.workloadModule ?? '').split('#');
  const script = isAbsolute(modulePath) ? modulePath : resolve(dirname(tracePath), modulePath);
  const settings = (header.sim ?? {}) as { faultPhaseMs?: number; maxTimeMs?: number };
  const cluster = header.cluster as { nodes?: { resources: Record<string, number> }[] } | undefined;
  const options = {
    seed: header.seed,
    faults,
    ...(settings.faultPhaseMs === undefined ? {} : { faultPhaseMs: settings.faultPhaseMs }),
    ...(settings.maxTimeMs === undefined ? {} : { maxTimeMs: settings.maxTimeMs }),
    ...(cluster?.nodes === undefined ? {} : { nodes: cluster.nodes }),
    ...(header.mutation === undefined ? {} : { mutation: header.mutation }),
    ...(argvText === undefined ? {} : { argv: JSON.parse(argvText) as string[] }),
    workloadModule: header.workloadModule,
  };
  const runner = join(dirname(fileURLToPath(import.meta.url)), 'rerun-script.js');
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [runner, JSON.stringify({ script, options })], { maxBuffer: 1 << 30, timeout: 120_000 });
    return stdout;
  } catch (error) {
    throw new CounterfactualError(`running ${script} again failed: ${((error as { stderr?: string }).stderr ?? String(error)).trim().split('\n')[0] ?? ''}; is the trace still beside the script?`);
  }
}

/** Runs the trace's workload again with `change` made to its plan, and compares the runs. */
export async function runCounterfactual(trace: Trace, tracePath: string, change: PlanChange): Promise<Counterfactual> {
  const originalPlan = (trace.header.faultPlan ?? {}) as FaultPlan;
  const changedPlan = changePlan(originalPlan, change);
  let text: string;
  if (trace.header.workloadModule?.split('#')[1] === 'script') text = await rerunScript(trace, tracePath, changedPlan);
  else {
    const program = await programOf(trace, tracePath);
    try {
      text = simulate(optionsOf(trace, program, changedPlan)).traceText();
    } catch (error) {
      if (!(error instanceof SimFailure)) throw error;
      text = error.traceText;
    }
  }
  const decoded = decodeTrace(text);
  if (E.isLeft(decoded)) throw new CounterfactualError(`the changed run's trace did not decode: ${decoded.left.reason}`);
  const changed = decoded.right;
  return {
    originalPlan,
    changedPlan,
    originalFailure: failureOf(trace),
    changedFailure: failureOf(changed),
    firstDifference: firstDifference(trace.entries, changed.entries),
    changedTraceText: text,
  };
}

/** The first seq at which two runs' entries differ in component or event. */
export function firstDifference(original: readonly TraceEntry[], changed: readonly TraceEntry[]): Counterfactual['firstDifference'] {
  const length = Math.max(original.length, changed.length);
  for (let index = 0; index < length; index++) {
    const a = original[index];
    const b = changed[index];
    if (a !== undefined && b !== undefined && a.address === b.address && stableStringify(a.event) === stableStringify(b.event)) continue;
    return { seq: a?.seq ?? b?.seq ?? index + 1, ...(a === undefined ? {} : { original: a }), ...(b === undefined ? {} : { changed: b }) };
  }
  return undefined;
}
