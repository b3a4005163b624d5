// Tests for the trace file format, its decoder and replay against recorded state hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from 'fp-ts/lib/Either.js';
import type { ComponentCore } from '../../../core/component.js';
import { hashState } from '../../../core/hash.js';
import { applyDirect } from '../../../core/step.js';
import { decodeTrace } from '../../../core/trace/decode.js';
import { TraceWriter } from '../../../core/trace/format.js';
import type { ComponentKind, Trace, TraceEntry, TraceHeader, TraceNote } from '../../../core/trace/format.js';
import { replayTrace } from '../../../core/trace/replay.js';

interface CounterState {
  total: number;
  seen: string[];
}
type CounterEvent = { type: 'counter/added'; by: number; label: string } | { type: 'counter/exploded' };

/** A tiny core per component kind: a running total and the labels seen; one event always throws. */
function counterCore(kind: ComponentKind): ComponentCore<CounterState, CounterEvent, never> {
  return {
    kind,
    version: 3,
    initial: () => ({ total: 0, seen: [] }),
    apply: (state, event) => {
      if (event.type === 'counter/exploded') throw new Error('boom');
      state.total += event.by;
      state.seen.push(event.label);
      return [];
    },
    invariants: (state) => (state.total > 100 ? [`total ${state.total} is over 100`] : []),
  };
}

const cores = { gcs: counterCore('gcs'), raylet: counterCore('raylet'), owner: counterCore('owner') };

const header: TraceHeader = {
  kind: 'tsray-trace',
  formatVersion: 2,
  reducers: { gcs: 3, raylet: 3, owner: 3 },
  createdBy: 'sim',
  cluster: { nodes: [{ nodeId: 'n1', resources: { CPU: 2 } }] },
  seed: '42',
  workload: 'counter',
};

const route: [string, ComponentKind][] = [
  ['gcs', 'gcs'],
  ['raylet:n1', 'raylet'],
  ['worker:n1.d1', 'owner'],
];

/** Records `count` events round-robin over three components, hashing every second event, as the simulator would. */
function record(count: number): TraceEntry[] {
  const states = new Map<string, CounterState>();
  const entries: TraceEntry[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const [address, component] = route[seq % route.length]!;
    const state = states.get(address) ?? cores[component].initial();
    states.set(address, state);
    const event: CounterEvent = { type: 'counter/added', by: seq % 4, label: `e${seq}` };
    applyDirect(cores[component], state, event);
    entries.push({ seq, address, component, atMs: seq * 10, ...(seq > 1 ? { parent: seq - 1 } : {}), event, ...(seq % 2 === 0 ? { hash: hashState(state) } : {}) });
  }
  return entries;
}

function encode(lines: readonly string[]): string {
  return lines.join('\n') + '\n';
}

/** The lines of a trace as `TraceWriter` writes them (chained), closing line last. */
function written(lines: readonly (TraceHeader | TraceEntry | TraceNote)[]): string[] {
  const writer = new TraceWriter();
  const text = lines.map((line) => writer.line(line));
  return [...text, writer.end()];
}

function decoded(text: string): Trace {
  const result = decodeTrace(text);
  assert.ok(E.isRight(result), E.isLeft(result) ? result.left.reason : '');
  return result.right;
}

void test('encode and decode round trip, notes kept apart', () => {
  const entries = record(9);
  const text = encode(written([header, ...entries, { note: 'fault: dropped a message', seq: 9 }]));
  assert.ok(text.startsWith('{"kind":"tsray-trace","formatVersion":2,'));
  assert.ok(text.split('\n')[1]!.startsWith('{"seq":1,"address":"raylet:n1","component":"raylet","atMs":10,"event":{"type":"counter/added",'));
  const trace = decoded(text);
  assert.deepEqual(trace.header, header);
  assert.deepEqual(trace.entries, entries);
  assert.deepEqual(trace.notes, [{ note: 'fault: dropped a message', seq: 9 }]);
  assert.deepEqual(trace.rejected, []);
  assert.deepEqual(trace.integrity, []);
});

