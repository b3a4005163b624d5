/**
 * `tsray sim SCRIPT [--seed N] [--runs K] [--faults SPEC] [--nodes N] [--cpus C] [-o DIR] [--shrink]
 * [--check-determinism]`: run an ordinary tsray script (the one `node SCRIPT` runs live) in the
 * deterministic simulator, once per seed, under a fault plan; write each run's trace when asked, and
 * always write the trace of a failing run, with the commands that reproduce and debug it. A module
 * that exports a generator workload ({ name, bodies, actors, driver }, the simulator's internal
 * format used by the property suite and examples/sim/) runs as before.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SeededRandom, shrinkPlan, SimFailure, simulate, simulationFailure } from '../../core/sim/index.js';
import type { FaultPlan, ScheduledFault, SimProgram } from '../../core/sim/index.js';
import { UsageError, wholeNumber } from './usage.js';
import { runScript } from './sim-script.js';

const presets = ['none', 'messages', 'crashes', 'node-deaths', 'chaos'] as const;

/** A bound on simulated nodes, so a mistyped count fails with the limit named. */
const maxNodes = 64;

/** The fault plan a `--faults` value names: a preset, or a FaultPlan as JSON. */
export function faultPlanOf(spec: string, seed: number, faultPhaseMs: number): FaultPlan {
  const random = new SeededRandom(`faults:${seed}`);
  const scheduled = (count: number): ScheduledFault[] =>
    Array.from({ length: count }, (): ScheduledFault => {
      const atMs = random.int(10, faultPhaseMs - 10);
      switch (random.int(0, 4)) {
        case 0:
          return { atMs, kind: 'worker-crash', target: random.int(0, 9) };
        case 1:
          return { atMs, kind: 'owner-death', target: random.int(0, 9) };
        case 2:
          return { atMs, kind: 'node-death', target: random.int(0, 9) };
        case 3:
          return { atMs, kind: 'gcs-restart', downMs: random.int(20, 200) };
        default:
          return { atMs, kind: 'partition', target: random.int(0, 9), durationMs: random.int(20, 1000) };
      }
    });
  switch (spec) {
    case 'none':
      return {};
    case 'messages':
      return { dropRate: 0.1, duplicateRate: 0.1, jitterMs: 5, spikeRate: 0.05, spikeMs: 50 };
    case 'crashes':
      return { scheduled: scheduled(3) };
    case 'node-deaths': {
      // One or two nodes die at random times, and messages are lost, repeated and late.
      const deaths = Array.from({ length: random.int(1, 2) }, (): ScheduledFault => ({ atMs: random.int(10, faultPhaseMs - 10), kind: 'node-death', target: random.int(0, 9) }));
      return { dropRate: 0.05, duplicateRate: 0.05, jitterMs: 5, scheduled: deaths };
    }
    case 'chaos':
      return { dropRate: 0.1, duplicateRate: 0.1, jitterMs: 5, spikeRate: 0.05, spikeMs: 50, scheduled: scheduled(4) };
  }
  try {
    return JSON.parse(spec) as FaultPlan;
  } catch {
    throw new UsageError(`--faults takes one of ${presets.join(', ')} or a fault plan as JSON, not '${spec}'`);
  }
}

function isProgram(value: unknown): value is SimProgram {
  const candidate = value as Partial<SimProgram> | undefined;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.driver === 'function' && typeof candidate.bodies === 'object' && typeof candidate.name === 'string';
}

/** The generator workload a module exports, if it is one. */
function programOf(module: Record<string, unknown>): { program: SimProgram; exportName: string } | undefined {
  const exportName = module.default !== undefined ? 'default' : 'program';
  const program = module[exportName];
  if (!isProgram(program)) return undefined;
  return { program: { ...program, actors: program.actors ?? {} }, exportName };
}

