/**
 * Task pushes and replies cross between threads packed (node/runtime/packed-batch.ts): the receiving
 * thread must rebuild every message exactly as it was sent (same fields, same order, same text), keep
 * the batch's order, and leave any message of another type or of an unexpected shape as itself. Only
 * ports to threads of this process get packed batches; a port to another process gets plain ones.
 * A log stores a message that came packed as its packed fields (version 5 records), which read back
 * as the message its component applied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Delivered, Message } from '../../../../core/protocol.js';
import { isPackedBatch, packBatch, unpackBatch, unpackedOrigins } from '../../../../node/runtime/packed-batch.js';
import { isMessageBatch, Router, threadBatchMessages } from '../../../../node/runtime/router.js';
import { packedRecordFormatVersion, plainRecordFormatVersion, RecordCodec } from '../../../../node/store/event-log-codec.js';
import { readRecords } from '../../../support/log-records.js';

const functionId = JSON.stringify({ kind: 'module', moduleUrl: 'file:///m.js', key: 'file:///m.js#echo#1', name: 'echo' });
const resources = { CPU: 1 };

/** A push as pushTask makes it and the router stamps it for another thread. */
function push(index: number, options: { after?: boolean; cause?: boolean; leaseId?: string; twoArgs?: boolean } = {}): Delivered<Message> {
  const specArgs: { kind: string; payload: { kind: string; data: unknown; sizeBytes: number; refs: unknown[] } }[] = [{ kind: 'value', payload: { kind: 'inline', data: index, sizeBytes: 3, refs: [] } }];
  if (options.twoArgs === true) specArgs.push({ kind: 'value', payload: { kind: 'inline', data: { nested: [index] }, sizeBytes: 12, refs: [] } });
  const message: Record<string, unknown> = {
    type: 'task/pushed',
    spec: { taskId: `n1.d1.t${index}`, jobId: 'j1', owner: 'n1.d1', returnIds: [`n1.d1.t${index}.r0`], name: 'echo', functionId, args: specArgs, resources, maxRetries: 3, retryExceptions: false, strategy: 'DEFAULT' },
    attempt: 1,
    leaseId: options.leaseId ?? 'n1.d1.l1',
    args: specArgs.map((arg) => ({ kind: 'value', payload: arg.payload })),
  };
  if (options.after === true) message['after'] = { taskId: `n1.d1.t${index - 1}`, attempt: 1 };
  message['via'] = options.cause === false ? { from: 'worker:n1.d1', incarnation: 0, seq: index } : { from: 'worker:n1.d1', incarnation: 0, seq: index, cause: 100 + index };
  message['to'] = 'worker:n1.w1';
  return message as unknown as Delivered<Message>;
}

/** A reply as a worker's executor makes it, stamped for the driver's thread. */
function reply(index: number, releasedBorrows: string[] = [], twoReturns = false): Delivered<Message> {
  const payloads = [{ kind: 'inline', data: index + 1, sizeBytes: 3, refs: [] }];
  if (twoReturns) payloads.push({ kind: 'inline', data: index + 2, sizeBytes: 3, refs: [] });
  return {
    type: 'task/replied',
    taskId: `n1.d1.t${index}`,
    attempt: 1,
    workerId: 'n1.w1',
    nodeId: 'n1',
    result: { kind: 'returned', payloads },
    releasedBorrows,
    via: { from: 'worker:n1.w1', incarnation: 0, seq: index, cause: 7 },
    to: 'worker:n1.d1',
  } as unknown as Delivered<Message>;
}

const heartbeat = { type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 1 }, via: { from: 'raylet:n1', incarnation: 0, seq: 0 }, to: 'worker:n1.d1' } as unknown as Delivered<Message>;

/** The batch as the other thread gets it: packed, cloned as postMessage clones, and rebuilt. */
function crossed(messages: Delivered<Message>[]): { readonly received: Delivered<Message>[]; readonly packedItems: number } {
  const packed = packBatch(messages);
  assert.ok(packed !== undefined, 'the batch packs');
  return { received: unpackBatch(structuredClone(packed)), packedItems: packed.items.filter((item) => typeof item === 'number').length };
}

