/**
 * "Why" on simulator traces: a task retried after an injected worker crash, a task whose attempts
 * threw, a body that ended its worker, a lease whose worker ended, a get that timed out; the entity index behind it (every
 * attempt of a task, ids minted at submission, addresses), and the closest ids to an unknown one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { SimGetError, simulate } from '../../../../core/sim/index.js';
import type { FaultPlan, SimContext, SimProgram, SimRef, Yielded } from '../../../../core/sim/index.js';
import { decodeTrace } from '../../../../core/trace/decode.js';
import { closestIds, editDistance, findEntity, indexTrace } from '../../../../core/trace/entities.js';
import type { TraceIndex } from '../../../../core/trace/entities.js';
import type { Trace } from '../../../../core/trace/format.js';
import { explainEntity, renderChain, taskAttempts, whyChain } from '../../../../core/trace/why.js';

const program: SimProgram = {
  name: 'why',
  bodies: {
    *slow(ctx: SimContext, x: unknown): Generator<Yielded, unknown, unknown> {
      yield ctx.sleep(500);
      return x;
    },
    flaky: (ctx, x) => {
      if (ctx.attempt < 3) throw new RangeError(`attempt ${ctx.attempt} fails`);
      return x;
    },
    exitOnce: (ctx, x) => (ctx.attempt === 1 ? ctx.exit() : x),
  },
  actors: {},
  *driver(ctx) {
    const slow = ctx.submit('slow', [1], { maxRetries: 2 });
    const flaky = ctx.submit('flaky', [2], { maxRetries: 3, retryExceptions: true });
    const exits = ctx.submit('exitOnce', [3], { maxRetries: 1 });
    const values = yield ctx.get([slow, flaky, exits].flat());
    const late = ctx.submit('slow', [4]);
    try {
      yield ctx.get(late, { timeoutMs: 50 });
      return { values, late: 'arrived' };
    } catch (error) {
      return { values, late: error instanceof SimGetError ? error.info.errorClass : String(error) };
    }
  },
};

/** The worker that runs `slow` first is crashed while it sleeps. */
const faults: FaultPlan = { scheduled: [{ atMs: 100, kind: 'worker-crash', target: 0 }] };

function run(): { trace: Trace; index: TraceIndex; driverResult: unknown } {
  const result = simulate({ seed: 1, program, faults, faultPhaseMs: 1000 });
  const decoded = decodeTrace(result.traceText());
  assert.ok(E.isRight(decoded));
  return { trace: decoded.right, index: indexTrace(decoded.right), driverResult: result.driverResult };
}

const { trace, index, driverResult } = run();

/** The task id the driver's n-th submission minted. */
function submitted(n: number): string {
  const id = [...index.mintedTasks.values()][n];
  assert.ok(id !== undefined);
  return id;
}

