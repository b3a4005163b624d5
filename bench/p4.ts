/**
 * P4, put+get of a 64 MiB Float64Array, with each side measured in a fresh process of its own: tsray
 * (an embedded cluster, numCpus 2), piscina and tinypool (2 threads each), and the warm memcpy the
 * target is judged against. In one process after the other measures, P4 paid for what they left
 * behind (a large heap, full collections due, other sections' threads): the same build read 0.30×
 * memcpy there and 0.50× alone. Every side now starts from the same clean process.
 *
 * `npm run bench` spawns `node --expose-gc dist/bench/p4.js <side> --json [--quick]` once per side
 * (`benchP4`); each prints its samples as one line of JSON. Without `--json` it prints them for a
 * reader: `node --expose-gc dist/bench/p4.js tsray`.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { FixedQueue, Piscina } from 'piscina';
import { Tinypool, type TaskQueue as TinypoolTaskQueue } from 'tinypool';
import * as tsray from '../node/index.js';
import { lastJsonLine, median, type Recorder, scaleFor, spawnSideProcess, type BenchScale } from './harness.js';

const arrayBytes = 64 * 1024 * 1024;
const cpus = 2;
/** A side's process is ended past this, and its figure fails naming the limit. */
const sideTimeoutMs = 5 * 60_000;

/** The sides P4 measures, each in a process of its own. */
export const p4Sides = ['memcpy', 'tsray', 'piscina', 'tinypool'] as const;

/** One of `p4Sides`. */
export type P4Side = (typeof p4Sides)[number];

/**
 * What a side's process reports: GB/s per lap, the process's CPU time per lap, and for the library
 * sides each lap's GB/s over that of a warm memcpy timed in the same process just before it.
 */
export interface P4Samples {
  readonly side: P4Side;
  readonly gbPerSecond: readonly number[];
  readonly cpuMsPerLap: readonly number[];
  readonly pairedRatios?: readonly number[];
}

/** What bench needs of a pool: piscina and tinypool share it. */
export interface Pool {
  run(task: unknown, options: { name: string }): Promise<unknown>;
  destroy(): Promise<void>;
}

/**
 * A pool of `threads` threads running bench/peer-pool-worker.js. Both pools get piscina's
 * FixedQueue: their default queue is an array whose shift() is O(n) once it is large, and a full
 * run's 1M queued tasks did not finish in minutes with it.
 */
export function makePool(name: 'piscina' | 'tinypool', threads: number): Pool {
  const filename = fileURLToPath(new URL('./peer-pool-worker.js', import.meta.url));
  const options = { filename, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 };
  return name === 'piscina' ? new Piscina({ ...options, taskQueue: new FixedQueue() }) : new Tinypool({ ...options, taskQueue: new FixedQueue() as unknown as TinypoolTaskQueue });
}

/** The figure each side's samples go to, with its label. */
function figureOf(side: P4Side): { id: string; label: string } {
  if (side === 'memcpy') return { id: 'raw.memcpy', label: 'raw: warm memcpy of 64 MiB (Uint8Array.set), in a process of its own' };
  return { id: `p4.${side}`, label: `P4 ${side}: put+get of a 64 MiB Float64Array, in a process of its own` };
}

/** GB/s of one 64 MiB lap that took `elapsedMs`. */
function gbPerSecondOf(elapsedMs: number): number {
  return arrayBytes / 1e9 / (elapsedMs / 1000);
}

/** A warm memcpy of 64 MiB, as the `memcpy` side times it: `Uint8Array.set` into memory already written. */
function warmCopier(): () => void {
  const source = new Uint8Array(arrayBytes).fill(7);
  const target = new Uint8Array(arrayBytes);
  target.set(source);
  return () => target.set(source);
}

/**
 * Times `lap` once to warm up, then `repeats` times: GB/s and process CPU ms of each timed lap. With
 * `copy`, a warm memcpy is timed just before each lap and the lap's ratio to it is kept too, so that
 * a machine whose load changes between the sides' processes still gives a fair ratio.
 */
async function laps(side: P4Side, repeats: number, lap: () => Promise<void> | void, copy?: () => void): Promise<P4Samples> {
  await lap();
  const gbPerSecond: number[] = [];
  const cpuMsPerLap: number[] = [];
  const pairedRatios: number[] = [];
  for (let round = 0; round < repeats; round += 1) {
    let copyGbPerSecond = Number.NaN;
    if (copy !== undefined) {
      const copyStarted = performance.now();
      copy();
      copyGbPerSecond = gbPerSecondOf(performance.now() - copyStarted);
    }
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await lap();
    const lapGbPerSecond = gbPerSecondOf(performance.now() - started);
    const cpu = process.cpuUsage(cpuBefore);
    gbPerSecond.push(lapGbPerSecond);
    cpuMsPerLap.push((cpu.user + cpu.system) / 1000);
    if (copy !== undefined) pairedRatios.push(lapGbPerSecond / copyGbPerSecond);
  }
  return copy === undefined ? { side, gbPerSecond, cpuMsPerLap } : { side, gbPerSecond, cpuMsPerLap, pairedRatios };
}