void test('pushes and replies of the usual shapes are packed and rebuilt as sent, with the same text, in the batch order, around other messages', () => {
  const messages = [push(1, { cause: false }), push(2, { after: true }), heartbeat, push(3, { after: true, leaseId: 'n1.d1.l2' }), reply(4), reply(5, ['n1.w1.t3.r0']), push(6, { twoArgs: true }), reply(7, [], true)];
  const { received, packedItems } = crossed(messages);
  assert.equal(packedItems, 7, 'every push and reply was packed; the heartbeat went as itself');
  assert.deepEqual(received, messages);
  assert.deepEqual(
    received.map((message) => JSON.stringify(message)),
    messages.map((message) => JSON.stringify(message)),
    'each message has its fields in the order sent',
  );
  const rebuilt = received[0] as unknown as { spec: { args: { payload: unknown }[] }; args: { payload: unknown }[] };
  assert.equal(rebuilt.args[0]?.payload, rebuilt.spec.args[0]?.payload, "a push's argument shares its payload with its spec's, as the sender's did");
});

void test('a push or reply of another shape goes as itself, whole', () => {
  const child = push(1) as unknown as { spec: Record<string, unknown> };
  child.spec = { ...child.spec, parentTaskId: 'n1.d1.t0' };
  const extra = { ...(push(2) as unknown as Record<string, unknown>), extra: true } as unknown as Delivered<Message>;
  const threw = { ...(reply(3) as unknown as Record<string, unknown>), result: { kind: 'threw', error: { name: 'Error', message: 'no' } } } as unknown as Delivered<Message>;
  const refArg = push(4) as unknown as { args: unknown[] };
  refArg.args = [{ kind: 'ref', ref: { objectId: 'o1', owner: 'n1.d1' }, payload: { kind: 'inline', data: 1, sizeBytes: 1, refs: [] } }];
  const messages = [child as unknown as Delivered<Message>, extra, threw, refArg as unknown as Delivered<Message>, push(5)];
  const { received, packedItems } = crossed(messages);
  assert.equal(packedItems, 2, 'the push whose args are not its spec values packs them whole; the others go as themselves');
  assert.deepEqual(received, messages);
  assert.equal(packBatch([heartbeat]), undefined, 'a batch with nothing to pack goes as it is');
});

void test('the router packs what it posts to a thread of this process, which threadBatchMessages rebuilds; a port to another process gets a plain batch', async () => {
  const router = new Router();
  const toThread: unknown[] = [];
  const toProcess: unknown[] = [];
  router.addRemote('worker:n1.w1', { postMessage: (value: unknown) => toThread.push(structuredClone(value)) }, true);
  router.addRemote('worker:n2.w1', { postMessage: (value: unknown) => toProcess.push(value) });
  const { via: _via, to: _to, ...sent } = push(1) as unknown as Record<string, unknown>;
  router.send('worker:n1.d1', 0, 'worker:n1.w1', sent as unknown as Message, 101);
  router.send('worker:n1.d1', 0, 'worker:n2.w1', sent as unknown as Message, 101);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(toThread.length, 1);
  assert.ok(isPackedBatch(toThread[0]), 'the batch to the thread went packed');
  const [received] = threadBatchMessages(toThread[0]) ?? [];
  assert.deepEqual(received, { ...sent, via: { from: 'worker:n1.d1', incarnation: 0, seq: 0, cause: 101 }, to: 'worker:n1.w1' });
  assert.ok(isMessageBatch(toProcess[0]), 'the batch to the other process went plain');
  assert.equal(threadBatchMessages({ kind: 'tsray/ready' }), undefined, 'any other thread message is no batch');
  router.close();
});

/** The resources every call of one actor method shares (its function's, as submissions keep them). */
const actorResources = {};

/** An actor call as pumpActor makes it (its args the spec's own list when all are values), stamped for the actor's thread. */
function actorCall(index: number, options: { method?: string; twoArgs?: boolean; parent?: boolean } = {}): Delivered<Message> {
  const specArgs: { kind: string; payload: { kind: string; data: unknown; sizeBytes: number; refs: unknown[] } }[] = [{ kind: 'value', payload: { kind: 'inline', data: index, sizeBytes: 3, refs: [] } }];
  if (options.twoArgs === true) specArgs.push({ kind: 'value', payload: { kind: 'inline', data: { nested: [index] }, sizeBytes: 12, refs: [] } });
  const method = options.method ?? 'add';
  const spec: Record<string, unknown> = { taskId: `n1.d1.t${index}`, jobId: 'j1', owner: 'n1.d1', returnIds: [`n1.d1.t${index}.r0`], name: method, functionId: '', args: specArgs, resources: actorResources, maxRetries: 0, retryExceptions: false, strategy: 'DEFAULT' };
  if (options.parent === true) spec['parentTaskId'] = 'n1.d1.t0';
  spec['actor'] = { actorId: 'n1.d1.a1', method };
  return {
    type: 'actor-task/pushed',
    spec,
    attempt: 1,
    caller: 'n1.d1',
    restartCount: 0,
    seqNo: index,
    args: specArgs,
    via: { from: 'worker:n1.d1', incarnation: 0, seq: index, cause: 200 + index },
    to: 'worker:n1.w2',
  } as unknown as Delivered<Message>;
}

