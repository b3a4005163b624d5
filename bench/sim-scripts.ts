/**
 * The simulator's speed on ordinary scripts: 1,000 seeded runs of a 100-task script
 * (bench/scripts/hundred-tasks.mjs) under chaos faults, recording nothing (as `tsray sim` runs
 * passing seeds), then a few runs recording their traces. Prints runs per second and simulated
 * seconds per real second.
 *
 *   node dist/bench/sim-scripts.js [RUNS]
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { faultPlanOf } from '../node/cli/sim.js';
import { simulate } from '../node/sim/index.js';

const script = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'bench/scripts/hundred-tasks.mjs');

/** Runs the bench; resolves once it has printed its figures. */
export async function benchSimScripts(runs = 1000): Promise<void> {
  for (const record of [false, true]) {
    const count = record ? Math.max(1, Math.floor(runs / 10)) : runs;
    const startedMs = performance.now();
    const cpuStarted = process.cpuUsage();
    let simulatedMs = 0;
    let events = 0;
    let failures = 0;
    for (let seed = 1; seed <= count; seed++) {
      const result = await simulate(script, { seed, faults: faultPlanOf('chaos', seed, 1000), record });
      simulatedMs += result.simTimeMs;
      events += result.events;
      if (!result.ok) failures += 1;
    }
    const realS = (performance.now() - startedMs) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    console.log(
      `sim of a 100-task script under chaos, ${record ? 'recording traces' : 'recording nothing'}: ${count} runs in ${realS.toFixed(1)} s (${(realS * 1000 / count).toFixed(1)} ms/run, CPU ${((cpu.user + cpu.system) / 1000 / count).toFixed(1)} ms/run), ` +
        `${failures} failed, ${Math.round(events / count)} events/run, ${(simulatedMs / 1000 / realS).toFixed(0)} simulated s per real s`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchSimScripts(Number(process.argv[2] ?? 1000));
