/**
 * `tsray sim SCRIPT` for an ordinary tsray script: each seed is one simulated run of the unchanged
 * script (node/sim). A failing run is recorded (run again with recording on, which must fail the
 * same way, or the script is not deterministic), optionally shrunk, written, and printed with the
 * commands that reproduce and debug it. Long runs show progress; the end gives a summary.
 */
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { shrinkSteps } from '../../core/sim/index.js';
import type { FaultPlan } from '../../core/sim/index.js';
import { simulate } from '../sim/index.js';
import type { SimulateResult } from '../sim/index.js';
import { faultPlanOf, writeTrace } from './sim.js';

/** What `tsray sim` was asked, for a script. */
export interface ScriptSimRequest {
  readonly script: string;
  /** What the script finds after its path in process.argv. */
  readonly argv: readonly string[];
  /** The simulated time a run must finish by. */
  readonly maxTimeMs: number;
  readonly firstSeed: number;
  readonly runs: number;
  readonly faultSpec: string;
  readonly faultPhaseMs: number;
  readonly nodeCount: number;
  readonly cpus: number;
  readonly out?: string;
  readonly shrink: boolean;
  readonly checkDeterminism: boolean;
}

/** How often progress is shown on a long run, in real ms (TSRAY_PROGRESS_EVERY_MS overrides it). */
function progressEveryMs(): number {
  const set = Number(process.env['TSRAY_PROGRESS_EVERY_MS']);
  return process.env['TSRAY_PROGRESS_EVERY_MS'] !== undefined && Number.isFinite(set) && set >= 0 ? set : 2000;
}

/** A failure's kind: its first line with numbers left out, so a shrunk plan may fail with other amounts or times. */
function failureKind(result: SimulateResult<unknown>): string {
  return firstError(result).replace(/\d+/g, '#');
}

function firstError(result: SimulateResult<unknown>): string {
  const error = result.error;
  const text = error instanceof Error ? `${error.name === 'SimFailure' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.split('\n')[0] ?? text;
}

/** The first line where two traces differ, as `line N`, with both versions. */
export function firstDifference(a: string, b: string): string | undefined {
  const linesA = a.split('\n');
  const linesB = b.split('\n');
  for (let index = 0; index < Math.max(linesA.length, linesB.length); index++) {
    if (linesA[index] !== linesB[index]) return `line ${index + 1}:\n    first run:  ${(linesA[index] ?? '(end)').slice(0, 300)}\n    second run: ${(linesB[index] ?? '(end)').slice(0, 300)}`;
  }
  return undefined;
}

/** Runs the seeds of a request; resolves to the exit code. */
export async function runScript(request: ScriptSimRequest): Promise<number> {
  const { script, faultPhaseMs } = request;
  const nodes = request.nodeCount;
  const name = basename(script).replace(/\.[cm]?[jt]s$/, '');
  const failingDir = request.out ?? join(tmpdir(), 'tsray-failures');
  const startedMs = performance.now();
  let lastProgressMs = startedMs;
  let failures = 0;
  let faultsInjected = 0;
  let simulatedMs = 0;
  let events = 0;
  // Traces say where the script is, relative to where they are written, so the debugger can run it again.
  const traceDir = request.out ?? failingDir;
  const workloadModule = `${relative(resolve(traceDir), resolve(script))}#script${request.argv.length === 0 ? '' : `#${JSON.stringify(request.argv)}`}`;
  const run = (seed: number, faults: FaultPlan, record: boolean): Promise<SimulateResult<unknown>> =>
    simulate(script, { seed, faults, faultPhaseMs, nodes, cpus: request.cpus, record, name, captureOutput: true, argv: request.argv, workloadModule, maxTimeMs: request.maxTimeMs });
  for (let seed = request.firstSeed; seed < request.firstSeed + request.runs; seed++) {
    const faults = faultPlanOf(request.faultSpec, seed, faultPhaseMs);
    const record = request.out !== undefined || request.checkDeterminism;
    const result = await run(seed, faults, record);
    if (result.ok && result.events === 0) {
      // Nothing reached the simulated cluster: the script is not one that uses tsray.
      throw new Error(`${script} never called tsray.init(), so nothing ran in the simulated cluster; tsray sim runs a script that uses tsray (or a generator workload exporting { name, bodies, actors, driver }, see examples/sim/)`);
    }
    faultsInjected += result.faults.length;
    simulatedMs += result.simTimeMs;
    events += result.events;
    if (request.checkDeterminism) {
      const again = await run(seed, faults, true);
      const difference = firstDifference(result.trace, again.trace);
      if (difference !== undefined) {
        failures += 1;
        process.stdout.write(`seed ${seed}: NOT DETERMINISTIC: two runs of the same seed and plan differ first at ${difference}\n  the script reaches something outside the simulation (real I/O, a timer or random source taken before the run, crypto, process.hrtime)\n`);
        continue;
      }
    }
    if (result.ok) {
      if (request.runs <= 20 || request.out !== undefined) process.stdout.write(`seed ${seed}: ok, ${result.events} events, ${result.simTimeMs} ms simulated, ${result.faults.length} faults\n`);
      if (request.out !== undefined) await writeTrace(request.out, `${name}-${seed}.jsonl`, result.trace);
    } else {
      failures += 1;
      await reportFailure(request, seed, faults, result, record, run, failingDir, name);
    }
    const nowMs = performance.now();
    if (nowMs - lastProgressMs >= progressEveryMs() && seed < request.firstSeed + request.runs - 1) {
      lastProgressMs = nowMs;
      process.stderr.write(`… ${seed - request.firstSeed + 1}/${request.runs} runs, ${failures} failed, ${((nowMs - startedMs) / 1000).toFixed(1)} s\n`);
    }
  }
  const realS = (performance.now() - startedMs) / 1000;
  process.stdout.write(
    `${request.runs} runs, ${failures} failed, ${faultsInjected} faults injected, ${events} events; ${(simulatedMs / 1000).toFixed(1)} s simulated in ${realS.toFixed(1)} s real (${(simulatedMs / 1000 / Math.max(realS, 0.001)).toFixed(0)} simulated s per real s)\n`,
  );
  return failures === 0 ? 0 : 1;
}