void test('actor calls of the usual shape are packed and rebuilt as sent, with the same text; one made inside a task goes as itself', () => {
  const messages = [actorCall(1), actorCall(2), reply(3), actorCall(4, { method: 'get' }), actorCall(5, { twoArgs: true }), actorCall(6, { parent: true }), actorCall(7)];
  const { received, packedItems } = crossed(messages);
  assert.equal(packedItems, 6, 'every call but the one with a parent task, and the reply, were packed');
  assert.deepEqual(received, messages);
  assert.deepEqual(
    received.map((message) => JSON.stringify(message)),
    messages.map((message) => JSON.stringify(message)),
    'each message has its fields in the order sent',
  );
  const rebuilt = received[0] as unknown as { spec: { args: unknown }; args: unknown };
  assert.equal(rebuilt.args, rebuilt.spec.args, "a call's args are its spec's own list, as the sender's were");
  const packed = packBatch([actorCall(8), actorCall(9)]);
  assert.equal(packed?.templates.length, 1, 'calls to one method of one actor share one template');
});

void test("an actor call whose template field differs from the last call's gets a template of its own, and each call is rebuilt with its own fields", () => {
  // Each variant differs from the plain call in one field of the template (compared in place, see actorTemplateIndex).
  const variants: ((message: Record<string, unknown>) => void)[] = [
    (message) => ((message['spec'] as Record<string, unknown>)['jobId'] = 'j2'),
    (message) => ((message['spec'] as Record<string, unknown>)['owner'] = 'n1.d2'),
    (message) => ((message['spec'] as Record<string, unknown>)['resources'] = { CPU: 0 }),
    (message) => ((message['spec'] as Record<string, unknown>)['maxRetries'] = 2),
    (message) => ((message['spec'] as Record<string, unknown>)['retryExceptions'] = true),
    (message) => ((message['spec'] as Record<string, unknown>)['strategy'] = 'SPREAD'),
    (message) => ((message['spec'] as Record<string, unknown>)['actor'] = { actorId: 'n1.d1.a2', method: 'add' }),
    (message) => (message['caller'] = 'n1.d2'),
    (message) => (message['restartCount'] = 1),
    (message) => (message['via'] = { from: 'worker:n1.d1', incarnation: 1, seq: 9, cause: 1 }),
    (message) => (message['to'] = 'worker:n1.w3'),
  ];
  for (const change of variants) {
    const changed = actorCall(2) as unknown as Record<string, unknown>;
    change(changed);
    const messages = [actorCall(1), changed as unknown as Delivered<Message>, actorCall(3)];
    const packed = packBatch(messages);
    assert.equal(packed?.templates.length, 3, `a call that differs (${change.toString()}) gets its own template, and the next plain call another`);
    const { received } = crossed(messages);
    assert.deepEqual(received, messages);
    assert.deepEqual(
      received.map((message) => JSON.stringify(message)),
      messages.map((message) => JSON.stringify(message)),
    );
  }
});

void test('rebuilt replies share one frozen empty list for the refs of an inline return and for no released borrows: a driver keeps each return payload until its ref is collected', () => {
  const { received } = crossed([reply(1), reply(2), reply(3, ['n1.w1.t0.r0'])]);
  const payloadOf = (message: Delivered<Message>): { refs: readonly unknown[] } => (message as unknown as { result: { payloads: { refs: readonly unknown[] }[] } }).result.payloads[0] as { refs: readonly unknown[] };
  const borrowsOf = (message: Delivered<Message>): readonly unknown[] => (message as unknown as { releasedBorrows: readonly unknown[] }).releasedBorrows;
  const [first, second, third] = received as [Delivered<Message>, Delivered<Message>, Delivered<Message>];
  // Each reply still reads as sent (the first test compares the text); here, which objects it is made of.
  assert.deepEqual(payloadOf(first).refs, []);
  assert.ok(Object.isFrozen(payloadOf(first).refs), 'an inline return without refs carries a frozen empty list');
  assert.equal(payloadOf(second).refs, payloadOf(first).refs, 'every rebuilt inline return shares the one empty list, not a list of its own per reply');
  assert.equal(payloadOf(third).refs, payloadOf(first).refs);
  assert.equal(borrowsOf(first), borrowsOf(second), 'replies that released no borrows share one empty list');
  assert.ok(Object.isFrozen(borrowsOf(first)));
  assert.deepEqual(borrowsOf(third), ['n1.w1.t0.r0']);
});