void test('replay reproduces every recorded hash', () => {
  const steps: number[] = [];
  const result = replayTrace(decoded(encode(written([header, ...record(12)]))), cores, {
    onStep: (entry, state, patches) => {
      steps.push(entry.seq);
      assert.ok(Object.isFrozen(state));
      assert.ok(patches.length > 0);
    },
  });
  assert.deepEqual(result, { ok: true, events: 12, checkedHashes: 6, skippedHashes: 0 });
  assert.equal(steps.length, 12);
});

void test('a corrupted line is reported with its line number and seq, and skipped', () => {
  const lines = written([header, ...record(6)]);
  lines[3] = lines[3]!.slice(0, 40); // seq 3, cut short
  lines[5] = lines[5]!.replace('"component":"owner"', '"component":"gcs"'); // seq 5 at worker:n1.d1, claimed by the gcs
  const trace = decoded(encode(lines));
  assert.deepEqual(
    trace.entries.map((entry) => entry.seq),
    [1, 2, 4, 6],
  );
  assert.equal(trace.rejected.length, 2);
  const [cut, misattributed] = trace.rejected;
  assert.equal(cut!.lineNumber, 4);
  assert.equal(cut!.seq, 3);
  assert.equal(cut!.source, 'gcs');
  assert.match(cut!.reason, /^line 4: seq 3 \(gcs\): not valid JSON .*collect it again/);
  assert.equal(misattributed!.lineNumber, 6);
  assert.equal(misattributed!.seq, 5);
  assert.equal(misattributed!.source, 'worker:n1.d1');
  assert.match(misattributed!.reason, /^line 6: seq 5 \(worker:n1\.d1\): address 'worker:n1\.d1' does not belong to a gcs/);
  for (const rejection of trace.rejected) assert.doesNotMatch(rejection.reason, /\n/);
  // A rejected line is reported once: the chain resumes after it.
  assert.deepEqual(trace.integrity, []);
});

void test('a message event that fails the protocol check, or a seq out of order, is rejected', () => {
  const good = { seq: 1, address: 'raylet:n1', component: 'raylet', atMs: 0 } as const;
  const badMessage = { ...good, seq: 2, event: { type: 'lease/granted', leaseId: 'l1', workerId: 5, nodeId: 'n1', via: { from: 'gcs', incarnation: 0, seq: 0 } } };
  const repeated = { ...good, event: { type: 'counter/added', by: 1, label: 'x' } };
  const writer = new TraceWriter();
  const trace = decoded(encode([writer.line(header), JSON.stringify(repeated), JSON.stringify(badMessage), JSON.stringify(repeated)]));
  assert.equal(trace.entries.length, 1);
  assert.equal(trace.rejected.length, 2);
  assert.match(trace.rejected[0]!.reason, /^line 3: seq 2 \(raylet:n1\): message 'lease\/granted' field 'workerId' should be a string/);
  assert.match(trace.rejected[1]!.reason, /^line 4: seq 1 \(raylet:n1\): seq 1 does not follow seq 1/);
});

