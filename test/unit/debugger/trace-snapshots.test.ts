/**
 * A trace's own snapshots and minted ids (format version 3): the writer applies each event with the
 * real reducers and writes them; `replay` checks them against its own replay; the debugger opens the
 * trace from them without running a reducer over every event, and gives the states and ids its own
 * pass gives. A trace of version 2, or one written by other reducers, is still replayed by the pass.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { decodeTrace } from '../../../core/trace/decode.js';
import { TraceWriter, encodeSnapshotLine, splitSum } from '../../../core/trace/format.js';
import type { Trace } from '../../../core/trace/format.js';
import { replayTrace } from '../../../core/trace/replay.js';
import { TraceLoadError, defaultCores } from '../../../debugger/trace-index.js';
import type { LoadOptions } from '../../../debugger/trace-index.js';
import { parallelReplayer } from '../../../node/trace/parallel-replay.js';
import { browseAll, debugTraceText, openTrace, rechainTrace } from '../../support/debugger-traces.js';

const folder = mkdtempSync(join(tmpdir(), 'tsray-trace-snapshots-'));
after(() => rmSync(folder, { recursive: true, force: true }));

function decoded(text: string): Trace {
  const result = decodeTrace(text);
  assert.ok(E.isRight(result), E.isLeft(result) ? result.left.reason : '');
  return result.right;
}

/**
 * `text` written again by a writer that takes a snapshot every `every` events of a component, however
 * big its state (its minted ids dropped first, so the writer finds them).
 */
function rewritten(text: string, every: number): string {
  const trace = decoded(text);
  const writer = new TraceWriter({ cores: defaultCores, snapshotEvery: every, snapshotBytesPerEvent: anyBytes });
  const lines = [writer.line(trace.header), ...trace.entries.map(({ minted: _minted, ...entry }) => writer.line(entry)), ...trace.notes.map((note) => writer.line(note))];
  return `${[...lines, writer.end()].join('\n')}\n`;
}

/** Snapshot bytes per event that no state reaches: a snapshot every K events exactly. */
const anyBytes = 2 ** 40;
const original = debugTraceText();
const every = 3;
const text = rewritten(original, every);
const lines = text.split('\n').filter((line) => line !== '');

void describe('trace snapshots (format version 3)', () => {
  void test('the writer writes a snapshot every K events of a component and the ids each submission minted, and replay checks them all', () => {
    const trace = decoded(text);
    assert.equal(trace.header.formatVersion, 3);
    const snapshots = trace.snapshots ?? [];
    assert.ok(snapshots.length > 20, `${snapshots.length} snapshots`);
    // Every K-th event of its component, from the component's third.
    assert.ok(snapshots.every((snapshot) => (snapshot.position + 1) % every === 0));
    const minted = trace.entries.filter((entry) => entry.minted !== undefined);
    assert.ok(minted.length > 5 && minted.every((entry) => entry.component === 'owner'));
    assert.ok(minted.some((entry) => entry.event.type === 'task/submitted' && (entry.minted?.objectIds.length ?? 0) > 0 && entry.minted?.taskId !== undefined));
    const result = replayTrace(trace, defaultCores, { invariants: 'hashes' });
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.checkedSnapshots, snapshots.length);
  });

  void test('a changed snapshot, or changed minted ids, fail replay though the chain is intact', () => {
    const at = lines.findIndex((line) => line.startsWith('{"snapshot":"worker:'));
    const snapshot = JSON.parse(splitSum(lines[at] ?? '').content) as { snapshot: string; position: number; state: Record<string, unknown> };
    const edited = [...lines];
    edited[at] = encodeSnapshotLine(snapshot.snapshot, snapshot.position, JSON.stringify({ ...snapshot.state, edited: true }));
    const changedState = replayTrace(decoded(rechainTrace(edited)), defaultCores, { invariants: 'hashes' });
    assert.ok(!changedState.ok);
    assert.match(changedState.reason, /the snapshot after this event \(state hash [0-9a-f]{16}\) differs from the replayed state/);

    const mintedAt = lines.findIndex((line) => line.includes('"minted":{'));
    const changedIds = [...lines];
    changedIds[mintedAt] = (lines[mintedAt] ?? '').replace(/"objectIds":\["[^"]+"/, '"objectIds":["n9.x9.p9"');
    const wrongIds = replayTrace(decoded(rechainTrace(changedIds)), defaultCores, { invariants: 'hashes' });
    assert.ok(!wrongIds.ok);
    assert.match(wrongIds.reason, /the trace says the event minted .*n9\.x9\.p9.* but replay mints /);
  });

  void test('the debugger opens from the trace\'s snapshots and gives the states and ids its own pass gives, in one thread or in workers', async () => {
    const own = await openTrace(text, { snapshotEvery: every, snapshotBytesPerEvent: anyBytes });
    assert.equal(own.usesTraceSnapshots, false);
    const expected = browseAll(own);
    const fromTrace = await openTrace(text);
    assert.equal(fromTrace.usesTraceSnapshots, true);
    const got = browseAll(fromTrace);
    assert.deepEqual(got.states, expected.states);
    assert.deepEqual(got.entities, expected.entities);
    // A seek replays from the trace's snapshot before it: at most K events.
    assert.ok(got.longest <= every, `a seek replayed ${got.longest} events`);
    const driver = fromTrace.addresses.indexOf('worker:n1.d1');
    assert.deepEqual(
      fromTrace.snapshotsOf(driver).map((snapshot) => snapshot.position),
      own.snapshotsOf(driver).map((snapshot) => snapshot.position),
    );

    const path = join(folder, 'v3.jsonl');
    writeFileSync(path, text);
    const options: LoadOptions = { parallel: parallelReplayer(path, { threads: 2, chunkBytes: 4096 }) };
    const parallel = await openTrace(text, options);
    assert.equal(parallel.usesTraceSnapshots, true);
    assert.deepEqual(browseAll(parallel).entities, expected.entities);
  });

  void test('a trace of version 2, or written by other reducers, is replayed by the pass and gives the same states', async () => {
    const expected = browseAll(await openTrace(text)).states;
    const v2 = lines
      .filter((line) => !line.startsWith('{"snapshot":'))
      .map((line, at) => (at === 0 ? line.replace('"formatVersion":3', '"formatVersion":2') : line.replace(/"minted":\{[^{}]*\},/, '')));
    const older = await openTrace(rechainTrace(v2));
    assert.equal(older.usesTraceSnapshots, false);
    assert.equal(older.header.formatVersion, 2);
    assert.deepEqual(browseAll(older).states, expected);

    const otherReducers = [...lines];
    otherReducers[0] = (lines[0] ?? '').replace(/"owner":(\d+)/, (_match, version: string) => `"owner":${Number(version) + 1}`);
    const other = await openTrace(rechainTrace(otherReducers));
    assert.equal(other.usesTraceSnapshots, false);
  });

  void test('a snapshot line before any event of its component is a bad line, named', async () => {
    const at = lines.findIndex((line) => line.startsWith('{"snapshot":"gcs"'));
    const moved = [lines[0] ?? '', lines[at] ?? '', ...lines.slice(1).filter((_line, index) => index + 1 !== at)];
    await assert.rejects(openTrace(rechainTrace(moved)), (error: unknown) => error instanceof TraceLoadError && /^line 2: a snapshot of gcs after its event \d+, which is not one of its events before this line/.test(error.message));
  });
});