void describe('why', () => {
  void test('the run did what the story says', () => {
    assert.deepEqual(driverResult, { values: [1, 2, 3], late: 'GetTimeoutError' });
    assert.deepEqual([submitted(0), submitted(1), submitted(2), submitted(3)], ['n1.d1.t1', 'n1.d1.t2', 'n1.d1.t3', 'n1.d1.t4']);
  });

  void test('a task retried after an injected worker crash: both attempts, and the fault as the root of the first', () => {
    const attempts = taskAttempts(index, 'n1.d1.t1');
    assert.deepEqual(
      attempts.map((attempt) => [attempt.attempt, attempt.end.kind]),
      [
        [1, 'worker-died'],
        [2, 'returned'],
      ],
    );
    const first = attempts[0]!;
    assert.notEqual(first.workerId, attempts[1]!.workerId);
    assert.ok(first.end.kind === 'worker-died');
    const chain = whyChain(trace, index, first.end.seq);
    assert.ok(chain !== undefined);
    assert.equal(chain.steps[0]?.type, 'worker/exited');
    assert.equal(chain.root.kind, 'fault');
    assert.equal(chain.root.summary.startsWith(`injected: fault: worker ${first.workerId} crashed`), true);

    const text = explainEntity(trace, index, 'n1.d1.t1')?.join('\n') ?? '';
    assert.match(text, /^task n1\.d1\.t1 \(slow\): 2 attempts; /);
    assert.match(text, /submitted at seq \d+ by the driver n1\.d1/);
    assert.match(text, new RegExp(`attempt 1 on worker ${first.workerId.replace('.', '\\.')} \\(node n1\\), pushed at seq ${first.pushedSeq}: worker \\S+ died: crashed`));
    assert.match(text, /root \(injected fault\): injected: fault: worker n1\.w\d+ crashed/);
    assert.match(text, /attempt 2 on worker \S+ \(node n1\), pushed at seq \d+: returned \(seq \d+\)/);
  });

  void test('attempts that threw: each has its own thrown error as its root, reached through the reply', () => {
    const attempts = taskAttempts(index, 'n1.d1.t2');
    assert.deepEqual(
      attempts.map((attempt) => attempt.end.kind),
      ['failed', 'failed', 'returned'],
    );
    for (const attempt of attempts.slice(0, 2)) {
      assert.ok(attempt.end.kind === 'failed');
      const chain = whyChain(trace, index, attempt.end.seq);
      assert.deepEqual(
        chain?.steps.map((step) => step.type),
        ['task/replied', 'task/executed'],
      );
      assert.deepEqual(chain?.root.kind, 'error');
      assert.equal(chain?.root.summary, `task n1.d1.t2 attempt ${attempt.attempt} threw RangeError: attempt ${attempt.attempt} fails`);
    }
  });

  void test('a body that ends its worker is a crash, naming what the worker was running', () => {
    const [first] = taskAttempts(index, 'n1.d1.t3');
    assert.ok(first !== undefined && first.end.kind === 'worker-died');
    const chain = whyChain(trace, index, first.end.seq);
    assert.equal(chain?.root.kind, 'crash');
    assert.equal(chain?.root.summary, `worker ${first.workerId} exited while running task n1.d1.t3 (exitOnce) attempt 1`);
  });

  void test('a lease whose worker ended says so, with the end of its worker as the root', () => {
    const died = trace.entries.find((entry) => entry.event.type === 'lease/worker-died');
    assert.ok(died !== undefined, 'the run has a lease whose worker died');
    const leaseId = (died.event as unknown as { leaseId: string }).leaseId;
    const text = explainEntity(trace, index, leaseId)?.join('\n') ?? '';
    assert.doesNotMatch(text, /nothing went wrong/);
    assert.match(text, new RegExp(`why seq ${died.seq} \\(lease/worker-died\\):`));
    assert.match(text, /root \((crash|fault)\)/);
  });

  void test('a get that timed out has the timeout as its root; a submission is a user call', () => {
    const timeout = trace.entries.find((entry) => entry.event.type === 'timer/fired' && (entry.event as { timerId?: string }).timerId?.startsWith('get:') === true);
    assert.ok(timeout !== undefined);
    const chain = whyChain(trace, index, timeout.seq);
    assert.equal(chain?.root.kind, 'timeout');
    assert.match(chain?.root.summary ?? '', /^the timeout of get n1\.d1\.g\d+ expired$/);
    const submission = findEntity(index, 'n1.d1.t4')?.seqs[0] ?? 0;
    assert.deepEqual(whyChain(trace, index, submission)?.root, { kind: 'call', summary: 'the driver n1.d1 called a remote function', seq: submission });
    const lines = renderChain(whyChain(trace, index, submission)!, '  ');
    assert.deepEqual(lines, [`  seq ${submission}  worker:n1.d1  task/submitted: submitted task n1.d1.t4 (slow)`, '  root (user call): the driver n1.d1 called a remote function']);
  });

  void test('the simulator records the push of an attempt as the parent of its result, and of a body ending its worker', () => {
    const executed = trace.entries.filter((entry) => entry.event.type === 'task/executed');
    assert.ok(executed.length >= 5);
    for (const entry of executed) {
      const event = entry.event as unknown as { taskId: string; attempt: number };
      const parent = index.bySeq.get(entry.parent ?? 0);
      const pushed = parent?.event as unknown as { type: string; attempt: number; spec: { taskId: string } } | undefined;
      assert.deepEqual([pushed?.type, pushed?.spec.taskId, pushed?.attempt, parent?.address], ['task/pushed', event.taskId, event.attempt, entry.address]);
    }
    const exited = trace.entries.find((entry) => entry.event.type === 'worker/exited' && (entry.event as unknown as { reason: string }).reason === 'exited');
    assert.equal((index.bySeq.get(exited?.parent ?? 0)?.event as unknown as { spec?: { taskId: string } } | undefined)?.spec?.taskId, 'n1.d1.t3');
  });

  void test('every chain ends at a root and walks only backwards', () => {
    for (const entry of trace.entries) {
      const chain = whyChain(trace, index, entry.seq);
      assert.ok(chain !== undefined);
      assert.notEqual(chain.root.kind, 'unknown', `seq ${entry.seq} ${entry.event.type}: ${chain.root.summary}`);
      for (let at = 1; at < chain.steps.length; at++) assert.ok((chain.steps[at]?.seq ?? 0) < (chain.steps[at - 1]?.seq ?? 0));
    }
  });

  void test('the entity index: a task from its submission through every attempt, its return object, workers by address', () => {
    const task = findEntity(index, 'n1.d1.t1');
    assert.equal(task?.kind, 'task');
    assert.equal(index.bySeq.get(task?.seqs[0] ?? 0)?.event.type, 'task/submitted');
    const types = (task?.seqs ?? []).map((seq) => index.bySeq.get(seq)?.event.type);
    assert.equal(types.filter((type) => type === 'task/pushed').length, 2);
    assert.equal(findEntity(index, 'n1.d1.t1.r0')?.kind, 'object');
    assert.equal(findEntity(index, 'worker:n1.d1')?.id, 'n1.d1');
    assert.equal(findEntity(index, 'raylet:n2')?.kind, 'node');
    assert.equal(findEntity(index, 'n9.w9'), undefined);
    assert.equal(explainEntity(trace, index, 'n9.w9'), undefined);
  });

  void test('an actor restarted after its worker exited: its lives, and the crash as the root of the restart', () => {
    const actorProgram: SimProgram = {
      name: 'restart',
      bodies: {},
      actors: { Counter: { init: () => ({ total: 0 }), methods: { crash: (ctx) => ctx.exit(), read: (_ctx, state) => state.total } } },
      *driver(ctx) {
        const counter = ctx.createActor('Counter', [], { maxRestarts: 1 });
        try {
          yield ctx.get(ctx.call(counter, 'crash', []));
        } catch {
          // The call fails with its actor's worker; the actor restarts.
        }
        return yield ctx.get(ctx.call(counter, 'read', []));
      },
    };
    const decoded = decodeTrace(simulate({ seed: 2, program: actorProgram }).traceText());
    assert.ok(E.isRight(decoded));
    const actorIndex = indexTrace(decoded.right);
    const text = explainEntity(decoded.right, actorIndex, 'n1.d1.a1')?.join('\n') ?? '';
    assert.match(text, /^ {2}lives: PENDING \(restart 0\) at seq \d+, ALIVE \(restart 0\) on n1\.w\d+ at seq \d+, RESTARTING \(restart 1\) at seq \d+, ALIVE \(restart 1\) on n1\.w\d+ at seq \d+$/m);
    assert.match(text, /why seq \d+ \(actor\/state-changed\):\n {4}seq +\d+ {2}worker:n1\.d1 {2}actor\/state-changed: actor n1\.d1\.a1 is RESTARTING \(restart 1\)/);
    assert.match(text, /root \(crash\): worker n1\.w\d+ exited while running task n1\.d1\.t\d+ \(crash\) attempt 1$/m);
  });

  void test('an unknown id finds the closest ids present', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.deepEqual(closestIds(index, 'n1.d1.t12').slice(0, 2), ['n1.d1.t1', 'n1.d1.t2']);
    assert.equal(closestIds(index, 'n1.w')[0]?.startsWith('n1.w'), true);
    assert.equal(closestIds(index, 'worker:n1.w9')[0]?.startsWith('n1.w'), true);
  });
});

