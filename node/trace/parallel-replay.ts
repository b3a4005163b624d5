/**
 * The debugger's replay pass in worker threads. Components replay independently (each has its own
 * state), so each worker takes some of them, balanced by their bytes, and replays their event lines
 * with the same step as the pass in one thread (debugger/replay-step.ts). The checksum chain needs
 * only each line and the sum recorded on the line before it, so it is split too: each worker checks
 * the lines that start in its byte range, a larger range for a worker with fewer component bytes.
 * Every line is still checked and every event line still validated before it is applied.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EntityBatch } from '../../debugger/entity-index.js';
import type { ComponentDivergence } from '../../debugger/replay-step.js';
import type { ParallelReplayJob, ParallelReplayer, ParallelReplaySink, ReplayProblem } from '../../debugger/trace-index.js';

/** A worker's events: per event, its index in the trace, its line's start and number, its seq and the seq before it, its address and type. */
export interface WorkerEvents {
  readonly index: Int32Array;
  readonly start: Float64Array;
  readonly lineNumber: Float64Array;
  readonly seq: Float64Array;
  readonly previousSeq: Float64Array;
  readonly addressId: Uint16Array;
  readonly typeId: Uint16Array;
}

/** What a worker is given: the trace's addresses and types, and only its own events. */
export interface ReplayWorkerData {
  readonly path: string;
  readonly mutation?: string;
  readonly sizeBytes: number;
  readonly eventCount: number;
  readonly addresses: readonly string[];
  readonly components: ParallelReplayJob['components'];
  readonly types: readonly string[];
  readonly snapshotEvery: number;
  readonly events: WorkerEvents;
  /** The lines whose checksum this worker checks: those starting in [chainFrom, chainTo). */
  readonly chainFrom: number;
  readonly chainTo: number;
  readonly chunkBytes: number;
}

/** What a worker posts. */
export type ReplayWorkerMessage =
  | {
      readonly kind: 'progress';
      /** Every event of this worker's before this index (in the trace) is replayed. */
      readonly reached: number;
      readonly bytesDone: number;
      readonly snapshots: readonly (readonly [number, number, string])[];
      readonly divergences: readonly (readonly [number, ComponentDivergence])[];
      /** The ids this worker's events named since its last message. */
      readonly entities: EntityBatch;
    }
  | {
      readonly kind: 'done';
      readonly problem?: { readonly lineNumber: number; readonly chain: boolean; readonly reason: string };
    }
  | { readonly kind: 'failed'; readonly reason: string };

/** How to run the pass. */
export interface ParallelReplayOptions {
  /** Worker threads; default: the cores available, at most 2. With fewer than 2 (or a trace of one component) the pass runs in the main thread. */
  readonly threads?: number;
  /** Bytes a worker reads at a time. */
  readonly chunkBytes?: number;
  /**
   * A worker's young generation (default 48 MB, larger than V8's): the objects of each line (its
   * parsed event, the ids it names) die young, in fewer scavenges.
   */
  readonly youngGenerationMb?: number;
  /** How much more a byte of component replay costs than a byte of checksum, for the split. */
  readonly replayCostPerChainCost?: number;
}

/** A replayer whose workers can be stopped. */
export interface ClosableReplayer extends ParallelReplayer {
  /**
   * Stops the workers of a pass under way (the user quit): its promise then never settles, and
   * nothing of it keeps the process alive.
   */
  close(): void;
}

/** The workers of one replayer, and whether it was closed. */
interface Crew {
  readonly workers: Set<Worker>;
  closed: boolean;
}

/**
 * A replayer that runs the pass over the trace file at `path` in worker threads. It rejects (so the
 * pass runs in the calling thread) when fewer than 2 threads are available or a worker fails.
 */
export function parallelReplayer(path: string, options: ParallelReplayOptions = {}): ClosableReplayer {
  const crew: Crew = { workers: new Set(), closed: false };
  return {
    replay: (job, sink) => replayInWorkers(path, job, sink, options, crew),
    close: () => {
      crew.closed = true;
      for (const worker of crew.workers) void worker.terminate();
      crew.workers.clear();
    },
  };
}

/** The address ids split into `count` groups of about equal bytes (the largest first, each to the lightest group). */
export function balanceGroups(bytesByAddress: readonly number[], count: number): { groups: number[][]; bytes: number[] } {
  const groups: number[][] = Array.from({ length: count }, () => []);
  const bytes = groups.map(() => 0);
  const order = bytesByAddress.map((_bytes, id) => id).sort((a, b) => (bytesByAddress[b] ?? 0) - (bytesByAddress[a] ?? 0));
  for (const id of order) {
    let lightest = 0;
    for (let group = 1; group < count; group++) if ((bytes[group] ?? 0) < (bytes[lightest] ?? 0)) lightest = group;
    groups[lightest]?.push(id);
    bytes[lightest] = (bytes[lightest] ?? 0) + (bytesByAddress[id] ?? 0);
  }
  return { groups, bytes };
}

/**
 * The byte ranges of the chain check per worker, in order, sized so that each worker's replay bytes
 * times `ratio` plus its chain bytes come out about equal (water-filling).
 */
export function chainRanges(replayBytes: readonly number[], sizeBytes: number, ratio: number): [number, number][] {
  const loads = replayBytes.map((bytes) => bytes * ratio);
  // The level L with sum(max(0, L - load)) = sizeBytes, found by bisection.
  let low = 0;
  let high = Math.max(...loads) + sizeBytes;
  for (let step = 0; step < 60; step++) {
    const level = (low + high) / 2;
    const filled = loads.reduce((sum, load) => sum + Math.max(0, level - load), 0);
    if (filled < sizeBytes) low = level;
    else high = level;
  }
  const ranges: [number, number][] = [];
  let from = 0;
  loads.forEach((load, index) => {
    const to = index === loads.length - 1 ? Infinity : Math.min(sizeBytes, from + Math.max(0, high - load));
    ranges.push([from, to]);
    from = to;
  });
  return ranges;
}

