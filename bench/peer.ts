/**
 * tsray against a peer, piscina (a worker-thread pool), on this machine, with two workers each:
 * awaited tiny-task latency, async tiny-task throughput, 1:1 actor calls, and put+get of a 64 MiB
 * Float64Array. Run alone with `node dist/bench/peer.js`.
 *
 * The tsray functions below are defined in this module, not in the entry script, so they are shipped
 * by reference: workers import this module, whose top-level `tsray.remote` calls register them again.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { Piscina } from 'piscina';
import * as tsray from '../node/index.js';

const cpus = 2;
const latencyCalls = 2_000;
const warmUpCalls = 200;
const throughputTasks = 20_000;
const actorCalls = 20_000;
const actorBatch = 100;
const arrayBytes = 64 * 1024 * 1024;
const copyRounds = 5;

const echo = tsray.remote(function echo(value: number): number {
  return value;
});

class Counter {
  total = 0;

  add(amount: number): number {
    this.total += amount;
    return this.total;
  }
}
const CounterActor = tsray.remote(Counter);

/** One row of the table: the same measure for each side, with its unit. */
interface Row {
  readonly measure: string;
  readonly tsray: number;
  readonly piscina: number;
  readonly unit: string;
  readonly digits: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Median microseconds of `call` awaited one at a time, after a warm-up. */
async function latencyUs(call: () => Promise<unknown>): Promise<number> {
  for (let index = 0; index < warmUpCalls; index += 1) await call();
  const samples: number[] = [];
  for (let index = 0; index < latencyCalls; index += 1) {
    const started = performance.now();
    await call();
    samples.push((performance.now() - started) * 1000);
  }
  return median(samples);
}

/** Operations per second of `run`, which performs `count` of them. */
async function perSecond(count: number, run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return count / ((performance.now() - started) / 1000);
}

/** GB/s of `roundTrip` over `bytes`, the median of `copyRounds` rounds after one warm-up. */
async function gbPerS(bytes: number, roundTrip: () => Promise<void>): Promise<number> {
  await roundTrip();
  const seconds: number[] = [];
  for (let round = 0; round < copyRounds; round += 1) {
    const started = performance.now();
    await roundTrip();
    seconds.push((performance.now() - started) / 1000);
  }
  return bytes / 1e9 / median(seconds);
}

function filledArray(): Float64Array {
  const array = new Float64Array(arrayBytes / 8);
  for (let index = 0; index < array.length; index += 1) array[index] = index;
  return array;
}

function checkRoundTrip(original: Float64Array, back: Float64Array): void {
  if (back.length !== original.length || back[back.length - 1] !== original[original.length - 1]) throw new Error('the array came back different');
}

async function measureTsray(array: Float64Array): Promise<number[]> {
  await tsray.init({ numCpus: cpus });
  try {
    // First, while the owner holds no other objects: the copy alone is measured, not collecting the
    // refs of the tasks below.
    const copy = await gbPerS(arrayBytes, async () => {
      const back = await tsray.get(tsray.put(array));
      checkRoundTrip(array, back);
    });
    const latency = await latencyUs(() => tsray.get(echo.remote(1)));
    const throughput = await perSecond(throughputTasks, async () => {
      const refs = Array.from({ length: throughputTasks }, (_, index) => echo.remote(index));
      await tsray.get(refs);
    });
    const counter = CounterActor.remote();
    await tsray.get(counter.add.remote(0));
    const calls = await perSecond(actorCalls, async () => {
      for (let sent = 0; sent < actorCalls; sent += actorBatch) {
        const refs = Array.from({ length: actorBatch }, () => counter.add.remote(1));
        await tsray.get(refs);
      }
    });
    return [latency, throughput, calls, copy];
  } finally {
    await tsray.shutdown();
  }
}

async function measurePiscina(array: Float64Array): Promise<number[]> {
  const filename = fileURLToPath(new URL('./peer-piscina-worker.js', import.meta.url));
  const pool = new Piscina({ filename, minThreads: cpus, maxThreads: cpus, idleTimeout: 60_000 });
  // piscina has no actors: the nearest equivalent is a pool of one thread whose state lives in its module.
  const single = new Piscina({ filename, minThreads: 1, maxThreads: 1, idleTimeout: 60_000 });
  try {
    const latency = await latencyUs(() => pool.run(1, { name: 'echo' }));
    const throughput = await perSecond(throughputTasks, () => Promise.all(Array.from({ length: throughputTasks }, (_, index) => pool.run(index, { name: 'echo' }))));
    await single.run(0, { name: 'add' });
    const calls = await perSecond(actorCalls, async () => {
      for (let sent = 0; sent < actorCalls; sent += actorBatch) await Promise.all(Array.from({ length: actorBatch }, () => single.run(1, { name: 'add' })));
    });
    const copy = await gbPerS(arrayBytes, async () => {
      const back = (await pool.run(array, { name: 'echo' })) as Float64Array;
      checkRoundTrip(array, back);
    });
    return [latency, throughput, calls, copy];
  } finally {
    await Promise.all([pool.destroy(), single.destroy()]);
  }
}

function printTable(rows: Row[]): void {
  const format = (value: number, digits: number): string => value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const cells = rows.map((row) => [row.measure, `${format(row.tsray, row.digits)} ${row.unit}`, `${format(row.piscina, row.digits)} ${row.unit}`]);
  const header = ['', 'tsray', `piscina ${Piscina.version}`];
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((cell) => (cell[column] ?? '').length)));
  const line = (cell: string[]): string => cell.map((text, column) => (column === 0 ? text.padEnd(widths[0] ?? 0) : text.padStart(widths[column] ?? 0))).join('   ');
  console.log(line(header));
  for (const cell of cells) console.log(line(cell));
}

/** Prints the peer comparison; see the file comment. */
export async function benchPeer(): Promise<void> {
  console.log(`tsray (embedded cluster, numCpus ${cpus}) against piscina (${cpus} threads), Node.js ${process.version}:`);
  const array = filledArray();
  const [tsrayLatency = 0, tsrayThroughput = 0, tsrayCalls = 0, tsrayCopy = 0] = await measureTsray(array);
  const [piscinaLatency = 0, piscinaThroughput = 0, piscinaCalls = 0, piscinaCopy = 0] = await measurePiscina(array);
  printTable([
    { measure: `awaited tiny task, median of ${latencyCalls.toLocaleString('en')}`, tsray: tsrayLatency, piscina: piscinaLatency, unit: 'µs', digits: 0 },
    { measure: `${throughputTasks.toLocaleString('en')} tiny tasks submitted, then awaited`, tsray: tsrayThroughput, piscina: piscinaThroughput, unit: 'tasks/s', digits: 0 },
    { measure: `1:1 actor calls, awaited ${actorBatch} at a time ¹`, tsray: tsrayCalls, piscina: piscinaCalls, unit: 'calls/s', digits: 0 },
    { measure: `put+get of a 64 MiB Float64Array ² (median of ${copyRounds})`, tsray: tsrayCopy, piscina: piscinaCopy, unit: 'GB/s', digits: 2 },
  ]);
  console.log('  ¹ piscina has no actors: its row is its nearest equivalent, calls to a pool of one thread whose state lives in its module.');
  console.log('  ² tsray: put (one copy into the shared store) and get (read in place); piscina: the array posted to a worker and back (structured clone both ways).');
}

// Workers import this module too (for the functions above); only the main thread of `node dist/bench/peer.js` runs the bench.
if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchPeer();
