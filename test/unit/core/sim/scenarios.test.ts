/**
 * Fault stories with a known right answer, each run in the simulator on the real recipes: lineage
 * reconstruction, owner death, retries, actor restarts, names, kills, cancellation, placement, hangs
 * that explain themselves, the blocked-worker CPU hand-back, and a full store.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GcsState } from '../../../../core/gcs/index.js';
import type { OwnerState } from '../../../../core/owner/index.js';
import type { RayletState } from '../../../../core/raylet/index.js';
import { SimGetError, simulate, Simulator } from '../../../../core/sim/index.js';
import type { SimActorClass, SimBody, SimContext, SimOptions, SimProgram, SimRef, Yielded } from '../../../../core/sim/index.js';
import { tableKeys, tableValues } from '../../../../core/table.js';

/** What a get gave: the value, or the error class. */
type Got = { value: unknown } | { error: string; message: string };

function* attempt(ctx: SimContext, refs: SimRef | SimRef[]): Generator<Yielded, Got, unknown> {
  try {
    return { value: yield ctx.get(refs) };
  } catch (error) {
    if (error instanceof SimGetError) return { error: error.info.errorClass, message: error.info.message };
    throw error;
  }
}

const bodies: Record<string, SimBody> = {
  add: (_ctx, a, b) => (a as number) + (b as number),
  whereAmI: (ctx) => ctx.nodeId,
  big: (_ctx, x) => ({ x, $padBytes: 200_000 }),
  *slow(ctx: SimContext, x: unknown): Generator<Yielded, unknown, unknown> {
    yield ctx.sleep(500);
    return x;
  },
  exitOnce: (ctx, x) => (ctx.attempt === 1 ? ctx.exit() : x),
  flaky: (ctx, x) => {
    if (ctx.attempt === 1) throw new Error('first attempt fails');
    return x;
  },
  *nested(ctx: SimContext, x: unknown): Generator<Yielded, unknown, unknown> {
    const child = ctx.submit('add', [x, 1]) as SimRef;
    return ((yield ctx.get(child)) as number) * 10;
  },
  putsBig: (ctx, x) => ({ inner: ctx.put({ x, $padBytes: 200_000 }) }),
  *usesOwnActor(ctx: SimContext): Generator<Yielded, unknown, unknown> {
    const counter = ctx.createActor('Counter', [1], { name: 'made-in-task' });
    return yield ctx.get(ctx.call(counter, 'add', [1]));
  },
  returnsOwnActor: (ctx) => ({ actor: ctx.createActor('Counter', [100], { name: 'returned-by-task' }) }),
  *parentOfSlow(ctx: SimContext): Generator<Yielded, unknown, unknown> {
    const child = ctx.submit('slow', [1], { name: 'child' }) as SimRef;
    return yield ctx.get(child);
  },
};

const actors: Record<string, SimActorClass> = {
  Counter: {
    init: (_ctx, start) => ({ total: start ?? 0 }),
    methods: {
      add: (_ctx, state, n) => {
        state.total = (state.total as number) + (n as number);
        return state.total;
      },
      crash: (ctx) => ctx.exit(),
    },
  },
  Placed: {
    init: (ctx) => ({ nodeId: ctx.nodeId }),
    methods: { where: (_ctx, state) => state.nodeId },
  },
  Broken: {
    init: () => {
      throw new RangeError('no config');
    },
    methods: {},
  },
};

function run(driver: SimProgram['driver'], options: Partial<SimOptions> = {}): { result: Record<string, unknown>; sim: Simulator } {
  const sim = new Simulator({ seed: options.seed ?? 1, program: { name: 'scenario', bodies, actors, driver }, faultPhaseMs: 2000, ...options });
  const outcome = sim.run();
  return { result: outcome.driverResult as Record<string, unknown>, sim };
}

function owners(sim: Simulator): OwnerState[] {
  return [...sim.instances.values()].filter((instance) => instance.kind === 'owner' && instance.alive).map((instance) => instance.state as OwnerState);
}