/** The events of the components in `group`, in trace order. */
function eventsOf(job: ParallelReplayJob, group: readonly number[]): WorkerEvents {
  const inGroup = new Uint8Array(job.addresses.length);
  for (const id of group) inGroup[id] = 1;
  let count = 0;
  for (let index = 0; index < job.addressIds.length; index++) count += inGroup[job.addressIds[index] ?? 0] ?? 0;
  const events = {
    index: new Int32Array(count),
    start: new Float64Array(count),
    lineNumber: new Float64Array(count),
    seq: new Float64Array(count),
    previousSeq: new Float64Array(count),
    addressId: new Uint16Array(count),
    typeId: new Uint16Array(count),
  };
  let at = 0;
  for (let index = 0; index < job.addressIds.length; index++) {
    const addressId = job.addressIds[index] ?? 0;
    if (inGroup[addressId] !== 1) continue;
    events.index[at] = index;
    events.start[at] = job.lineStart[index] ?? 0;
    events.lineNumber[at] = job.lineNumbers[index] ?? 0;
    events.seq[at] = job.seqs[index] ?? 0;
    events.previousSeq[at] = index === 0 ? 0 : (job.seqs[index - 1] ?? 0);
    events.addressId[at] = addressId;
    events.typeId[at] = job.typeIds[index] ?? 0;
    at++;
  }
  return events;
}

async function replayInWorkers(path: string, job: ParallelReplayJob, sink: ParallelReplaySink, options: ParallelReplayOptions, crew: Crew): Promise<ReplayProblem | undefined> {
  if (crew.closed) return new Promise<never>(() => undefined);
  const threads = Math.min(options.threads ?? Math.min(2, availableParallelism()), job.addresses.length);
  if (threads < 2) throw new Error('fewer than 2 threads: the pass runs in the main thread');
  const bytesByAddress = job.addresses.map(() => 0);
  for (let index = 0; index < job.addressIds.length; index++) {
    const id = job.addressIds[index] ?? 0;
    bytesByAddress[id] = (bytesByAddress[id] ?? 0) + (job.lineEnd[index] ?? 0) - (job.lineStart[index] ?? 0);
  }
  const { groups, bytes } = balanceGroups(bytesByAddress, threads);
  const ranges = chainRanges(bytes, job.sizeBytes, options.replayCostPerChainCost ?? 6);
  const reached = groups.map(() => 0);
  const bytesDone = groups.map(() => 0);
  const workers: Worker[] = [];
  // Once the pass has failed, what its other workers still send must not reach the sink: the pass
  // starts again in the calling thread.
  let failed = false;
  try {
    const results = await Promise.all(
      groups.map(
        (group, index) =>
          new Promise<Extract<ReplayWorkerMessage, { kind: 'done' }>>((resolve, reject) => {
            const [chainFrom, chainTo] = ranges[index] ?? [0, 0];
            const events = eventsOf(job, group);
            const data: ReplayWorkerData = {
              path,
              ...(job.mutation === undefined ? {} : { mutation: job.mutation }),
              sizeBytes: job.sizeBytes,
              eventCount: job.seqs.length,
              addresses: job.addresses,
              components: job.components,
              types: job.types,
              snapshotEvery: job.snapshotEvery,
              events,
              chainFrom,
              chainTo,
              chunkBytes: options.chunkBytes ?? 8 << 20,
            };
            const transfer = Object.values(events).map((column: Int32Array | Float64Array | Uint16Array) => column.buffer as ArrayBuffer);
            const worker = new Worker(new URL('./replay-worker.js', import.meta.url), { workerData: data, transferList: transfer, resourceLimits: { maxYoungGenerationSizeMb: options.youngGenerationMb ?? 48 } });
            workers.push(worker);
            crew.workers.add(worker);
            let finished = false;
            worker.on('message', (message: ReplayWorkerMessage) => {
              if (failed || crew.closed) return;
              if (message.kind === 'failed') {
                finished = true;
                reject(new Error(`a replay worker failed: ${message.reason}`));
              } else if (message.kind === 'progress') {
                for (const [addressId, position, state] of message.snapshots) sink.snapshot(addressId, position, state);
                for (const [addressId, divergence] of message.divergences) sink.divergence(addressId, divergence);
                // Its ids go into the index as they come, while the workers run on.
                sink.entities(message.entities, index);
                reached[index] = message.reached;
                bytesDone[index] = message.bytesDone;
                sink.reached(Math.min(...reached), Math.min(...bytesDone));
              } else {
                finished = true;
                resolve(message);
                // Its heap (states, ids) goes at once.
                void worker.terminate();
              }
            });
            worker.on('error', (error) => {
              if (!crew.closed) reject(error);
            });
            worker.on('exit', (code) => {
              crew.workers.delete(worker);
              if (!finished && !crew.closed) reject(new Error(`a replay worker exited (code ${code}) before it finished`));
            });
          }),
      ),
    );
    // The first bad line of the file: each worker stopped at its own first one. On the same line, a
    // broken chain is reported first, as the pass in one thread does.
    let first: { lineNumber: number; chain: boolean; reason: string } | undefined;
    for (const { problem } of results) {
      if (problem === undefined) continue;
      if (first === undefined || problem.lineNumber < first.lineNumber || (problem.lineNumber === first.lineNumber && problem.chain && !first.chain)) first = problem;
    }
    return first === undefined ? undefined : { lineNumber: first.lineNumber, reason: first.reason };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    for (const worker of workers) void worker.terminate();
  }
}
