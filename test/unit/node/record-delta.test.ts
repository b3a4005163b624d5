/**
 * Version 3 records (node/store/record-delta.ts): an event stored as its changes from the last event
 * of its type stored whole reads back as the very event, keys in their order; it is far smaller; an
 * event changed after it was logged changes nothing of later records; and a record whose base is
 * missing or damaged is reported, naming the base.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { recordRun } from '../../../bench/recipes.js';
import { deltaRecordFormatVersion, RecordCodec } from '../../../node/store/event-log-codec.js';
import { EventLog } from '../../../node/store/event-log.js';
import { ForwardedLog, recordsOf } from '../../../node/store/forwarded-log.js';
import { PlainRecordWriter } from '../../../node/store/plain-record-writer.js';
import { baseOf, changesFrom, collectChanges, type DeltaBase } from '../../../node/store/record-delta.js';
import type { LogRecords } from '../../../node/store/forwarded-log.js';
import { readRecords } from '../../support/log-records.js';

/** The value as text that keeps its keys' order (assert.deepEqual ignores it, state hashes do not). */
function ordered(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (ArrayBuffer.isView(item) ? `${item.constructor.name}[${[...(item as Uint8Array)].join(',')}]` : item === undefined ? '<undefined>' : item));
}

/** Encodes `events` in order with a codec that makes deltas; the records by seq (from 1). */
function encodeAll(events: readonly unknown[]): { codec: RecordCodec; records: Map<number, Uint8Array> } {
  const codec = new RecordCodec('logs/test', { deltas: true });
  const records = new Map<number, Uint8Array>();
  events.forEach((event, index) => records.set(index + 1, Buffer.from(codec.encodeEvent(index + 1, index, index === 0 ? undefined : index, event))));
  return { codec, records };
}

/** Reads every record back with a fresh codec, as another process reads the log. */
function readAll(records: Map<number, Uint8Array>): { event: unknown; corrupt?: string }[] {
  return readRecords(records).map((record) => ('corrupt' in record ? { event: undefined, corrupt: record.corrupt } : record));
}

void test('every event of a recorded run reads back from its delta record as the same event, keys in order, in far fewer bytes', () => {
  const events = recordRun(300, 30).map((entry) => entry.event);
  const { records } = encodeAll(events);
  const read = readAll(records);
  let deltas = 0;
  events.forEach((event, index) => {
    const got = read[index];
    assert.equal(got?.corrupt, undefined);
    assert.equal(ordered(got?.event), ordered(event), `event ${index + 1} (${(event as { type: string }).type}) read back differently`);
    if ((records.get(index + 1) as Uint8Array)[1] === deltaRecordFormatVersion) deltas += 1;
  });
  assert.ok(deltas > events.length / 2, `only ${deltas} of ${events.length} events were stored as changes`);
  const whole = new RecordCodec('logs/test');
  let wholeBytes = 0;
  let deltaBytes = 0;
  events.forEach((event, index) => {
    wholeBytes += whole.encodeEvent(index + 1, index, undefined, event).byteLength;
    deltaBytes += (records.get(index + 1) as Uint8Array).byteLength;
  });
  assert.ok(deltaBytes < wholeBytes / 2, `the deltas take ${deltaBytes} B against ${wholeBytes} B whole`);
});

