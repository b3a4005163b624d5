/**
 * P8 alone: P1 (tiny tasks submitted, then one get of all, as bench/peer.ts measures P8) in fresh
 * embedded clusters with event logging off and on, alternating, with the CPU time per task of the
 * main thread and of the whole process (workers included). On a machine shared with other work the
 * CPU per task is the steadier figure: `node dist/bench/log-cost.js [tasks] [rounds]`. It also prints
 * the CPU per task of each kind of thread (see `threadCpuUs` in harness.ts): `tsray-log` is the log
 * thread, which exists only with logging on, and `node` holds V8's concurrent GC.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import * as tsray from '../node/index.js';
import { cpuUsByThreadKind, mainThreadCpuUs, median, threadCpuUs } from './harness.js';
import { echo } from './tiny-remotes.js';

/** One sample of P1 in a fresh cluster. */
interface Sample {
  readonly tasksPerSecond: number;
  readonly mainUsPerTask: number;
  readonly processUsPerTask: number;
  /** CPU µs per task of each kind of thread (`main`, `tsray-worker`, `tsray-log`, `node`: see `threadCpuUs`). */
  readonly byThreadKind: ReadonlyMap<string, number>;
}

async function sample(mode: 'off' | 'on', tasks: number): Promise<Sample> {
  process.env['TSRAY_EVENT_LOG'] = mode;
  await tsray.init({ numCpus: 2 });
  try {
    for (let index = 0; index < 200; index += 1) await tsray.get(echo.remote(index));
    const cpu = process.cpuUsage();
    const main = mainThreadCpuUs();
    const threads = threadCpuUs();
    const started = performance.now();
    await tsray.get(Array.from({ length: tasks }, (_, index) => echo.remote(index)));
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const byThreadKind = new Map([...cpuUsByThreadKind(threads, threadCpuUs())].map(([kind, us]) => [kind, us / tasks] as const));
    return { tasksPerSecond: tasks / (elapsedMs / 1000), mainUsPerTask: (mainThreadCpuUs() - main) / tasks, processUsPerTask: (used.user + used.system) / tasks, byThreadKind };
  } finally {
    await tsray.shutdown();
  }
}

async function main(tasks: number, rounds: number): Promise<void> {
  const samples: Record<'off' | 'on', Sample[]> = { off: [], on: [] };
  for (let round = 0; round < rounds; round += 1) {
    // Alternating which goes first, so neither always runs on a warmer machine.
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const taken = await sample(mode, tasks);
      samples[mode].push(taken);
      const byKind = [...taken.byThreadKind].map(([kind, us]) => `${kind} ${us.toFixed(1)}`).join(', ');
      console.log(`${mode}: ${Math.round(taken.tasksPerSecond)} tasks/s, CPU µs/task main ${taken.mainUsPerTask.toFixed(1)}, process ${taken.processUsPerTask.toFixed(1)} (${byKind})`);
    }
  }
  const of = (mode: 'off' | 'on', key: Exclude<keyof Sample, 'byThreadKind'>): number => median(samples[mode].map((taken) => taken[key]));
  const offRate = of('off', 'tasksPerSecond');
  const onRate = of('on', 'tasksPerSecond');
  console.log(`medians: off ${Math.round(offRate)} tasks/s, on ${Math.round(onRate)} tasks/s, cost ${((offRate / onRate - 1) * 100).toFixed(1)}%`);
  console.log(`CPU µs/task main: off ${of('off', 'mainUsPerTask').toFixed(2)}, on ${of('on', 'mainUsPerTask').toFixed(2)}; process: off ${of('off', 'processUsPerTask').toFixed(2)}, on ${of('on', 'processUsPerTask').toFixed(2)}`);
  const kinds = new Set([...samples.off, ...samples.on].flatMap((taken) => [...taken.byThreadKind.keys()]));
  const byKind = (mode: 'off' | 'on', kind: string): string => median(samples[mode].map((taken) => taken.byThreadKind.get(kind) ?? 0)).toFixed(2);
  console.log(`CPU µs/task by thread kind (off -> on): ${[...kinds].map((kind) => `${kind} ${byKind('off', kind)} -> ${byKind('on', kind)}`).join(', ')}`);
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(Number(process.argv[2] ?? 100_000), Number(process.argv[3] ?? 4));
}
