/**
 * The raw limits the targets are measured against, taken in the same run: a postMessage
 * round trip to a worker thread, pipelined MessageChannel round trips of spec-sized objects and TCP
 * loopback (the warm memcpy P4 is judged against is taken with P4, in bench/p4.ts); and the lmdb-js batched puts and range reads (with msgpack decode)
 * that bench/event-log.ts measures in turn with the event log's own, so that both see the same load.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { open, type RootDatabase } from 'lmdb';
import type { BenchScale, Recorder } from './harness.js';
import { rawLoopback } from './tcp-loopback.js';

const window = 100;

/** An object about the size and shape of a pushed actor task, as the runtime sends one between threads. */
export function specSized(seq: number): object {
  return {
    type: 'actor-task/pushed',
    taskId: `n1.d1.t${seq}`,
    actorId: 'n1.a1',
    method: 'add',
    args: [{ kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } }],
    numReturns: 1,
    owner: 'worker:n1.d1',
    seq,
  };
}

/** A worker that sends every message on its port back. */
export function echoWorker(): Worker {
  return new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
}

/** Sends each message and resolves with its reply, in order. */
export function asker(worker: Worker): (message: unknown) => Promise<unknown> {
  const waiting: ((reply: unknown) => void)[] = [];
  worker.on('message', (reply: unknown) => waiting.shift()?.(reply));
  return (message) =>
    new Promise((resolve) => {
      waiting.push(resolve);
      worker.postMessage(message);
    });
}

/** Round trips per second of `count` spec-sized objects through `ask`, `window` in flight: P3's yardstick. */
export async function pipelinedRoundTrips(ask: (message: unknown) => Promise<unknown>, count: number): Promise<number> {
  const started = performance.now();
  for (let sent = 0; sent < count; sent += window) {
    await Promise.all(Array.from({ length: window }, (_, index) => ask(specSized(sent + index))));
  }
  return count / ((performance.now() - started) / 1000);
}

async function messaging(recorder: Recorder, scale: BenchScale): Promise<void> {
  const worker = echoWorker();
  const ask = asker(worker);
  try {
    for (let index = 0; index < 200; index += 1) await ask(index);
    await recorder.repeat('raw.rtt', 'raw: postMessage round trip to a worker, one at a time', 'µs', scale.repeats, async () => {
      const samples: number[] = [];
      for (let index = 0; index < scale.latencyCalls; index += 1) {
        const started = performance.now();
        await ask(index);
        samples.push((performance.now() - started) * 1000);
      }
      return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? Number.NaN;
    });
    await recorder.repeat('raw.pipelined', `raw: pipelined round trips of spec-sized objects, ${window} in flight`, 'round trips/s', scale.repeats, () => pipelinedRoundTrips(ask, scale.actorCalls));
  } finally {
    await worker.terminate();
  }
}

/**
 * lmdb-js at its own best on `events`, in a fresh file in `dir`: puts issued without waiting (lmdb-js
 * gathers them into one transaction on its writer thread, noSync as the owner logs are). Returns the
 * puts per second and the database, open, for `rawLmdbRange`.
 */
export async function rawLmdbPuts(path: string, events: readonly unknown[]): Promise<{ perSecond: number; db: RootDatabase<unknown, number> }> {
  const db = open<unknown, number>({ path, noSubdir: true, noSync: true });
  const started = performance.now();
  let last: Promise<boolean> = Promise.resolve(true);
  for (let seq = 1; seq <= events.length; seq += 1) last = db.put(seq, events[seq - 1]);
  await last;
  return { perSecond: events.length / ((performance.now() - started) / 1000), db };
}

/** One `getRange` over all of `db`, each value decoded by lmdb-js's default msgpack encoding: values per second. */
export function rawLmdbRange(db: RootDatabase<unknown, number>, expected: number): number {
  const started = performance.now();
  let count = 0;
  for (const { value } of db.getRange({ start: 1 })) if (value !== undefined) count += 1;
  if (count !== expected) throw new Error(`getRange read ${count} events of ${expected}`);
  return count / ((performance.now() - started) / 1000);
}

function tcp(recorder: Recorder, scale: BenchScale): Promise<void> {
  const payload = Buffer.alloc(scale.tcpBytes);
  for (let at = 0; at < payload.byteLength; at += 4096) payload[at] = at & 0xff;
  return recorder.repeat('raw.tcp', `raw: TCP loopback, ${scale.tcpBytes / 1024 / 1024} MiB in 1 MiB writes`, 'GB/s', scale.repeats, async () => scale.tcpBytes / 1e9 / ((await rawLoopback(payload)) / 1000));
}

/** Measures the raw baselines of messaging and TCP into `recorder` (the LMDB ones are taken with P6, memcpy with P4). */
export async function benchBaselines(recorder: Recorder, scale: BenchScale): Promise<void> {
  await messaging(recorder, scale);
  await tcp(recorder, scale);
}
