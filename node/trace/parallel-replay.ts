/**
 * The debugger's replay pass in worker threads. Components replay independently (each has its own
 * state), so each worker takes some of them, balanced by their events, and replays their event lines
 * with the same step as the pass in one thread (debugger/replay-step.ts). The checksum chain needs
 * only each line and the sum recorded on the line before it, and no index: the workers start with
 * the index pass, the first checking the chain (by default all of it) on the core that pass leaves
 * idle; once the index is there each replays its components, reading only their lines, and the others
 * check whatever rest of the chain is theirs after.
 * Every line is still checked and every event line still validated before it is applied.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EntityBatch } from '../../debugger/entity-index.js';
import type { ComponentDivergence } from '../../debugger/replay-step.js';
import type { ParallelReplayJob, ParallelReplayer, ParallelReplaySink, ReplayProblem } from '../../debugger/trace-index.js';

/** A worker's events: per event, its index in the trace, its line's range and number, its seq and the seq before it, its address and type. */
export interface WorkerEvents {
  readonly index: Int32Array;
  readonly start: Float64Array;
  readonly end: Float64Array;
  readonly lineNumber: Float64Array;
  readonly seq: Float64Array;
  readonly previousSeq: Float64Array;
  readonly addressId: Uint16Array;
  readonly typeId: Uint16Array;
}

/** What a worker starts with, before the index exists: the file and the lines whose checksums it checks. */
export interface ReplayWorkerData {
  readonly path: string;
  readonly sizeBytes: number;
  /** The lines whose checksum this worker checks: those starting in [chainFrom, chainTo). */
  readonly chainFrom: number;
  readonly chainTo: number;
  /** Whether it checks them after its replay rather than at once, while the index pass runs. */
  readonly chainAfterReplay: boolean;
  readonly chunkBytes: number;
}

/** What a worker is sent once the index is built: the trace's addresses and types, and only its own events. */
export interface ReplayWorkerJob {
  readonly mutation?: string;
  readonly eventCount: number;
  readonly addresses: readonly string[];
  readonly components: ParallelReplayJob['components'];
  readonly types: readonly string[];
  readonly snapshotEvery: number;
  readonly snapshotBytesPerEvent: number;
  /** False when the trace's own snapshots are used: the worker then runs no reducer. */
  readonly applies: boolean;
  readonly events: WorkerEvents;
}

/** A bad line a worker found: a broken link in the chain, or an event that does not validate or apply. */
export interface WorkerProblem {
  readonly lineNumber: number;
  readonly chain: boolean;
  readonly reason: string;
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
  | { readonly kind: 'done'; readonly problem?: WorkerProblem }
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
  /**
   * The share of the file's bytes whose checksums the first worker checks as it starts, while the
   * index pass runs on the other core; the others split the rest and check it after their replay (a
   * third busy thread on two cores would only slow the index pass, which the first frame waits for).
   * Default 1: the first worker checks the whole chain and then replays the lightest group, so no
   * check waits behind the heaviest group's replay (on a million-event trace the pass ended 0.3 s
   * sooner than with 0.8, and 0.4 s sooner than with 0.7).
   */
  readonly firstChainShare?: number;
}

/** A replayer whose workers can be stopped. */
export interface ClosableReplayer extends ParallelReplayer {
  /**
   * Stops the workers of a pass under way (the user quit): its promise then never settles, and
   * nothing of it keeps the process alive.
   */
  close(): void;
}

/** One worker thread, and what it posted before the pass was handed to it. */
interface Hand {
  readonly worker: Worker;
  readonly early: ReplayWorkerMessage[];
  /** Set once the pass is handed over: where its messages go. */
  onMessage?: (message: ReplayWorkerMessage) => void;
  onFailure?: (error: Error) => void;
  failure?: Error;
}

/** The workers of one replayer, and whether it was closed. */
interface Crew {
  hands: Hand[] | undefined;
  closed: boolean;
}

