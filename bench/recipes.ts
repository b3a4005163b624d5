/**
 * P7: events per second of the recipes, applied directly to mutable state (the live shell's hot
 * path) and under immer with patches (as the debugger's diff and tests apply them), over the events
 * of one recorded simulated run; the same events as plain Map mutation; and immer replay (without
 * patches, as the simulator applies events) onto an owner holding 100k live tasks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { AnyEvent, ComponentCore } from '../core/component.js';
import { gcsCore } from '../core/gcs/index.js';
import { ownerCore } from '../core/owner/index.js';
import { rayletCore } from '../core/raylet/index.js';
import { simulate } from '../core/sim/index.js';
import type { SimRef } from '../core/sim/index.js';
import { applyDirect, applyUnderImmer } from '../core/step.js';
import { keepTablesInMaps } from '../core/table.js';
import type { TraceEntry } from '../core/trace/format.js';
import { figuresPrinted, spawnSideProcess, type BenchScale, type Recorder } from './harness.js';

const cores: Record<TraceEntry['component'], ComponentCore<unknown, AnyEvent, unknown>> = {
  gcs: gcsCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  raylet: rayletCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  owner: ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
};

/** Passes over the recorded events before the recipes applied directly are timed. */
const warmUpPasses = 15;
/** Untimed steps under immer before P7b's timed ones (see immerAtScale). */
const warmUpSteps = 4_000;

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

/** One recorded event, ready to apply: its component's core, the slot of its process's state, and the event. */
interface Step {
  readonly core: ComponentCore<unknown, AnyEvent, unknown>;
  readonly slot: number;
  readonly event: AnyEvent;
}

/**
 * The run's events as steps, each process's state given a slot of its own: looked up by address in a
 * `Map` at every event, the state took about a tenth of a pass applied directly, a lookup no live
 * shell makes (each applies only its own events, to its own state).
 */
function stepsOf(entries: readonly TraceEntry[]): { steps: Step[]; slots: number } {
  const slots = new Map<string, number>();
  const steps = entries.map((entry): Step => {
    let slot = slots.get(entry.address);
    if (slot === undefined) slots.set(entry.address, (slot = slots.size));
    return { core: cores[entry.component], slot, event: entry.event };
  });
  return { steps, slots: slots.size };
}

/** Times applying every step, starting from fresh states. */
function time({ steps, slots }: { steps: readonly Step[]; slots: number }, immer: boolean): number {
  const states: unknown[] = Array.from({ length: slots }, () => undefined);
  const start = performance.now();
  for (const { core, slot, event } of steps) {
    let state = states[slot];
    if (state === undefined) {
      state = core.initial();
      // Applied directly, a state is kept as the live shell keeps its own: tables in Maps only, and
      // changed in place, so it is put in `states` once.
      if (!immer) {
        keepTablesInMaps(state);
        states[slot] = state;
      }
    }
    if (immer) states[slot] = applyUnderImmer(core, state, event).state;
    else applyDirect(core, state, event);
  }
  return performance.now() - start;
}

/**
 * The same events as plain Map mutation: per event, one record looked up by the id it names (created
 * when new) and three fields written. The floor a reducer's bookkeeping is compared with.
 */
function timeMap(entries: readonly TraceEntry[]): number {
  const records = new Map<string, { type: string; count: number; atMs: number }>();
  const start = performance.now();
  for (const entry of entries) {
    const event = entry.event as { type: string; taskId?: string; objectId?: string };
    const key = event.taskId ?? event.objectId ?? entry.address;
    let record = records.get(key);
    if (record === undefined) records.set(key, (record = { type: '', count: 0, atMs: 0 }));
    record.type = event.type;
    record.count += 1;
    record.atMs = entry.atMs;
  }
  return performance.now() - start;
}

/**
 * Events/s of immer replay onto an owner that already holds `liveTasks` submitted, unfinished tasks:
 * the state is built directly from the run's first submission repeated, then more submissions are
 * applied under immer for up to `budgetMs` (at least 3), as the simulator and a replay apply them:
 * without patches, so with own copies of tables and queues (core/own-copies.ts). Only the one event
 * whose diff the debugger shows is applied with patches.
 */
