// Unit tests of object-transfer.ts: chunked pulls against holders in this process, good and bad.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, MessageOf } from '../../../../core/protocol.js';
import { maxServedChunkBytes, ObjectPuller, serveChunk, TransferError } from '../../../../node/cluster/object-transfer.js';

type ChunkRequest = MessageOf<'object/chunk-requested'>;

/** Chunks are 4 units; small units keep the test quick, and sizes are what matter. */
const unit = 16 * 1024;

/** Bytes whose every position says where it is, so a misplaced chunk shows. */
function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (index * 7 + (index >> 8)) % 251);
}

/**
 * A puller whose chunk requests are answered by `answer` on a later microtask (as over a connection);
 * `requests` records every request, in order.
 */
function pullerWith(answer: (request: ChunkRequest, attempt: number) => Message | undefined, options: ConstructorParameters<typeof ObjectPuller>[2] = {}): { puller: ObjectPuller; requests: ChunkRequest[] } {
  const requests: ChunkRequest[] = [];
  const attempts = new Map<string, number>();
  const puller: ObjectPuller = new ObjectPuller(
    'objects:n2',
    (_to, message) => {
      if (message.type !== 'object/chunk-requested') return;
      requests.push(message);
      if (!attempts.has(message.pullId)) attempts.set(message.pullId, attempts.size + 1);
      const reply = answer(message, attempts.get(message.pullId) ?? 0);
      if (reply !== undefined && (reply.type === 'object/chunk-sent' || reply.type === 'object/chunk-failed')) queueMicrotask(() => puller.onReply(reply));
    },
    { chunkBytes: 4 * unit, ...options },
  );
  return { puller, requests };
}

const source = (objectId: string, totalBytes: number) => ({ objectId, holder: 'objects:n1', nodeId: 'n1', totalBytes });