void test("a push or a reply whose template field differs from the last one's gets a template of its own; pushes on one lease and replies from one worker share one", () => {
  assert.equal(packBatch([push(1), push(2, { after: true }), push(3, { after: true })])?.templates.length, 1, 'pushes on one lease share one template');
  assert.equal(packBatch([reply(1), reply(2), reply(3)])?.templates.length, 1, 'replies from one worker share one template');
  // Each variant differs from the plain message in one field of its template (compared in place, see pushTemplateIndex and replyTemplateIndex).
  const spec = (message: Record<string, unknown>): Record<string, unknown> => message['spec'] as Record<string, unknown>;
  const pushVariants: ((message: Record<string, unknown>) => void)[] = [
    (message) => (spec(message)['jobId'] = 'j2'),
    (message) => (spec(message)['owner'] = 'n1.d2'),
    (message) => (spec(message)['name'] = 'other'),
    (message) => (spec(message)['functionId'] = 'f2'),
    (message) => (spec(message)['resources'] = { CPU: 0 }),
    (message) => (spec(message)['maxRetries'] = 2),
    (message) => (spec(message)['retryExceptions'] = true),
    (message) => (spec(message)['strategy'] = 'SPREAD'),
    (message) => (message['leaseId'] = 'n1.d1.l9'),
    (message) => (message['via'] = { from: 'worker:n1.d1', incarnation: 1, seq: 2, cause: 1 }),
    (message) => (message['to'] = 'worker:n1.w3'),
  ];
  const replyVariants: ((message: Record<string, unknown>) => void)[] = [
    (message) => (message['workerId'] = 'n1.w2'),
    (message) => (message['nodeId'] = 'n2'),
    (message) => (message['via'] = { from: 'worker:n1.w2', incarnation: 0, seq: 2, cause: 7 }),
    (message) => (message['via'] = { from: 'worker:n1.w1', incarnation: 1, seq: 2, cause: 7 }),
    (message) => (message['to'] = 'worker:n1.d2'),
  ];
  const cases = [...pushVariants.map((change) => ({ make: push, change })), ...replyVariants.map((change) => ({ make: (index: number) => reply(index), change }))];
  for (const { make, change } of cases) {
    const changed = make(2) as unknown as Record<string, unknown>;
    change(changed);
    const messages = [make(1), changed as unknown as Delivered<Message>, make(3)];
    assert.equal(packBatch(messages)?.templates.length, 3, `a message that differs (${change.toString()}) gets its own template, and the next plain one another`);
    const { received } = crossed(messages);
    assert.deepEqual(
      received.map((message) => JSON.stringify(message)),
      messages.map((message) => JSON.stringify(message)),
    );
  }
});

/**
 * Each batch as its receiver gets it (packed, cloned, rebuilt, and each message without the `to` the
 * router takes off), logged in order by one codec as the receiving shell logs it: through
 * `unpackedOrigins`, as packed fields. The records by seq, with the messages as applied.
 */
function logReceived(batches: readonly Delivered<Message>[][]): { records: Map<number, Uint8Array>; applied: unknown[] } {
  // As a shell whose log stores packed fields asks (see ComponentShell).
  unpackedOrigins.wanted = true;
  const codec = new RecordCodec('logs/test', { deltas: true });
  const records = new Map<number, Uint8Array>();
  const applied: unknown[] = [];
  for (const batch of batches) {
    const packed = structuredClone(packBatch(batch));
    assert.ok(packed !== undefined);
    for (const message of unpackBatch(packed)) {
      delete (message as { to?: unknown }).to;
      const seq = records.size + 1;
      const start = unpackedOrigins.startOf(message);
      if (start < 0) codec.encodeEventInPlace(seq, 1_700_000_000_000 + seq, undefined, message);
      else codec.encodePackedInPlace(seq, 1_700_000_000_000 + seq, undefined, message, unpackedOrigins.fields, start, unpackedOrigins.templates);
      const { buffer, start: at, end } = codec.lastRecord;
      records.set(seq, new Uint8Array(buffer.slice(at, end)));
      applied.push(message);
    }
  }
  return { records, applied };
}

