/**
 * The embedded runtime against real worker threads and real LMDB logs: what `init()` with no address
 * gives a user first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { hashRemote, nestedRemote, renamedNested, selfNamed } from '../../../support/remote-module.js';
import { initFailureRemote } from '../../../support/init-module.js';

void describe('the embedded runtime', () => {
  const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-embedded-'));
  before(async () => {
    const info = await tsray.init({ numCpus: 2, sessionDir });
    assert.equal(info.sessionDir, sessionDir);
  });
  after(async () => {
    await tsray.shutdown();
    rmSync(sessionDir, { recursive: true, force: true });
  });

  void test('runs remote functions on worker threads and resolves by-ref arguments', async () => {
    const square = tsray.remote((x: number) => x * x);
    const add = tsray.remote((a: number, b: number) => a + b);
    const squares = [1, 2, 3, 4].map((x) => square.remote(x));
    assert.deepEqual(await tsray.get(squares), [1, 4, 9, 16]);
    assert.equal(await tsray.get(add.remote(square.remote(3), 1)), 10);
  });

  void test('workers run tasks while the driver still submits in a loop that never awaits (it reads their replies between submissions)', async () => {
    const finishedAtMs = tsray.remote(() => performance.timeOrigin + performance.now());
    // Leases granted and workers started: a burst after this one starts unpipelined, as P1 in bench/ does.
    await tsray.get(finishedAtMs.remote());
    // A loop that holds the event loop for 600 ms, submitting a task about every 0.3 ms: long enough
    // for the workers to be given a CPU on a machine that other processes keep busy.
    const refs: tsray.ObjectRef<number>[] = [];
    const startedMs = performance.now();
    let nextMs = startedMs;
    while (performance.now() - startedMs < 600) {
      if (performance.now() < nextMs) continue;
      refs.push(finishedAtMs.remote());
      nextMs += 0.3;
    }
    const loopEndedMs = performance.timeOrigin + performance.now();
    const finished = await tsray.get<number[]>(refs);
    const duringLoop = finished.filter((atMs) => atMs < loopEndedMs).length;
    // Without reading between submissions, each leased worker ran the one task first pushed to it.
    assert.ok(duringLoop >= 100, `${duringLoop} of ${refs.length} tasks ran before the loop that submitted them ended`);
  });

  void test('put and get round-trip rich values', async () => {
    const value = { when: new Date(0), tags: new Set(['a']), table: new Map([[1, 'one']]), bytes: new Uint16Array([1, 2, 3]), big: 10n ** 20n };
    assert.deepEqual(await tsray.get(tsray.put(value)), value);
  });

  void test('values large enough for the shared store decode, strings and maps included', async () => {
    const text = 'a'.repeat(200_000);
    assert.equal(await tsray.get(tsray.put(text)), text);
    const mixed = { x: new Float64Array(50_000).fill(1.5), y: 1, words: new Map(Array.from({ length: 20_000 }, (_, index) => [`w${index}`, index])) };
    assert.deepEqual(await tsray.get(tsray.put(mixed)), mixed);
  });

  void test('functions from other modules are shipped by reference and may submit and wait for nested tasks', async () => {
    assert.match(await tsray.get(hashRemote.remote('x')), /^[0-9a-f]{8}$/);
    assert.match(await tsray.get(nestedRemote.remote(7)), /^7:[0-9a-f]{8}$/);
  });

  void test('a by-source function that uses a name it cannot see fails naming it', async () => {
    const secret = 42;
    const leaky = tsray.remote(() => secret);
    await assert.rejects(tsray.get(leaky.remote()), (error: unknown) => {
      assert.ok(error instanceof tsray.RayTaskError);
      assert.match(error.message, /uses secret, which it cannot see/);
      return true;
    });
  });

  void test("a by-source function that calls .remote on its own name is told that the name is the function itself there", async () => {
    const countdown = tsray.remote(async function countdown(n: number): Promise<number> {
      // Inside, `countdown` is this function (a named function expression sees its own name).
      return n <= 0 ? 0 : await tsray.get((countdown as unknown as tsray.RemoteFunction<[number], number>).remote(n - 1));
    });
    await assert.rejects(tsray.get(countdown.remote(2)), (error: unknown) => {
      assert.ok(error instanceof tsray.RayTaskError);
      assert.match(error.message, /countdown\.remote is not a function: countdown is shipped by its source, and inside it countdown is the function itself/);
      assert.match(error.message, /tsray\.remote\(countdown\)\.remote\(\.\.\.\)/);
      return true;
    });
    // As the message says: a remote function made inside the body submits it again.
    const counted = tsray.remote(async function counted(n: number): Promise<number> {
      return n <= 0 ? 0 : 1 + (await tsray.get(tsray.remote(counted).remote(n - 1)));
    });
    assert.equal(await tsray.get(counted.remote(3)), 3);
  });

  void test("a module's function expression that calls .remote on its own name is told that the name hides the module's remote function", async () => {
    await assert.rejects(tsray.get(selfNamed.remote(2)), (error: unknown) => {
      assert.ok(error instanceof tsray.RayTaskError);
      assert.match(error.message, /selfNamed\.remote is not a function: inside the function expression named selfNamed, selfNamed is the function itself, which hides its module's remote function/);
      return true;
    });
    // As the message says: named otherwise, the name means the module's remote function.
    assert.equal(await tsray.get(renamedNested.remote(3)), 3);
  });

  void test('actors keep state and run calls in order', async () => {
    class Counter {
      total: number;
      constructor(start: number) {
        this.total = start;
      }
      add(n: number): number {
        this.total += n;
        return this.total;
      }
    }
    const counter = tsray.remote(Counter).remote(10);
    const calls = [1, 2, 3].map((n) => counter.add.remote(n));
    assert.deepEqual(await tsray.get(calls), [11, 13, 16]);
  });

  void test('errors: thrown errors, non-Error throws, and wrong options', async () => {
    const boom = tsray.remote(() => {
      throw new RangeError('bad input');
    });
    await assert.rejects(tsray.get(boom.remote()), (error: unknown) => error instanceof tsray.RayTaskError && error.cause instanceof Error && error.cause.name === 'RangeError');
    const weird = tsray.remote(() => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a task that throws a non-Error is what this checks
      throw 'just a string';
    });
    await assert.rejects(tsray.get(weird.remote()), /just a string/);
    assert.throws(() => tsray.remote(() => 1, { maxRetries: -2 }), RangeError);
    assert.throws(() => tsray.put({ onDone: () => 1 }), /value\.onDone is a function/);
  });

  void test('a worker that exits mid-task is retried, and fails with WorkerCrashedError once retries are spent', async () => {
    const exits = tsray.remote(() => {
      process.exit(3);
    });
    await assert.rejects(tsray.get(exits.options({ maxRetries: 1 }).remote()), tsray.WorkerCrashedError);
    const square = tsray.remote((x: number) => x * x);
    assert.equal(await tsray.get(square.remote(5)), 25, 'the node keeps serving after crashes');
  });

  void test('an init() at the top of a module a worker imports says why it ran there and what to do', async () => {
    // The module's init ran (and ended) in this thread before the suite's; in the worker it must fail
    // with the reason, not with "already initialized", which says nothing of the import.
    const said = await tsray.get(initFailureRemote.remote());
    assert.match(said, /^tsray\.init\(\) ran inside a tsray worker: a worker imports the module that defines a remote function/);
    assert.match(said, /call init\(\) in the entry script only/);
  });

  // Readiness is made certain rather than raced: a slow task against a fast one failed under load,
  // when the fast one's new worker took longer to boot than the slow one took to run.
  void test('wait returns ready refs in input order', async () => {
    const inc = tsray.remote((x: number) => x + 1);
    const never = tsray.remote(async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    });
    const first = inc.remote(1);
    const second = inc.remote(2);
    assert.deepEqual(await tsray.get([first, second]), [2, 3]);
    const pending = never.remote(600_000);
    const refs = [second, pending, first];
    const [ready, notReady] = await tsray.wait(refs, { numReturns: 2 });
    assert.deepEqual(ready, [second, first]);
    assert.deepEqual(notReady, [pending]);
    const [one, rest] = await tsray.wait([pending, first], { numReturns: 1, timeout: 50 });
    assert.deepEqual(one, [first]);
    assert.deepEqual(rest, [pending]);
    // As Ray: no refs is done at once; a ref listed twice is refused, since it would be ready twice.
    assert.deepEqual(await tsray.wait([]), [[], []]);
    await assert.rejects(tsray.wait([first, pending, first]), (error: unknown) => error instanceof TypeError && new RegExp(`wait takes each ref once; ${first.id} is items 0 and 2`).test(error.message));
    await assert.rejects(tsray.wait([first], { numReturns: 2 }), (error: unknown) => error instanceof RangeError && /numReturns must be a whole number from 1 to 1 \(the number of refs\), not 2/.test(error.message));
    await assert.rejects(tsray.wait([], { numReturns: 0 }), (error: unknown) => error instanceof RangeError && /numReturns must be a whole number ≥ 1, not 0/.test(error.message));
    tsray.cancel(pending, { force: true });
  });

  // A wait re-read all of its refs each time one settled: 20,000 refs took 40-140 s here. The test's
  // timeout is a hang guard with a wide margin (the counted wait takes a few seconds even under load).
  void test('a wait on 30,000 refs for all of them settles once the last one does, and refuses a ref named twice', { timeout: 60_000 }, async () => {
    const inc = tsray.remote((x: number) => x + 1);
    const refs = Array.from({ length: 30_000 }, (_, index) => inc.remote(index));
    const [ready, notReady] = await tsray.wait(refs, { numReturns: refs.length });
    assert.equal(ready.length, refs.length);
    assert.deepEqual(notReady, []);
    assert.deepEqual(await tsray.get(ready.slice(-3)), [29_998, 29_999, 30_000]);
    // The same object twice is refused before anything waits, as Ray refuses it: with one ready
    // return it was both ready and not ready.
    const slow = tsray.remote(async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    });
    const once = slow.remote(50);
    const never = slow.remote(600_000);
    await assert.rejects(tsray.wait([once, once, never], { numReturns: 2 }), (error: unknown) => error instanceof TypeError && /wait takes each ref once/.test(error.message));
    const [ready2, rest] = await tsray.wait([once, never], { numReturns: 1 });
    assert.deepEqual(ready2, [once]);
    assert.deepEqual(rest, [never]);
    tsray.cancel(never, { force: true });
  });
});