void test('a bad header is a Left', () => {
  const entries = written(record(2));
  const noHeader = decodeTrace(encode(entries));
  assert.ok(E.isLeft(noHeader));
  assert.equal(noHeader.left.lineNumber, 1);
  assert.match(noHeader.left.reason, /not a tsray trace/);
  const future = decodeTrace(encode([JSON.stringify({ ...header, formatVersion: 4 }), ...entries]));
  assert.ok(E.isLeft(future) && /newer than this tsray reads \(3\); upgrade tsray/.test(future.left.reason));
  const old = decodeTrace(encode([JSON.stringify({ ...header, formatVersion: 1 }), ...entries]));
  assert.ok(E.isLeft(old) && /^line 1: trace format version 1 is older than this tsray reads \(2 and later .*record or collect the trace again$/.test(old.left.reason));
  const broken = decodeTrace('\n{"kind":"tsray-trace",\n');
  assert.ok(E.isLeft(broken) && broken.left.lineNumber === 2 && /not valid JSON/.test(broken.left.reason));
  assert.ok(E.isLeft(decodeTrace('')));
});

void test('replay detects a tampered hash and names the seq', () => {
  const entries = record(8);
  const tampered = entries.map((entry) => (entry.seq === 6 ? { ...entry, hash: '0123456789abcdef' } : entry));
  const result = replayTrace(decoded(encode(written([header, ...tampered]))), cores);
  assert.equal(result.ok, false);
  assert.ok(!result.ok);
  assert.equal(result.seq, 6);
  assert.equal(result.address, 'gcs');
  assert.equal(result.expectedHash, '0123456789abcdef');
  // The gcs saw seq 3 (by 3) and seq 6 (by 2).
  assert.equal(result.actualHash, hashState({ total: 5, seen: ['e3', 'e6'] }));
  assert.match(result.reason, /^seq 6 gcs counter\/added: state hash [0-9a-f]{16} differs from the recorded 0123456789abcdef/);
});

void test('a recipe that throws or breaks an invariant is reported, not rethrown', () => {
  const exploding: TraceEntry = { seq: 3, address: 'worker:n1.d1', component: 'owner', atMs: 0, event: { type: 'counter/exploded' } };
  const thrown = replayTrace({ header, entries: [...record(2), exploding], notes: [], rejected: [] }, cores);
  assert.deepEqual(thrown, { ok: false, seq: 3, address: 'worker:n1.d1', reason: 'seq 3 worker:n1.d1 counter/exploded: the owner recipe threw: Error: boom' });
  const big: CounterEvent = { type: 'counter/added', by: 101, label: 'big' };
  const overflow: TraceEntry = { seq: 1, address: 'gcs', component: 'gcs', atMs: 0, event: big };
  const broken = replayTrace({ header, entries: [overflow], notes: [], rejected: [] }, cores);
  assert.ok(!broken.ok && /^seq 1 gcs counter\/added: 1 gcs invariant broken: total 101 is over 100$/.test(broken.reason));
});

void test('hashes recorded by another reducer version are skipped, not compared', () => {
  const trace = decoded(encode(written([{ ...header, reducers: { gcs: 2, raylet: 3, owner: 3 } }, ...record(6)])));
  const result = replayTrace(trace, cores);
  assert.deepEqual(result, { ok: true, events: 6, checkedHashes: 2, skippedHashes: 1 });
});

void test('replay gives the same verdicts applying recipes directly or under immer; patches need immer', () => {
  const entries = record(8);
  const tampered = entries.map((entry) => (entry.seq === 6 ? { ...entry, hash: '0123456789abcdef' } : entry));
  for (const trace of [decoded(encode(written([header, ...entries]))), decoded(encode(written([header, ...tampered])))]) {
    assert.deepEqual(replayTrace(trace, cores, { mode: 'direct' }), replayTrace(trace, cores, { mode: 'immer' }));
  }
  assert.throws(() => replayTrace(decoded(encode(written([header, ...entries]))), cores, { mode: 'direct', onStep: () => undefined }), /onStep needs mode immer/);
});

void test('with invariants checked only where the recording compares, a break is still found there, and nowhere else is checked', () => {
  const big: CounterEvent = { type: 'counter/added', by: 101, label: 'big' };
  const entries = [...record(2), { seq: 3, address: 'gcs', component: 'gcs', atMs: 0, event: big } as TraceEntry];
  const trace = { header, entries, notes: [], rejected: [] };
  // Seq 3 is the gcs's last event: checked there either way.
  for (const invariants of ['every', 'hashes'] as const) {
    const result = replayTrace(trace, cores, { invariants });
    assert.ok(!result.ok && result.seq === 3 && /total 101 is over 100/.test(result.reason));
  }
  // A break that a later event repairs, at an event with no hash, is seen only after every event.
  const repair: CounterEvent = { type: 'counter/added', by: -100, label: 'repair' };
  const repaired = { ...trace, entries: [...entries, { seq: 4, address: 'gcs', component: 'gcs', atMs: 0, event: repair } as TraceEntry] };
  assert.equal(replayTrace(repaired, cores, { invariants: 'every' }).ok, false);
  assert.equal(replayTrace(repaired, cores, { invariants: 'hashes' }).ok, true);
});