function checkRoundTrip(original: Float64Array, back: unknown): void {
  if (!(back instanceof Float64Array) || back.length !== original.length || back[back.length - 1] !== original[original.length - 1]) throw new Error('the array came back different');
}

/** Measures one side in this process: one warm-up lap, then `repeats` timed ones. */
export async function measureP4Side(side: P4Side, repeats: number): Promise<P4Samples> {
  // Into memory already written, so that the figure is the copy and not the first-touch faults.
  if (side === 'memcpy') return laps(side, repeats, warmCopier());
  const array = new Float64Array(arrayBytes / Float64Array.BYTES_PER_ELEMENT);
  for (let index = 0; index < array.length; index += 1) array[index] = index;
  const copy = warmCopier();
  if (side === 'tsray') {
    await tsray.init({ numCpus: cpus });
    try {
      return await laps(side, repeats, async () => checkRoundTrip(array, await tsray.get(tsray.put(array))), copy);
    } finally {
      await tsray.shutdown();
    }
  }
  const pool = makePool(side, cpus);
  try {
    // The pools post the array to a worker and back: a structured clone each way.
    return await laps(side, repeats, async () => checkRoundTrip(array, await pool.run(array, { name: 'echo' })), copy);
  } finally {
    await pool.destroy();
  }
}

/** Reads a side's JSON line (its last line of output: anything printed before it is ignored). */
export function parseSamples(side: P4Side, stdout: string): P4Samples {
  const { parsed, line: last } = lastJsonLine(side, stdout);
  const samples = parsed as Partial<P4Samples>;
  const numbers = (values: unknown): values is number[] => Array.isArray(values) && values.length > 0 && values.every((value) => typeof value === 'number' && Number.isFinite(value));
  if (samples.side !== side || !numbers(samples.gbPerSecond) || !numbers(samples.cpuMsPerLap)) throw new Error(`the ${side} process printed JSON without its samples: ${last}`);
  if (side !== 'memcpy' && !numbers(samples.pairedRatios)) throw new Error(`the ${side} process printed JSON without its ratios to a paired memcpy: ${last}`);
  return { side, gbPerSecond: samples.gbPerSecond, cpuMsPerLap: samples.cpuMsPerLap, ...(numbers(samples.pairedRatios) ? { pairedRatios: samples.pairedRatios } : {}) };
}

/** Runs this script for `side` in a fresh Node process (with --expose-gc, as `npm run bench` runs) and reads its samples. */
export async function spawnSide(side: P4Side, scale: BenchScale): Promise<P4Samples> {
  return parseSamples(side, await spawnSideProcess(fileURLToPath(import.meta.url), side, scale.quick, sideTimeoutMs, 'sideTimeoutMs, the limit of a P4 side'));
}

/**
 * P4 and its memcpy baseline into `recorder`, each side in a fresh process, one after the other:
 * memcpy first, so that P4's ratio is judged against the memcpy of this very run.
 */
export async function benchP4(recorder: Recorder, scale: BenchScale): Promise<void> {
  for (const side of p4Sides) {
    const { id, label } = figureOf(side);
    try {
      const samples = await spawnSide(side, scale);
      recorder.add(id, label, 'GB/s', samples.gbPerSecond);
      if (samples.pairedRatios !== undefined) recorder.add(`${id}.paired`, `P4 ${side} against a warm memcpy timed just before each lap, in its process`, '×', samples.pairedRatios);
      console.log(`  ${side}: median ${median(samples.gbPerSecond).toFixed(2)} GB/s, best ${Math.max(...samples.gbPerSecond).toFixed(2)}; process CPU per lap: median ${median(samples.cpuMsPerLap).toFixed(1)} ms`);
    } catch (error) {
      recorder.fail(id, label, 'GB/s', error);
    }
  }
}

/** `node --expose-gc dist/bench/p4.js <side> [--quick] [--json]`. */
async function main(argv: readonly string[]): Promise<void> {
  const side = argv.find((arg) => !arg.startsWith('--'));
  if (!p4Sides.includes(side as P4Side)) throw new Error(`usage: node --expose-gc dist/bench/p4.js <${p4Sides.join('|')}> [--quick] [--json]; got '${side ?? ''}'`);
  const samples = await measureP4Side(side as P4Side, scaleFor(argv.includes('--quick')).repeats);
  if (argv.includes('--json')) {
    console.log(JSON.stringify(samples));
    return;
  }
  console.log(`${side}: ${samples.gbPerSecond.map((value) => value.toFixed(2)).join(' ')} GB/s (median ${median(samples.gbPerSecond).toFixed(2)})`);
  console.log(`process CPU per lap: ${samples.cpuMsPerLap.map((value) => value.toFixed(1)).join(' ')} ms`);
  if (samples.pairedRatios !== undefined) console.log(`against a warm memcpy timed just before each lap: ${samples.pairedRatios.map((value) => `${value.toFixed(2)}×`).join(' ')}`);
}

// benchP4's callers import this module: only the main thread of `node dist/bench/p4.js` measures.
if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
