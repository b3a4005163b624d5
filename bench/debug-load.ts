/**
 * How long `tsray debug` takes to open a trace and how much memory it holds: the index pass (what
 * precedes the first frame), the replay pass (validation, ids, snapshots), then seeks to random events. Run it in a fresh process,
 * since peak RSS is the process's own.
 *
 *   node dist/bench/big-trace.js /tmp/big.jsonl 1000000 && node dist/bench/debug-load.js /tmp/big.jsonl
 *
 * The replay pass runs in worker threads as `tsray debug` runs it; THREADS 0 runs it in the main
 * thread, YOUNG_MB sets the workers' young generation and SEEKS the random seeks (default 100; 0 to profile the load alone).
 */
import { SeededRandom } from '../core/sim/index.js';
import { openTrace } from '../debugger/trace-index.js';
import { fileSource } from '../node/cli/debug.js';
import { parallelReplayer } from '../node/trace/parallel-replay.js';

const [path, every, threads] = process.argv.slice(2);
if (path === undefined) throw new Error('usage: node dist/bench/debug-load.js TRACE [SNAPSHOT_EVERY] [THREADS (0: the pass in the main thread)]');
const startedMs = performance.now();
const source = fileSource(path);
const options = {
  pause: () => Promise.resolve(),
  ...(every === undefined || every === '' ? {} : { snapshotEvery: Number(every) }),
  ...(threads === '0' ? {} : { parallel: parallelReplayer(path, { ...(threads === undefined ? {} : { threads: Number(threads) }), ...(process.env['YOUNG_MB'] === undefined || process.env['YOUNG_MB'] === '' ? {} : { youngGenerationMb: Number(process.env['YOUNG_MB']) }) }) }),
};
const trace = await openTrace(source, options);
const openMs = performance.now() - startedMs;
await trace.replayAll(options);
const loadMs = performance.now() - startedMs;
// CPU of every thread of the process: on a shared machine it moves less than the wall clock does.
const loadCpu = process.cpuUsage();
const random = new SeededRandom('seeks');
let longestSeekMs = 0;
let mostReplayed = 0;
const seeks = process.env['SEEKS'] === undefined ? 100 : Number(process.env['SEEKS']);
for (let seek = 0; seek < seeks; seek++) {
  const index = random.int(0, trace.count - 1);
  const seekStartedMs = performance.now();
  const state = trace.stateAt(trace.addressIds[index] ?? 0, index, true);
  longestSeekMs = Math.max(longestSeekMs, performance.now() - seekStartedMs);
  mostReplayed = Math.max(mostReplayed, state?.replayed ?? 0);
}
const peakMiB = process.resourceUsage().maxRSS / 1024;
console.log(
  `${path}: ${trace.count} events, ${(source.sizeBytes / 2 ** 20).toFixed(0)} MiB; first frame (index pass) ${(openMs / 1000).toFixed(2)} s, replay pass done ${(loadMs / 1000).toFixed(2)} s (CPU ${((loadCpu.user + loadCpu.system) / 1e6).toFixed(2)} s); ` +
    `peak RSS ${peakMiB.toFixed(0)} MiB; ${seeks} random seeks: longest ${longestSeekMs.toFixed(0)} ms, at most ${mostReplayed} events replayed (snapshots every ${trace.snapshotEvery} events, or ${trace.snapshotBytesPerEvent} bytes per event for a big state)`,
);
