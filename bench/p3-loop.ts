/**
 * P3 alone, for profiling: 1:1 calls to one actor, 100 in flight, on the embedded cluster (numCpus 2),
 * with calls/s and the process's CPU time per call (all threads). Run
 * `node --cpu-prof dist/bench/p3-loop.js [calls]` to see where the driver's thread spends it.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as tsray from '../node/index.js';
import { CounterActor } from './tiny-remotes.js';

const inFlight = 100;
const calls = Number(process.argv[2] ?? 20_000);
if (!Number.isInteger(calls) || calls < inFlight) throw new RangeError(`calls must be a whole number ≥ ${inFlight}, not '${process.argv[2]}'`);

async function main(): Promise<void> {
  await tsray.init({ numCpus: 2 });
  try {
    const counter = CounterActor.remote();
    for (let sent = 0; sent < 2_000; sent += inFlight) await Promise.all(Array.from({ length: inFlight }, () => tsray.get(counter.add.remote(1))));
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let sent = 0; sent < calls; sent += inFlight) await Promise.all(Array.from({ length: inFlight }, () => tsray.get(counter.add.remote(1))));
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    console.log(`${calls} calls: ${Math.round(calls / (elapsedMs / 1000))} calls/s, ${((cpu.user + cpu.system) / calls).toFixed(1)} us of CPU per call (all threads); load average ${loadavg()[0]?.toFixed(2)}`);
  } finally {
    await tsray.shutdown();
  }
}

await main();