void test('a delta record written in place is byte for byte the list of its fields, and the reused list of changes keeps no value', () => {
  const events = recordRun(300, 30).map((entry) => entry.event as { type: string });
  const inPlace = new PlainRecordWriter();
  const asList = new PlainRecordWriter();
  const bases = new Map<string, DeltaBase>();
  let compared = 0;
  events.forEach((event, index) => {
    const seq = index + 1;
    const base = bases.get(event.type);
    if (base !== undefined) {
      const expected = changesFrom(base, event);
      const found = collectChanges(base, event);
      assert.equal(found === undefined, expected === undefined);
      if (found !== undefined && expected !== undefined) {
        assert.deepEqual(found.items.slice(0, found.count), expected);
        const parent = index % 3 === 0 ? undefined : index;
        assert.ok(inPlace.writeDeltaInPlace(3, seq, 1.5 * seq, parent, base.seq, found.items, found.count));
        const written = Buffer.from(inPlace.lastRecordBuffer, inPlace.lastRecordStart, inPlace.lastRecordEnd - inPlace.lastRecordStart);
        assert.ok(asList.writeFieldsInPlace([3, seq, 1.5 * seq, parent ?? null, base.seq, expected]));
        assert.deepEqual(written, Buffer.from(asList.lastRecordBuffer, asList.lastRecordStart, asList.lastRecordEnd - asList.lastRecordStart), `event ${seq} (${event.type})`);
        found.clear();
        assert.ok(found.items.every((item) => item === undefined) && found.count === 0, 'the list of changes lets go of the values it held');
        compared += 1;
        return;
      }
    }
    const next = baseOf(seq, event);
    if (next !== undefined) bases.set(event.type, next);
  });
  assert.ok(compared > events.length / 2, `only ${compared} of ${events.length} events were compared with a base`);
});

void test('an event is compared with its base as the base was when logged, and every kind of change reads back', () => {
  const base = { type: 'task/pushed', spec: { taskId: 't1', functionId: 'f'.repeat(100), args: [{ kind: 'value', data: 1 }], resources: { CPU: 1 } }, body: new Uint8Array([1, 2]), via: { seq: 1 } };
  const spec = structuredClone(base.spec);
  const events: unknown[] = [
    base,
    // The same keys: only what differs is stored.
    { type: 'task/pushed', spec: { taskId: 't2', functionId: 'f'.repeat(100), args: [{ kind: 'value', data: 2 }], resources: { CPU: 1 } }, body: new Uint8Array([1, 2]), via: { seq: 2 } },
    // The base's argument as it was changed after it was logged, another resource shape, a longer array, other leaf types and undefined.
    { type: 'task/pushed', spec: { taskId: 't3', functionId: 'f'.repeat(100), args: [{ kind: 'value', data: 3 }], resources: { GPU: 1, CPU: 2 } }, body: [1, 2, 3], via: null },
    // Other top-level keys: stored whole, the new base.
    { type: 'task/pushed', spec, after: 1 },
    { type: 'task/pushed', spec: { ...spec, taskId: 't5' }, after: 2 },
    // Another long string (another function): stored whole.
    { type: 'task/pushed', spec: { ...spec, functionId: 'g'.repeat(100) }, after: undefined },
  ];
  const { codec, records } = encodeAll(events.slice(0, 2));
  // Changed after it was logged, to what the next event holds: that event must still store it.
  (base.spec.args[0] as { data: number }).data = 3;
  events.slice(2).forEach((event, index) => records.set(index + 3, Buffer.from(codec.encodeEvent(index + 3, 0, undefined, event))));
  (base.spec.args[0] as { data: number }).data = 1;
  const read = readAll(records);
  events.forEach((event, index) => assert.equal(ordered(read[index]?.event), ordered(event), `event ${index + 1}`));
  assert.deepEqual(
    [...records.values()].map((bytes) => bytes[1]),
    [2, 3, 3, 2, 3, 2],
  );
});

void test('a delta record whose base is missing or damaged is reported, naming the base, and the others still read', () => {
  const events = Array.from({ length: 4 }, (_, index) => ({ type: 'task/executed', taskId: `t${index}` }));
  const { records } = encodeAll(events);
  records.set(1, new Uint8Array([0xc1]));
  const read = readAll(records);
  assert.match(read[0]?.corrupt ?? '', /record 1 of logs\/test is not a tsray event/);
  for (const index of [1, 2, 3]) assert.match(read[index]?.corrupt ?? '', /stored as changes from record 1, which is damaged/);
  records.delete(1);
  assert.match(readAll(records)[0]?.corrupt ?? '', /record 2 .*changes from record 1, which the log does not hold/);
  const alone = new RecordCodec('logs/test');
  const record = alone.checkEvent(2, alone.lmdbEncoder.decode(records.get(2) as Uint8Array));
  assert.ok('corrupt' in record && /which is not at hand/.test(record.corrupt));
});

