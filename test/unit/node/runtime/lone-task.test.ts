/**
 * A task awaited alone does not wait for either thread's turn to end: the driver posts its push to
 * the leased worker within `.remote()` (router-batches.test.ts shows how the rest of a loop of
 * submissions then goes), and a worker with no other task to run posts the reply as soon as the task
 * has reported, before anything else the worker's turn holds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { TransferListItem } from 'node:worker_threads';
import * as tsray from '../../../../node/index.js';
import { runtime } from '../../../../node/runtime/context.js';

const dir = mkdtempSync(join(tmpdir(), 'tsray-lone-'));
after(async () => {
  await tsray.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** Counts the batches the driver posts to worker threads while `body` runs, and the tasks they push. */
async function countingPosts(body: (posts: { batches: number; pushes: number }) => Promise<void>): Promise<void> {
  // The prototype's own method, put back as it was; it is only ever called with a worker as `this`.
  const prototype = Worker.prototype as { postMessage: (this: Worker, value: unknown, transfer?: readonly TransferListItem[]) => void };
  const original = prototype.postMessage;
  const posts = { batches: 0, pushes: 0 };
  prototype.postMessage = function (this: Worker, value: unknown, transfer?: readonly TransferListItem[]) {
    const batch = value as { kind?: unknown; items?: unknown[] };
    if (batch.kind === 'tsray/packed-messages' && Array.isArray(batch.items)) {
      posts.batches += 1;
      posts.pushes += batch.items.length;
    }
    original.call(this, value, transfer);
  };
  try {
    await body(posts);
  } finally {
    prototype.postMessage = original;
  }
}

void test('a task submitted alone is posted to its leased worker within .remote()', async () => {
  await tsray.init({ numCpus: 1, sessionDir: dir });
  const addOne = tsray.remote((x: number) => x + 1);
  // The worker is leased once the first task ran; the lease is kept while tasks follow.
  assert.equal(await tsray.get(addOne.remote(0)), 1);
  await countingPosts(async (posts) => {
    const ref = addOne.remote(1);
    assert.deepEqual(posts, { batches: 1, pushes: 1 }, 'the push went before .remote() returned');
    assert.equal(await tsray.get(ref), 2);
  });
});

void test("a worker with nothing else to run posts a task's reply before what its turn does next", async () => {
  // The body leaves the worker's thread busy for a while right after it returns (an Immediate that
  // spins): a reply posted at the turn's end would reach the driver only once that spin is over.
  // One function for both calls, so that they share the lease and run on the same worker.
  // The second call reads when the spin ended from an Immediate of its own, which runs after the
  // spin's: on a loaded machine the driver may take the reply and push the second call while the
  // worker's turn is still delivering messages, before its Immediates run at all.
  const probe = tsray.remote((x: number): number | Promise<number> => {
    const seen = globalThis as { busyEndedMs?: number };
    if (x < 0) return new Promise((resolve) => setImmediate(() => resolve(seen.busyEndedMs ?? 0)));
    setImmediate(() => {
      const until = Date.now() + 1500;
      while (Date.now() < until);
      seen.busyEndedMs = Date.now();
    });
    return x + 1;
  });
  assert.equal(await tsray.get(probe.remote(1)), 2);
  const repliedMs = Date.now();
  const busyEndedMs = await tsray.get(probe.remote(-1));
  assert.ok(busyEndedMs > 0, 'the spin ran on the worker that ran the task');
  assert.ok(repliedMs < busyEndedMs, `the reply arrived ${repliedMs - busyEndedMs} ms after the spin that followed the task ended, not before it`);
});

/** Whether the call that is scheduling an Immediate is the router's (its flush), from the caller's stack. */
function fromRouter(): boolean {
  return new Error().stack?.includes('scheduleFlush') === true;
}

void test("tasks awaited one at a time schedule no router Immediate on the driver: each push goes with the post that follows its submission", async () => {
  const addOne = tsray.remote((x: number) => x + 1);
  assert.equal(await tsray.get(addOne.remote(0)), 1);
  const tasks = 20;
  const original = globalThis.setImmediate;
  let immediates = 0;
  globalThis.setImmediate = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    if (fromRouter()) immediates += 1;
    return original(callback, ...args);
  }) as typeof setImmediate;
  try {
    for (let index = 1; index <= tasks; index += 1) assert.equal(await tsray.get(addOne.remote(index)), index + 1);
  } finally {
    globalThis.setImmediate = original;
  }
  // A message of the cluster's own (a heartbeat, a release) may still take the Immediate now and then,
  // more often when a busy machine makes the tasks slow. The old code took 12-15.
  assert.ok(immediates <= 5, `the driver's router scheduled ${immediates} Immediates for ${tasks} tasks`);
});

void test("the driver's map of pending calls keeps its floor entry as tasks are awaited one at a time, and counts only the calls", async () => {
  const addOne = tsray.remote((x: number) => x + 1);
  const driver = runtime();
  // Private, read as a test's window on it: the map V8 would shrink and grow again for each call.
  const pending = (driver as unknown as { pending: Map<unknown, unknown> }).pending;
  for (let index = 0; index < 5; index += 1) {
    const got = tsray.get(addOne.remote(index));
    assert.equal(driver.pendingCalls, 1, 'the get is the one pending call');
    assert.equal(pending.size, 2, 'beside the floor');
    assert.equal(await got, index + 1);
    assert.equal(driver.pendingCalls, 0);
    assert.equal(pending.size, 1, 'the floor stays once the call settled');
  }
});