const onNode2 = { schedulingStrategy: { nodeId: 'n2', soft: false } } as const;

void describe('objects and lineage', () => {
  void test('a stored return lost with its node is rebuilt by running its task again', () => {
    const { result, sim } = run(
      function* (ctx) {
        const big = ctx.submit('big', [7], { schedulingStrategy: { nodeId: 'n2', soft: true } }) as SimRef;
        yield ctx.sleep(50);
        yield ctx.sleep(1500);
        const after = yield* attempt(ctx, big);
        const dependent = yield* attempt(ctx, ctx.submit('add', [1, 2]));
        return { after, dependent };
      },
      // n2 dies once the task has run there: its lease waits for n1's raylet to see the first cluster view (the GCS's first health check, at 100 ms).
      { faults: { scheduled: [{ atMs: 300, kind: 'node-death', target: 0 }] } },
    );
    assert.deepEqual(result.after, { value: { x: 7, $padBytes: 200_000 } });
    assert.deepEqual(result.dependent, { value: 3 });
    const pushes = sim.entries.filter((entry) => entry.event.type === 'task/pushed' && (entry.event as unknown as { spec: { name: string } }).spec.name === 'big');
    assert.ok(pushes.length >= 2, 'the task ran again');
  });

  void test('an object owned by a process that died fails with OwnerDiedError', () => {
    const { result } = run(
      function* (ctx) {
        const outer = ctx.submit('putsBig', [3], onNode2) as SimRef;
        const got = (yield ctx.get(outer)) as { inner: SimRef };
        yield ctx.sleep(1500);
        return { inner: yield* attempt(ctx, got.inner) };
      },
      { faults: { scheduled: [{ atMs: 200, kind: 'node-death', target: 0 }] } },
    );
    assert.equal((result.inner as { error: string }).error, 'OwnerDiedError');
  });

  void test('released objects are freed everywhere, including stored copies', () => {
    const { sim } = run(function* (ctx) {
      const a = ctx.submit('big', [1]) as SimRef;
      const b = ctx.submit('add', [a, 1]) as unknown as SimRef;
      yield* attempt(ctx, b);
      ctx.release(a);
      ctx.release(b);
      yield ctx.sleep(100);
      return {};
    });
    for (const owner of owners(sim)) assert.deepEqual(tableKeys(owner.objects), [], `${owner.workerId} still owns objects`);
    for (const instance of sim.instances.values()) {
      if (instance.kind === 'raylet') assert.deepEqual(Object.keys((instance.state as RayletState).objects), [], `${instance.address} still stores objects`);
    }
  });

  void test('a store that cannot take a return fails it with ObjectStoreFullError', () => {
    const { result } = run(
      function* (ctx) {
        return { big: yield* attempt(ctx, ctx.submit('big', [1])) };
      },
      { rayletConfig: { objectStoreCapacityBytes: 100_000 } },
    );
    assert.equal((result.big as { error: string }).error, 'ObjectStoreFullError');
  });
});

