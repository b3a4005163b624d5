/**
 * Figures of the embedded runtime that issue reports ask for, on this machine: how fast actors come
 * up and what an idle one costs, how long a cancel takes to reach a get, put+get of a 64 MiB
 * Float64Array (with the write guard on) against a plain copy, and how many log bytes a tiny task and
 * a large put leave. Run alone with `node dist/bench/runtime.js`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { isMainThread, Worker } from 'node:worker_threads';
import * as tsray from '../node/index.js';

const actorCount = 60;
const cancelRounds = 20;
const arrayBytes = 64 * 1024 * 1024;
const copyRounds = 5;
const logTasks = 2_000;
const logPuts = 20;

class Echo {
  constructor(readonly index: number) {}
  whoami(): number {
    return this.index;
  }
}
const EchoActor = tsray.remote(Echo);

const spin = tsray.remote(async function spin(ms: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  const end = Date.now() + ms;
  while (Date.now() < end);
  return 'late';
});

const tiny = tsray.remote(function tiny(value: number): number {
  return value;
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Bytes the session's event logs take on disk (allocated blocks, as `du` counts them). */
function logBytes(sessionDir: string): number {
  return Number(execFileSync('du', ['-sB1', join(sessionDir, 'logs')], { encoding: 'utf8' }).split('\t')[0]);
}

async function actors(): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const handles = Array.from({ length: actorCount }, (_, index) => EchoActor.remote(index));
  await tsray.get(handles.map((handle) => handle.whoami.remote()));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const perActorMb = (process.memoryUsage().rss - rssBefore) / actorCount / 1e6;
  const floorMs = await emptyThreadCpuMs();
  return [
    `  ${actorCount} actors created and answering: ${seconds.toFixed(2)} s, ${(actorCount / seconds).toFixed(1)} actors/s, ${((cpu.user + cpu.system) / 1000 / actorCount).toFixed(0)} ms of CPU each`,
    `  memory per idle actor (RSS growth / actors): ${perActorMb.toFixed(1)} MB`,
    `  floor: an empty Node worker thread takes ${floorMs.toFixed(0)} ms of CPU to start (${((availableParallelism() * 1000) / floorMs).toFixed(0)}/s on ${availableParallelism()} cores at best)`,
  ];
}

/** CPU to start a worker thread that does nothing, two at a time: what no actor can go below. */
async function emptyThreadCpuMs(): Promise<number> {
  const count = 20;
  const cpuBefore = process.cpuUsage();
  for (let index = 0; index < count; index += 2) {
    await Promise.all(
      [0, 1].map(
        () =>
          new Promise<void>((resolve, reject) => {
            const thread = new Worker("require('node:worker_threads').parentPort.postMessage(1)", { eval: true });
            thread.once('message', () => {
              void thread.terminate().then(() => resolve());
            });
            thread.once('error', reject);
          }),
      ),
    );
  }
  const cpu = process.cpuUsage(cpuBefore);
  return (cpu.user + cpu.system) / 1000 / count;
}

async function cancels(): Promise<string> {
  const samples: number[] = [];
  for (let round = 0; round < cancelRounds; round += 1) {
    const ref = spin.remote(300);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const started = performance.now();
    tsray.cancel(ref);
    await tsray.get(ref).catch(() => undefined);
    samples.push(performance.now() - started);
    // Let the spinning body end, so the next round finds a free CPU.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return `  cancel of a spinning task to its get's rejection: median ${median(samples).toFixed(2)} ms, max ${Math.max(...samples).toFixed(2)} ms (${cancelRounds} rounds)`;
}

async function bigPutGet(): Promise<string[]> {
  const array = new Float64Array(arrayBytes / 8).fill(1.5);
  const tsrayMs: number[] = [];
  const copyMs: number[] = [];
  const setMs: number[] = [];
  const warm = new Uint8Array(arrayBytes);
  for (let round = 0; round < copyRounds; round += 1) {
    let started = performance.now();
    const value = await tsray.get(tsray.put(array));
    tsrayMs.push(performance.now() - started);
    if (value[7] !== 1.5) throw new Error('put+get gave a wrong value');
    started = performance.now();
    const copy = new Float64Array(array);
    copyMs.push(performance.now() - started);
    if (copy[7] !== 1.5) throw new Error('copy gave a wrong value');
    started = performance.now();
    warm.set(new Uint8Array(array.buffer));
    setMs.push(performance.now() - started);
  }
  const gbs = (ms: number): string => (arrayBytes / 1e9 / (ms / 1000)).toFixed(2);
  return [
    `  put+get of a 64 MiB Float64Array (write guard ${process.env['TSRAY_CHECK_WRITES'] === '1' ? 'in full' : 'sampled'}): median ${median(tsrayMs).toFixed(1)} ms (${gbs(median(tsrayMs))} GB/s)`,
    `  plain copies of it: new Float64Array(a) ${median(copyMs).toFixed(1)} ms (${gbs(median(copyMs))} GB/s), Uint8Array.set into warm memory ${median(setMs).toFixed(1)} ms (${gbs(median(setMs))} GB/s)`,
  ];
}

/** Log bytes per tiny task and per 2 MiB put, each in a session of its own. */
async function logs(): Promise<string[]> {
  const measure = async (work: () => Promise<void>): Promise<number> => {
    const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-bench-logs-'));
    await tsray.init({ numCpus: 2, sessionDir });
    const before = logBytes(sessionDir);
    await work();
    await tsray.shutdown();
    const bytes = logBytes(sessionDir) - before;
    rmSync(sessionDir, { recursive: true, force: true });
    return bytes;
  };
  const perTask = (await measure(async () => void (await tsray.get(Array.from({ length: logTasks }, (_, index) => tiny.remote(index)))))) / logTasks;
  const perPut = (await measure(async () => {
    for (let index = 0; index < logPuts; index += 1) await tsray.get(tsray.put(new Uint8Array(2 * 1024 * 1024).fill(index)));
  })) / logPuts;
  return [`  event log bytes on disk: ${perTask.toFixed(0)} per tiny task (${logTasks} tasks), ${perPut.toFixed(0)} per 2 MiB put (${logPuts} puts)`];
}

/** Prints the runtime's figures. */
export async function benchRuntime(): Promise<void> {
  console.log('tsray embedded runtime (numCpus 2):');
  await tsray.init({ numCpus: 2 });
  for (const line of await actors()) console.log(line);
  await tsray.shutdown();
  await tsray.init({ numCpus: 2 });
  console.log(await cancels());
  for (const line of await bigPutGet()) console.log(line);
  await tsray.shutdown();
  for (const line of await logs()) console.log(line);
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchRuntime();