async function reportFailure(
  request: ScriptSimRequest,
  seed: number,
  faults: FaultPlan,
  first: SimulateResult<unknown>,
  recorded: boolean,
  run: (seed: number, faults: FaultPlan, record: boolean) => Promise<SimulateResult<unknown>>,
  failingDir: string,
  name: string,
): Promise<void> {
  let failure = first;
  if (!recorded) {
    // Run again recording: the same seed and plan must fail the same way.
    failure = await run(seed, faults, true);
    if (failure.ok || firstError(failure) !== firstError(first)) {
      process.stdout.write(`seed ${seed}: FAILED with "${firstError(first)}", but run again it ${failure.ok ? 'passed' : `failed with "${firstError(failure)}"`}: the script is not deterministic (real time, randomness or I/O outside the simulation?)\n`);
      return;
    }
  }
  let plan = faults;
  if (request.shrink) {
    const steps = shrinkSteps(faults, 200, request.faultPhaseMs);
    let step = steps.next();
    while (step.done !== true) {
      const candidate = await run(seed, step.value, true);
      const stillFails = !candidate.ok && failureKind(candidate) === failureKind(first);
      if (stillFails) failure = candidate;
      step = steps.next(stillFails);
    }
    plan = step.value.plan;
    process.stdout.write(`seed ${seed}: shrunk the fault plan in ${step.value.attempts} runs${step.value.bounded ? ' (stopped at the bound on runs)' : ''}: ${JSON.stringify(plan)}\n`);
    failure = await run(seed, plan, true);
  }
  const path = await writeTrace(failingDir, `${name}-${seed}.jsonl`, failure.trace);
  const again = ['tsray sim', request.script, '--seed', String(seed), '--faults', `'${JSON.stringify(plan)}'`, '--fault-phase-ms', String(request.faultPhaseMs), '--nodes', String(request.nodeCount), '--cpus', String(request.cpus), ...(request.maxTimeMs === 120_000 ? [] : ['--max-time-ms', String(request.maxTimeMs)]), ...(request.argv.length === 0 ? [] : ['--', ...request.argv])].join(' ');
  const printed = failure.output.length === 0 ? '' : `  the script printed:\n${failure.output.slice(-20).map((line) => `    ${line.split('\n').join('\n    ')}\n`).join('')}`;
  process.stdout.write(`seed ${seed}: FAILED: ${firstError(failure)}\n${printed}  trace:     ${path}\n  reproduce: ${again}\n  debug:     tsray debug ${path}\n`);
}
