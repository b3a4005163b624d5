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

/** Runs `body` with setImmediate counted; how many Immediates it scheduled. */
async function countingImmediates(body: () => Promise<void> | void): Promise<number> {
  const original = globalThis.setImmediate;
  let scheduled = 0;
  globalThis.setImmediate = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    scheduled += 1;
    return original(callback, ...args);
  }) as typeof setImmediate;
  try {
    await body();
  } finally {
    globalThis.setImmediate = original;
  }
  return scheduled;
}

void test('a batch received from another thread is delivered before receive returns, without its address; what its deliveries send to other threads goes at its end; no Immediate is scheduled', async () => {
  const toThread: number[][] = [];
  const router = new Router(recordingPort(toThread), true);
  const delivered: Delivered<Message>[] = [];
  router.addLocal('worker:w1', (message) => {
    delivered.push(message);
    router.send('worker:w1', 0, 'worker:d1', heartbeat(delivered.length));
  });
  const batch = [0, 1].map((seq) => ({ ...heartbeat(seq), via: { from: 'worker:d1', incarnation: 0, seq }, to: 'worker:w1' }) as unknown as Delivered<Message>);
  const immediates = await countingImmediates(() => {
    router.receive(batch);
    assert.equal(delivered.length, 2, 'both messages were delivered within receive');
    assert.deepEqual(toThread, [[0, 1]], 'the replies went as one batch once the deliveries ended');
  });
  assert.equal(immediates, 0, 'no Immediate, for the received batch or for the replies');
  assert.deepEqual(
    delivered.map((message) => [message.via.seq, 'to' in message]),
    [
      [0, false],
      [1, false],
    ],
    'each message arrives with its envelope and without the address it was routed by',
  );
  await nextTurn();
  assert.deepEqual(toThread, [[0, 1]], 'nothing else went');
  router.close();
});

void test('a message a delivery sends to a component of this thread waits for a later Immediate', async () => {
  const router = new Router();
  const seen: string[] = [];
  router.addLocal('worker:a', (message) => {
    seen.push(message.via.from);
    if (message.via.from === 'worker:d1') router.send('worker:b', 0, 'worker:a', heartbeat(1));
  });
  const batch = [{ ...heartbeat(0), via: { from: 'worker:d1', incarnation: 0, seq: 0 }, to: 'worker:a' } as unknown as Delivered<Message>];
  const immediates = await countingImmediates(async () => {
    router.receive(batch);
    assert.deepEqual(seen, ['worker:d1'], 'the message sent within the delivery is not delivered within it');
    await nextTurn();
  });
  assert.deepEqual(seen, ['worker:d1', 'worker:b'], 'it was delivered on the next turn');
  assert.equal(immediates, 2, "the router's one Immediate, and the test's own");
  router.close();
});

void test('a flush called while an Immediate is scheduled leaves what its deliveries send to that Immediate', async () => {
  const toThread: number[][] = [];
  const router = new Router(recordingPort(toThread), true);
  let deliveries = 0;
  router.addLocal('worker:w1', () => {
    deliveries += 1;
    router.send('worker:w1', 0, 'worker:d1', heartbeat(deliveries));
  });
  const immediates = await countingImmediates(async () => {
    router.send('worker:w1', 0, 'worker:w1', heartbeat(0));
    router.send('worker:w1', 0, 'worker:d1', heartbeat(0));
    router.flush();
    assert.equal(deliveries, 1);
    assert.deepEqual(toThread, [[0, 1]], 'what was queued and what the delivery sent went together');
    router.send('worker:w1', 0, 'worker:w1', heartbeat(1));
    await nextTurn();
  });
  assert.equal(immediates, 2, "the router's one Immediate (scheduled by the first send, which the flush left in place), and the test's own");
  assert.equal(deliveries, 2, 'the Immediate delivered what was sent after the flush');
  assert.deepEqual(toThread, [[0, 1], [2]], 'each reply went once, in order');
  router.close();
});