void describe('why, with pipelined tasks', () => {
  // The waiter blocks in a get of a slow task of another class, so the tasks pipelined behind it are
  // handed back unrun and pushed again (the same attempt) to another worker.
  const pipelined: SimProgram = {
    name: 'why-pipelined',
    bodies: {
      *slow(ctx: SimContext, x: unknown): Generator<Yielded, unknown, unknown> {
        yield ctx.sleep(300);
        return x;
      },
      *waitOn(ctx: SimContext, refs: unknown): Generator<Yielded, unknown, unknown> {
        return yield ctx.get((refs as SimRef[])[0] as SimRef);
      },
      quick: (_ctx, x) => x,
    },
    actors: {},
    *driver(ctx) {
      const slow = ctx.submit('slow', [1], { numCpus: 0.5 }) as SimRef;
      const waiter = ctx.submit('waitOn', [[slow]]);
      const quick = Array.from({ length: 8 }, (_, index) => ctx.submit('quick', [index]) as SimRef);
      return yield ctx.get([waiter as SimRef, ...quick]);
    },
  };

  void test('an attempt handed back unrun and pushed again ends where it ran the second time', () => {
    const result = simulate({ seed: 1, program: pipelined, ownerConfig: { maxTasksInFlightPerLease: 3, maxLeaseRequestsPerClass: 1 } });
    assert.deepEqual(result.driverResult, [1, 0, 1, 2, 3, 4, 5, 6, 7]);
    const decoded = decodeTrace(result.traceText());
    assert.ok(E.isRight(decoded));
    const pipelinedIndex = indexTrace(decoded.right);
    const handedBack = decoded.right.entries.find((entry) => entry.event.type === 'task/replied' && (entry.event as { result?: { kind?: string } }).result?.kind === 'not-run');
    assert.ok(handedBack !== undefined, 'no task was handed back unrun');
    const taskId = (handedBack.event as unknown as { taskId: string }).taskId;
    const attempts = taskAttempts(pipelinedIndex, taskId);
    assert.deepEqual(
      attempts.map((attempt) => [attempt.attempt, attempt.end.kind]),
      [[1, 'returned']],
    );
    assert.ok((attempts[0]?.pushedSeq ?? 0) > handedBack.seq, 'the attempt shown is the push before it was handed back');
  });
});

