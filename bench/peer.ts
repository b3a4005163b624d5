/**
 * tsray against the worker pools users pick today, piscina and tinypool, with two workers each:
 * put+get of a 64 MiB Float64Array (P4, each side in a process of its own: bench/p4.ts), async
 * tiny-task throughput (P1), awaited tiny-task latency (P2), 1:1 actor calls (P3) and many queued
 * tiny tasks with the driver's memory per pending task (P5); and, for P8, P1 with event logging off
 * and on, and the events a tiny task leaves in the logs. Run alone with
 * `node --expose-gc dist/bench/peer.js [--quick]`.
 *
 * Each side runs in a fresh process of its own (`peer.js <side> --json [--quick]`, as P4's sides do):
 * in the bench's own process it paid for what the earlier sections left behind (their heap, collections
 * due), and the same build's awaited tiny task read 354 µs there against 68–245 µs alone.
 *
 * The tsray functions below are defined in this module, not in the entry script, so they are shipped
 * by reference: workers import this module, whose top-level `tsray.remote` calls register them again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import * as tsray from '../node/index.js';
import { asker, echoWorker, pipelinedRoundTrips } from './baselines.js';
import { countSessionRecords } from './event-log.js';
import { figuresPrinted, median, Recorder, scaleFor, section, spawnSideProcess, type BenchScale } from './harness.js';
import { benchP4, makePool, type Pool } from './p4.js';
import type { Figure } from './report.js';
import { CounterActor, echo } from './tiny-remotes.js';

const cpus = 2;
const warmUpCalls = 200;
/** Untimed actor calls, and untimed raw round trips, before each timed half of a P3 pair (see actorCalls). */
const pairWarmUpCalls = 2_000;
const actorBatch = 100;
// P5 never lets the driver's heap grow past this: a runtime that costs more per task queues fewer.
const p5HeapBudgetBytes = 2 * 1024 ** 3;
const p5ProbeTasks = 20_000;
/** A side's process is ended past this, and its figures fail naming the limit. */
const sideTimeoutMs = 20 * 60_000;
/** The sides measured here, each in a process of its own. */
const peerSides = ['tsray', 'piscina', 'tinypool'] as const;
type PeerSide = (typeof peerSides)[number];

/** What the bench needs of one side: a tiny task and an actor call. */
interface Side {
  readonly name: 'tsray' | 'piscina' | 'tinypool';
  tiny(value: number): Promise<unknown>;
  call(): Promise<unknown>;
}

