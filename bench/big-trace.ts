/**
 * Writes a big simulator trace for the debugger's load benchmark: a driver that submits batches of
 * tasks (four squares and their sum), gets each sum and releases the refs, until the trace holds
 * about the asked number of events (some 46 per batch). About 6 minutes for a million events on
 * this machine: the simulator checks every invariant after every event.
 *
 *   node dist/bench/big-trace.js OUT.jsonl [EVENTS]
 */
import { writeFileSync } from 'node:fs';
import { simulate } from '../core/sim/index.js';
import type { SimProgram, SimRef } from '../core/sim/index.js';

/** Events one batch of the workload makes, measured. */
const eventsPerBatch = 46;

/** The workload: `batches` rounds of a small fan-out and fan-in. */
export function longFanOut(batches: number): SimProgram {
  return {
    name: 'long-fan-out',
    actors: {},
    bodies: {
      square: (_ctx, x) => (x as number) * (x as number),
      sum: (_ctx, ...values) => (values as number[]).reduce((total, value) => total + value, 0),
    },
    *driver(ctx) {
      let total = 0;
      for (let batch = 0; batch < batches; batch++) {
        const squares = [1, 2, 3, 4].map((x) => ctx.submit('square', [x + batch]) as SimRef);
        const sum = ctx.submit('sum', squares) as SimRef;
        total += (yield ctx.get(sum)) as number;
        for (const ref of [...squares, sum]) ctx.release(ref);
      }
      return total;
    },
  };
}

/** Simulates about `events` events and writes the trace to `path`; returns the count. */
export function writeBigTrace(path: string, events: number): number {
  const batches = Math.ceil(events / eventsPerBatch);
  const result = simulate({ seed: 1, program: longFanOut(batches), maxTimeMs: 1e9, maxEvents: events * 2, crossCheckEvery: 1000 });
  writeFileSync(path, result.traceText());
  return result.events;
}

const [out, wanted] = process.argv.slice(2);
if (out !== undefined && process.argv[1]?.endsWith('big-trace.js') === true) {
  const startedMs = performance.now();
  const count = writeBigTrace(out, Number(wanted ?? 1_000_000));
  console.log(`${out}: ${count} events in ${((performance.now() - startedMs) / 1000).toFixed(0)} s`);
}