void describe('object transfer: pulls in chunks', () => {
  void it('pulls every byte in place, in chunks of chunkBytes, and counts them', async () => {
    const held = pattern(18 * unit + 5);
    const { puller, requests } = pullerWith((request) => serveChunk(request, () => held));
    const bytes = await puller.pull(source('n1.d1.p1', held.byteLength), () => Promise.resolve(new Uint8Array(held.byteLength)));
    assert.deepEqual(bytes, held);
    assert.deepEqual(
      requests.map((request) => [request.offset, request.lengthBytes]),
      [[0, 4 * unit], [4 * unit, 4 * unit], [8 * unit, 4 * unit], [12 * unit, 4 * unit], [16 * unit, 2 * unit + 5]],
    );
    assert.deepEqual(puller.stats, { pulls: 1, bytes: held.byteLength, chunks: 5, failedAttempts: 0 });
  });

  void it('rejects a holder whose size does not match the advertised one, after maxAttempts tries, saying so', async () => {
    const held = pattern(6 * unit);
    const { puller, requests } = pullerWith((request) => serveChunk(request, () => held));
    await assert.rejects(puller.pull(source('n1.d1.p1', 5 * unit), () => Promise.resolve(new Uint8Array(5 * unit))), (error: unknown) => {
      assert.ok(error instanceof TransferError);
      assert.equal(error.gone, false);
      assert.match(error.message, new RegExp(`^object n1\\.d1\\.p1 \\(${5 * unit} bytes\\) could not be pulled from node n1 in 3 attempts \\(maxAttempts\\): node n1 holds ${6 * unit} bytes of it where ${5 * unit} were advertised$`));
      return true;
    });
    assert.equal(puller.stats.failedAttempts, 3);
    assert.equal(new Set(requests.map((request) => request.pullId)).size, 3, 'each attempt has its own pull id');
    assert.equal(puller.isPulling('n1.d1.p1'), false);
  });

  void it('rejects chunks of the wrong length, and takes a good attempt after a bad one', async () => {
    const held = pattern(9 * unit);
    const short = pullerWith((request) => {
      const reply = serveChunk(request, () => held);
      return reply.type === 'object/chunk-sent' ? { ...reply, bytes: (reply.bytes as Uint8Array).subarray(1) } : reply;
    });
    await assert.rejects(short.puller.pull(source('n1.d1.p1', held.byteLength), () => Promise.resolve(new Uint8Array(held.byteLength))), new RegExp(`the chunk at offset 0 brought ${4 * unit - 1} bytes where ${4 * unit} were asked for`));
    const once = pullerWith((request, attempt) => {
      const reply = serveChunk(request, () => held);
      return attempt === 1 && request.offset > 0 && reply.type === 'object/chunk-sent' ? { ...reply, bytes: 'not bytes' } : reply;
    });
    const bytes = await once.puller.pull(source('n1.d1.p1', held.byteLength), () => Promise.resolve(new Uint8Array(held.byteLength)));
    assert.deepEqual(bytes, held);
    assert.deepEqual({ pulls: once.puller.stats.pulls, failedAttempts: once.puller.stats.failedAttempts }, { pulls: 1, failedAttempts: 1 });
  });

  void it('fails at once, as gone, when the holder no longer has the object; a chunk that never comes is retried then fails', async () => {
    const { puller } = pullerWith((request) => serveChunk(request, () => undefined));
    await assert.rejects(puller.pull(source('n1.d1.p1', 10), () => Promise.resolve(new Uint8Array(10))), (error: unknown) => error instanceof TransferError && error.gone && /is not here any more/.test(error.message));
    const silent = pullerWith(() => undefined, { chunkTimeoutMs: 5, maxAttempts: 2 });
    // The puller's timers do not keep a process alive (its connections do); this test's interval does.
    const alive = setInterval(() => undefined, 1000);
    try {
      await assert.rejects(silent.puller.pull(source('n1.d1.p2', 10), () => Promise.resolve(new Uint8Array(10))), /in 2 attempts \(maxAttempts\): no chunk at offset 0 came from node n1 within 5 ms \(chunkTimeoutMs\)/);
    } finally {
      clearInterval(alive);
    }
    assert.equal(silent.requests.length, 2);
  });

  void it('joins a second pull of the same object, and runs at most maxParallelPulls at once', async () => {
    const held = pattern(8 * unit);
    const parked: ChunkRequest[] = [];
    const { puller, requests } = pullerWith((request) => {
      parked.push(request);
      return undefined;
    }, { maxParallelPulls: 2, chunksInFlight: 1 });
    const allocate = (): Promise<Uint8Array> => Promise.resolve(new Uint8Array(held.byteLength));
    const pulls = ['p1', 'p2', 'p3', 'p1'].map((id) => puller.pull(source(`n1.d1.${id}`, held.byteLength), allocate));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(requests.map((request) => request.objectId), ['n1.d1.p1', 'n1.d1.p2'], 'p3 waits its turn, the second p1 joins the first');
    // Answer whatever is asked until every pull is done.
    while (parked.length > 0) {
      const request = parked.shift() as ChunkRequest;
      const reply = serveChunk(request, () => held);
      if (reply.type === 'object/chunk-sent') puller.onReply(reply);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const results = await Promise.all(pulls);
    for (const bytes of results) assert.deepEqual(bytes, held);
    assert.equal(results[0], results[3]);
    assert.equal(puller.stats.pulls, 3);
  });

  void it('serves only chunks inside the object and within the served bound', () => {
    const held = new Uint8Array(100);
    const ask = (offset: number, lengthBytes: number) => serveChunk({ type: 'object/chunk-requested', objectId: 'o', pullId: 'x', offset, lengthBytes, requester: 'objects:n2' }, () => held);
    assert.equal(ask(0, 100).type, 'object/chunk-sent');
    assert.match((ask(90, 20) as { reason: string }).reason, /outside object o of 100 bytes/);
    assert.match((ask(-1, 5) as { reason: string }).reason, /outside/);
    const huge = new Uint8Array(maxServedChunkBytes + 1);
    assert.match((serveChunk({ type: 'object/chunk-requested', objectId: 'o', pullId: 'x', offset: 0, lengthBytes: huge.byteLength, requester: 'objects:n2' }, () => huge) as { reason: string }).reason, /ask for smaller chunks/);
  });
  void it('fails the pulls from a node that died at once, as gone, and pulls the object afresh from its new holder', async () => {
    const held = pattern(9 * unit);
    // The dead node never answers the first two requests (chunksInFlight); the new holder, n3, serves the rest.
    const { puller, requests } = pullerWith((request) => (requests.length > 2 ? serveChunk(request, () => held) : undefined));
    const fromDead = puller.pull(source('n1.d1.t1.r0', held.byteLength), () => Promise.resolve(new Uint8Array(held.byteLength)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(puller.isPulling('n1.d1.t1.r0'), true);
    puller.abandonNode('n3');
    assert.equal(puller.isPulling('n1.d1.t1.r0'), true, 'pulls from other nodes go on');
    puller.abandonNode('n1');
    await assert.rejects(fromDead, (error: unknown) => {
      assert.ok(error instanceof TransferError);
      assert.equal(error.gone, true);
      assert.equal(error.message, 'object n1.d1.t1.r0 could not be pulled: node n1, which held it, died');
      return true;
    });
    assert.equal(puller.isPulling('n1.d1.t1.r0'), false);
    const rebuilt = await puller.pull({ objectId: 'n1.d1.t1.r0', holder: 'objects:n3', nodeId: 'n3', totalBytes: held.byteLength }, () => Promise.resolve(new Uint8Array(held.byteLength)));
    assert.deepEqual(rebuilt, held);
    assert.equal(requests.at(-1)?.pullId === requests[0]?.pullId, false, 'the new pull has its own pull id');
  });

  void it('lands raw chunks straight in the target, and takes a landing back when its attempt ends', async () => {
    const held = pattern(8 * unit);
    const target = new Uint8Array(8 * unit);
    const sent: ChunkRequest[] = [];
    const puller = new ObjectPuller('objects:n2', (_to, message) => void (message.type === 'object/chunk-requested' && sent.push(message)), { chunkBytes: 4 * unit });
    const done = puller.pull(source('n1.d1.p1', held.byteLength), () => Promise.resolve(target));
    await new Promise((resolve) => setImmediate(resolve));
    const [first, second] = sent;
    assert.ok(first !== undefined && second !== undefined);
    const reply = (request: ChunkRequest) => serveChunk(request, () => held) as MessageOf<'object/chunk-sent'>;
    // A chunk the attempt waits for lands in the target at its offset; one of the wrong length, or not asked for, does not.
    assert.equal(puller.landingFor(reply(first), 3 * unit), undefined);
    assert.equal(puller.landingFor({ ...reply(first), offset: 2 * unit }, 4 * unit), undefined);
    const landing = puller.landingFor(reply(second), 4 * unit);
    assert.ok(landing?.target !== undefined);
    assert.equal(landing.target.buffer, target.buffer);
    assert.equal(landing.target.byteOffset, 4 * unit);
    landing.target.set(held.subarray(4 * unit));
    // The landed view comes back as the reply's bytes: no second copy, and the pull completes.
    puller.onReply({ ...reply(second), bytes: landing.target });
    puller.onReply(reply(first));
    assert.deepEqual(await done, held);
    // A landing of a pull whose attempt ends (here: its node's link broke) is taken back.
    const again = new ObjectPuller('objects:n2', (_to, message) => void (message.type === 'object/chunk-requested' && sent.push(message)), { chunkBytes: 4 * unit, maxAttempts: 1 });
    const failed = again.pull(source('n1.d1.p2', held.byteLength), () => Promise.resolve(new Uint8Array(8 * unit)));
    await new Promise((resolve) => setImmediate(resolve));
    const pending = sent.at(-1);
    assert.ok(pending !== undefined);
    const late = again.landingFor(reply(pending), held.byteLength - pending.offset);
    assert.ok(late?.target !== undefined);
    again.retryFrom('n1', 'the link broke');
    assert.equal(late.target, undefined, 'the landing was not taken back');
    await assert.rejects(failed, /in 1 attempts \(maxAttempts\): the link broke$/);
  });
});