/**
 * A replayer that runs the pass over the trace file at `path` in worker threads. It rejects (so the
 * pass runs in the calling thread) when fewer than 2 threads are available or a worker fails.
 */
export function parallelReplayer(path: string, options: ParallelReplayOptions = {}): ClosableReplayer {
  const crew: Crew = { hands: undefined, closed: false };
  return {
    begin: (sizeBytes) => {
      if (crew.hands === undefined && !crew.closed) crew.hands = startWorkers(path, sizeBytes, options);
    },
    replay: (job, sink) => replayInWorkers(path, job, sink, options, crew),
    close: () => {
      crew.closed = true;
      for (const hand of crew.hands ?? []) void hand.worker.terminate();
    },
  };
}

/**
 * The worker's script: the one CommonJS bundle the build makes of replay-worker.ts and all it imports
 * (scripts/bundle-worker.mjs), which a thread loads in a tenth of the CPU its ES modules one by one
 * take; those when there is no bundle (tsray run from its sources).
 */
const bundledWorker = fileURLToPath(new URL('./replay-worker.cjs', import.meta.url));
const workerScript = existsSync(bundledWorker) ? bundledWorker : new URL('./replay-worker.js', import.meta.url);

/** How many worker threads to use. */
function threadsOf(options: ParallelReplayOptions): number {
  return options.threads ?? Math.min(2, availableParallelism());
}

/**
 * Starts the workers, each checking the checksums of its share of the file's lines while the index
 * pass runs. They do not keep the process alive until the pass is handed to them (an index pass that
 * fails never does). None start with fewer than 2 threads.
 */
