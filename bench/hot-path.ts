/**
 * The driver's cost per tiny task, alone: P1 (tiny tasks submitted, then each awaited, as
 * bench/peer.ts does), the P8 form (one get of all) and P2 (one task awaited at a time, with its
 * median latency), in one embedded cluster, with the CPU time per task of the main thread and of
 * every other thread. Run under `node --cpu-prof --cpu-prof-dir=...` to see where each thread's time
 * goes: `node dist/bench/hot-path.js [tasks] [rounds] [forms] [piscina]` (forms: a comma-separated
 * subset of p1,p8,p2; `piscina` runs P1 and P2 on piscina too, alternating with tsray;
 * TSRAY_EVENT_LOG=off to leave logging out). Each thread's wake-ups per task follow its CPU: the times
 * it went to sleep and was woken again (its voluntary context switches), which for P2 counts the
 * hops of a task between threads. Threads are shown by name: `main`, tsray's `tsray-worker` and
 * `tsray-log` (which writes the workers' and the driver's event logs), and `node` for V8's platform
 * threads (concurrent GC, compiling) and libuv's; then the CPU of each kind, summed over its threads.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { FixedQueue, Piscina } from 'piscina';
import * as tsray from '../node/index.js';
import { cpuUsByThreadKind, mainThreadCpuUs, threadCpuUs } from './harness.js';
import { echo } from './tiny-remotes.js';

/** Median of `samples` (sorted in place). */
function median(samples: number[]): number {
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}

/** The ways tasks are run and awaited. */
const forms = { p1: 'each awaited', p8: 'one get', p2: 'one at a time' } as const;
type Form = keyof typeof forms;

/** A tiny task, submitted and awaited: tsray's, or piscina's for comparison under the same load. */
type Tiny = (value: number) => Promise<unknown>;

/** Runs `tasks` tiny tasks in `form`; the median µs of an awaited task for P2. */
async function run(form: Form, tasks: number, tiny: Tiny): Promise<number | undefined> {
  if (form === 'p1') await Promise.all(Array.from({ length: tasks }, (_, index) => tiny(index)));
  else if (form === 'p8') await tsray.get(Array.from({ length: tasks }, (_, index) => echo.remote(index)));
  else {
    const samples: number[] = [];
    for (let index = 0; index < tasks; index += 1) {
      const started = performance.now();
      await tiny(index);
      samples.push((performance.now() - started) * 1000);
    }
    return median(samples);
  }
  return undefined;
}

/** Runs `tasks` tiny tasks in `form` on one side; prints tasks/s and the CPU µs per task of each thread. */
async function measure(side: string, form: Form, tasks: number, tiny: Tiny): Promise<void> {
  const cpu = process.cpuUsage();
  const mainCpu = mainThreadCpuUs();
  const threadsBefore = threadCpuUs();
  const started = performance.now();
  const latencyUs = await run(form, tasks, tiny);
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const mainUs = mainThreadCpuUs() - mainCpu;
  const threadsAfter = threadCpuUs();
  const byThread = [...threadsAfter]
    .map(([name, { us, wakeUps }]) => [name, (us - (threadsBefore.get(name)?.us ?? 0)) / tasks, (wakeUps - (threadsBefore.get(name)?.wakeUps ?? 0)) / tasks] as const)
    .filter(([, perTask, wakeUps]) => perTask >= 0.5 || wakeUps >= 0.05)
    .map(([name, perTask, wakeUps]) => `${name} ${perTask.toFixed(1)} µs ${wakeUps.toFixed(2)} wake-ups`);
  const byKind = [...cpuUsByThreadKind(threadsBefore, threadsAfter)].map(([kind, us]) => `${kind} ${(us / tasks).toFixed(1)}`);
  const latency = latencyUs === undefined ? '' : `, median ${latencyUs.toFixed(1)} µs`;
  console.log(`${side} ${form} ${forms[form]}: ${Math.round(tasks / (elapsedMs / 1000))} tasks/s${latency}, CPU µs/task: main thread ${(mainUs / tasks).toFixed(1)}, process ${((used.user + used.system) / tasks).toFixed(1)} (${byThread.join(', ')}); by kind: ${byKind.join(', ')}`);
}

/**
 * Runs `rounds` of `tasks` tiny tasks each way; with `withPiscina`, each round of tsray is followed
 * by one of piscina (two threads, as bench/peer.ts runs it), so that the machine's load weighs on
 * both alike (piscina has no one-get form: p8 is tsray's alone).
 */
async function main(tasks: number, rounds: number, chosen: readonly Form[], withPiscina: boolean): Promise<void> {
  await tsray.init({ numCpus: 2 });
  const filename = fileURLToPath(new URL('./peer-pool-worker.js', import.meta.url));
  const pool = withPiscina ? new Piscina({ filename, minThreads: 2, maxThreads: 2, idleTimeout: 60_000, taskQueue: new FixedQueue() }) : undefined;
  try {
    for (let index = 0; index < 200; index += 1) await tsray.get(echo.remote(index));
    for (let index = 0; index < 200; index += 1) await pool?.run(index, { name: 'echo' });
    for (let round = 0; round < rounds; round += 1) {
      for (const form of chosen) {
        await measure('tsray', form, tasks, (value) => tsray.get(echo.remote(value)));
        if (pool !== undefined && form !== 'p8') await measure('piscina', form, tasks, (value) => pool.run(value, { name: 'echo' }));
      }
    }
  } finally {
    await pool?.destroy();
    await tsray.shutdown();
  }
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const chosen = (process.argv[4] ?? 'p1,p8').split(',');
  const unknown = chosen.find((form) => !(form in forms));
  if (unknown !== undefined) throw new TypeError(`unknown form '${unknown}': pass a comma-separated subset of ${Object.keys(forms).join(',')}`);
  await main(Number(process.argv[2] ?? 100_000), Number(process.argv[3] ?? 2), chosen as Form[], process.argv[5] === 'piscina');
}
