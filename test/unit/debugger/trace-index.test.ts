/**
 * Loading a trace for the debugger: every event indexed, states rebuilt from snapshots equal to a
 * full replay's, seeks bounded by the snapshot interval, and bad files refused with one line.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { hashState } from '../../../core/hash.js';
import { decodeTrace } from '../../../core/trace/decode.js';
import { replayTrace } from '../../../core/trace/replay.js';
import { snapshotInterval } from '../../../debugger/replay-step.js';
import { defaultCores, loadTrace, openTrace as openIndex, TraceLoadError } from '../../../debugger/trace-index.js';
import type { TraceIndex } from '../../../debugger/trace-index.js';
import { debugTraceText, openTrace, rechainTrace } from '../../support/debugger-traces.js';

void describe('debugger trace index', () => {
  let text = '';
  let trace: TraceIndex;
  before(async () => {
    text = debugTraceText();
    // Snapshots every 7 events whatever their size: this trace's states are small, but not so small
    // that the default bytes per event would not space some of them further.
    trace = await openTrace(text, { snapshotEvery: 7, snapshotBytesPerEvent: Number.POSITIVE_INFINITY });
  });

  void test('indexes every event line in order, with its seq, time, address and type', () => {
    const decoded = decodeTrace(text);
    assert.ok(E.isRight(decoded));
    const entries = decoded.right.entries;
    assert.equal(trace.count, entries.length);
    entries.forEach((entry, index) => {
      assert.equal(trace.seqs[index], entry.seq);
      assert.equal(trace.times[index], entry.atMs);
      assert.equal(trace.addressOf(index), entry.address);
      assert.equal(trace.typeOf(index), entry.event.type);
      assert.deepEqual(trace.entry(index), entry);
    });
    assert.equal(trace.indexOfSeq(entries[5]?.seq ?? -1), 5);
    assert.equal(trace.notes.length, decoded.right.notes.length);
  });

  void test('the state at any event, rebuilt from the nearest snapshot, equals a full replay; a seek replays at most K events', () => {
    const expected: { index: number; addressId: number; hash: string }[] = [];
    let index = 0;
    replayTrace(decodeTraceRight(text), defaultCores, (entry, state) => {
      expected.push({ index, addressId: trace.addresses.indexOf(entry.address), hash: hashState(state) });
      index++;
    });
    assert.equal(expected.length, trace.count);
    let longest = 0;
    // Last to first, so that each seek starts from a snapshot rather than from a state kept by the seek before.
    for (const { index: at, addressId, hash } of [...expected].reverse()) {
      const state = trace.stateAt(addressId, at);
      assert.ok(state !== undefined);
      assert.equal(hashState(state.state), hash, `state of ${trace.addresses[addressId]} at event ${at}`);
      longest = Math.max(longest, state.replayed);
    }
    assert.ok(longest <= 7, `a seek replayed ${longest} events with snapshots every 7`);
    assert.ok(longest >= 1);
  });

  void test('a big state is snapshotted less often: after a snapshot of L characters, the next comes max(K, L / B) events later', async () => {
    const sparse = await openTrace(text, { snapshotEvery: 2, snapshotBytesPerEvent: 64 });
    let widened = 0;
    let longestGap = 0;
    sparse.addresses.forEach((_address, addressId) => {
      const snapshots = sparse.snapshotsOf(addressId);
      const events = sparse.byAddress[addressId]?.length ?? 0;
      if (events >= 2) assert.equal(snapshots[0]?.position, 1, `first snapshot of ${sparse.addresses[addressId]}`);
      snapshots.forEach((snapshot, at) => {
        const gap = snapshotInterval(2, snapshot.length, 64);
        const next = snapshots[at + 1];
        if (next === undefined) assert.ok(snapshot.position + gap >= events, `${sparse.addresses[addressId]} has no snapshot ${gap} events after position ${snapshot.position}`);
        else assert.equal(next.position - snapshot.position, gap);
        if (gap > 2) widened++;
        longestGap = Math.max(longestGap, gap);
      });
    });
    assert.ok(widened > 0, 'no state was big enough to space its snapshots; the test needs a bigger one');
    // Seeks still give a full replay's state, replaying at most the widest gap.
    let index = 0;
    const expected: { at: number; addressId: number; hash: string }[] = [];
    replayTrace(decodeTraceRight(text), defaultCores, (entry, state) => expected.push({ at: index++, addressId: sparse.addresses.indexOf(entry.address), hash: hashState(state) }));
    for (const { at, addressId, hash } of expected.reverse()) {
      const state = sparse.stateAt(addressId, at);
      assert.equal(hashState(state?.state), hash, `state of ${sparse.addresses[addressId]} at event ${at}`);
      assert.ok((state?.replayed ?? Infinity) <= longestGap);
    }
  });

  void test('stepping on from a state it gave replays one event under immer, and stepping back a few finds their states kept', async () => {
    const stepped = await openTrace(text, { snapshotEvery: 1000 });
    const fresh = (): Promise<TraceIndex> => openTrace(text, { snapshotEvery: 1000 });
    const driver = stepped.addresses.indexOf('worker:n1.d1');
    const events = stepped.byAddress[driver] ?? new Int32Array();
    assert.ok(events.length > 40);
    const target = events[30] ?? 0;
    const far = stepped.stateAt(driver, target, true);
    assert.equal(far?.replayed, 31);
    assert.ok(far?.patches !== undefined);
    assert.ok(Object.isFrozen(far.state));
    for (const position of [31, 32]) {
      const next = stepped.stateAt(driver, events[position] ?? 0, true);
      const expected = (await fresh()).stateAt(driver, events[position] ?? 0, true);
      assert.equal(next?.replayed, 1, `step to position ${position}`);
      assert.equal(hashState(next?.state), hashState(expected?.state));
      assert.deepEqual(next?.patches, expected?.patches);
    }
    const back = stepped.stateAt(driver, events[25] ?? 0, true);
    const expected = (await fresh()).stateAt(driver, events[25] ?? 0, true);
    assert.equal(back?.replayed, 0);
    assert.equal(hashState(back?.state), hashState(expected?.state));
    assert.deepEqual(back?.patches, expected?.patches);
    // Another component's seek starts afresh, and the kept states do not leak into it.
    const gcs = stepped.addresses.indexOf('gcs');
    assert.equal(hashState(stepped.stateAt(gcs, target)?.state), hashState((await fresh()).stateAt(gcs, target)?.state));
  });

  void test('entities are indexed from the events and from the ids the owner minted', () => {
    const task = trace.entities.get('n1.d1.t4');
    assert.ok(task !== undefined);
    assert.ok(task.kinds.has('task'));
    assert.equal(trace.typeOf(task.events[0] ?? -1), 'task/submitted');
    assert.ok(trace.entities.get('n1.d1.a1')?.kinds.has('actor'));
    assert.ok(trace.entities.get('n2')?.kinds.has('node'));
  });

  void test('the index pass alone lists every event; states and ids come with the replay pass', async () => {
    const opened = await openIndex(new TextEncoder().encode(text));
    assert.equal(opened.count, trace.count);
    assert.deepEqual(opened.seqs, trace.seqs);
    assert.deepEqual(opened.parents, trace.parents);
    assert.equal(opened.complete, false);
    assert.equal(opened.stateAt(0, 0), undefined);
    assert.equal(opened.entities.size, 0);
    let updates = 0;
    opened.subscribe(() => updates++);
    await opened.replayAll({ chunkLines: 50, pause: () => Promise.resolve() });
    assert.equal(opened.complete, true);
    assert.ok(updates >= 2);
    assert.equal(opened.entities.size, trace.entities.size);
    assert.equal(hashState(opened.stateAt(3, opened.count - 1)?.state), hashState(trace.stateAt(3, trace.count - 1)?.state));
  });

  void test('a line in another field order is decoded in full by the index pass', async () => {
    const lines = text.split('\n');
    const entry = JSON.parse(lines[12] ?? '') as Record<string, unknown>;
    lines[12] = JSON.stringify({ event: entry['event'], atMs: entry['atMs'], component: entry['component'], address: entry['address'], seq: entry['seq'], ...(entry['parent'] === undefined ? {} : { parent: entry['parent'] }) });
    const reordered = await openTrace(rechainTrace(lines));
    assert.equal(reordered.count, trace.count);
    assert.equal(reordered.seqs[11], trace.seqs[11]);
    assert.equal(reordered.typeOf(11), trace.typeOf(11));
  });

  void test('an edit that changes no state (every atMs set to 1e308) is caught by the checksum chain, and a file cut before its closing line at once', async () => {
    const edited = text.replace(/"atMs":\d+/g, '"atMs":1e308');
    const opened = await openIndex(new TextEncoder().encode(edited));
    await assert.rejects(opened.replayAll({ pause: () => Promise.resolve() }), (error: unknown) => error instanceof TraceLoadError && /line 2: the line was changed, moved or removed/.test(error.message));
    const cut = text.split('\n').slice(0, 20).join('\n');
    await assert.rejects(openIndex(new TextEncoder().encode(cut)), (error: unknown) => error instanceof TraceLoadError && /no closing line: it was cut short/.test(error.message));
  });

  void test('a line whose prefix reads well but whose event is malformed is caught by the replay pass', async () => {
    const lines = text.split('\n');
    const index = lines.findIndex((line) => line.includes('"type":"task/replied"'));
    lines[index] = (lines[index] ?? '').replace(/"result":\{[^}]*\}/, '"result":7');
    const opened = await openIndex(new TextEncoder().encode(lines.join('\n')));
    assert.equal(opened.count, trace.count);
    await assert.rejects(opened.replayAll({ pause: () => Promise.resolve() }), (error: unknown) => error instanceof TraceLoadError && error.message.startsWith(`line ${index + 1}: `));
    assert.match(opened.failure ?? '', new RegExp(`^line ${index + 1}: `));
  });

  void test('a recipe that throws stops only its own component, and the state pane says where', async () => {
    let submissions = 0;
    const owner = {
      ...defaultCores.owner,
      apply: (state: unknown, event: { type: string }) => {
        if (event.type === 'task/submitted' && ++submissions === 3) throw new Error('mutant');
        return defaultCores.owner.apply(state, event) as unknown[];
      },
    };
    const broken = await openTrace(text, { cores: { ...defaultCores, owner } });
    assert.equal(broken.complete, true);
    const driver = broken.addresses.indexOf('worker:n1.d1');
    const third = (broken.byAddress[driver] ?? new Int32Array()).filter((index) => broken.typeOf(index) === 'task/submitted')[2] ?? 0;
    assert.match(broken.divergences.get(driver)?.reason ?? '', /^seq \d+ task\/submitted: the owner recipe threw: mutant$/);
    assert.equal(broken.stateAt(driver, third - 1)?.divergence, undefined);
    assert.match(broken.stateAt(driver, broken.count - 1)?.divergence ?? '', /^replay of worker:n1\.d1 stopped before this event: seq \d+ task\/submitted/);
    const gcs = broken.addresses.indexOf('gcs');
    assert.equal(hashState(broken.stateAt(gcs, broken.count - 1)?.state), hashState(trace.stateAt(gcs, trace.count - 1)?.state));
  });

  void test('reports progress while loading, ending at every byte', async () => {
    const seen: number[] = [];
    await openTrace(text, { chunkLines: 50, onProgress: (progress) => seen.push(progress.bytesDone / progress.bytesTotal) });
    assert.ok(seen.length >= 4, `${seen.length} progress reports`);
    assert.ok(seen.some((fraction) => fraction > 0 && fraction < 1));
    assert.equal(seen.at(-1), 1);
  });

  void test('a truncated, corrupt or unknown-version trace, or an empty file, fails with one line naming the line', async () => {
    const truncated = text.slice(0, Math.floor(text.length / 2));
    await assert.rejects(openTrace(truncated), (error: unknown) => error instanceof TraceLoadError && /^line \d+: /.test(error.message) && !error.message.includes('\n'));
    const lines = text.split('\n');
    lines[20] = '{"seq":';
    lines[30] = 'garbage';
    await assert.rejects(openTrace(lines.join('\n')), (error: unknown) => error instanceof TraceLoadError && /^line 21: .*\(and 1 more bad lines\)$/.test(error.message));
    const newer = text.replace('"formatVersion":3', '"formatVersion":99');
    await assert.rejects(openTrace(newer), /trace format version 99 is newer/);
    await assert.rejects(openTrace(''), /the trace is empty/);
    await assert.rejects(loadTrace(new TextEncoder().encode('not json\n')), /^TraceLoadError: line 1: the header is not valid JSON/);
  });
});

function decodeTraceRight(text: string) {
  const decoded = decodeTrace(text);
  if (E.isLeft(decoded)) throw new Error(decoded.left.reason);
  return decoded.right;
}
