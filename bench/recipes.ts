/**
 * Events per second of the recipes, applied directly to mutable state (the live shell's hot path)
 * and under immer with patches (the simulator, the tests and the debugger), over the events of one
 * recorded simulated run.
 */
import { performance } from 'node:perf_hooks';
import type { AnyEvent, ComponentCore } from '../core/component.js';
import { gcsCore } from '../core/gcs/index.js';
import { ownerCore } from '../core/owner/index.js';
import { rayletCore } from '../core/raylet/index.js';
import { simulate } from '../core/sim/index.js';
import type { SimRef } from '../core/sim/index.js';
import { applyDirect, applyUnderImmer } from '../core/step.js';
import type { TraceEntry } from '../core/trace/format.js';

const cores: Record<TraceEntry['component'], ComponentCore<unknown, AnyEvent, unknown>> = {
  gcs: gcsCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  raylet: rayletCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  owner: ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
};

/** Records a run of `tasks` small tasks and `calls` actor calls, and returns its events. */
export function recordRun(tasks: number, calls: number): TraceEntry[] {
  const result = simulate({
    seed: 'bench',
    record: true,
    hashEvery: 0,
    crossCheckEvery: 0,
    faultPhaseMs: 100,
    program: {
      name: 'bench',
      bodies: { add: (_ctx, a, b) => (a as number) + (b as number) },
      actors: { Counter: { init: () => ({ total: 0 }), methods: { add: (_ctx, state, n) => (state.total = (state.total as number) + (n as number)) } } },
      *driver(ctx) {
        const refs = Array.from({ length: tasks }, (_, index) => ctx.submit('add', [index, 1]) as SimRef);
        const counter = ctx.createActor('Counter', []);
        const callRefs = Array.from({ length: calls }, (_, index) => ctx.call(counter, 'add', [index]) as SimRef);
        yield ctx.get(refs);
        yield ctx.get(callRefs);
        return null;
      },
    },
  });
  return JSON.parse(`[${result.traceText().trim().split('\n').slice(1).filter((line) => line.startsWith('{"seq"')).join(',')}]`) as TraceEntry[];
}

/** Times applying every entry with `apply`, starting from fresh states. */
function time(entries: readonly TraceEntry[], immer: boolean): number {
  const states = new Map<string, unknown>();
  const start = performance.now();
  for (const entry of entries) {
    const core = cores[entry.component];
    const state = states.get(entry.address) ?? core.initial();
    if (immer) states.set(entry.address, applyUnderImmer(core, state, entry.event).state);
    else {
      applyDirect(core, state, entry.event);
      states.set(entry.address, state);
    }
  }
  return performance.now() - start;
}

/** Runs the benchmark and prints events/s for both modes. */
export function benchRecipes(tasks: number, calls: number): { events: number; directPerSecond: number; immerPerSecond: number } {
  const entries = recordRun(tasks, calls);
  time(entries, false);
  const directMs = Math.min(time(entries, false), time(entries, false), time(entries, false));
  const immerMs = Math.min(time(entries, true), time(entries, true));
  const figures = { events: entries.length, directPerSecond: Math.round((entries.length / directMs) * 1000), immerPerSecond: Math.round((entries.length / immerMs) * 1000) };
  console.log(`recipes over ${figures.events} events (${tasks} tasks, ${calls} actor calls): direct ${figures.directPerSecond} events/s, under immer ${figures.immerPerSecond} events/s`);
  return figures;
}
