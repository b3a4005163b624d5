/**
 * P3 alone, for profiling: 1:1 calls to one actor, 100 in flight, on the embedded cluster (numCpus 2),
 * with calls/s, the process's CPU time per call (all threads), the main thread's, and each kind of
 * thread's (from /proc, as bench/hot-path.ts prints them: the main thread's CPU per call is what caps
 * the calls/s a driver can make, and the machine's other work moves it less than the calls/s).
 * `node dist/bench/p3-loop.js [calls] [rounds]` runs `rounds` measured rounds after one warm-up;
 * `node --cpu-prof dist/bench/p3-loop.js [calls]` shows where the driver's thread spends its time.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as tsray from '../node/index.js';
import { cpuUsByThreadKind, mainThreadCpuUs, threadCpuUs } from './harness.js';
import { CounterActor } from './tiny-remotes.js';

const inFlight = 100;
const calls = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 1);
if (!Number.isInteger(calls) || calls < inFlight) throw new RangeError(`calls must be a whole number ≥ ${inFlight}, not '${process.argv[2]}'`);
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a whole number ≥ 1, not '${process.argv[3]}'`);

async function main(): Promise<void> {
  await tsray.init({ numCpus: 2 });
  try {
    const counter = CounterActor.remote();
    for (let sent = 0; sent < 2_000; sent += inFlight) await Promise.all(Array.from({ length: inFlight }, () => tsray.get(counter.add.remote(1))));
    for (let round = 0; round < rounds; round += 1) {
      const cpuBefore = process.cpuUsage();
      const mainBefore = mainThreadCpuUs();
      const threadsBefore = threadCpuUs();
      const started = performance.now();
      for (let sent = 0; sent < calls; sent += inFlight) await Promise.all(Array.from({ length: inFlight }, () => tsray.get(counter.add.remote(1))));
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      const mainUs = mainThreadCpuUs() - mainBefore;
      const byKind = [...cpuUsByThreadKind(threadsBefore, threadCpuUs())].map(([kind, us]) => `${kind} ${(us / calls).toFixed(1)}`);
      console.log(
        `${calls} calls: ${Math.round(calls / (elapsedMs / 1000))} calls/s, CPU µs per call: process ${((cpu.user + cpu.system) / calls).toFixed(1)}, main thread ${(mainUs / calls).toFixed(1)}; by kind: ${byKind.join(', ')}; load average ${loadavg()[0]?.toFixed(2)}`,
      );
    }
  } finally {
    await tsray.shutdown();
  }
}

await main();