void test("postSoon posts what is queued for other threads at once on the running code's first call, what that code sends later when it ends (a microtask), without waiting for the Immediate; a port to another process waits for it", async () => {
  const toThread: number[][] = [];
  const toProcess: number[][] = [];
  const router = new Router();
  router.addRemote('worker:w1', recordingPort(toThread), true);
  router.addRemote('raylet:n2', recordingPort(toProcess));
  const seen: number[][][] = [];
  await countingImmediates(async () => {
    router.send('worker:d1', 0, 'worker:w1', heartbeat(0));
    router.send('worker:d1', 0, 'raylet:n2', heartbeat(0));
    router.postSoon();
    seen.push(toThread.map((batch) => [...batch]));
    router.send('worker:d1', 0, 'worker:w1', heartbeat(1));
    router.postSoon();
    router.send('worker:d1', 0, 'worker:w1', heartbeat(2));
    router.postSoon();
    seen.push(toThread.map((batch) => [...batch]));
    await Promise.resolve();
    seen.push(toThread.map((batch) => [...batch]));
    assert.deepEqual(toProcess, [], 'the other process waits for the turn to end');
    // A later run of code (here, after an await) posts its first call's messages at once again.
    router.send('worker:d1', 0, 'worker:w1', heartbeat(3));
    router.postSoon();
    seen.push(toThread.map((batch) => [...batch]));
  });
  assert.deepEqual(seen, [[[0]], [[0]], [[0], [1, 2]], [[0], [1, 2], [3]]], 'the first call posted at once; the later ones went together when the code ended');
  await nextTurn();
  assert.deepEqual(toThread.flat(), seqs(4), 'each message once, in order: the Immediate found nothing left for the thread');
  assert.deepEqual(toProcess, [[0]]);
  router.close();
});

void test('postNow posts what is queued for other threads at once, except within a delivery (whose flush posts at its end)', async () => {
  const toThread: number[][] = [];
  const router = new Router(recordingPort(toThread), true);
  router.send('worker:w1', 0, 'worker:d1', heartbeat(0));
  router.send('worker:w1', 0, 'worker:d1', heartbeat(1));
  router.postNow();
  assert.deepEqual(toThread, [[0, 1]], 'the queued batch went within postNow');
  let inDelivery: number[][] = [];
  router.addLocal('worker:w1', () => {
    router.send('worker:w1', 0, 'worker:d1', heartbeat(2));
    router.postNow();
    inDelivery = toThread.map((batch) => [...batch]);
  });
  router.receive([{ ...heartbeat(0), via: { from: 'worker:d1', incarnation: 0, seq: 0 }, to: 'worker:w1' } as unknown as Delivered<Message>]);
  assert.deepEqual(inDelivery, [[0, 1]], 'within a delivery, postNow left the reply to the end of the flush');
  assert.deepEqual(toThread, [[0, 1], [2]], 'which posted it');
  await nextTurn();
  assert.deepEqual(toThread.flat(), seqs(3), 'each message once, in order');
  router.close();
});

void test('each link (sender, its incarnation, receiver) numbers its messages from 0 on its own', async () => {
  const router = new Router();
  const seen: [string, number, number][] = [];
  const port: Port = {
    postMessage: (value: unknown) => {
      assert.ok(isMessageBatch(value));
      for (const message of value.messages) seen.push([`${message.via.from}#${message.via.incarnation}>${(message as unknown as { to: string }).to}`, message.via.incarnation, message.via.seq]);
    },
  };
  router.addRemote('worker:w1', port);
  router.addRemote('worker:w2', port);
  router.send('worker:d1', 0, 'worker:w1', heartbeat(0));
  router.send('worker:d1', 0, 'worker:w2', heartbeat(1));
  router.send('worker:d1', 1, 'worker:w1', heartbeat(2));
  router.send('worker:d1', 0, 'worker:w1', heartbeat(3));
  router.send('worker:d2', 0, 'worker:w1', heartbeat(4));
  router.send('worker:d1', 1, 'worker:w1', heartbeat(5));
  router.send('worker:d1', 0, 'worker:w2', heartbeat(6));
  await nextTurn();
  assert.deepEqual(seen.map(([link, , seq]) => `${link} ${seq}`), [
    'worker:d1#0>worker:w1 0',
    'worker:d1#0>worker:w2 0',
    'worker:d1#1>worker:w1 0',
    'worker:d1#0>worker:w1 1',
    'worker:d2#0>worker:w1 0',
    'worker:d1#1>worker:w1 1',
    'worker:d1#0>worker:w2 1',
  ]);
  router.close();
});