function startWorkers(path: string, sizeBytes: number, options: ParallelReplayOptions): Hand[] | undefined {
  const threads = threadsOf(options);
  if (threads < 2) return undefined;
  const ranges = chainRanges(threads, sizeBytes, options.firstChainShare ?? 1);
  return ranges.map(([chainFrom, chainTo], index) => {
    const data: ReplayWorkerData = { path, sizeBytes, chainFrom, chainTo, chainAfterReplay: index > 0, chunkBytes: options.chunkBytes ?? 8 << 20 };
    const worker = new Worker(workerScript, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: options.youngGenerationMb ?? 48 } });
    const hand: Hand = { worker, early: [] };
    worker.on('message', (message: ReplayWorkerMessage) => {
      if (hand.onMessage === undefined) hand.early.push(message);
      else hand.onMessage(message);
    });
    const fail = (error: Error): void => {
      hand.failure ??= error;
      hand.onFailure?.(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a replay worker exited (code ${code}) before it finished`)));
    // After the listeners, which would hold it again.
    worker.unref();
    return hand;
  });
}

/** The address ids split into `count` groups of about equal weight (the heaviest first, each to the lightest group). */
export function balanceGroups(weightByAddress: readonly number[], count: number): { groups: number[][]; weights: number[] } {
  const groups: number[][] = Array.from({ length: count }, () => []);
  const weights = groups.map(() => 0);
  const order = weightByAddress.map((_weight, id) => id).sort((a, b) => (weightByAddress[b] ?? 0) - (weightByAddress[a] ?? 0));
  for (const id of order) {
    let lightest = 0;
    for (let group = 1; group < count; group++) if ((weights[group] ?? 0) < (weights[lightest] ?? 0)) lightest = group;
    groups[lightest]?.push(id);
    weights[lightest] = (weights[lightest] ?? 0) + (weightByAddress[id] ?? 0);
  }
  return { groups, weights };
}

/**
 * The components each of `count` workers replays, the lightest group first (the first worker's check
 * of the chain may still be finishing). They are weighed by their events, not their bytes: most of a
 * step's cost is per line (parsing, validating, indexing its ids), about 7 to 10 µs whatever the
 * component on a million-event trace, where the driver's short lines made the split by bytes give
 * the driver's worker 4.5 s of CPU against 3.5 s for the other; split by events, 3.9 s and 4.1 s.
 */
export function replayGroups(job: Pick<ParallelReplayJob, 'addresses' | 'addressIds'>, count: number): number[][] {
  const eventsByAddress = job.addresses.map(() => 0);
  for (let index = 0; index < job.addressIds.length; index++) {
    const id = job.addressIds[index] ?? 0;
    eventsByAddress[id] = (eventsByAddress[id] ?? 0) + 1;
  }
  const balanced = balanceGroups(eventsByAddress, count);
  return balanced.groups
    .map((group, index) => ({ group, weight: balanced.weights[index] ?? 0 }))
    .sort((a, b) => a.weight - b.weight)
    .map(({ group }) => group);
}

/**
 * The byte ranges of the chain check per worker, in order and covering the file: equal shares, or
 * `firstShare` of the bytes for the first worker and equal shares of the rest for the others.
 */
export function chainRanges(count: number, sizeBytes: number, firstShare?: number): [number, number][] {
  const first = Math.round(sizeBytes * (firstShare ?? 1 / count));
  const ranges: [number, number][] = [];
  for (let index = 0; index < count; index++) {
    const from = index === 0 ? 0 : first + Math.round(((sizeBytes - first) * (index - 1)) / Math.max(1, count - 1));
    const to = index === count - 1 ? Infinity : first + Math.round(((sizeBytes - first) * index) / Math.max(1, count - 1));
    ranges.push([from, to]);
  }
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
    end: new Float64Array(count),
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
    events.end[at] = job.lineEnd[index] ?? 0;
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
  if (threadsOf(options) < 2 || job.addresses.length < 2) {
    for (const hand of crew.hands ?? []) void hand.worker.terminate();
    throw new Error('fewer than 2 threads or components: the pass runs in the main thread');
  }
  crew.hands ??= startWorkers(path, job.sizeBytes, options);
  const hands = crew.hands ?? [];
  const groups = replayGroups(job, hands.length);
  const reached = groups.map(() => 0);
  const bytesDone = groups.map(() => 0);
  // Once the pass has failed, what its other workers still send must not reach the sink: the pass
  // starts again in the calling thread.
  let failed = false;
  try {
    const results = await Promise.all(
      hands.map(
        (hand, index) =>
          new Promise<WorkerProblem | undefined>((resolve, reject) => {
            let finished = false;
            hand.onFailure = (error) => {
              if (!finished && !crew.closed) reject(error);
            };
            hand.onMessage = (message) => {
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
                resolve(message.problem);
                // Its heap (states, ids) goes at once.
                void hand.worker.terminate();
              }
            };
            for (const message of hand.early.splice(0)) hand.onMessage(message);
            if (hand.failure !== undefined) hand.onFailure(hand.failure);
            if (finished) return;
            const events = eventsOf(job, groups[index] ?? []);
            const work: ReplayWorkerJob = {
              ...(job.mutation === undefined ? {} : { mutation: job.mutation }),
              eventCount: job.seqs.length,
              addresses: job.addresses,
              components: job.components,
              types: job.types,
              snapshotEvery: job.snapshotEvery,
              snapshotBytesPerEvent: job.snapshotBytesPerEvent,
              applies: job.applies,
              events,
            };
            const transfer = Object.values(events).map((column: Int32Array | Float64Array | Uint16Array) => column.buffer as ArrayBuffer);
            // From now on the pass holds the process, as it did when it ran here.
            hand.worker.ref();
            hand.worker.postMessage(work, transfer);
          }),
      ),
    );
    // The first bad line of the file: each worker stopped at its own first one. On the same line, a
    // broken chain is reported first, as the pass in one thread does.
    let first: WorkerProblem | undefined;
    for (const problem of results) {
      if (problem === undefined) continue;
      if (first === undefined || problem.lineNumber < first.lineNumber || (problem.lineNumber === first.lineNumber && problem.chain && !first.chain)) first = problem;
    }
    return first === undefined ? undefined : { lineNumber: first.lineNumber, reason: first.reason };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    for (const hand of hands) void hand.worker.terminate();
  }
}
