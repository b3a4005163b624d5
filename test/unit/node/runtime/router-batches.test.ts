/**
 * How the router batches messages to other threads: a batch to a thread of this process goes as soon
 * as it holds maxThreadBatchMessages, so that thread starts on it while this one goes on (a driver and
 * its actor then work on a hundred calls in flight side by side); the rest goes at the end of the
 * turn, and order on each link is kept. A port to another process (TCP) still gets one turn's
 * messages as one batch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Delivered, Message } from '../../../../core/protocol.js';
import { isMessageBatch, maxThreadBatchMessages, Router } from '../../../../node/runtime/router.js';
import type { Port } from '../../../../node/runtime/router.js';

/** A port that records the link seqs of each batch posted to it. */
function recordingPort(batches: number[][]): Port {
  return {
    postMessage: (value: unknown) => {
      assert.ok(isMessageBatch(value), 'the router posts batches');
      batches.push(value.messages.map((message: Delivered<Message>) => message.via.seq));
    },
  };
}

function heartbeat(index: number): Message {
  return { type: 'node/heartbeat', nodeId: 'n2', available: { CPU: index } };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const seqs = (count: number): number[] => Array.from({ length: count }, (_, index) => index);

void test('a full batch to another thread goes at once, the rest at the end of the turn, in order; a port to another process gets the whole turn at its end', async () => {
  const router = new Router();
  const toThread: number[][] = [];
  const toProcess: number[][] = [];
  router.addRemote('worker:w1', recordingPort(toThread), true);
  router.addRemote('raylet:n2', recordingPort(toProcess));
  const count = maxThreadBatchMessages * 2 + 5;
  for (let index = 0; index < count; index += 1) {
    router.send('worker:d1', 0, 'worker:w1', heartbeat(index));
    router.send('worker:d1', 0, 'raylet:n2', heartbeat(index));
  }
  assert.deepEqual(toThread, [seqs(maxThreadBatchMessages), seqs(maxThreadBatchMessages * 2).slice(maxThreadBatchMessages)], 'the full batches went before the turn ended');
  assert.deepEqual(toProcess, [], 'nothing went to the other process before the turn ended');
  await nextTurn();
  assert.deepEqual(
    toThread.map((batch) => batch.length),
    [maxThreadBatchMessages, maxThreadBatchMessages, 5],
  );
  assert.deepEqual(toThread.flat(), seqs(count), 'the thread got every message once, in order');
  assert.deepEqual(toProcess, [seqs(count)], 'the other process got the turn as one batch');
  router.close();
});

void test("a worker's router sends full batches up to its parent thread at once", async () => {
  const toParent: number[][] = [];
  const router = new Router(recordingPort(toParent), true);
  for (let index = 0; index < maxThreadBatchMessages + 1; index += 1) router.send('worker:w1', 0, 'worker:d1', heartbeat(index));
  assert.deepEqual(toParent, [seqs(maxThreadBatchMessages)]);
  await nextTurn();
  assert.deepEqual(toParent.flat(), seqs(maxThreadBatchMessages + 1));
  router.close();
});