function immerAtScale(entries: readonly TraceEntry[], liveTasks: number, budgetMs: number): number {
  const submitAt = entries.findIndex((entry) => entry.component === 'owner' && entry.event.type === 'task/submitted');
  const submission = entries[submitAt];
  if (submission === undefined) throw new Error('the recorded run has no task submission');
  const core = cores.owner;
  let state = core.initial();
  for (const entry of entries.slice(0, submitAt)) if (entry.address === submission.address) applyDirect(core, state, entry.event);
  for (let index = 0; index < liveTasks; index += 1) applyDirect(core, state, submission.event);
  // The first step under immer freezes the whole state once; the debugger pays that once too.
  state = applyUnderImmer(core, state, submission.event, { patches: false }).state;
  // Then steps untimed until V8 has optimised the immer path, as P7a's passes warm up first: the
  // first 4,000 steps ran at about 10k/s, under half the steady speed, and a debugger's replay pass
  // over a long trace runs warm (the helper's measurements, 2026-11-29).
  for (let index = 0; index < warmUpSteps; index += 1) state = applyUnderImmer(core, state, submission.event, { patches: false }).state;
  const start = performance.now();
  let applied = 0;
  while (applied < 3 || (performance.now() - start < budgetMs && applied < 10_000)) {
    state = applyUnderImmer(core, state, submission.event, { patches: false }).state;
    applied += 1;
  }
  return applied / ((performance.now() - start) / 1000);
}

/** Records P7a's figures: recipes applied directly, under immer with patches, and plain Map mutation. */
export async function benchRecipes(recorder: Recorder, scale: BenchScale, entries: readonly TraceEntry[]): Promise<void> {
  const perSecond = (ms: number): number => entries.length / (ms / 1000);
  // V8 takes about ten passes over these events to optimise the recipes fully (the first passes ran
  // at a tenth to a half of the steady speed), so one warm-up pass left the samples spread 4x apart.
  const steps = stepsOf(entries);
  for (let pass = 0; pass < warmUpPasses; pass += 1) time(steps, false);
  await recorder.repeat('p7.direct', `P7 tsray: recipes applied directly (${entries.length.toLocaleString('en')} events)`, 'events/s', scale.repeats, () => perSecond(time(steps, false)));
  await recorder.repeat('p7.immer', 'P7 tsray: recipes under immer, same events', 'events/s', scale.repeats, () => perSecond(time(steps, true)));
  timeMap(entries);
  await recorder.repeat('p7.map', 'P7 baseline: plain Map mutation, same events', 'events/s', scale.repeats, () => perSecond(timeMap(entries)));
}

/**
 * Records P7b: immer replay at 100k live tasks. It runs in a process of its own (see
 * `benchRecipesApart`): after P7a's passes (the recipes of all three components applied directly
 * and then under immer with patches, which leaves V8's code for the table and queue functions
 * shaped by drafts with patches as well), the same build read 43.2k events/s where a process that
 * ran only this read 46.6k (two alternated runs each, 2026-12-03).
 */
export async function benchImmerAtScale(recorder: Recorder, scale: BenchScale, entries: readonly TraceEntry[]): Promise<void> {
  await recorder.repeat('p7.immer100k', 'P7 tsray: immer replay onto an owner with 100k live tasks', 'events/s', scale.quick ? 1 : 3, () => immerAtScale(entries, 100_000, scale.quick ? 2_000 : 5_000));
}

/** The P7 process is ended past this, and P7's figures fail naming the limit. */
const recipesProcessTimeoutMs = 10 * 60_000;

/**
 * P7's figures measured in fresh processes (bench/p7.ts), over `entries` handed to them in a file:
 * one for P7a's figures, then one for P7b's (`--at-scale`, see `benchImmerAtScale`). A live shell
 * applies its recipes in a process that never ran them under the simulator, and the bench's own
 * process has just recorded a simulated run. There, the recipes' table functions had met the
 * simulator's frozen tables and drafts, and the same build read 397k-594k events/s (the median of
 * 300 passes, in 5 runs) where a process that only read the run from a file read 522k-881k (5 runs);
 * earlier, the run's own P7a read 300-560k against 725-779k for p7.js alone. P4 and the peers'
 * sides run apart for the same reason.
 */
export async function benchRecipesApart(recorder: Recorder, scale: BenchScale, entries: readonly TraceEntry[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-bench-p7-'));
  const script = fileURLToPath(new URL('./p7.js', import.meta.url));
  // The figure a process's failure is recorded against: the first it would have measured.
  const processes = [
    { extraArgs: [], failedId: 'p7.direct', failedLabel: 'P7 tsray: recipes applied directly, in a process of its own' },
    { extraArgs: ['--at-scale'], failedId: 'p7.immer100k', failedLabel: 'P7 tsray: immer replay onto an owner with 100k live tasks, in a process of its own' },
  ];
  try {
    const file = join(dir, 'entries.json');
    writeFileSync(file, JSON.stringify(entries));
    for (const { extraArgs, failedId, failedLabel } of processes) {
      try {
        const stdout = await spawnSideProcess(script, file, scale.quick, recipesProcessTimeoutMs, 'recipesProcessTimeoutMs, the limit of a P7 process', extraArgs);
        for (const figure of figuresPrinted('P7', stdout)) {
          if (figure.error === undefined) recorder.add(figure.id, figure.label, figure.unit, figure.samples);
          else recorder.fail(figure.id, figure.label, figure.unit, new Error(figure.error));
        }
      } catch (error) {
        recorder.fail(failedId, failedLabel, 'events/s', error);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
