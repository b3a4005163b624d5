/**
 * The driver's memory per pending tiny task, alone (P5 of bench/peer.ts, without the peers): heap and
 * off-heap bytes after a full collection, before the first `.remote()` and after the last of `tasks`
 * tiny tasks submitted at once (each awaited by its own get, as P5 does), divided by `tasks`; then the
 * tasks/s until all are done. Run with `node --expose-gc dist/bench/pending-memory.js [tasks] [rounds]`
 * (TSRAY_EVENT_LOG=off leaves the log's pending records out).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import * as tsray from '../node/index.js';

const echo = tsray.remote(function echo(value: number): number {
  return value + 1;
});

/** Heap and off-heap bytes in use after a full collection. */
function usedBytes(): number {
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

async function main(): Promise<void> {
  if (globalThis.gc === undefined) throw new Error('run with node --expose-gc, or the bytes include garbage');
  const tasks = Number(process.argv[2] ?? 100_000);
  const rounds = Number(process.argv[3] ?? 2);
  if (!Number.isInteger(tasks) || tasks < 1 || !Number.isInteger(rounds) || rounds < 1) throw new RangeError('usage: pending-memory.js [tasks ≥ 1] [rounds ≥ 1]');
  await tsray.init({ numCpus: 2 });
  try {
    for (let index = 0; index < 200; index += 1) await tsray.get(echo.remote(index));
    for (let round = 0; round < rounds; round += 1) {
      usedBytes();
      // Buffers freed by the collection are released a little later: let them go before the baseline.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const before = usedBytes();
      const started = performance.now();
      const pending = Array.from({ length: tasks }, (_, index) => tsray.get(echo.remote(index)));
      const bytes = (usedBytes() - before) / tasks;
      await Promise.all(pending);
      const perSecond = tasks / ((performance.now() - started) / 1000);
      process.stdout.write(`round ${round + 1}: ${bytes.toFixed(0)} bytes per pending task, ${perSecond.toFixed(0)} tasks/s (${tasks.toLocaleString('en')} tasks)\n`);
    }
  } finally {
    await tsray.shutdown();
  }
}

// Workers import this module to find `echo`; only the entry script measures.
if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
