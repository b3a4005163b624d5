/**
 * An idle worker's polling: it handles what comes on any of its channels, stops once something came,
 * stops at once when it is no longer idle, keeps to its budget, and the count of busy workers follows
 * each worker's flag, also when a worker ends while busy. A driver's polling: after the code that
 * waited, backing off after misses, never without a spare vCPU. And a live check: worker threads that
 * poll still run every task a driver awaits, one at a time and all at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import * as tsray from '../../../../node/index.js';
import type { Router } from '../../../../node/runtime/router.js';
import { BusyWorkers, maxPollingWithoutTurnMs, pollBudgetMsFrom, pollForWork, ReplyPolling, type InboundChannel } from '../../../../node/runtime/work-polling.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';
import { eventually } from '../../../support/eventually.js';

/** A channel whose handled messages are kept, and the port to send on it. */
function channel(): { inbound: InboundChannel; send: (message: unknown) => void; handled: unknown[]; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const handled: unknown[] = [];
  return {
    inbound: { port: port2, handle: (message) => handled.push(message) },
    send: (message) => port1.postMessage(message),
    handled,
    close: () => {
      port1.close();
      port2.close();
    },
  };
}

/** Posts to a port arrive once the sending thread's event loop runs; this waits a turn. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

void describe('work polling', () => {
  void test('handles what comes on every channel, and returns once it brought work', async () => {
    const a = channel();
    const b = channel();
    try {
      a.send('push 1');
      b.send('push 2');
      await turn();
      // Work is what makes the worker busy: here, both pushes handled.
      const idle = (): boolean => a.handled.length + b.handled.length < 2;
      assert.equal(pollForWork([a.inbound, b.inbound], idle, 10_000), true);
      assert.deepEqual([a.handled, b.handled], [['push 1'], ['push 2']]);
    } finally {
      a.close();
      b.close();
    }
  });

  void test('a message that brings no work is handled and the poll goes on to its budget', async () => {
    const a = channel();
    try {
      a.send('an acknowledgement');
      await turn();
      const startMs = performance.now();
      assert.equal(pollForWork([a.inbound], () => true, 5), false);
      const tookMs = performance.now() - startMs;
      assert.ok(tookMs >= 5 && tookMs < 1000, `polled for ${tookMs} ms with a budget of 5`);
      assert.deepEqual(a.handled, ['an acknowledgement']);
    } finally {
      a.close();
    }
  });

  void test('keeps to its budget when nothing comes, and stops at once when the worker is busy', () => {
    const a = channel();
    try {
      const startMs = performance.now();
      assert.equal(pollForWork([a.inbound], () => true, 5), false);
      const tookMs = performance.now() - startMs;
      assert.ok(tookMs >= 5 && tookMs < 1000, `polled for ${tookMs} ms with a budget of 5`);
      let checks = 0;
      assert.equal(
        pollForWork([a.inbound], () => ++checks < 3, 10_000),
        true,
      );
      assert.equal(checks, 3);
      assert.equal(pollForWork([a.inbound], () => false, 10_000), true, 'a busy worker has its work already');
      assert.equal(pollForWork([a.inbound], () => true, 0), false);
      assert.deepEqual(a.handled, []);
    } finally {
      a.close();
    }
  });

  void test('the busy count follows each flag, and a worker that ended busy is counted out', () => {
    const node = new BusyWorkers();
    const one = new BusyWorkers(node.countBuffer);
    const two = new BusyWorkers(node.countBuffer);
    one.started();
    one.started();
    two.started();
    assert.equal(node.busy, 2);
    one.stopped();
    one.stopped();
    assert.equal(node.busy, 1);
    node.ended(two.flagBuffer);
    node.ended(two.flagBuffer);
    assert.equal(node.busy, 0);
    two.stopped();
    assert.equal(node.busy, 0);
  });

  void test("a driver polls after the synchronous code that waited, and polls that run out come less and less often", async () => {
    let outcome = false;
    const polls: number[] = [];
    let settled = 0;
    let waits = 0;
    const router = {
      readUntil: (done: () => boolean): boolean => {
        polls.push(waits);
        if (outcome) settled += 1;
        return outcome && done();
      },
    } as unknown as Router;
    const polling = new ReplyPolling(router, 0.2, () => true, () => settled);
    const wait = async (): Promise<void> => {
      waits += 1;
      polling.waiting();
      polling.waiting();
      // Not yet: the code that waited is still running.
      assert.equal(polls.at(-1) === waits, false);
      // The event loop turns between waits, as when a worker's reply settles a get (twice: the
      // first Immediate may run before the one the poll scheduled to see the turn).
      await turn();
      await turn();
    };
    for (let index = 0; index < 30; index += 1) await wait();
    // Missed at waits 1, 2, 4, 8, 16: each miss skips 0, 1, 3, 7, then 15 waits.
    assert.deepEqual(polls, [1, 2, 4, 8, 16]);
    outcome = true;
    for (let index = 0; index < 20; index += 1) await wait();
    // The 15 skipped after wait 16 run out at wait 32, which hits; from then on every wait polls.
    assert.deepEqual(polls.slice(5), Array.from({ length: 19 }, (_, index) => 32 + index));
  });

  void test('a driver that polls get after get lets its event loop turn every few milliseconds', async () => {
    let polled = 0;
    let settled = 0;
    const router = { readUntil: (done: () => boolean) => ((polled += 1), (settled += 1), done()) } as unknown as Router;
    const polling = new ReplyPolling(router, 0.2, () => true, () => settled);
    // Waits that only ever yield microtasks, as a loop of gets that polls settles them.
    const startMs = performance.now();
    while (performance.now() - startMs < 3 * maxPollingWithoutTurnMs) {
      polling.waiting();
      await Promise.resolve();
    }
    const pollsWithoutTurn = polled;
    assert.ok(pollsWithoutTurn > 0);
    polling.waiting();
    await Promise.resolve();
    assert.equal(polled, pollsWithoutTurn, 'it polled on past the bound without a turn of the event loop');
    await new Promise((resolve) => setImmediate(resolve));
    polling.waiting();
    await Promise.resolve();
    assert.equal(polled, pollsWithoutTurn + 1);
  });

  void test('a driver does not poll while no vCPU is spare', async () => {
    let polled = 0;
    const router = { readUntil: () => ((polled += 1), false) } as unknown as Router;
    const polling = new ReplyPolling(router, 0.2, () => false, () => 0);
    for (let index = 0; index < 5; index += 1) {
      polling.waiting();
      await Promise.resolve();
    }
    assert.equal(polled, 0);
  });

  void test('TSRAY_POLL_US is read as microseconds, and a bad value is refused with the range', () => {
    assert.equal(pollBudgetMsFrom(undefined), 0.2);
    assert.equal(pollBudgetMsFrom('0'), 0);
    assert.equal(pollBudgetMsFrom('500'), 0.5);
    assert.throws(() => pollBudgetMsFrom('fast'), /TSRAY_POLL_US must be a number of microseconds from 0 to 10000, got 'fast'/);
    assert.throws(() => pollBudgetMsFrom('-1'), /from 0 to 10000/);
  });
});

const plusOne = tsray.remote((value: number) => value + 1);

void describe('work polling, live', () => {
  useEmbeddedCluster('work-polling');

  void test('tasks awaited one at a time all run on polling workers, which are counted idle after', async () => {
    for (let index = 0; index < 2_000; index += 1) assert.equal(await tsray.get(plusOne.remote(index)), index + 1);
    const values = await tsray.get(Array.from({ length: 2_000 }, (_, index) => plusOne.remote(index)));
    assert.deepEqual(values, Array.from({ length: 2_000 }, (_, index) => index + 1));
    // A loop of gets that polls still lets timers run: this one ends it.
    let stopped = false;
    setTimeout(() => (stopped = true), 100);
    let laps = 0;
    while (!stopped) laps += (await tsray.get(plusOne.remote(laps))) > laps ? 1 : 0;
    assert.ok(laps > 0);
    // Their leases, idle, go back: nothing is left running.
    assert.deepEqual(await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 2), { CPU: 2 });
  });
});