void describe('tasks', () => {
  void test('a crashed worker is retried within maxRetries, else WorkerCrashedError', () => {
    const { result } = run(function* (ctx) {
      return {
        retried: yield* attempt(ctx, ctx.submit('exitOnce', [5], { maxRetries: 1 })),
        spent: yield* attempt(ctx, ctx.submit('exitOnce', [5], { maxRetries: 0 })),
      };
    });
    assert.deepEqual(result.retried, { value: 5 });
    assert.equal((result.spent as { error: string }).error, 'WorkerCrashedError');
  });

  void test('thrown errors are retried only when retryExceptions names them', () => {
    const { result } = run(function* (ctx) {
      return {
        any: yield* attempt(ctx, ctx.submit('flaky', [1], { retryExceptions: true })),
        named: yield* attempt(ctx, ctx.submit('flaky', [2], { retryExceptions: ['Error'] })),
        other: yield* attempt(ctx, ctx.submit('flaky', [3], { retryExceptions: ['TypeError'] })),
        none: yield* attempt(ctx, ctx.submit('flaky', [4])),
      };
    });
    assert.deepEqual(result.any, { value: 1 });
    assert.deepEqual(result.named, { value: 2 });
    assert.equal((result.other as { error: string }).error, 'RayTaskError');
    assert.match((result.none as { message: string }).message, /first attempt fails/);
  });

  void test('a dependent of a failed task fails with the same error', () => {
    const { result } = run(function* (ctx) {
      const failed = ctx.submit('flaky', [1]) as SimRef;
      return { dependent: yield* attempt(ctx, ctx.submit('add', [failed, 1])) };
    });
    assert.equal((result.dependent as { error: string }).error, 'RayTaskError');
  });

  void test('a worker blocked in get gives its CPU back, so nested tasks finish on a one-CPU node', () => {
    const { result } = run(
      function* (ctx) {
        return { nested: yield* attempt(ctx, ctx.submit('nested', [4])) };
      },
      { nodes: [{ resources: { CPU: 1 } }] },
    );
    assert.deepEqual(result.nested, { value: 50 });
  });

  void test('cancel: pending, running (graceful and force) all end in TaskCancelledError', () => {
    const { result, sim } = run(function* (ctx) {
      const slow = ctx.submit('slow', [1]) as SimRef;
      const pending = ctx.submit('add', [slow, 1]) as SimRef;
      const running = ctx.submit('slow', [2]) as SimRef;
      const forced = ctx.submit('slow', [3]) as SimRef;
      const parent = ctx.submit('parentOfSlow', []) as SimRef;
      yield ctx.sleep(100);
      ctx.cancel(pending);
      ctx.cancel(running);
      ctx.cancel(forced, { force: true });
      ctx.cancel(parent, { recursive: true });
      return {
        pending: yield* attempt(ctx, pending),
        running: yield* attempt(ctx, running),
        forced: yield* attempt(ctx, forced),
        parent: yield* attempt(ctx, parent),
        slow: yield* attempt(ctx, slow),
      };
    });
    for (const key of ['pending', 'running', 'forced', 'parent']) assert.equal((result[key] as { error: string }).error, 'TaskCancelledError', key);
    assert.deepEqual(result.slow, { value: 1 });
    const children = owners(sim).flatMap((owner) => tableValues(owner.tasks)).filter((task) => task.spec.fn.name === 'child');
    assert.ok(children.every((task) => task.state === 'CANCELLED'), 'the child of the cancelled parent was cancelled too');
  });

  void test('hard affinity to a dead node fails with TaskUnschedulableError', () => {
    const { result } = run(
      function* (ctx) {
        yield ctx.sleep(1500);
        return { placed: yield* attempt(ctx, ctx.submit('add', [1, 1], onNode2)) };
      },
      { faults: { scheduled: [{ atMs: 10, kind: 'node-death', target: 0 }] } },
    );
    assert.equal((result.placed as { error: string }).error, 'TaskUnschedulableError');
  });

  void test('a get that times out says what the object waits for', () => {
    const { result } = run(function* (ctx) {
      const needsGpu = ctx.submit('add', [1, 1], { resources: { GPU: 1 } }) as SimRef;
      try {
        yield ctx.get(needsGpu, { timeoutMs: 200 });
        return { got: 'value' };
      } catch (error) {
        return { got: (error as SimGetError).info.errorClass, message: (error as SimGetError).info.message };
      }
    });
    assert.equal(result.got, 'GetTimeoutError');
    // No node has a GPU: the owner heard from its raylet that the request is infeasible, and says so.
    assert.match(String(result.message), /lease request is infeasible: no alive node can ever fit \{CPU: 1, GPU: 1\}: node n\d lacks GPU \(needs 1, has 0\)/);
  });
});

