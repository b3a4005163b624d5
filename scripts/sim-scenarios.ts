/**
 * The simulator's curated scenarios (see traces.ts): each is a workload, a fault plan and a check on
 * the run's outcome that says the scenario happened. The generator tries seeds in order and keeps the
 * first run that passes the check, so the same tsray always writes the same trace.
 */
import type { FaultPlan, SimOptions, SimProgram, SimRef } from '../core/sim/index.js';
import { SimGetError } from '../core/sim/index.js';

/** One curated simulator run. */
export interface SimScenario {
  /** The trace's file name, without `.trace.jsonl`. */
  readonly name: string;
  /** traces/README.md's line: what to look at. */
  readonly lookAt: string;
  readonly program: SimProgram;
  /** The name this module exports the program under (see workloadModuleOf). */
  readonly programExport: string;
  readonly faults: FaultPlan;
  readonly nodes: SimOptions['nodes'];
  /** Whether a run's driver result shows the scenario. */
  readonly happened: (driverResult: unknown) => boolean;
}

const twoNodes: SimOptions['nodes'] = [{ resources: { CPU: 2 } }, { resources: { CPU: 2 } }];

/** A node dies holding the only copy of a task's large result; the driver's get rebuilds it by lineage. */
export const lineageProgram: SimProgram = {
  name: 'node-death-lineage',
  bodies: { produce: (_ctx, x: unknown) => ({ x, $padBytes: 300_000 }) },
  actors: {},
  *driver(ctx) {
    const ref = ctx.submit('produce', [7], { maxRetries: 3, name: 'produce', schedulingStrategy: { nodeId: 'n2', soft: true } }) as SimRef;
    // Wait (which does not fetch) for the result to exist on n2 only, then outlive the node.
    yield ctx.wait([ref]);
    yield ctx.sleep(400);
    const value = (yield ctx.get(ref)) as { x: number };
    return { value: value.x };
  },
};

/** The worker that owns an object dies; a borrower's get fails with OwnerDiedError. */
export const ownerDiedProgram: SimProgram = {
  name: 'owner-died',
  bodies: {
    // The task's worker owns what it puts; the driver gets only a ref to it, inside a list.
    produce: (ctx) => [ctx.put({ inner: 1, $padBytes: 300_000 })],
  },
  actors: {},
  *driver(ctx) {
    const outer = ctx.submit('produce', [], { name: 'produce' }) as SimRef;
    const [inner] = (yield ctx.get(outer)) as [SimRef];
    yield ctx.sleep(400);
    try {
      yield ctx.get(inner);
      return { got: 'value' };
    } catch (error) {
      return { got: error instanceof SimGetError ? error.info.errorClass : String(error) };
    }
  },
};

/** One stored object passed to several tasks while other tasks come and go (for the broken recipe). */
export const sharedArgumentProgram: SimProgram = {
  name: 'shared-argument',
  bodies: { measure: (_ctx, value: unknown) => (value as { size: number }).size, quick: (_ctx, x: unknown) => x },
  actors: {},
  *driver(ctx) {
    const shared = ctx.put({ size: 3, $padBytes: 300_000 });
    const measures = [0, 1, 2].map(() => ctx.submit('measure', [shared], { maxRetries: 3 }) as SimRef);
    const quick = [1, 2, 3, 4].map((x) => ctx.submit('quick', [x], { maxRetries: 3 }) as SimRef);
    ctx.release(shared);
    return { quick: yield ctx.get(quick), measures: yield ctx.get(measures) };
  },
};

/**
 * Where a trace in traces/ finds this module's program `name` again: relative to the trace file, so
 * that no machine's paths are written into the committed traces.
 */
export function workloadModuleOf(name: string): string {
  return `../dist/scripts/sim-scenarios.js#${name}`;
}

const lineage: SimScenario = {
  name: 'sim-node-death-lineage',
  lookAt: 'node n2 dies holding the only copy of `produce`\'s result; the get re-runs `produce` on n1 from its lineage. Keys: `/task/pushed⏎`, `n` (attempt 2), `w`',
  nodes: twoNodes,
  faults: { scheduled: [{ atMs: 150, kind: 'node-death', target: 0 }] },
  program: lineageProgram,
  programExport: 'lineageProgram',
  happened: (result) => (result as { value?: unknown } | undefined)?.value === 7,
};

const ownerDied: SimScenario = {
  name: 'sim-owner-died',
  lookAt: 'the worker that put the inner object (its owner) dies; the driver borrowed the ref, and its get fails with OwnerDiedError. Keys: `/worker/died⏎`, `w`',
  nodes: twoNodes,
  faults: { scheduled: [{ atMs: 200, kind: 'owner-death', target: 0 }] },
  program: ownerDiedProgram,
  programExport: 'ownerDiedProgram',
  happened: (result) => (result as { got?: unknown } | undefined)?.got === 'OwnerDiedError',
};

/** The curated simulator scenarios. */
export const simScenarios: readonly SimScenario[] = [lineage, ownerDied];
