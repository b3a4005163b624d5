/**
 * P4 alone, for looking into it: laps of `get(put(array))` of a 64 MiB Float64Array on the embedded
 * cluster (numCpus 2), each lap's time and GB/s printed with the full collections of the main
 * thread that began during it, next to a warm memcpy of the same size.
 * bench/p4.ts takes one warm-up lap and then the median of five, which this also prints; the
 * steady state comes from the laps after those. Run `node --trace-gc dist/bench/p4-loop.js [laps]`
 * to see between which laps V8 collects (the store's own collections are full ones, marked
 * `testing`). The machine's load average is printed first: on a loaded machine first writes to
 * memory, which the early laps pay, cost several times more.
 */
import { loadavg } from 'node:os';
import { constants, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import * as tsray from '../node/index.js';
import { median } from './harness.js';

const arrayBytes = 64 * 1024 * 1024;
const laps = Number(process.argv[2] ?? 20);
if (!Number.isInteger(laps) || laps < 6) throw new RangeError(`laps must be a whole number ≥ 6 (one warm-up and the five bench/p4.ts takes), not '${process.argv[2]}'`);

function gbPerSecond(elapsedMs: number): number {
  return arrayBytes / 1e9 / (elapsedMs / 1000);
}

function memcpyGbPerSecond(): number[] {
  const source = new Uint8Array(arrayBytes).fill(7);
  const target = new Uint8Array(arrayBytes);
  target.set(source);
  const samples: number[] = [];
  for (let lap = 0; lap < 5; lap += 1) {
    const started = performance.now();
    target.set(source);
    samples.push(gbPerSecond(performance.now() - started));
  }
  return samples;
}

function summary(samples: readonly number[]): string {
  return `median ${median(samples).toFixed(2)}, best ${Math.max(...samples).toFixed(2)}, worst ${Math.min(...samples).toFixed(2)} GB/s`;
}

/** The main thread's full collections (mark-compact), as V8 reports them. */
const collections: PerformanceEntry[] = [];
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) collections.push(entry);
});
observer.observe({ entryTypes: ['gc'] });

/** The full collections that began between `startMs` and `endMs`, as `n × ms`. */
function collectionsBetween(startMs: number, endMs: number): string {
  const during = collections.filter((entry) => entry.startTime >= startMs && entry.startTime < endMs);
  return during.length === 0 ? '' : `, full GC ${during.map((entry) => entry.duration.toFixed(1)).join(' + ')} ms`;
}

async function main(): Promise<void> {
  console.log(`load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);
  const copies = memcpyGbPerSecond();
  console.log(`warm memcpy of 64 MiB: ${summary(copies)}`);
  await tsray.init({ numCpus: 2 });
  try {
    const array = new Float64Array(arrayBytes / Float64Array.BYTES_PER_ELEMENT).map((_, index) => index);
    const samples: number[] = [];
    const lapTimes: [number, number][] = [];
    for (let lap = 0; lap < laps; lap += 1) {
      const started = performance.now();
      const back = await tsray.get(tsray.put(array));
      if (!(back instanceof Float64Array) || back[back.length - 1] !== array[array.length - 1]) throw new Error('the array came back different');
      const elapsedMs = performance.now() - started;
      samples.push(gbPerSecond(elapsedMs));
      lapTimes.push([started, started + elapsedMs]);
    }
    // GC entries arrive a turn after the collection: the laps are printed once they are all in.
    await new Promise((resolve) => setTimeout(resolve, 10));
    lapTimes.forEach(([startMs, endMs], lap) => console.log(`lap ${lap}: ${(endMs - startMs).toFixed(1)} ms, ${(samples[lap] ?? 0).toFixed(2)} GB/s${collectionsBetween(startMs, endMs)}`));
    const ratio = (samples: readonly number[]): string => `${(median(samples) / median(copies)).toFixed(2)}× memcpy`;
    console.log(`laps 1-5 (as bench/p4.ts): ${summary(samples.slice(1, 6))}, ${ratio(samples.slice(1, 6))}`);
    if (laps > 6) console.log(`laps 6-${laps - 1}: ${summary(samples.slice(6))}, ${ratio(samples.slice(6))}`);
    console.log(`load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);
  } finally {
    observer.disconnect();
    await tsray.shutdown();
  }
}

await main();
