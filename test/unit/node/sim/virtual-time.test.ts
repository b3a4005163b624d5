/**
 * Virtual time: timers fire only when the clock is moved, in due-time then creation order; dates,
 * `performance.now` and `Math.random` follow the clock and the seed; `node:timers/promises` is
 * virtual too; and `restore()` puts back every original, identity-equal.
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, describe, test } from 'node:test';
import * as timers from 'node:timers';
import { scheduler, setImmediate as immediatePromise, setInterval as intervalIterator, setTimeout as sleep } from 'node:timers/promises';
import * as timersPromises from 'node:timers/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type { VirtualTimeController } from '../../../../node/sim/virtual-time.js';
import { installVirtualTime, VirtualTimeError } from '../../../../node/sim/virtual-time.js';

const require = createRequire(import.meta.url);
const timersCjs = require('node:timers') as Record<string, unknown>;
const timersPromisesCjs = require('node:timers/promises') as Record<string, unknown>;

/** The real timer functions, taken before any test installs virtual time. */
const real = { setTimeout: globalThis.setTimeout, setImmediate: globalThis.setImmediate };

/** Every property virtual time replaces, read now (through ESM bindings too), so a test can compare. */
function snapshot(): Record<string, unknown> {
  return {
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    setImmediate: globalThis.setImmediate,
    clearTimeout: globalThis.clearTimeout,
    clearInterval: globalThis.clearInterval,
    clearImmediate: globalThis.clearImmediate,
    Date: globalThis.Date,
    DateNow: Date.now,
    random: Math.random,
    // Read with Reflect.get: these are methods, compared here by identity and never called.
    performanceNow: Reflect.get(performance, 'now'),
    ownPerformanceNow: Object.getOwnPropertyDescriptor(performance, 'now'),
    abortTimeout: Reflect.get(AbortSignal, 'timeout'),
    timersSetTimeout: timers.setTimeout,
    timersCjsSetTimeout: timersCjs['setTimeout'],
    timersClearInterval: timers.clearInterval,
    sleep: timersPromises.setTimeout,
    sleepCjs: timersPromisesCjs['setTimeout'],
    immediatePromise: timersPromises.setImmediate,
    intervalIterator: timersPromises.setInterval,
    scheduler: timersPromises.scheduler,
    dateDescriptor: Object.getOwnPropertyDescriptor(globalThis, 'Date'),
    randomDescriptor: Object.getOwnPropertyDescriptor(Math, 'random'),
    setTimeoutDescriptor: Object.getOwnPropertyDescriptor(globalThis, 'setTimeout'),
  };
}

const originals = snapshot();
let installed: VirtualTimeController[] = [];

/** Installs virtual time for one test; `afterEach` restores it whatever happens. */
function install(seed: string | number = 1, startMs?: number): VirtualTimeController {
  const time = installVirtualTime(startMs === undefined ? { seed } : { seed, startMs });
  installed.push(time);
  return time;
}

afterEach(() => {
  for (const time of installed.reverse()) time.restore();
  installed = [];
  assert.deepEqual(snapshot(), originals, 'a test left virtual time installed');
});

