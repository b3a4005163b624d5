/**
 * Where the CPU of the debugger's replay pass goes, one phase at a time, in one thread: on a machine
 * shared with other work the pass's wall clock (debug-load.ts) moves by seconds between runs, while
 * the CPU of one thread doing one thing moves by a few percent, so a change to one phase is best
 * weighed here, A against B. Each phase does what the one before did and more, so the differences
 * between phases are their costs:
 *
 * - `lines`: each event line's text, as a replay worker cuts it from its buffer;
 * - `decode`: and `decodeWrittenEntry` (the prefix, JSON.parse of the event, its validation);
 * - `apply`: and the reducers, with a snapshot every 5000 events of a component (no ids recorded);
 * - `step`: the worker's whole step (`ComponentsReplay.stepBody`, ids recorded);
 * - `chain`: only the checksum chain over every line, as the first worker checks it.
 *
 * On the million-event trace of debug-load.ts (big-trace.ts), on a loaded machine: lines 0.16 s,
 * decode 2.2 s (JSON.parse of the events some 1.4 s of it), apply 6.1 s (so the reducers 3.9 s),
 * step 6.9 s (so recording ids 0.8 s), chain 0.77 s (its hash, bound by the latency of a multiply
 * per byte, some 0.55 s of it).
 *
 *   node dist/bench/replay-phases.js TRACE [PHASE ...]   (default: all, in the order above)
 */
import { readFileSync } from 'node:fs';
import { TextHasher } from '../core/hash.js';
import { decodeWrittenEntry } from '../core/trace/decode.js';
import { traceSumTailLength } from '../core/trace/format.js';
import { EntityRecorder } from '../debugger/entity-index.js';
import { ComponentsReplay } from '../debugger/replay-step.js';
import { defaultCores, openTrace } from '../debugger/trace-index.js';
import type { ParallelReplayJob } from '../debugger/trace-index.js';

const phases = ['lines', 'decode', 'apply', 'step', 'chain'] as const;
type Phase = (typeof phases)[number];

const [path, ...asked] = process.argv.slice(2);
if (path === undefined) throw new Error(`usage: node dist/bench/replay-phases.js TRACE [${phases.join('|')} ...]`);
const unknown = asked.find((phase) => !(phases as readonly string[]).includes(phase));
if (unknown !== undefined) throw new Error(`no phase '${unknown}'; pass some of ${phases.join(', ')}`);
const chosen = (asked.length === 0 ? phases : asked) as readonly Phase[];

const bytes = readFileSync(path);
// The index pass, untimed, and the job it gives a parallel replay (each event's line, seq, address
// and type, as the workers are given them), kept here rather than replayed.
const trace = await openTrace(bytes, { pause: () => Promise.resolve() });
if (trace.header.mutation !== undefined) throw new Error('the trace was recorded under a broken recipe; pass one recorded with the shipped reducers');
let kept: ParallelReplayJob | undefined;
await trace.replayAll({
  pause: () => Promise.resolve(),
  parallel: {
    replay: (job) => {
      kept = job;
      return Promise.resolve(undefined);
    },
  },
});
if (kept === undefined) throw new Error('the replay pass did not hand over its job; run this bench with the tsray it was built with');
const { addresses, components, types, snapshotEvery, lineStart, lineEnd, seqs, addressIds, typeIds } = kept;

const sumTail = traceSumTailLength;

/** Runs `phase` over the whole trace; returns the lines it met and the CPU seconds it took. */
function run(phase: Phase): { lines: number; cpuS: number } {
  const replay = new ComponentsReplay(defaultCores, addresses, components, snapshotEvery, {
    snapshot: () => undefined,
    divergence: (_addressId, divergence) => {
      throw new Error(`the trace does not replay: ${divergence.reason}`);
    },
  });
  const recorder = new EntityRecorder();
  const unrecorded = { addEvent: () => undefined, addMore: () => undefined } as unknown as EntityRecorder;
  const hasher = new TextHasher();
  let lines = 0;
  const started = process.cpuUsage();
  if (phase === 'chain') {
    let previous = '';
    for (let at = 0; at < bytes.length; ) {
      const newline = bytes.indexOf(10, at);
      const end = newline < 0 ? bytes.length : newline;
      hasher.reset().put(previous).put('\n');
      hasher.putAscii(bytes, at, end - sumTail);
      if (!hasher.put('}').matchesHex(bytes, end - 18)) throw new Error(`the checksum of line ${lines + 1} does not follow; pass an intact trace`);
      previous = bytes.toString('latin1', end - 18, end - 2);
      lines++;
      at = end + 1;
    }
  } else {
    for (let index = 0; index < seqs.length; index++) {
      const body = bytes.toString('utf8', lineStart[index] ?? 0, (lineEnd[index] ?? 0) - sumTail);
      const lastSeq = index === 0 ? 0 : (seqs[index - 1] ?? 0);
      lines++;
      if (phase === 'lines') continue;
      if (phase === 'decode') {
        if (decodeWrittenEntry(body, lastSeq) === undefined) throw new Error(`event ${index} is not a line as tsray writes it; pass a trace tsray wrote`);
        continue;
      }
      const problem = replay.stepBody(body, lastSeq, addressIds[index] ?? 0, seqs[index] ?? 0, types[typeIds[index] ?? 0] ?? '', phase === 'step' ? recorder : unrecorded, index);
      if (problem !== undefined) throw new Error(`event ${index}: ${problem}`);
      // The worker hands its recorder's ids over at each read of its file, some 30,000 events apart.
      if (index % 32_768 === 0) recorder.take();
    }
  }
  const cpu = process.cpuUsage(started);
  return { lines, cpuS: (cpu.user + cpu.system) / 1e6 };
}

for (const phase of chosen) {
  const { lines, cpuS } = run(phase);
  console.log(`${phase.padEnd(6)} ${lines} lines: CPU ${cpuS.toFixed(2)} s (${((cpuS * 1e6) / Math.max(1, lines)).toFixed(2)} µs a line)`);
}