void test('what code that said it will post (willPost) queues for another thread schedules no Immediate and goes with its postSoon or postNow; without willPost, or for another process, the Immediate is still scheduled', async () => {
  const toThread: number[][] = [];
  const toProcess: number[][] = [];
  const router = new Router();
  router.addRemote('worker:w1', recordingPort(toThread), true);
  router.addRemote('raylet:n2', recordingPort(toProcess));
  const announced = await countingImmediates(() => {
    router.willPost();
    router.send('worker:d1', 0, 'worker:w1', heartbeat(0));
    router.postSoon();
    router.willPost();
    router.send('worker:d1', 0, 'worker:w1', heartbeat(1));
    router.postNow();
  });
  assert.equal(announced, 0, 'a submission and a worker report announced by willPost scheduled no Immediate');
  assert.deepEqual(toThread, [[0], [1]], 'each went with the post that followed it');
  await Promise.resolve();
  const unannounced = await countingImmediates(() => {
    router.send('worker:d1', 0, 'worker:w1', heartbeat(2));
  });
  assert.equal(unannounced, 1, 'a message sent without willPost still schedules the Immediate that posts it');
  const toOtherProcess = await countingImmediates(() => {
    router.willPost();
    router.send('worker:d1', 0, 'raylet:n2', heartbeat(0));
    router.postNow();
  });
  assert.equal(toOtherProcess, 0, 'the Immediate scheduled for the thread is still pending, and serves the other process too');
  await nextTurn();
  assert.deepEqual(toThread.flat(), seqs(3), 'each message to the thread once, in order');
  assert.deepEqual(toProcess, [[0]], 'the other process got its message at the Immediate');
  router.close();
});

void test('a message for another process sent after willPost still schedules the Immediate that posts it', async () => {
  const toProcess: number[][] = [];
  const router = new Router();
  router.addRemote('raylet:n2', recordingPort(toProcess));
  const immediates = await countingImmediates(() => {
    router.willPost();
    router.send('worker:d1', 0, 'raylet:n2', heartbeat(0));
    router.postNow();
  });
  assert.equal(immediates, 1);
  assert.deepEqual(toProcess, [], 'postNow posts to other threads only');
  await nextTurn();
  assert.deepEqual(toProcess, [[0]]);
  router.close();
});

void test('the map of batches queued per port keeps its floor entry, never posted, so that a batch a turn does not empty it and fill it again', async () => {
  const router = new Router();
  const toThread: number[][] = [];
  router.addRemote('worker:w1', recordingPort(toThread), true);
  // Private, read as a test's window on it: the map V8 would shrink and grow again for each batch.
  const queued = (router as unknown as { pendingRemote: Map<unknown, unknown[]> }).pendingRemote;
  for (let turn = 0; turn < 3; turn += 1) {
    router.send('worker:d1', 0, 'worker:w1', heartbeat(turn));
    assert.equal(queued.size, 2, 'the floor and the port with its message');
    await nextTurn();
    assert.equal(queued.size, 1, 'after the post only the floor is left');
    assert.deepEqual([...queued.values()], [[]], 'and nothing is queued for it');
  }
  assert.deepEqual(toThread, [[0], [1], [2]], 'each turn posted its message, once, in order');
  router.close();
  assert.equal(queued.size, 1, 'a closed router keeps its floor too');
});

void test("a removed worker's links are forgotten, and only its own", async () => {
  const router = new Router();
  const batches: number[][] = [];
  router.addRemote('worker:w1', recordingPort(batches), true);
  router.addRemote('worker:w2', recordingPort(batches), true);
  for (let index = 0; index < 3; index += 1) {
    router.send('worker:d1', 0, 'worker:w1', heartbeat(index));
    router.send('raylet:n1', 0, 'worker:w1', heartbeat(index));
  }
  router.send('worker:d1', 0, 'worker:w2', heartbeat(0));
  await nextTurn();
  batches.length = 0;
  // Its thread ended: what each sender numbered for it goes. Were an address used again (worker ids
  // never are), its links would start afresh; the other worker's links are untouched.
  router.remove('worker:w1');
  router.addRemote('worker:w1', recordingPort(batches), true);
  router.send('worker:d1', 0, 'worker:w1', heartbeat(3));
  router.send('raylet:n1', 0, 'worker:w1', heartbeat(3));
  router.send('worker:d1', 0, 'worker:w2', heartbeat(1));
  await nextTurn();
  assert.deepEqual(batches, [[0, 0], [1]]);
});