void describe('node affinity', () => {
  const soft = (nodeId: string) => ({ schedulingStrategy: { nodeId, soft: true } });
  const hard = (nodeId: string) => ({ schedulingStrategy: { nodeId, soft: false } });

  void test('soft affinity to a node not in the cluster runs elsewhere, whether asked before or after the first cluster view', () => {
    const { result } = run(function* (ctx) {
      const early = yield* attempt(ctx, ctx.submit('whereAmI', [], soft('n9')));
      yield ctx.sleep(500);
      const late = yield* attempt(ctx, ctx.submit('whereAmI', [], soft('n9')));
      return { early, late };
    });
    for (const key of ['early', 'late']) assert.match(String((result[key] as { value: unknown }).value), /^n[123]$/, key);
  });

  void test('hard affinity to a node not in the cluster fails with TaskUnschedulableError naming the node', () => {
    const { result } = run(function* (ctx) {
      const early = yield* attempt(ctx, ctx.submit('add', [1, 1], hard('n9')));
      yield ctx.sleep(500);
      const late = yield* attempt(ctx, ctx.submit('add', [1, 1], hard('n8')));
      return { early, late };
    });
    assert.equal((result.early as { error: string }).error, 'TaskUnschedulableError');
    assert.match((result.early as { message: string }).message, /n9, which is not in the cluster/);
    assert.equal((result.late as { error: string }).error, 'TaskUnschedulableError');
    assert.match((result.late as { message: string }).message, /n8, which is not in the cluster/);
  });

  void test('affinity to a node in the cluster places the task there: the local node and, in two nodes, the other one', () => {
    const { result } = run(
      function* (ctx) {
        return {
          local: yield* attempt(ctx, ctx.submit('whereAmI', [], hard('n1'))),
          hard: yield* attempt(ctx, ctx.submit('whereAmI', [], hard('n2'))),
          soft: yield* attempt(ctx, ctx.submit('whereAmI', [], soft('n2'))),
        };
      },
      { nodes: [{ resources: { CPU: 2 } }, { resources: { CPU: 2 } }] },
    );
    assert.deepEqual(result, { local: { value: 'n1' }, hard: { value: 'n2' }, soft: { value: 'n2' } });
  });

  void test('an actor with affinity to a node not in the cluster: soft runs elsewhere, hard dies naming the node', () => {
    const { result, sim } = run(function* (ctx) {
      const softActor = ctx.createActor('Placed', [], soft('n9'));
      const hardActor = ctx.createActor('Placed', [], hard('n9'));
      const placed = ctx.createActor('Placed', [], hard('n3'));
      return {
        soft: yield* attempt(ctx, ctx.call(softActor, 'where', [])),
        hard: yield* attempt(ctx, ctx.call(hardActor, 'where', [])),
        placed: yield* attempt(ctx, ctx.call(placed, 'where', [])),
      };
    });
    assert.match(String((result.soft as { value: unknown }).value), /^n[123]$/);
    assert.deepEqual(result.placed, { value: 'n3' });
    assert.equal((result.hard as { error: string }).error, 'ActorDiedError');
    const gcs = [...sim.instances.values()].find((instance) => instance.kind === 'gcs')?.state as GcsState;
    const causes = Object.values(gcs.actors).map((actor) => actor.deathCause ?? '');
    assert.ok(causes.some((cause) => /unschedulable: node n9 is not in the cluster/.test(cause)), causes.join('; '));
  });
});

