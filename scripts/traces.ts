/**
 * `npm run traces`: writes the curated traces in traces/ and traces/README.md, from the scenarios in
 * sim-scenarios.ts. Traces are never edited by hand: a recipe change that alters them bumps the
 * reducer's version, and this regenerates them in the same commit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutationNamed, shrinkPlan, simulate, SimFailure, simulationFailure } from '../core/sim/index.js';
import type { FaultPlan, SimOptions } from '../core/sim/index.js';
import { faultPlanOf } from '../node/cli/sim.js';
import { sharedArgumentProgram, simScenarios, workloadModuleOf } from './sim-scenarios.js';
import type { SimScenario } from './sim-scenarios.js';

/** How many seeds a scenario may take to happen before the generator gives up on it. */
const maxSeeds = 50;

/** The live scenarios: scripts in scripts/live-scenarios, run as a user runs them, then collected. */
const liveScenarios = [
  { name: 'task-retry', lookAt: "`flaky`'s first attempt ends its worker (process.exit); the task is retried on a new worker and returns 42. Keys: `/task/replied⏎`, Tab, `e` (the task's attempts)" },
  { name: 'actor-restart', lookAt: "`Counter.crash` ends the actor's worker; the call fails with ActorUnavailableError, the actor restarts (its constructor runs again) and the next call answers 1. Keys: `/actor/state⏎`, `e` (the actor's lives), then `g` and the RESTARTING seq ⏎, `w`" },
  { name: 'cancel', lookAt: "a running `slow` task is cancelled; its get rejects with TaskCancelledError at once and the body's signal is aborted. Keys: `/cancel⏎`, `w`" },
] as const;

const cli = fileURLToPath(new URL('../node/cli/main.js', import.meta.url));
const scenarioDir = fileURLToPath(new URL('../../scripts/live-scenarios/', import.meta.url));

/** Runs a live scenario's script in a session folder of its own and collects its trace. */
function runLive(scenario: (typeof liveScenarios)[number], outDir: string): Curated {
  const parentDir = mkdtempSync(join(tmpdir(), 'tsray-trace-'));
  // The session folder's name becomes the trace's workload.
  const sessionDir = join(parentDir, scenario.name);
  try {
    execFileSync(process.execPath, [join(scenarioDir, `${scenario.name}.mjs`)], { env: { ...process.env, TSRAY_SCENARIO_SESSION: sessionDir }, stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
    const file = `live-${scenario.name}.trace.jsonl`;
    execFileSync(process.execPath, [cli, 'trace', 'collect', '--session', sessionDir, '-o', join(outDir, file)], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
    return { file, lookAt: scenario.lookAt, seed: 'live' };
  } finally {
    rmSync(parentDir, { recursive: true, force: true });
  }
}

/** A written trace and its README line. */
interface Curated {
  readonly file: string;
  readonly lookAt: string;
  readonly seed: string;
}

function runScenario(scenario: SimScenario, outDir: string): Curated {
  const misses: string[] = [];
  for (let seed = 1; seed <= maxSeeds; seed++) {
    try {
      const result = simulate({ seed, program: scenario.program, nodes: scenario.nodes, faults: scenario.faults, hashEvery: 20, workloadModule: workloadModuleOf(scenario.programExport) });
      if (!result.driverFinished || !scenario.happened(result.driverResult)) {
        misses.push(`seed ${seed}: ${JSON.stringify(result.driverResult) ?? 'no result'}`);
        continue;
      }
      const file = `${scenario.name}.trace.jsonl`;
      writeFileSync(join(outDir, file), result.traceText());
      return { file, lookAt: scenario.lookAt, seed: String(seed) };
    } catch (error) {
      if (!(error instanceof SimFailure)) throw error;
      misses.push(`seed ${seed}: ${error.message.split('\n')[0] ?? ''}`);
    }
  }
  throw new Error(`scenario ${scenario.name} did not happen in ${maxSeeds} seeds; change its plan or workload (first runs: ${misses.slice(0, 3).join('; ')})`);
}

/**
 * A deliberately broken owner recipe (a ref count decremented twice), run under chaos until the
 * simulator's checks catch it; the fault plan of the first failing seed is shrunk while it still
 * fails, and the trace of that shrunk run is written.
 */
function runMutant(outDir: string): Curated {
  const mutationName = 'double-release';
  const mutation = mutationNamed(mutationName);
  if (mutation === undefined) throw new Error(`no mutation ${mutationName}`);
  const program = sharedArgumentProgram;
  const base = (seed: number, faults: FaultPlan): SimOptions => ({ seed, program, faults, mutation: mutationName, workloadModule: workloadModuleOf('sharedArgumentProgram'), hashEvery: 4, faultPhaseMs: 2_000 });
  const failure = (seed: number, faults: FaultPlan): SimFailure | undefined => simulationFailure(base(seed, faults));
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const plan = faultPlanOf('chaos', seed, 2_000);
    if (failure(seed, plan) === undefined) continue;
    const shrunk = shrinkPlan(plan, (candidate) => failure(seed, candidate) !== undefined);
    const caught = failure(seed, shrunk.plan);
    if (caught === undefined) throw new Error('the shrunk plan no longer fails');
    const file = 'sim-mutant-double-release.trace.jsonl';
    writeFileSync(join(outDir, file), caught.traceText);
    return {
      file,
      seed: String(seed),
      lookAt: `a deliberately broken owner recipe (${mutation.description}); the simulator caught it under chaos (${plan.scheduled?.length ?? 0} scheduled faults and lossy messages), and shrinking in ${shrunk.attempts} runs left the plan ${JSON.stringify(shrunk.plan)}${Object.keys(shrunk.plan).length === 0 ? ': no fault is needed, the recipe alone is wrong' : ''}; the last note names the invariant that broke. Keys: \`b\` then \`worker:n1.d1 s.objects['n1.d1.p1'].submittedRefs < 3⏎\` (the reply of an unrelated task dropped the count)`,
    };
  }
  throw new Error(`the mutant survived ${maxSeeds} seeds of chaos`);
}

function main(outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const written = liveScenarios.map((scenario) => runLive(scenario, outDir));
  written.push(...simScenarios.map((scenario) => runScenario(scenario, outDir)));
  written.push(runMutant(outDir));
  for (const trace of written) process.stdout.write(`wrote ${join(outDir, trace.file)}${trace.seed === 'live' ? '' : ` (seed ${trace.seed})`}\n`);
  const lines = [
    '# Curated traces',
    '',
    'Written by `npm run traces` (scripts/traces.ts), never by hand; `npm test` replays each with `--verify`.',
    'Open one with `npx tsray debug traces/FILE`, or ask `npx tsray why traces/FILE ID`.',
    '',
    ...written.map((trace) => `- \`${trace.file}\`: ${trace.lookAt}.`),
    '',
  ];
  writeFileSync(join(outDir, 'README.md'), lines.join('\n'));
}

main(process.argv[2] ?? 'traces');
