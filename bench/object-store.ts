/**
 * Throughput of the node's object store for one 64 MiB Float64Array: put (one copy into the arena)
 * plus get (a zero-copy view), into a cold arena (pages faulted on first write) and a warm one
 * (pre-faulted, memory reused), against handing the same array to a worker by structured-clone
 * postMessage. Run alone with `node dist/bench/object-store.js`.
 *
 * This file is also the worker's code, so that both sides are compiled together.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ObjectArena } from '../node/store/arena.js';
import { ObjectStore } from '../node/store/object-store.js';

const mib = 1024 * 1024;
const objectBytes = 64 * mib;
const rounds = 9;

/** What the bench asks its worker; each is answered with one message. */
type Command =
  | { readonly command: 'clone'; readonly array: Float64Array }
  | { readonly command: 'view'; readonly offset: number; readonly length: number };

function gbPerS(bytes: number, ms: number): string {
  return `${(bytes / 1e9 / (ms / 1000)).toFixed(2)} GB/s`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Copies `source` into the store as `objectId` and reads it back as a zero-copy view; returns [putMs, getMs]. */
function putAndGet(store: ObjectStore, objectId: string, source: Float64Array): [number, number] {
  const start = performance.now();
  const { offset } = store.create(objectId, source.byteLength);
  new Float64Array(store.buffer, offset, source.length).set(source);
  store.seal(objectId, { type: 'Float64Array', length: source.length });
  const putDone = performance.now();
  const entry = store.get(objectId);
  if (entry === undefined) throw new Error('the object just sealed is missing');
  const view = new Float64Array(store.buffer, entry.offset, entry.sizeBytes / 8);
  if (view[view.length - 1] !== source[source.length - 1]) throw new Error('the view does not show the object');
  const getDone = performance.now();
  store.delete(objectId);
  return [putDone - start, getDone - putDone];
}

function report(label: string, samples: [number, number][]): void {
  const put = median(samples.map(([putMs]) => putMs));
  const get = median(samples.map(([, getMs]) => getMs));
  console.log(`  ${label}: put ${put.toFixed(2)} ms (${gbPerS(objectBytes, put)}), get ${(get * 1000).toFixed(1)} us, put+get ${gbPerS(objectBytes, put + get)}`);
}

/** Prints the object store figures; see the file comment. */
export async function benchObjectStore(): Promise<void> {
  const source = new Float64Array(objectBytes / 8);
  for (let index = 0; index < source.length; index += 1) source[index] = index;
  console.log(`object store, one ${objectBytes / mib} MiB Float64Array (median of ${rounds}):`);

  const prefaultStart = performance.now();
  const warmArena = new ObjectArena({ capacityBytes: 256 * mib, prefault: 'eager' });
  console.log(`  create and pre-fault a 256 MiB arena: ${(performance.now() - prefaultStart).toFixed(0)} ms`);

  const cold: [number, number][] = [];
  for (let round = 0; round < rounds; round += 1) {
    // A new arena each round: every put writes pages never touched before.
    cold.push(putAndGet(new ObjectStore(new ObjectArena({ capacityBytes: objectBytes, prefault: 'none' })), 'cold', source));
  }
  report('cold arena (fresh pages)', cold);

  const warmStore = new ObjectStore(warmArena);
  const warm: [number, number][] = [];
  putAndGet(warmStore, 'warm-up', source);
  for (let round = 0; round < rounds; round += 1) warm.push(putAndGet(warmStore, `warm-${round}`, source));
  report('warm arena (reused pages)', warm);

  const worker = new Worker(new URL(import.meta.url), { workerData: { buffer: warmStore.buffer } });
  const answers: ((answer: unknown) => void)[] = [];
  worker.on('message', (message: unknown) => answers.shift()?.(message));
  const ask = (command: Command): Promise<unknown> =>
    new Promise((resolve) => {
      answers.push(resolve);
      worker.postMessage(command);
    });
  try {
    await ask({ command: 'view', offset: 0, length: 1 });
    const cloneMs: number[] = [];
    const handoffMs: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      let start = performance.now();
      await ask({ command: 'clone', array: source });
      cloneMs.push(performance.now() - start);

      start = performance.now();
      const { offset } = warmStore.create('handoff', objectBytes);
      new Float64Array(warmStore.buffer, offset, source.length).set(source);
      warmStore.seal('handoff', null);
      await ask({ command: 'view', offset, length: source.length });
      handoffMs.push(performance.now() - start);
      warmStore.delete('handoff');
    }
    console.log(`  structured-clone postMessage to a worker (round trip): ${median(cloneMs).toFixed(2)} ms (${gbPerS(objectBytes, median(cloneMs))})`);
    console.log(`  store put in main + zero-copy view in a worker (round trip): ${median(handoffMs).toFixed(2)} ms (${gbPerS(objectBytes, median(handoffMs))})`);
  } finally {
    await worker.terminate();
  }
}

function runWorker(): void {
  const port = parentPort;
  if (port === null) throw new Error('the worker side needs a parent port');
  const buffer = (workerData as { buffer: SharedArrayBuffer }).buffer;
  const answer = (command: Command): unknown => {
    switch (command.command) {
      case 'clone':
        return command.array.length;
      case 'view':
        return new Float64Array(buffer, command.offset, command.length)[command.length - 1];
    }
  };
  port.on('message', (message: unknown) => port.postMessage(answer(message as Command)));
}

if (!isMainThread) runWorker();
else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await benchObjectStore();
