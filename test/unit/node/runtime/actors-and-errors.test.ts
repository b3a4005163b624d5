/**
 * Actors and errors on the real runtime: restarts after a crash, async concurrency, names and
 * handles passed around, cancellation, values that cannot travel, and a full store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';

void describe('actors and errors', () => {
  const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-actors-'));
  before(async () => {
    // No spill space: the store bound's tests below are about the store's own memory.
    process.env['TSRAY_SPILL_BYTES'] = '0';
    await tsray.init({ numCpus: 2, sessionDir, objectStoreMemory: 16 * 1024 * 1024 });
    delete process.env['TSRAY_SPILL_BYTES'];
  });
  after(async () => {
    await tsray.shutdown();
    rmSync(sessionDir, { recursive: true, force: true });
  });

  void test('an actor whose process exits restarts (its constructor runs again) within maxRestarts', async () => {
    class Fragile {
      count = 0;
      bump(): number {
        this.count += 1;
        return this.count;
      }
      crash(): never {
        process.exit(1);
      }
    }
    const actor = tsray.remote(Fragile, { maxRestarts: 1 }).remote();
    assert.equal(await tsray.get(actor.bump.remote()), 1);
    assert.equal(await tsray.get(actor.bump.remote()), 2);
    await assert.rejects(tsray.get(actor.crash.remote()), (error: unknown) => error instanceof tsray.ActorUnavailableError || error instanceof tsray.ActorDiedError);
    assert.equal(await tsray.get(actor.bump.remote()), 1, 'the restarted actor starts from its constructor');
    await assert.rejects(tsray.get(actor.crash.remote()), tsray.TsrayError);
    await assert.rejects(tsray.get(actor.bump.remote()), tsray.ActorDiedError);
  });

  void test('async methods interleave up to maxConcurrency', async () => {
    class Sleeper {
      active = 0;
      peak = 0;
      async nap(ms: number): Promise<number> {
        this.active += 1;
        this.peak = Math.max(this.peak, this.active);
        await new Promise((resolve) => setTimeout(resolve, ms));
        this.active -= 1;
        return this.peak;
      }
    }
    const actor = tsray.remote(Sleeper, { maxConcurrency: 3 }).remote();
    const peaks = await tsray.get<number[]>([1, 2, 3, 4].map(() => actor.nap.remote(100)));
    assert.equal(Math.max(...peaks), 3);
  });

  void test('methods that return at once run in call order inside their task context; one that throws fails its call alone, one that returns a promise is waited for', async () => {
    class Ledger {
      entries: number[] = [];
      record(entry: number): number {
        this.entries.push(entry);
        return this.entries.length;
      }
      context(): { taskId?: string; actorId?: string } {
        const { taskId, actorId } = tsray.getRuntimeContext();
        return { ...(taskId === undefined ? {} : { taskId }), ...(actorId === undefined ? {} : { actorId }) };
      }
      refuse(): never {
        throw new RangeError('refused');
      }
      async later(entry: number): Promise<number[]> {
        await new Promise((resolve) => setTimeout(resolve, 5));
        this.entries.push(entry);
        return this.entries;
      }
    }
    const ledger = tsray.remote(Ledger).remote();
    const first = Array.from({ length: 300 }, (_, index) => ledger.record.remote(index));
    const refused = ledger.refuse.remote();
    const later = ledger.later.remote(-1);
    const rest = Array.from({ length: 300 }, (_, index) => ledger.record.remote(300 + index));
    assert.deepEqual(await tsray.get(first), Array.from({ length: 300 }, (_, index) => index + 1));
    await assert.rejects(tsray.get(refused), (error: unknown) => error instanceof tsray.RayTaskError && error.cause instanceof Error && error.cause.name === 'RangeError' && error.cause.message === 'refused');
    const entries = await tsray.get(later);
    assert.deepEqual(entries.slice(0, 301), [...Array.from({ length: 300 }, (_, index) => index), -1], 'the async method ran after every call made before it');
    assert.deepEqual(await tsray.get(rest), Array.from({ length: 300 }, (_, index) => 302 + index));
    const context = await tsray.get(ledger.context.remote());
    assert.equal(context.actorId, ledger.actorId);
    assert.match(context.taskId ?? '', /\.t\d+$/, 'the method ran as a task of its own');
  });

  void test('handles travel to tasks; names, namespaces and getIfExists find the same actor', async () => {
    class Box {
      items: string[] = [];
      add(item: string): number {
        this.items.push(item);
        return this.items.length;
      }
    }
    const Boxes = tsray.remote(Box);
    const box = Boxes.options({ name: 'box', namespace: 'tests', lifetime: 'detached' }).remote();
    assert.equal(await tsray.get(box.add.remote('a')), 1);
    const viaTask = tsray.remote(async (handle: tsray.ActorHandle<Box>) => tsray.get(handle.add.remote('from a task')));
    assert.equal(await tsray.get(viaTask.remote(box)), 2);
    const same = Boxes.options({ name: 'box', namespace: 'tests', getIfExists: true }).remote();
    assert.equal(await tsray.get(same.add.remote('c')), 3);
    // That handle, passed to a task once resolved, goes as the handle of the actor it stands for.
    const idInTask = tsray.remote((handle: tsray.ActorHandle<Box>) => handle.actorId);
    assert.equal(await tsray.get(idInTask.remote(same)), box.actorId);
    assert.equal(await tsray.get(viaTask.remote(same), { timeout: 20_000 }), 4);
    // One passed before its creation was answered (its constructor arg still pending) goes by its own
    // id: the task's process subscribes before the registration reaches the GCS, which answers it then.
    const slowArg = tsray.remote(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return 'arg';
    });
    const early = Boxes.options({ name: 'box', namespace: 'tests', getIfExists: true }).remote(slowArg.remote());
    assert.notEqual(early.actorId, box.actorId);
    assert.equal(await tsray.get(viaTask.remote(early), { timeout: 20_000 }), 5);
    const found = (await tsray.getActor('box', { namespace: 'tests' })) as tsray.ActorHandle<Box>;
    assert.equal(await tsray.get(found.add.remote('d')), 6);
    await assert.rejects(tsray.getActor('box'), /no live actor named 'box' in namespace 'default'/);
    // The driver knows the name is taken (its GCS runs here): creating another throws at once, as Ray raises.
    assert.throws(() => Boxes.options({ name: 'box', namespace: 'tests' }).remote(), (error: unknown) => error instanceof TypeError && /actor name 'box' is already taken in namespace 'tests'; pass getIfExists/.test(error.message));
    assert.equal(await tsray.get(Boxes.options({ name: 'box', namespace: 'tests', getIfExists: true }).remote().add.remote('e')), 7);
    // A task's worker cannot tell at once: its duplicate dies when the GCS turns it away.
    const duplicateInTask = tsray.remote(async () => {
      const Again = tsray.remote(
        class Again {
          add(): number {
            return 1;
          }
        },
      );
      return tsray.get(Again.options({ name: 'box', namespace: 'tests' }).remote().add.remote());
    });
    await assert.rejects(tsray.get(duplicateInTask.remote()), (error: unknown) => error instanceof tsray.RayTaskError && error.cause instanceof Error && error.cause.name === 'ActorDiedError' && /already taken in namespace 'tests'; pass getIfExists: true to use the existing actor/.test(error.cause.message));
  });

  void test('a name is free again as soon as its actor is killed for good, as Ray frees it; a kill that restarts keeps it', async () => {
    class Service {
      ping(): string {
        return 'pong';
      }
    }
    const Services = tsray.remote(Service);
    let killed: tsray.ActorHandle<Service> | undefined;
    for (let round = 0; round < 3; round += 1) {
      const service = Services.options({ name: 'service', namespace: 'kills', maxRestarts: 1 }).remote();
      assert.equal(await tsray.get(service.ping.remote()), 'pong');
      tsray.kill(service);
      killed = service;
    }
    await assert.rejects(tsray.get(killed!.ping.remote()), (error: unknown) => error instanceof tsray.ActorDiedError && /killed via tsray\.kill/.test(error.message));
    await assert.rejects(tsray.getActor('service', { namespace: 'kills' }), /no live actor named 'service'/);
    // A call made while it restarts waits for the new incarnation (maxTaskRetries), as in Ray.
    const restarting = Services.options({ name: 'service', namespace: 'kills', maxRestarts: 1, maxTaskRetries: 1 }).remote();
    assert.equal(await tsray.get(restarting.ping.remote()), 'pong');
    tsray.kill(restarting, { noRestart: false });
    assert.throws(() => Services.options({ name: 'service', namespace: 'kills' }).remote(), /actor name 'service' is already taken in namespace 'kills'/);
    assert.equal(await tsray.get(restarting.ping.remote(), { timeout: 20_000 }), 'pong', 'it restarted under its name');
    tsray.kill(restarting);
  });

  void test("a call on an actor whose constructor's arguments are not ready says so when its get times out", async () => {
    class Late {
      value(): number {
        return 1;
      }
    }
    const slow = tsray.remote(async () => {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return 0;
    });
    const late = tsray.remote(Late).remote(slow.remote());
    await assert.rejects(
      tsray.get(late.value.remote(), { timeout: 50 }),
      (error: unknown) => error instanceof tsray.GetTimeoutError && /is not created yet, as its constructor's arguments are not ready: \S+\.r0/.test(error.message),
    );
    assert.equal(await tsray.get(late.value.remote(), { timeout: 20_000 }), 1);
  });

  void test('a name this owner gave a creation that is still pending is taken too', async () => {
    class Slow {
      constructor(ready: number) {
        void ready;
      }
      ping(): string {
        return 'pong';
      }
    }
    const Slows = tsray.remote(Slow);
    const gate = tsray.remote(() => 1);
    // Its constructor argument comes from a task not run yet: the creation is not registered with the GCS yet.
    const first = Slows.options({ name: 'slow' }).remote(gate.remote());
    assert.throws(() => Slows.options({ name: 'slow' }).remote(1), /actor name 'slow' is already taken in namespace 'default'/);
    assert.equal(await tsray.get(first.ping.remote()), 'pong');
    tsray.kill(first);
  });

  void test('a pending task is cancelled', async () => {
    const slow = tsray.remote(async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    });
    const blocker = slow.remote(300);
    const after = tsray.remote((x: number) => x).remote(blocker);
    tsray.cancel(after);
    await assert.rejects(tsray.get(after), tsray.TaskCancelledError);
    assert.equal(await tsray.get(blocker), 300);
  });

  void test('cancel interrupts a running task where it waits in get', async () => {
    class Gate {
      opened = false;
      waiters: (() => void)[] = [];
      wait(): Promise<string> {
        return this.opened ? Promise.resolve('open') : new Promise((resolve) => this.waiters.push(() => resolve('open')));
      }
      open(): void {
        this.opened = true;
        for (const waiter of this.waiters.splice(0)) waiter();
      }
    }
    const gate = tsray.remote(Gate, { maxConcurrency: 4 }).remote();
    const waits = tsray.remote(async (box: { gate: tsray.ActorHandle<Gate> }) => tsray.get(box.gate.wait.remote()));
    const ref = waits.remote({ gate });
    // Cancel only once the body is inside its get (the gate's call is then submitted and listed).
    while (!(await tsray.state.listTasks()).some((task) => task.name === 'wait' && task.state === 'RUNNING')) await new Promise((resolve) => setTimeout(resolve, 10));
    tsray.cancel(ref, { recursive: false });
    // Without the interrupt the body would wait for the gate until this get timed out.
    await assert.rejects(tsray.get(ref, { timeout: 10_000 }), tsray.TaskCancelledError);
    await tsray.get(gate.open.remote());
  });

  void test('a forced cancel ends a body that never yields by ending its worker; a recursive cancel reaches the tasks a task submitted', async () => {
    const spins = tsray.remote(() => {
      for (;;);
    });
    const spinning = spins.remote();
    while ((await tsray.state.listTasks({ state: 'RUNNING' })).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    tsray.cancel(spinning, { force: true });
    await assert.rejects(tsray.get(spinning, { timeout: 10_000 }), tsray.TaskCancelledError);

    // A recursive cancel reaches the child the task submitted: both wait on a gate that never opens.
    class Gate {
      wait(): Promise<string> {
        return new Promise(() => undefined);
      }
    }
    const gate = tsray.remote(Gate, { maxConcurrency: 4 }).remote();
    const waitsOnGate = tsray.remote(async (box: { gate: tsray.ActorHandle<Gate> }) => tsray.get(box.gate.wait.remote()), { name: 'gated-child' });
    const parent = tsray.remote(async (child: tsray.RemoteFunction, box: { gate: tsray.ActorHandle<Gate> }) => tsray.get(child.remote(box)), { name: 'gated-parent' });
    const top = parent.remote(waitsOnGate, { gate });
    while (!(await tsray.state.listTasks({ name: 'gated-child' })).some((task) => task.state === 'RUNNING')) await new Promise((resolve) => setTimeout(resolve, 10));
    tsray.cancel(top);
    await assert.rejects(tsray.get(top, { timeout: 10_000 }), tsray.TaskCancelledError);
    let child = (await tsray.state.listTasks({ name: 'gated-child' }))[0];
    for (let tries = 0; tries < 200 && child?.state !== 'CANCELLED'; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      child = (await tsray.state.listTasks({ name: 'gated-child' }))[0];
    }
    assert.equal(child?.state, 'CANCELLED', 'the child was cancelled with its parent');
    tsray.kill(gate);
  });

  void test('a return value that cannot travel fails the task naming its path; other tasks carry on', async () => {
    const bad = tsray.remote(() => ({ ok: 1, callback: () => 2 }));
    await assert.rejects(tsray.get(bad.remote()), (error: unknown) => error instanceof tsray.RayTaskError && /return value\.callback is a function/.test(error.message));
    assert.equal(await tsray.get(tsray.remote(() => 'still fine').remote()), 'still fine');
    assert.throws(() => tsray.remote((x: unknown) => x).remote(Symbol('s')), /args\[0\] is a symbol/);
  });

  void test('a put the store (with no spill space) cannot take fails with ObjectStoreFullError', async () => {
    // Bigger than the whole store: at the call.
    assert.throws(() => tsray.put(new Float64Array(4 * 1024 * 1024)), tsray.ObjectStoreFullError);
    // Bigger than what is free while the rest is held: at the get, once collections freed nothing.
    const held = tsray.put(new Float64Array(1024 * 1024));
    const ref = tsray.put(new Float64Array(1024 * 1024));
    await assert.rejects(tsray.get(ref), tsray.ObjectStoreFullError);
    assert.equal((await tsray.get(held)).length, 1024 * 1024);
    const small = tsray.put(new Float64Array(256 * 1024));
    assert.equal(((await tsray.get(small)) as Float64Array).length, 256 * 1024);
  });
});
