/**
 * Pipelining: once a class queues more tasks than it has leases, the driver pushes several tasks to
 * each leased worker, which runs them one after another. A task blocked in a get hands the tasks
 * queued behind it back (they would otherwise wait for it, and could be what it waits for); a
 * pipelined task that is cancelled ends alone, without running.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';
import { eventually } from '../../../support/eventually.js';

class Gate {
  opened = false;
  readonly ran: number[] = [];
  readonly started: string[] = [];
  open(): boolean {
    this.opened = true;
    return true;
  }
  isOpen(): boolean {
    return this.opened;
  }
  note(index: number): number {
    return this.ran.push(index);
  }
  read(): number[] {
    return this.ran;
  }
  start(name: string): number {
    return this.started.push(name);
  }
  startedOnes(): string[] {
    return this.started;
  }
}

const plusOne = tsray.remote((value: number) => ({ value: value + 1, workerId: tsray.getRuntimeContext().workerId }));

/** Waits, in gets, until the gate opens: its worker is blocked in a get meanwhile. */
const waitForGate = tsray.remote(async (gate: tsray.ActorHandle<Gate>) => {
  while (!(await tsray.get(gate.isOpen.remote()))) await new Promise((resolve) => setTimeout(resolve, 5));
  return 'through';
});

/** Opens the gate once every task in `before` is done (refs nested in an array are not waited for at submission). */
const openGateAfter = tsray.remote(async (gate: tsray.ActorHandle<Gate>, before: tsray.ObjectRef[]) => {
  await tsray.get(before);
  return tsray.get(gate.open.remote());
});

const sleepThen = tsray.remote(async (ms: number, value: string) => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return value;
});

/** Tells the gate it started (without a get, which would hand back the tasks queued behind it), then sleeps. */
const busyFor = tsray.remote(async (gate: tsray.ActorHandle<Gate>, ms: number, name: string) => {
  void gate.start.remote(name);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return name;
});

const noted = tsray.remote(async (gate: tsray.ActorHandle<Gate>, index: number) => tsray.get(gate.note.remote(index)));

/** An actor that is up before the tasks that call it are submitted. */
async function liveGate(): Promise<tsray.ActorHandle<Gate>> {
  const gate = tsray.remote(Gate).remote();
  await tsray.get(gate.isOpen.remote());
  return gate;
}

// Pinned (the depth otherwise follows how long tasks take, and 400 ms tasks are not pipelined): the
// tests below need tasks queued at a worker behind a running one. pipeline-fairness.test.ts covers
// the adaptive depth.
process.env['TSRAY_PIPELINE_DEPTH'] = '16';

void describe('pipelining', () => {
  useEmbeddedCluster('pipelining');

  void test('a long queue of tiny tasks all return, on the two leased workers', async () => {
    const results = await tsray.get<{ value: number; workerId: string }[]>(Array.from({ length: 3000 }, (_, index) => plusOne.remote(index)));
    assert.deepEqual(
      results.map((result) => result.value),
      Array.from({ length: 3000 }, (_, index) => index + 1),
    );
    assert.ok(new Set(results.map((result) => result.workerId)).size <= 2, 'more workers than CPUs ran the tasks');
  });

  void test('a task blocked in a get hands back the tasks queued behind it, so the one it waits for runs', async () => {
    const gate = await liveGate();
    // The waiter is first, and tasks are pipelined behind it; the gate opens only once all of them ran.
    const waiter = waitForGate.remote(gate);
    const fillers = Array.from({ length: 60 }, (_, index) => sleepThen.remote(1, `filler ${index}`));
    const opener = openGateAfter.remote(gate, fillers);
    assert.equal(await tsray.get(waiter, { timeout: 30_000 }), 'through');
    assert.equal(await tsray.get(opener, { timeout: 30_000 }), true);
    assert.equal((await tsray.get(fillers, { timeout: 30_000 })).length, 60);
  });

  void test('a pipelined task that is cancelled ends alone and never runs', async () => {
    const gate = await liveGate();
    // Both workers are busy for a while, so the noted tasks queue behind them. Each busy task is
    // running before the next is submitted: submitted together, the second could be pipelined behind
    // the first, and a lease granted meanwhile would run the noted tasks at once, the victim with them.
    const busy: tsray.ObjectRef<string>[] = [];
    for (const name of ['a', 'b']) {
      busy.push(busyFor.remote(gate, 1000, name));
      const started = await eventually(() => tsray.get(gate.startedOnes.remote()), (names) => names.includes(name), 400);
      assert.ok(started.includes(name), `busy task ${name} never started`);
    }
    // Both leases run a task, so the noted tasks are pipelined behind them as they are submitted.
    const refs = Array.from({ length: 40 }, (_, index) => noted.remote(gate, index));
    // The pushes reach the workers before the cancel does.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const victim = 5;
    tsray.cancel(refs[victim] as tsray.ObjectRef);
    await assert.rejects(tsray.get(refs[victim] as tsray.ObjectRef), tsray.TaskCancelledError);
    const others = refs.filter((_, index) => index !== victim);
    assert.equal((await tsray.get(others, { timeout: 30_000 })).length, 39);
    assert.deepEqual(await tsray.get(busy), ['a', 'b']);
    assert.deepEqual(await tsray.get(gate.startedOnes.remote()), ['a', 'b']);
    const ran = await tsray.get(gate.read.remote());
    assert.ok(!ran.includes(victim), `cancelled task ${victim} ran`);
    assert.equal(ran.length, 39);
    // Its lease went on with the tasks behind it and, idle, went back: both CPUs are free again.
    assert.deepEqual(await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 2, 200), { CPU: 2 });
  });
});