/** Whether the file is a generator workload module, found by importing it (which runs nothing of a workload). */
async function loadProgram(script: string): Promise<{ program: SimProgram; exportName: string } | undefined> {
  const source = await readFile(script, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${script}: ${error.code ?? error.message}; pass the path of a tsray script`);
  });
  // A script that calls init() is run by the simulator itself: importing it here would run it live.
  if (/\binit\s*\(/.test(source) || !/\bdriver\b/.test(source)) return undefined;
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(script)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`cannot load ${script}: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
  return programOf(module);
}

const simHelp = `usage: tsray sim SCRIPT [options] [-- ARGS]

Runs SCRIPT, the tsray script that \`node SCRIPT ARGS\` runs, unchanged, on a simulated cluster of the
real reducers: one seeded scheduler, virtual time, and the faults of a plan. Each seed is one run.

  --seed N               the first seed (default 1)
  --runs K               how many seeds, from --seed (default 1)
  --faults SPEC          none (default), messages, crashes, node-deaths, chaos, or a fault plan as JSON
  --fault-phase-ms MS    faults happen before this simulated time; then every get must settle (default 1000)
  --nodes N, --cpus C    the cluster: N nodes of C CPUs (default 3 and 2)
  -o DIR                 write every run's trace into DIR (failing runs are always written)
  --shrink               make a failing run's fault plan as small as still fails
  --check-determinism    run each seed twice and name the first line where the traces differ
  --max-time-ms MS       a run still going at this simulated time fails its liveness check (default 120000)
  -- ARGS                what the script finds in process.argv after its path

A failing run prints what the script printed, its trace, and the commands that reproduce and debug it.
`;

/** Runs `tsray sim`; resolves to the exit code. */
export async function simCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        seed: { type: 'string' },
        runs: { type: 'string' },
        faults: { type: 'string', default: 'none' },
        out: { type: 'string', short: 'o' },
        'fault-phase-ms': { type: 'string' },
        nodes: { type: 'string' },
        cpus: { type: 'string' },
        shrink: { type: 'boolean', default: false },
        'check-determinism': { type: 'boolean', default: false },
        'max-time-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`sim: ${(error as Error).message}`);
  }
  if (parsed.values.help) {
    process.stdout.write(simHelp);
    return 0;
  }
  const script = parsed.positionals[0];
  if (script === undefined) throw new UsageError('sim takes a script: tsray sim SCRIPT [--seed N] [--runs K] [--faults SPEC] [-- ARGS]');
  const firstSeed = wholeNumber('--seed', parsed.values.seed, 1);
  const runs = wholeNumber('--runs', parsed.values.runs, 1, 1);
  const faultPhaseMs = wholeNumber('--fault-phase-ms', parsed.values['fault-phase-ms'], 1000, 100);
  const nodeCount = wholeNumber('--nodes', parsed.values.nodes, 3, 1);
  const cpus = wholeNumber('--cpus', parsed.values.cpus, 2, 1);
  if (nodeCount > maxNodes) throw new UsageError(`--nodes takes at most ${maxNodes} nodes, not ${nodeCount}`);
  const nodes = Array.from({ length: nodeCount }, () => ({ resources: { CPU: cpus } }));
  faultPlanOf(parsed.values.faults, firstSeed, faultPhaseMs);
  const loaded = await loadProgram(script);
  if (loaded === undefined) {
    const maxTimeMs = wholeNumber('--max-time-ms', parsed.values['max-time-ms'], 120_000, faultPhaseMs + 1000);
    return runScript({ script, argv: parsed.positionals.slice(1), maxTimeMs, firstSeed, runs, faultSpec: parsed.values.faults, faultPhaseMs, nodeCount, cpus, ...(parsed.values.out === undefined ? {} : { out: parsed.values.out }), shrink: parsed.values.shrink, checkDeterminism: parsed.values['check-determinism'] });
  }
  if (parsed.positionals.length > 1) throw new UsageError(`${script} is a generator workload, which takes no arguments`);
  const { program, exportName } = loaded;
  // Traces say where the workload is, relative to where they are written, so that the debugger can run it again.
  const passingDir = parsed.values.out;
  const failingDir = parsed.values.out ?? join(tmpdir(), 'tsray-failures');
  const workloadModuleFrom = (dir: string): string => `${relative(resolve(dir), resolve(script))}#${exportName}`;
  // A passing run's trace is wanted only with -o: without it, runs record nothing (about 40% faster),
  // and a failing one is run again recording, which must fail the same way (a check of determinism).
  const recordPassing = passingDir !== undefined;
  let failures = 0;
  for (let seed = firstSeed; seed < firstSeed + runs; seed++) {
    const faults = faultPlanOf(parsed.values.faults, seed, faultPhaseMs);
    try {
      const result = simulate({ seed, program, faults, faultPhaseMs, nodes, record: recordPassing, workloadModule: workloadModuleFrom(passingDir ?? failingDir) });
      const summary = JSON.stringify(result.driverResult) ?? 'undefined';
      process.stdout.write(`seed ${seed}: ok, ${result.events} events, ${result.simTimeMs} ms simulated, ${result.faults.length} faults; result ${summary.length > 200 ? `${summary.slice(0, 200)}…` : summary}\n`);
      if (parsed.values.out !== undefined) await writeTrace(parsed.values.out, `${program.name}-${seed}.jsonl`, result.traceText());
    } catch (error) {
      if (!(error instanceof SimFailure)) throw error;
      failures += 1;
      let failure = error;
      if (!recordPassing) {
        const recorded = simulationFailure({ seed, program, faults, faultPhaseMs, nodes, workloadModule: workloadModuleFrom(failingDir) });
        if (recorded === undefined || recorded.message !== error.message) {
          throw new Error(`seed ${seed} failed with "${error.message}" but run again it ${recorded === undefined ? 'passed' : `failed with "${recorded.message}"`}: the workload is not deterministic (real time, real randomness or I/O in a body?)`);
        }
        failure = recorded;
      }
      let plan = faults;
      if (parsed.values.shrink) {
        // The smallest plan under which the same seed still fails (core/sim/shrink.ts).
        const failureUnder = (candidate: FaultPlan): SimFailure | undefined => simulationFailure({ seed, program, faults: candidate, faultPhaseMs, nodes, workloadModule: workloadModuleFrom(failingDir) });
        const shrunk = shrinkPlan(faults, (candidate) => failureUnder(candidate) !== undefined);
        const last = failureUnder(shrunk.plan);
        if (last !== undefined) {
          failure = last;
          plan = shrunk.plan;
          process.stdout.write(`seed ${seed}: shrunk the fault plan in ${shrunk.attempts} runs${shrunk.bounded ? ' (stopped at the bound on runs)' : ''}: ${JSON.stringify(shrunk.plan)}\n`);
        }
      }
      const path = await writeTrace(failingDir, `${program.name}-${seed}.jsonl`, failure.traceText);
      const again = ['tsray sim', script, '--seed', String(seed), '--faults', `'${JSON.stringify(plan)}'`, '--fault-phase-ms', String(faultPhaseMs), '--nodes', String(nodeCount), '--cpus', String(cpus)].join(' ');
      process.stdout.write(`seed ${seed}: FAILED: ${failure.message}\n  trace:     ${path}\n  reproduce: ${again}\n  debug:     tsray debug ${path}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

/** Writes a trace file into `dir` (made if missing); resolves to its path. */
export async function writeTrace(dir: string, name: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}