void describe('virtual time', () => {
  void test('two runs with the same seed give the same random numbers, firing order and dates', () => {
    const run = (seed: number): unknown[] => {
      const time = install(seed, 1_000_000);
      const seen: unknown[] = [];
      const note = (what: string) => () => seen.push([what, time.nowMs, Date.now(), new Date().getTime(), Date(), performance.now(), Math.random()]);
      for (let index = 0; index < 5; index++) setTimeout(note(`t${index}`), Math.floor(Math.random() * 50));
      setInterval(note('interval'), 7);
      setImmediate(note('immediate'));
      time.advanceTo(40);
      seen.push(['end', Date.now(), Math.random(), time.pending().map((timer) => timer.kind)]);
      time.restore();
      return seen;
    };
    const first = run(42);
    assert.deepEqual(run(42), first);
    assert.notDeepEqual(run(43), first);
    // The dates follow the virtual clock: startMs plus the virtual time, at each timer's due time.
    for (const entry of first.slice(0, -1)) {
      const [, nowMs, dateNow, dateValue, dateText, perfNow] = entry as [string, number, number, number, string, number];
      assert.equal(dateNow, 1_000_000 + nowMs);
      assert.equal(dateValue, dateNow);
      assert.equal(dateText, new Date(dateNow).toString());
      assert.equal(perfNow, nowMs);
    }
    assert.equal((first.at(-1) as unknown[])[1], 1_000_040);
  });

  void test('Math.random is the seeded sequence of core/sim/random.ts, and dates keep working as dates', () => {
    install('seed-a', Date.UTC(2030, 5, 1));
    const values = [Math.random(), Math.random(), Math.random()];
    assert.ok(values.every((value) => value >= 0 && value < 1));
    assert.equal(new Date().toISOString(), '2030-06-01T00:00:00.000Z');
    assert.equal(new Date(0).toISOString(), '1970-01-01T00:00:00.000Z');
    assert.equal(new Date(2020, 0, 2).getFullYear(), 2020);
    assert.equal(Date.UTC(2000, 0, 1), 946_684_800_000);
    assert.ok(new Date() instanceof Date);
    class Later extends Date {}
    assert.equal(new Later().getTime(), Date.UTC(2030, 5, 1));
    installed.pop()?.restore();
    const again = install('seed-a');
    assert.deepEqual([Math.random(), Math.random(), Math.random()], values);
    again.restore();
  });

  void test('restore puts every original back, identity-equal, after nested installs in any order and captured references', () => {
    const outer = install(1);
    const capturedSetTimeout = globalThis.setTimeout;
    const capturedDate = globalThis.Date;
    assert.notEqual(globalThis.setTimeout, originals['setTimeout']);
    assert.notEqual(timers.setTimeout, originals['timersSetTimeout']);
    assert.notEqual(timersPromises.setTimeout, originals['sleep']);
    assert.notEqual(Reflect.get(performance, 'now'), originals['performanceNow']);
    const inner = install(2);
    assert.notEqual(globalThis.setTimeout, capturedSetTimeout, 'the newer installation is in force');
    // The outer one restored first: the inner stays in force; the originals come back after both.
    outer.restore();
    assert.notEqual(globalThis.setTimeout, originals['setTimeout']);
    inner.restore();
    inner.restore();
    assert.deepEqual(snapshot(), originals);
    assert.equal(Object.hasOwn(performance, 'now'), false);
    // Captured virtual functions stay on their frozen clock: they schedule, and nothing fires them.
    let fired = false;
    capturedSetTimeout(() => (fired = true), 1);
    assert.equal(new capturedDate().getTime(), outer.startMs);
    assert.equal(fired, false);
    // And in the other order.
    const first = install(3);
    const second = install(4);
    second.restore();
    assert.notEqual(globalThis.setTimeout, originals['setTimeout']);
    first.restore();
    assert.deepEqual(snapshot(), originals);
  });

  void test('nested timers scheduled from callbacks fire by due time, then creation order', () => {
    const time = install();
    const order: string[] = [];
    setTimeout(() => {
      order.push(`a@${time.nowMs}`);
      setTimeout(() => order.push(`a.1@${time.nowMs}`), 5);
      setTimeout(() => order.push(`a.2@${time.nowMs}`), 5);
      setTimeout(() => order.push(`a.3@${time.nowMs}`), 1);
    }, 10);
    setTimeout(() => order.push(`b@${time.nowMs}`), 15);
    setTimeout(() => order.push(`c@${time.nowMs}`), 10);
    setTimeout(() => order.push(`d@${time.nowMs}`), 0);
    assert.equal(time.nextDueMs(), 1, 'a delay of 0 is 1 ms, as in Node');
    assert.equal(time.runDue(), 0);
    assert.deepEqual(order, []);
    assert.equal(time.advanceTo(100), 7);
    assert.deepEqual(order, ['d@1', 'a@10', 'c@10', 'a.3@11', 'b@15', 'a.1@15', 'a.2@15']);
    assert.equal(time.nowMs, 100);
    assert.equal(time.nextDueMs(), undefined);
  });

  void test('setInterval repeats until cleared, from outside or from its own callback', () => {
    const time = install();
    const ticks: number[] = [];
    const interval = setInterval(() => ticks.push(time.nowMs), 10);
    time.advanceTo(35);
    assert.deepEqual(ticks, [10, 20, 30]);
    clearInterval(interval);
    time.advanceTo(100);
    assert.deepEqual(ticks, [10, 20, 30]);
    let count = 0;
    const self = setInterval(() => {
      if (++count === 3) clearInterval(self);
    }, 5);
    time.advanceTo(200);
    assert.equal(count, 3);
    assert.deepEqual(time.pending(), []);
  });

  void test('setImmediate runs before later timers at the same virtual time, and after earlier ones', () => {
    const time = install();
    const order: string[] = [];
    setTimeout(() => {
      setTimeout(() => order.push('timeout made in a callback'), 0);
      setImmediate(() => order.push('immediate made in a callback'));
      order.push('first at 5');
    }, 5);
    setTimeout(() => order.push('second at 5'), 5);
    setImmediate(() => order.push('immediate at 0'));
    assert.equal(time.nextDueMs(), 0);
    assert.equal(time.runDue(), 1);
    time.advanceTo(10);
    assert.deepEqual(order, ['immediate at 0', 'first at 5', 'second at 5', 'immediate made in a callback', 'timeout made in a callback']);
  });

  void test('clearing a fired, cleared or unknown handle is harmless; ids and handles both clear', () => {
    const time = install();
    const fired: string[] = [];
    const once = setTimeout(() => fired.push('once'), 1);
    time.advanceTo(5);
    clearTimeout(once);
    clearTimeout(once);
    clearTimeout(123_456);
    clearTimeout('nope');
    clearTimeout(undefined);
    clearInterval(null as unknown as undefined);
    clearImmediate(undefined);
    const byId = setTimeout(() => fired.push('by id'), 1);
    const byText = setTimeout(() => fired.push('by text'), 1);
    const immediate = setImmediate(() => fired.push('immediate'));
    clearTimeout(+byId);
    clearTimeout(String(+byText));
    clearTimeout(immediate as unknown as NodeJS.Timeout);
    time.advanceTo(10);
    assert.deepEqual(fired, ['once', 'immediate']);
    // A fired timeout comes back with refresh, as in Node; a cleared one does not, even after it fired.
    const twice = setTimeout(() => fired.push('twice'), 1);
    time.advanceTo(15);
    twice.refresh();
    once.refresh();
    const cleared = setTimeout(() => fired.push('cleared'), 1);
    clearTimeout(cleared);
    cleared.refresh();
    time.advanceTo(30);
    assert.deepEqual(fired, ['once', 'immediate', 'twice', 'twice']);
  });

  void test('handles behave like Node timers: ref, unref, hasRef, refresh, close, and pending names what waits', () => {
    const time = install();
    const fired: number[] = [];
    const timer = setTimeout(function heartbeat() {
      fired.push(time.nowMs);
    }, 10);
    assert.equal(timer.hasRef(), true);
    assert.equal(timer.unref(), timer);
    assert.equal(timer.hasRef(), false);
    timer.ref();
    const immediate = setImmediate(() => undefined).unref();
    assert.equal(immediate.hasRef(), false);
    assert.deepEqual(
      time.pending().map(({ kind, dueMs, ref, callback }) => ({ kind, dueMs, ref, callback })),
      [
        { kind: 'immediate', dueMs: 0, ref: false, callback: '(anonymous)' },
        { kind: 'timeout', dueMs: 10, ref: true, callback: 'heartbeat' },
      ],
    );
    time.runDue();
    time.advanceTo(8);
    timer.refresh();
    time.advanceTo(15);
    assert.deepEqual([...fired], []);
    time.advanceTo(18);
    assert.deepEqual([...fired], [18]);
    const closed = setTimeout(() => fired.push(-1), 1);
    assert.equal(closed.close(), closed);
    assert.equal(typeof +closed, 'number');
    time.advanceTo(30);
    assert.deepEqual([...fired], [18]);
    assert.throws(() => setTimeout('code' as unknown as () => void, 1), /The "callback" argument must be of type function/);
  });

  void test('a callback fires in the async context it was scheduled in, with its handle as this, as in Node', () => {
    const time = install();
    const context = new AsyncLocalStorage<string>();
    const seen: unknown[] = [];
    let handle: unknown;
    context.run('task-1', () => {
      handle = setTimeout(function (this: unknown) {
        seen.push(context.getStore(), this === handle);
      }, 5);
      setImmediate(() => seen.push(context.getStore()));
    });
    context.run('task-2', () => setInterval(() => seen.push(context.getStore()), 4));
    time.advanceTo(8);
    assert.deepEqual(seen, ['task-1', 'task-2', 'task-1', true, 'task-2']);
  });

  void test('real timers never fire user callbacks while installed', async () => {
    const time = install();
    let fired = 0;
    setTimeout(() => fired++, 1);
    setImmediate(() => fired++);
    setInterval(() => fired++, 1);
    timers.setTimeout(() => fired++, 1);
    // Twenty real milliseconds, on the real timer taken before install.
    await new Promise((resolve) => real.setTimeout(resolve, 20));
    await new Promise((resolve) => real.setImmediate(resolve));
    assert.equal(fired, 0);
    assert.equal(time.pending().length, 4);
  });

  void test('async code: runUntil drains promise continuations after each timer, as Node does', async () => {
    const time = install();
    const seen: string[] = [];
    const body = async (): Promise<string> => {
      for (let step = 0; step < 3; step++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        seen.push(`step ${step} at ${time.nowMs}`);
      }
      return 'done';
    };
    const result = body();
    assert.equal(await time.runUntil(25), 2);
    assert.deepEqual(seen, ['step 0 at 10', 'step 1 at 20']);
    assert.equal(await time.runUntil(1000), 1);
    assert.equal(await result, 'done');
    assert.deepEqual(seen, ['step 0 at 10', 'step 1 at 20', 'step 2 at 30']);
  });

  void test('node:timers/promises, util.promisify(setTimeout) and AbortSignal.timeout are virtual too', async () => {
    const time = install();
    const seen: string[] = [];
    void sleep(50, 'slept').then((value) => seen.push(`${value} at ${time.nowMs}`));
    void immediatePromise('immediate').then((value) => seen.push(`${value} at ${time.nowMs}`));
    void scheduler.wait(20).then(() => seen.push(`waited at ${time.nowMs}`));
    void promisify(setTimeout)(30, 'promisified').then((value) => seen.push(`${value} at ${time.nowMs}`));
    const signal = AbortSignal.timeout(40);
    signal.addEventListener('abort', () => seen.push(`aborted at ${time.nowMs}: ${(signal.reason as Error).name}`));
    const ticks = (async () => {
      let count = 0;
      for await (const value of intervalIterator(15, 'tick')) {
        seen.push(`${value} ${++count} at ${time.nowMs}`);
        if (count === 2) break;
      }
    })();
    await time.settle();
    assert.deepEqual(seen, [], 'nothing fires before the clock moves');
    await time.runUntil(60);
    await ticks;
    assert.deepEqual(seen, ['immediate at 0', 'tick 1 at 15', 'waited at 20', 'promisified at 30', 'tick 2 at 30', 'aborted at 40: TimeoutError', 'slept at 50']);
    assert.deepEqual(time.pending().filter((timer) => timer.kind === 'interval'), [], 'breaking out of the iterator clears its interval');
    // An abort rejects as Node's does, and clears the timer.
    const controller = new AbortController();
    const aborted = sleep(100, 'never', { signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, { name: 'AbortError', code: 'ABORT_ERR' });
    await assert.rejects(sleep(1, 'x', 'not options' as unknown as undefined), TypeError);
    assert.deepEqual(time.pending().filter((timer) => timer.ref), []);
  });

  void test('the clock only moves forward, a timer that reschedules forever is stopped at a named bound, and a throwing callback propagates', () => {
    const time = installVirtualTime({ seed: 1, maxFirings: 50 });
    installed.push(time);
    time.advanceTo(10);
    assert.throws(() => time.advanceTo(5), /cannot move the clock to 5 ms; it is at 10 ms and only moves forward/);
    assert.throws(() => time.advanceTo(Number.NaN), VirtualTimeError);
    const again = (): void => {
      setImmediate(again);
    };
    setImmediate(again);
    assert.throws(() => time.runDue(), /more than 50 timer callbacks fired in one run of the clock \(maxFirings\)/);
    time.restore();
    const throwing = install();
    let ticks = 0;
    setInterval(() => {
      ticks++;
      throw new Error('boom');
    }, 5);
    assert.throws(() => throwing.advanceTo(6), /boom/);
    assert.equal(throwing.nextDueMs(), 10, 'the interval repeats after a throw, as in Node');
    assert.throws(() => throwing.advanceTo(11), /boom/);
    assert.equal(ticks, 2);
  });

  void test('bad options are refused with a one-line reason', () => {
    assert.throws(() => installVirtualTime({ seed: Number.NaN }), /seed should be a string or a finite number but is NaN/);
    assert.throws(() => installVirtualTime({ seed: 1, startMs: 1.5 }), /startMs should be an integer epoch time/);
    assert.throws(() => installVirtualTime({ seed: 1, maxFirings: 0 }), /maxFirings should be a positive integer but is 0/);
    assert.throws(() => installVirtualTime(undefined as unknown as { seed: number }), /pass options such as \{ seed: 1 \}/);
    assert.deepEqual(snapshot(), originals);
  });
});