void describe('actors', () => {
  void test('calls run in order; a crash restarts the actor, re-running its constructor', () => {
    const { result } = run(function* (ctx) {
      const counter = ctx.createActor('Counter', [100], { maxRestarts: 1 });
      const first = [1, 2, 3].map((n) => ctx.call(counter, 'add', [n]) as SimRef);
      const before = yield* attempt(ctx, first);
      const crash = yield* attempt(ctx, ctx.call(counter, 'crash', []));
      const after = yield* attempt(ctx, ctx.call(counter, 'add', [1]));
      const crashAgain = yield* attempt(ctx, ctx.call(counter, 'crash', []));
      const dead = yield* attempt(ctx, ctx.call(counter, 'add', [1]));
      return { before, crash, after, crashAgain, dead };
    });
    assert.deepEqual(result.before, { value: [101, 103, 106] });
    assert.match((result.crash as { error: string }).error, /ActorUnavailableError|ActorDiedError/);
    assert.deepEqual(result.after, { value: 101 }, 'the constructor ran again');
    assert.equal((result.crashAgain as { error: string }).error, 'ActorDiedError');
    assert.equal((result.dead as { error: string }).error, 'ActorDiedError');
  });

  void test('maxTaskRetries sends a call again after a restart', () => {
    const { result } = run(
      function* (ctx) {
        const counter = ctx.createActor('Counter', [0], { maxRestarts: 2, maxTaskRetries: 2 });
        yield* attempt(ctx, ctx.call(counter, 'add', [1]));
        const calls = [1, 2, 3].map((n) => ctx.call(counter, 'add', [n]) as SimRef);
        return { calls: yield* attempt(ctx, calls) };
      },
      { faults: { scheduled: [{ atMs: 30, kind: 'worker-crash', target: 0 }] }, bodyMs: 20 },
    );
    assert.ok('value' in (result.calls as object), JSON.stringify(result.calls));
  });

  void test('a constructor that throws kills the actor for good', () => {
    const { result } = run(function* (ctx) {
      const broken = ctx.createActor('Broken', [], { maxRestarts: 3 });
      return { call: yield* attempt(ctx, ctx.call(broken, 'anything', [])) };
    });
    assert.equal((result.call as { error: string }).error, 'ActorDiedError');
    assert.match((result.call as { message: string }).message, /no config/);
  });

  void test('names: duplicates are rejected, getIfExists and getActor find the live one, kill ends it', () => {
    const { result } = run(function* (ctx) {
      const first = ctx.createActor('Counter', [0], { name: 'shared' });
      const one = yield* attempt(ctx, ctx.call(first, 'add', [1]));
      const duplicate = ctx.createActor('Counter', [0], { name: 'shared' });
      const rejected = yield* attempt(ctx, ctx.call(duplicate, 'add', [1]));
      const same = ctx.createActor('Counter', [0], { name: 'shared', getIfExists: true });
      const two = yield* attempt(ctx, ctx.call(same, 'add', [1]));
      const found = (yield ctx.getActor('shared')) as { $actor: string } | null;
      const three = found === null ? { error: 'not found' } : yield* attempt(ctx, ctx.call(found, 'add', [1]));
      ctx.kill(first);
      yield ctx.sleep(100);
      const afterKill = yield* attempt(ctx, ctx.call(first, 'add', [1]));
      const gone = yield ctx.getActor('shared');
      return { one, rejected, two, three, afterKill, gone };
    });
    assert.deepEqual(result.one, { value: 1 });
    assert.match((result.rejected as { message: string }).message, /already taken/);
    assert.deepEqual(result.two, { value: 2 });
    assert.deepEqual(result.three, { value: 3 });
    assert.equal((result.afterKill as { error: string }).error, 'ActorDiedError');
    assert.equal(result.gone, null);
  });

  void test('an actor comes up across a GCS restart during its creation', () => {
    const { result } = run(
      function* (ctx) {
        const counter = ctx.createActor('Counter', [10]);
        return { call: yield* attempt(ctx, ctx.call(counter, 'add', [1])) };
      },
      { faults: { scheduled: [{ atMs: 1, kind: 'gcs-restart', downMs: 150 }] } },
    );
    assert.deepEqual(result.call, { value: 11 });
  });
});