/** Median microseconds of `call` awaited one at a time. */
async function latencyUs(calls: number, call: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let index = 0; index < calls; index += 1) {
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

/** The heap and off-heap bytes in use, after a full collection when `--expose-gc` allows one. */
function usedBytes(): number {
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Submits `count` tiny tasks at once: the driver's bytes per pending task, and tasks/s until all are done. */
async function queued(side: Side, count: number): Promise<{ bytes: number; perSecond: number }> {
  // Large buffers dropped earlier are freed some time after a collection: let them go first.
  usedBytes();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = usedBytes();
  const started = performance.now();
  const pending = Array.from({ length: count }, (_, index) => side.tiny(index));
  const bytes = (usedBytes() - before) / count;
  await Promise.all(pending);
  return { bytes, perSecond: count / ((performance.now() - started) / 1000) };
}

/** P1 to P3 on one side, in that side's figures. */
async function measureSide(recorder: Recorder, scale: BenchScale, side: Side): Promise<void> {
  const { name } = side;
  for (let index = 0; index < warmUpCalls; index += 1) await side.tiny(index);
  await recorder.repeat(`p2.${name}`, `P2 ${name}: awaited tiny task, median of ${scale.latencyCalls}`, 'µs', scale.repeats, () => latencyUs(scale.latencyCalls, () => side.tiny(1)));
  await recorder.repeat(`p1.${name}`, `P1 ${name}: ${scale.throughputTasks.toLocaleString('en')} tiny tasks submitted, then awaited`, 'tasks/s', scale.repeats, () =>
    perSecond(scale.throughputTasks, () => Promise.all(Array.from({ length: scale.throughputTasks }, (_, index) => side.tiny(index)))),
  );
  await side.call();
  await actorCalls(recorder, scale, side);
}

/**
 * P3 on one side, each repeat paired with raw pipelined round trips (P3's yardstick) timed just
 * before it in this process. Timed once at the start of the run, in its own process, the yardstick
 * read 139,211/s in one run and 84,757 in the next on the same machine, which alone moved P3's
 * verdict from 0.29× to 0.57×; a pair sees the same spell of the machine. Each half of a pair starts
 * with untimed calls of its own: a yardstick timed right after tsray's calls read 15–20% below the
 * next one, and about half after a full collection (its worker had been idle). The echoing worker is
 * idle while the side's calls run.
 */
async function actorCalls(recorder: Recorder, scale: BenchScale, side: Side): Promise<void> {
  const { name } = side;
  const label = `P3 ${name}: 1:1 actor calls, ${actorBatch} in flight${name === 'tsray' ? '' : ' ¹'}`;
  const calls = async (count: number): Promise<void> => {
    for (let sent = 0; sent < count; sent += actorBatch) await Promise.all(Array.from({ length: actorBatch }, () => side.call()));
  };
  const worker = echoWorker();
  try {
    const ask = asker(worker);
    const rates: number[] = [];
    const yardsticks: number[] = [];
    for (let round = 0; round < scale.repeats; round += 1) {
      await pipelinedRoundTrips(ask, pairWarmUpCalls);
      yardsticks.push(await pipelinedRoundTrips(ask, scale.actorCalls));
      await calls(pairWarmUpCalls);
      rates.push(await perSecond(scale.actorCalls, () => calls(scale.actorCalls)));
    }
    recorder.add(`p3.${name}`, label, 'calls/s', rates);
    recorder.add(`p3.${name}.raw`, `P3 ${name}'s yardstick: raw pipelined round trips timed just before each repeat, in its process`, 'round trips/s', yardsticks);
    recorder.add(`p3.${name}.paired`, `P3 ${name} against raw pipelined round trips timed just before each repeat`, '×', rates.map((rate, index) => rate / (yardsticks[index] as number)));
  } catch (error) {
    recorder.fail(`p3.${name}`, label, 'calls/s', error);
  } finally {
    await worker.terminate();
  }
}

/** P5 on one side: past 20k tasks, a probe of 20k first, so that the full count never runs the driver out of heap. */
async function measureQueued(recorder: Recorder, scale: BenchScale, side: Side): Promise<void> {
  try {
    let count = scale.queuedTasks;
    if (count > p5ProbeTasks) {
      const probe = await queued(side, p5ProbeTasks);
      count = Math.max(p5ProbeTasks, Math.min(count, Math.floor(p5HeapBudgetBytes / Math.max(probe.bytes, 1))));
    }
    const label = `P5 ${side.name}: ${count.toLocaleString('en')} tiny tasks queued at once${count < scale.queuedTasks ? ` (cut from ${scale.queuedTasks.toLocaleString('en')} by the 2 GiB heap budget)` : ''}`;
    const { bytes, perSecond: rate } = await queued(side, count);
    recorder.add(`p5.${side.name}`, label, 'tasks/s', [rate]);
    recorder.add(`p5.${side.name}.bytes`, `P5 ${side.name}: driver memory per pending task`, 'bytes', [bytes]);
  } catch (error) {
    recorder.fail(`p5.${side.name}`, `P5 ${side.name}: queued tiny tasks`, 'tasks/s', error);
  }
}

function tsraySide(): Side {
  const counter = CounterActor.remote();
  return {
    name: 'tsray',
    tiny: (value) => tsray.get(echo.remote(value)),
    call: () => tsray.get(counter.add.remote(1)),
  };
}

function poolSide(name: 'piscina' | 'tinypool', pool: Pool, single: Pool): Side {
  return {
    name,
    tiny: (value) => pool.run(value, { name: 'echo' }),
    // The pools have no actors: the nearest equivalent is a pool of one thread whose state lives in its module.
    call: () => single.run(1, { name: 'add' }),
  };
}

/** P8: the events, and their records' bytes, that one tiny task leaves in all the logs of a session (run alone in it). */
async function loggedEventsPerTask(recorder: Recorder, scale: BenchScale): Promise<void> {
  const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-bench-p8-'));
  try {
    await tsray.init({ numCpus: cpus, sessionDir });
    const count = scale.loggedTasks;
    await tsray.get(Array.from({ length: count }, (_, index) => echo.remote(index)));
    await tsray.shutdown();
    // The session's start-up events are shared out over the tasks too: few against thousands of tasks.
    const { events, bytes } = await countSessionRecords(sessionDir);
    recorder.add('p8.eventsPerTask', `P8 tsray: logged events per tiny task, all logs (${count.toLocaleString('en')} tasks)`, 'events', [events / count]);
    recorder.add('p8.bytesPerTask', `P8 tsray: logged record bytes per tiny task, all logs (${count.toLocaleString('en')} tasks)`, 'B', [bytes / count]);
  } catch (error) {
    recorder.fail('p8.eventsPerTask', 'P8 tsray: logged events per tiny task', 'events', error);
  } finally {
    rmSync(sessionDir, { recursive: true, force: true });
  }
}

/**
 * P8: P1 with event logging off (`TSRAY_EVENT_LOG=off`) and on, as shipped, in fresh clusters that
 * alternate, so that the machine's load weighs on both alike; one sample of each per repeat.
 */
async function loggingCost(recorder: Recorder, scale: BenchScale): Promise<void> {
  const samples: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const before = process.env['TSRAY_EVENT_LOG'];
  try {
    for (let round = 0; round < scale.repeats; round += 1) {
      for (const mode of ['off', 'on'] as const) {
        process.env['TSRAY_EVENT_LOG'] = mode;
        await tsray.init({ numCpus: cpus });
        try {
          for (let index = 0; index < warmUpCalls; index += 1) await tsray.get(echo.remote(index));
          samples[mode].push(await perSecond(scale.throughputTasks, () => tsray.get(Array.from({ length: scale.throughputTasks }, (_, index) => echo.remote(index)))));
        } finally {
          await tsray.shutdown();
        }
      }
    }
    const label = (mode: string): string => `P8 tsray: P1 (${scale.throughputTasks.toLocaleString('en')} tiny tasks) with event logging ${mode}`;
    recorder.add('p8.p1.off', label('off'), 'tasks/s', samples.off);
    recorder.add('p8.p1.on', label('on, as shipped'), 'tasks/s', samples.on);
  } catch (error) {
    recorder.fail('p8.p1.off', 'P8 tsray: P1 with event logging off and on', 'tasks/s', error);
  } finally {
    if (before === undefined) delete process.env['TSRAY_EVENT_LOG'];
    else process.env['TSRAY_EVENT_LOG'] = before;
  }
}

async function benchTsray(recorder: Recorder, scale: BenchScale): Promise<void> {
  section(`tsray (embedded cluster, numCpus ${cpus})`);
  await tsray.init({ numCpus: cpus });
  try {
    await measureSide(recorder, scale, tsraySide());
  } finally {
    await tsray.shutdown();
  }
  // A fresh cluster, so that P5's memory is the queued tasks' alone.
  await tsray.init({ numCpus: cpus });
  try {
    await measureQueued(recorder, scale, tsraySide());
  } finally {
    await tsray.shutdown();
  }
  await loggedEventsPerTask(recorder, scale);
  await loggingCost(recorder, scale);
}

async function benchPool(recorder: Recorder, scale: BenchScale, name: 'piscina' | 'tinypool'): Promise<void> {
  section(`${name} (${cpus} threads)`);
  const pool = makePool(name, cpus);
  const single = makePool(name, 1);
  try {
    const side = poolSide(name, pool, single);
    await measureSide(recorder, scale, side);
    await measureQueued(recorder, scale, side);
  } finally {
    await Promise.all([pool.destroy(), single.destroy()]);
  }
}

/** Measures one side's figures in this process. */
async function measurePeerSide(side: PeerSide, scale: BenchScale): Promise<Figure[]> {
  const recorder = new Recorder();
  if (side === 'tsray') await benchTsray(recorder, scale);
  else await benchPool(recorder, scale, side);
  return recorder.figures;
}

/** Runs this script for `side` in a fresh Node process (with --expose-gc, as `npm run bench` runs), echoing its progress lines. */
async function spawnPeerSide(side: PeerSide, scale: BenchScale): Promise<Figure[]> {
  const stdout = await spawnSideProcess(fileURLToPath(import.meta.url), side, scale.quick, sideTimeoutMs, 'sideTimeoutMs, the limit of a side of P1 to P5');
  const progress = stdout.trim().split('\n').slice(0, -1);
  if (progress.length > 0) console.log(progress.join('\n'));
  return figuresPrinted(side, stdout);
}

/**
 * Measures P1 to P5 (and P8's events per task) on tsray, piscina and tinypool into `recorder`, with
 * P4 and the warm memcpy it is judged against first; every side in a fresh process.
 */
export async function benchPeers(recorder: Recorder, scale: BenchScale): Promise<void> {
  section('P4: put+get of a 64 MiB Float64Array, and a warm memcpy, each in a fresh process');
  await benchP4(recorder, scale);
  for (const side of peerSides) {
    try {
      for (const figure of await spawnPeerSide(side, scale)) {
        if (figure.error === undefined) recorder.add(figure.id, figure.label, figure.unit, figure.samples);
        else recorder.fail(figure.id, figure.label, figure.unit, new Error(figure.error));
      }
    } catch (error) {
      recorder.fail(`p1.${side}`, `P1 to P5 ${side}, in a process of its own`, 'tasks/s', error);
    }
  }
}

/** The versions of the pools, as their package.json files give them. */
export function peerVersions(): string {
  const version = (name: string): string => (JSON.parse(readFileSync(fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url)), 'utf8')) as { version: string }).version;
  return `piscina ${version('piscina')}, tinypool ${version('tinypool')}`;
}

/** `node --expose-gc dist/bench/peer.js [<side>] [--quick] [--json]`: every side (each in its own process), or one here. */
async function main(argv: readonly string[]): Promise<void> {
  const scale = scaleFor(argv.includes('--quick'));
  const side = argv.find((arg) => !arg.startsWith('--'));
  if (side !== undefined && !peerSides.includes(side as PeerSide)) throw new Error(`usage: node --expose-gc dist/bench/peer.js [${peerSides.join('|')}] [--quick] [--json]; got '${side}'`);
  let figures: Figure[];
  if (side === undefined) {
    const recorder = new Recorder();
    await benchPeers(recorder, scale);
    figures = recorder.figures;
  } else {
    figures = await measurePeerSide(side as PeerSide, scale);
  }
  if (argv.includes('--json')) {
    console.log(JSON.stringify(figures));
    return;
  }
  for (const figure of figures) console.log(figure.label, figure.error ?? figure.samples.map((value) => value.toFixed(1)).join(' '));
}

// Workers import this module too (for the functions above); only the main thread of `node dist/bench/peer.js` runs the bench.
if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