void test('a worker log forwarded as deltas reads back whole through EventLog.read, from any seq', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-record-delta-'));
  const batches: LogRecords[] = [];
  const forwarded = new ForwardedLog('worker:n1.w1', (batch, transfer) => batches.push(structuredClone(batch, { transfer })));
  const events = Array.from({ length: 50 }, (_, index) => ({ type: 'task/pushed', spec: { taskId: `t${index}`, functionId: 'file:///x.js#f'.repeat(10) }, attempt: 1, args: [index] }));
  for (const event of events) forwarded.append(1, event);
  forwarded.flushNow();
  const log = EventLog.open(join(dir, 'log'), { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging' });
  try {
    for (const batch of batches) log.appendEncoded(batch.firstSeq, recordsOf(batch));
    await log.flush();
    const sizes = batches.flatMap((batch) => recordsOf(batch).map((record) => record.byteLength));
    assert.ok((sizes[10] as number) * 4 < (sizes[0] as number), `a delta record takes ${sizes[10]} B, the whole one ${sizes[0]} B`);
    assert.deepEqual(
      [...log.read()].map((record) => ('event' in record ? record.event : record)),
      events,
    );
    assert.deepEqual(
      [...log.read(40)].map((record) => ('event' in record ? record.event : record)),
      events.slice(39),
    );
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('with an enumerable property added to Object.prototype, records still hold own keys only, whole or as changes', () => {
  const events = Array.from({ length: 6 }, (_, index) => ({ type: 'task/executed', taskId: `t${index}`, result: { kind: 'returned', values: [index] } }));
  const proto = Object.prototype as Record<string, unknown>;
  proto['polluted'] = 'yes';
  let records: Map<number, Uint8Array>;
  try {
    ({ records } = encodeAll(events));
  } finally {
    delete proto['polluted'];
  }
  const read = readAll(records);
  events.forEach((event, index) => assert.equal(ordered(read[index]?.event), ordered(event)));
  // Polluted, nothing is compared with a base: every record is whole.
  assert.deepEqual(
    [...records.values()].map((bytes) => bytes[1]),
    [2, 2, 2, 2, 2, 2],
  );
});

/** A base event with a little of everything the comparison meets: nesting, lists, typed arrays, a long string, wide and deep objects. */
function variedEvent(): Record<string, unknown> {
  let deep: unknown = { leaf: 1 };
  for (let level = 0; level < 10; level += 1) deep = { level, inner: deep };
  const wide: Record<string, number> = {};
  for (let index = 0; index < 70; index += 1) wide[`k${index}`] = index;
  return {
    type: 'task/pushed',
    spec: { taskId: 'n1.d1.t1', functionId: 'file:///x.js#f'.repeat(8), args: [{ kind: 'value', payload: { kind: 'inline', data: 1, sizeBytes: 1, refs: [] } }], resources: { CPU: 1 }, retryExceptions: false },
    body: new Uint8Array([1, 2, 3]),
    none: null,
    missing: undefined,
    list: [1, 'two', { three: 3 }],
    wide,
    deep,
    via: { from: 'worker:n1.d1', seq: 1 },
  };
}

/** Small changes to `event` (a copy of `variedEvent()`), picked by `pick`: each kind of difference the comparison must find. */
const variations: ((event: Record<string, unknown>, pick: number) => void)[] = [
  (event, pick) => ((event['spec'] as Record<string, unknown>)['taskId'] = `n1.d1.t${pick}`),
  (event, pick) => ((event['via'] as Record<string, unknown>)['seq'] = pick),
  (event) => ((event['spec'] as Record<string, unknown>)['functionId'] = 'file:///y.js#g'.repeat(8)),
  (event) => (event['spec'] = { ...(event['spec'] as object), extra: true }),
  (event) => {
    const { taskId, ...rest } = event['spec'] as Record<string, unknown>;
    event['spec'] = { ...rest, taskId: `${String(taskId)}x` };
  },
  (event, pick) => (event['via'] = [null, 7, 'via', [1], new Date(0)][pick % 5]),
  (event) => (event['list'] = [1, 'two']),
  (event, pick) => ((event['list'] as unknown[])[2] = pick % 2 === 0 ? { three: 4 } : { four: 4 }),
  (event, pick) => (event['body'] = new Uint8Array([pick % 256])),
  (event, pick) => ((event['wide'] as Record<string, number>)['k66'] = -pick),
  (event, pick) => {
    let inner = event['deep'] as Record<string, unknown>;
    while (typeof inner['inner'] === 'object') inner = inner['inner'] as Record<string, unknown>;
    inner['leaf'] = pick;
  },
  (event) => {
    const wide = event['wide'] as Record<string, number>;
    for (let index = 0; index < 40; index += 1) wide[`k${index}`] = -index - 1;
  },
  (event) => (event['added'] = 1),
  (event) => {
    // Keys that differ after a long string that differs: the walk stops at the string, whatever follows.
    (event['spec'] as Record<string, unknown>)['functionId'] = 'file:///z.js#h'.repeat(8);
    event['spec'] = { ...(event['spec'] as object), extra: 1 };
  },
  (event, pick) => ((event['spec'] as { args: { payload: { data: unknown } }[] }).args[0]!.payload.data = pick % 3 === 0 ? undefined : pick),
  (event) => (event['missing'] = 0),
];

void test('a base compared often is compiled, and its code finds the changes the walk finds, change for change', () => {
  for (const protoKey of [false, true]) {
    const made = variedEvent();
    // An own key named __proto__ is read by name differently than by the walk: such a base is never compiled.
    if (protoKey) Object.defineProperty(made, '__proto__', { value: 1, enumerable: true, writable: true, configurable: true });
    const base = baseOf(1, made) as DeltaBase;
    let state = 12345;
    // The high bits of a linear congruential generator: its low bits repeat with a short period.
    const next = (): number => (state = (state * 1103515245 + 12345) % 2147483648) >>> 16;
    for (let round = 0; round < 400; round += 1) {
      const event = structuredClone(made);
      if (protoKey) Object.defineProperty(event, '__proto__', { value: 1, enumerable: true, writable: true, configurable: true });
      const count = round < 20 ? 0 : 1 + (next() % 3);
      for (let index = 0; index < count; index += 1) (variations[next() % variations.length] as (event: Record<string, unknown>, pick: number) => void)(event, next());
      const expected = changesFrom(base, event);
      const found = collectChanges(base, event);
      assert.equal(found === undefined, expected === undefined, `round ${round}`);
      if (found !== undefined) assert.deepEqual(found.items.slice(0, found.count), expected, `round ${round}`);
      found?.clear();
    }
    assert.equal(typeof base.compiled, protoKey ? 'object' : 'function', protoKey ? 'a base with a __proto__ key is walked' : 'the base was compiled');
    if (protoKey) continue;
    // Another function's pushes: a base of the same shape shares the code, with values of its own.
    const other = variedEvent();
    (other['spec'] as Record<string, unknown>)['functionId'] = 'file:///other.js#g'.repeat(8);
    const otherBase = baseOf(2, other) as DeltaBase;
    for (let round = 0; round < 30; round += 1) {
      const event = structuredClone(other);
      (event['via'] as Record<string, unknown>)['seq'] = round;
      const found = collectChanges(otherBase, event);
      assert.deepEqual(found?.items.slice(0, found.count), changesFrom(otherBase, event));
      found?.clear();
    }
    assert.equal(otherBase.compiled, base.compiled, 'bases of one shape share their code');
    assert.notEqual(otherBase.constants, base.constants);
  }
});