void describe('actor lifetime', () => {
  void test('an actor made in a task ends with the task unless a handle leaves it (Ray\'s handle rule)', () => {
    const { result, sim } = run(function* (ctx) {
      const used = yield* attempt(ctx, ctx.submit('usesOwnActor', []));
      const box = (yield ctx.get(ctx.submit('returnsOwnActor', []))) as { actor: { $actor: string; $counted?: true } };
      yield ctx.sleep(1000);
      const madeInTask = (yield ctx.getActor('made-in-task')) as { $actor: string } | null;
      const call = yield* attempt(ctx, ctx.call(box.actor, 'add', [5]));
      return { used, madeInTask, call };
    });
    assert.deepEqual(result.used, { value: 2 });
    assert.equal(result.madeInTask, null, 'no handle left the task, so its actor ended');
    assert.deepEqual(result.call, { value: 105 }, 'the returned handle keeps its actor');
    const gcs = [...sim.instances.values()].find((instance) => instance.kind === 'gcs')?.state as GcsState;
    const ended = Object.values(gcs.actors).find((actor) => actor.spec.name === 'made-in-task');
    assert.equal(ended?.deathCause, 'all handles to the actor went out of scope');
  });
});

void describe('jobs', () => {
  void test('when a driver dies its non-detached actors die with it; detached ones live on', () => {
    const sim = new Simulator({
      seed: 3,
      faultPhaseMs: 2000,
      faults: { scheduled: [{ atMs: 300, kind: 'driver-death', target: 0 }] },
      program: {
        name: 'two-jobs',
        bodies,
        actors,
        *driver(ctx) {
          yield ctx.sleep(100);
          const attached = (yield ctx.getActor('job2-attached')) as { $actor: string } | null;
          const detached = (yield ctx.getActor('job2-detached')) as { $actor: string } | null;
          if (attached === null || detached === null) return { found: false };
          const before = yield* attempt(ctx, ctx.call(attached, 'add', [1]));
          yield ctx.sleep(1500);
          return { before, attached: yield* attempt(ctx, ctx.call(attached, 'add', [1])), detached: yield* attempt(ctx, ctx.call(detached, 'add', [1])) };
        },
        otherDrivers: [
          function* (ctx) {
            ctx.createActor('Counter', [0], { name: 'job2-attached' });
            ctx.createActor('Counter', [10], { name: 'job2-detached', lifetime: 'detached' });
            yield ctx.sleep(10_000);
            return null;
          },
        ],
      },
    });
    const result = sim.run().driverResult as Record<string, unknown>;
    assert.deepEqual(result.before, { value: 1 });
    assert.equal((result.attached as { error: string }).error, 'ActorDiedError');
    assert.match((result.attached as { message: string }).message, /owner|job/);
    assert.deepEqual(result.detached, { value: 11 });
  });
});

void describe('the cluster', () => {
  void test('a long partition gets the node declared dead and fenced; its work is retried elsewhere', () => {
    const { result, sim } = run(
      function* (ctx) {
        const refs = [1, 2, 3, 4, 5, 6].map((n) => ctx.submit('slow', [n], { maxRetries: 3 }) as SimRef);
        return { values: yield* attempt(ctx, refs) };
      },
      { faults: { scheduled: [{ atMs: 20, kind: 'partition', target: 0, durationMs: 1500 }] } },
    );
    assert.deepEqual(result.values, { value: [1, 2, 3, 4, 5, 6] });
    assert.ok(sim.nodeIsDead('n2'), 'the partitioned node shut itself down once it heard it was declared dead');
  });

  void test('immer and direct application agree on every state hash through a faulty run', () => {
    const outcome = simulate({
      seed: 11,
      mode: 'both',
      program: {
        name: 'both',
        bodies,
        actors,
        *driver(ctx) {
          const a = ctx.submit('big', [1]) as SimRef;
          const counter = ctx.createActor('Counter', [0], { maxRestarts: 2, maxTaskRetries: 1 });
          const calls = [1, 2].map((n) => ctx.call(counter, 'add', [n]) as SimRef);
          return { a: yield* attempt(ctx, a), calls: yield* attempt(ctx, calls), nested: yield* attempt(ctx, ctx.submit('nested', [1])) };
        },
      },
      faults: { dropRate: 0.1, duplicateRate: 0.1, jitterMs: 5, scheduled: [{ atMs: 5, kind: 'worker-crash', target: 1 }, { atMs: 15, kind: 'gcs-restart', downMs: 40 }] },
    });
    assert.ok(outcome.events > 100);
  });
});
