/**
 * Simulator traces for the debugger's tests, made in the test run itself: a task that crashes its
 * worker on the first attempt and is retried, a task that throws, an actor that crashes and
 * restarts, a task that submits a child, and a plain fan-out. Each comes back as the trace's text and as a loaded index.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { hashState } from '../../core/hash.js';
import { splitSum, TraceWriter } from '../../core/trace/format.js';
import { simulate } from '../../core/sim/index.js';
import type { SimActor, SimProgram, SimRef } from '../../core/sim/index.js';
import { SimGetError } from '../../core/sim/index.js';
import { loadTrace } from '../../debugger/trace-index.js';
import type { LoadOptions, TraceIndex } from '../../debugger/trace-index.js';

/** The workload: every kind of story the panes draw. */
export const debugProgram: SimProgram = {
  name: 'debug-stories',
  bodies: {
    square: (_ctx, x) => (x as number) * (x as number),
    crashOnce: (ctx, x) => (ctx.attempt === 1 ? ctx.exit() : (x as number) + 1),
    fail: () => {
      throw new Error('boom');
    },
    *nested(ctx, x) {
      const child = ctx.submit('square', [x]) as SimRef;
      return ((yield ctx.get(child)) as number) + 1;
    },
  },
  actors: {
    Counter: {
      init: () => ({ total: 0 }),
      methods: {
        add: (_ctx, state, n) => {
          state['total'] = (state['total'] as number) + (n as number);
          return state['total'];
        },
        crash: (ctx) => ctx.exit(),
      },
    },
  },
  *driver(ctx) {
    const squares = [1, 2, 3].map((x) => ctx.submit('square', [x]) as SimRef);
    const retried = ctx.submit('crashOnce', [41], { maxRetries: 2, name: 'crashOnce' }) as SimRef;
    const failed = ctx.submit('fail', [], { maxRetries: 0, name: 'fail' }) as SimRef;
    const counter: SimActor = ctx.createActor('Counter', [], { maxRestarts: 1 });
    const before = yield ctx.get(ctx.call(counter, 'add', [1]));
    let crash: unknown;
    try {
      crash = yield ctx.get(ctx.call(counter, 'crash', []));
    } catch (error) {
      crash = error instanceof SimGetError ? error.info.errorClass : String(error);
    }
    const after = yield ctx.get(ctx.call(counter, 'add', [2]));
    let failure: unknown;
    try {
      failure = yield ctx.get(failed);
    } catch (error) {
      failure = error instanceof SimGetError ? error.info.errorClass : String(error);
    }
    const nested = yield ctx.get(ctx.submit('nested', [5], { name: 'nested' }));
    return { squares: yield ctx.get(squares), retried: yield ctx.get(retried), before, crash, after, failure, nested };
  },
};

/** The text of a run of `debugProgram` (seed 1, no injected faults). */
export function debugTraceText(): string {
  return simulate({ seed: 1, program: debugProgram }).traceText();
}

/** Loads trace text without pausing between chunks. */
export function openTrace(text: string, options: LoadOptions = {}): Promise<TraceIndex> {
  return loadTrace(new TextEncoder().encode(text), { pause: () => Promise.resolve(), ...options });
}

/**
 * `lines` (a trace's, edited by a test) chained again from the start and closed, as a writer would
 * have written them: for tests that change a line on purpose and want only that change to count
 * (here, and in the CLI's tests).
 */
export function rechainTrace(lines: readonly string[]): string {
  const writer = new TraceWriter();
  const out = lines.filter((line) => line.trim() !== '' && !line.startsWith('{"end":')).map((line) => writer.text(splitSum(line).content));
  return `${[...out, writer.end()].join('\n')}\n`;
}

/**
 * Removes the folder of the changed run's trace that a counterfactual saved (`tsray-whatif-*` in the
 * temp dir, named in a line `the changed run's trace: PATH`), which a user is meant to open and a
 * test leaves nothing of. Only that folder: the pattern cannot match a path cut short by a wrapped
 * frame. Fails when `text` names none.
 */
export function removeWhatIfTrace(text: string): void {
  const folder = /the changed run's trace: (\S*\/tsray-whatif-[A-Za-z0-9]{6})\//.exec(text)?.[1];
  if (folder === undefined) throw new Error(`no changed run's trace named in: ${text}`);
  rmSync(folder, { recursive: true, force: true });
}

/**
 * What a loaded trace gives at every event, in a form to compare: the hash of the state of the
 * event's component after it (or why replay could not reach it), last to first so that each seek
 * starts from a snapshot rather than from a state the seek before kept; the most events a seek
 * replayed; and the ids with their kinds and events.
 */
export function browseAll(trace: TraceIndex): { states: string[]; longest: number; entities: unknown[] } {
  const states: string[] = [];
  let longest = 0;
  for (let index = trace.count - 1; index >= 0; index--) {
    const state = trace.stateAt(trace.addressIds[index] ?? 0, index);
    assert.ok(state !== undefined, `no state at event ${index}`);
    states.push(state.divergence ?? hashState(state.state));
    longest = Math.max(longest, state.replayed);
  }
  const entities = [...trace.entities].map(([id, entry]) => [id, [...entry.kinds].sort(), entry.events]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return { states, longest, entities };
}