/** Every record read back by a fresh codec, as another process reads the log: each event, or its complaint. */
function readBack(records: Map<number, Uint8Array>): unknown[] {
  return readRecords(records).map((record) => ('corrupt' in record ? record.corrupt : record.event));
}

/** A reply of worker `workerId`, as `reply` makes it. */
function replyFrom(index: number, workerId: string): Delivered<Message> {
  return { ...(reply(index) as unknown as Record<string, unknown>), workerId, via: { from: `worker:${workerId}`, incarnation: 0, seq: index, cause: 7 } } as unknown as Delivered<Message>;
}

void test('a message that came packed is logged as its packed fields, and reads back as the message applied, keys in order, against the last message of its template stored whole', () => {
  const batches = [
    [push(1, { cause: false }), push(2, { after: true }), push(3, { after: true, leaseId: 'n1.d1.l2' }), push(4, { twoArgs: true }), heartbeat],
    [replyFrom(5, 'n1.w1'), replyFrom(6, 'n1.w1'), reply(7, ['n1.w1.t3.r0'], true)],
    [replyFrom(8, 'n1.w2'), replyFrom(9, 'n1.w2')],
    // Another batch from each worker: new template lists, equal to the earlier ones.
    [replyFrom(10, 'n1.w1'), replyFrom(11, 'n1.w2'), replyFrom(12, 'n1.w1')],
    [actorCall(13), actorCall(14), actorCall(15, { method: 'get' }), actorCall(16, { twoArgs: true })],
    [push(17, { after: true }), push(18, { after: true, leaseId: 'n1.d1.l2' })],
  ];
  const { records, applied } = logReceived(batches);
  const read = readBack(records);
  assert.equal(read.length, applied.length);
  applied.forEach((message, index) => {
    assert.equal(JSON.stringify(read[index]), JSON.stringify(message), `record ${index + 1} reads back as the message applied`);
  });
  assert.deepEqual(read, applied);
  const versions = [...records.values()].map((bytes) => bytes[1]);
  const whole = versions.filter((version) => version === plainRecordFormatVersion).length;
  const packed = versions.filter((version) => version === packedRecordFormatVersion).length;
  // Stored whole: the heartbeat, and the first message of each template (two leases, two workers, two actor methods).
  assert.equal(whole, 7, `one whole record per template (and the heartbeat), not ${whole}`);
  assert.equal(packed, applied.length - 7, 'every other message is stored as its packed fields, the later batches of each worker and lease too');
});

void test('a packed record whose base is a message of another kind is reported, naming the base', () => {
  const { records } = logReceived([[push(1), push(2, { after: true })]]);
  const { records: replies } = logReceived([[reply(1), reply(2)]]);
  // The second push's record, with the record before it now a reply: its fields do not fit that base.
  const mixed = new Map([
    [1, replies.get(1) as Uint8Array],
    [2, records.get(2) as Uint8Array],
  ]);
  const read = readBack(mixed);
  assert.equal(typeof read[1], 'string');
  assert.match(read[1] as string, /record 2 of logs\/test is not a tsray event \(its packed fields do not fit record 1\)/);
});

void test("the look-up of a message's packed fields finds each message of the last batch in order, passes over one routed elsewhere, and knows no other", () => {
  const packed = structuredClone(packBatch([push(1), push(2, { after: true }), heartbeat, push(3, { after: true })]));
  assert.ok(packed !== undefined);
  unpackedOrigins.wanted = false;
  const [unwanted] = unpackBatch(packed) as [Delivered<Message>];
  assert.equal(unpackedOrigins.startOf(unwanted), -1, 'without a log that stores packed fields, no batch is kept');
  unpackedOrigins.wanted = true;
  const [first, second, beat, third] = unpackBatch(packed) as [Delivered<Message>, Delivered<Message>, Delivered<Message>, Delivered<Message>];
  assert.equal(unpackedOrigins.startOf(push(1)), -1, 'an equal message that is not the one rebuilt is not found');
  assert.equal(unpackedOrigins.startOf(first), 0);
  // The second push went elsewhere: the heartbeat (sent as itself) and the third are still found.
  assert.equal(unpackedOrigins.startOf(beat), -1, 'a message of the batch that went as itself has no packed fields');
  assert.equal(unpackedOrigins.startOf(third), packed.items[3]);
  assert.equal(unpackedOrigins.startOf(second), -1, 'a message passed over is not found later');
  assert.equal(unpackedOrigins.startOf(third), -1, 'a message is found once');
});