void describe('why: a spilled object', () => {
  void test('says which node spilled it to disk', () => {
    const objectId = [...index.entities.values()].find((entity) => entity.kind === 'object' && entity.id.includes('.t'))?.id;
    assert.ok(objectId !== undefined);
    const last = trace.entries[trace.entries.length - 1];
    assert.ok(last !== undefined);
    const spilled = {
      seq: last.seq + 1,
      address: 'raylet:n1',
      component: 'raylet',
      atMs: last.atMs,
      event: { type: 'object/spilled', objectId, owner: 'n1.d1', requester: 'worker:n1.w1', data: { spilledObjectId: objectId }, sizeBytes: 10, refs: [] },
    } as unknown as typeof last;
    const withSpill: Trace = { ...trace, entries: [...trace.entries, spilled] };
    const lines = explainEntity(withSpill, indexTrace(withSpill), objectId) ?? [];
    assert.ok(lines.some((line) => line.includes('spilled to disk by raylet:n1')), lines.join('\n'));
    assert.ok(!(explainEntity(trace, index, objectId) ?? []).some((line) => line.includes('spilled')), 'an object never spilled says nothing of it');
  });
});

void describe('why: an actor whose owner died with it', () => {
  void test("its worker's end explains it, back to the owner's exit, though no owner logged its death", () => {
    const entry = (seq: number, address: string, event: Record<string, unknown>, parent?: number): Trace['entries'][number] =>
      ({ seq, address, component: address === 'gcs' ? 'gcs' : address.startsWith('raylet:') ? 'raylet' : 'owner', atMs: seq, event, ...(parent === undefined ? {} : { parent }) }) as unknown as Trace['entries'][number];
    // A driver of a cluster (random hex after .d) made the actor, then its process was killed.
    const owner = 'n9.d0e2311cb';
    const actorId = `${owner}.a1`;
    const entries = [
      entry(1, 'worker:n9.w2', { type: 'actor/constructed', actorId, restartCount: 0 }),
      entry(2, 'raylet:n9', { type: 'worker/exited', workerId: owner, reason: 'exited' }),
      entry(3, 'gcs', { type: 'worker/died', workerId: owner, nodeId: 'n9', reason: 'exited' }, 2),
      entry(4, 'raylet:n9', { type: 'worker/kill-requested', workerId: 'n9.w2', reason: 'owner-died' }, 3),
      entry(5, 'raylet:n9', { type: 'worker/exited', workerId: 'n9.w2', reason: 'killed' }, 4),
    ];
    const died: Trace = { ...trace, entries, notes: [] };
    const text = explainEntity(died, indexTrace(died), actorId)?.join('\n') ?? '';
    assert.match(text, /its worker n9\.w2 ended at seq 5 \(killed\), and the actor with it; no owner logged its death:/);
    assert.match(text, /seq 4 {2}raylet:n9 {2}worker\/kill-requested: asked to end worker n9\.w2 \(owner-died\)/);
    assert.match(text, /root \(crash\): the driver n9\.d0e2311cb exited$/);
    assert.doesNotMatch(text, /nothing went wrong/);
    // While the worker lives, nothing went wrong with the actor.
    const alive: Trace = { ...trace, entries: entries.slice(0, 1), notes: [] };
    assert.match(explainEntity(alive, indexTrace(alive), actorId)?.join('\n') ?? '', /nothing went wrong with it/);
  });
});

void describe('why: a put the store rejected', () => {
  void test("names the store's reason, in the event's line and as the root of its chain", () => {
    const entry = (seq: number, event: Record<string, unknown>): Trace['entries'][number] => ({ seq, address: 'worker:n1.d1', component: 'owner', atMs: seq, event }) as unknown as Trace['entries'][number];
    const reason = 'object store full: need 40 bytes; the store holds 90 of 100 bytes (objectStoreMemory)';
    const entries = [entry(1, { type: 'object/put', data: 1, sizeBytes: 40, refs: [] }), entry(2, { type: 'object/put-rejected', objectId: 'n1.d1.p1', reason })];
    const rejected: Trace = { ...trace, entries, notes: [] };
    const text = explainEntity(rejected, indexTrace(rejected), 'n1.d1.p1')?.join('\n') ?? '';
    assert.ok(text.includes(`object/put-rejected: the store rejected object n1.d1.p1: ${reason}`), text);
    assert.ok(text.includes(`root (limit reached): the node's store could not take object n1.d1.p1: ${reason}`), text);
  });
});
