/**
 * The replay pass in worker threads (node/trace/parallel-replay.ts) against the pass in one thread:
 * the same states at every event, the same ids, the same divergences, and a damaged line caught with
 * the same one-line reason, wherever in the file it is and whichever worker checks it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { snapshotInterval } from '../../../debugger/replay-step.js';
import { loadTrace, openTrace, TraceLoadError } from '../../../debugger/trace-index.js';
import type { LoadOptions, ParallelReplayer, TraceIndex } from '../../../debugger/trace-index.js';
import { balanceGroups, chainRanges, parallelReplayer, replayGroups } from '../../../node/trace/parallel-replay.js';
import type { ParallelReplayOptions } from '../../../node/trace/parallel-replay.js';
import { browseAll, debugTraceText, rechainTrace } from '../../support/debugger-traces.js';

const folder = mkdtempSync(join(tmpdir(), 'tsray-parallel-replay-'));
let files = 0;

/** Writes `text` to a file of its own. */
function traceFile(text: string): string {
  const path = join(folder, `trace-${++files}.jsonl`);
  writeFileSync(path, text);
  return path;
}

/** A replayer that records whether it ran to the end, so a test knows the workers did the pass. */
function watched(path: string, options: ParallelReplayOptions): ParallelReplayer & { ran: boolean } {
  const inner = parallelReplayer(path, options);
  const replayer = {
    ran: false,
    replay: async (...args: Parameters<ParallelReplayer['replay']>) => {
      const problem = await inner.replay(...args);
      replayer.ran = true;
      return problem;
    },
  };
  return replayer;
}

/** Loads the file at `path`, in one thread or (with `parallel`) in worker threads. */
async function load(path: string, options: LoadOptions = {}): Promise<TraceIndex> {
  return loadTrace(readFileSync(path), { pause: () => Promise.resolve(), ...options });
}

/** Everything the replay pass gives, in a form to compare: states at every event, ids, divergences, snapshots. */
function replayed(trace: TraceIndex): unknown {
  const { states, longest, entities } = browseAll(trace);
  const snapshots = trace.addresses.map((_address, addressId) => trace.snapshotsOf(addressId));
  const widest = Math.max(trace.snapshotEvery, ...snapshots.flat().map((snapshot) => snapshotInterval(trace.snapshotEvery, snapshot.length, trace.snapshotBytesPerEvent)));
  assert.ok(longest <= widest, `a seek replayed ${longest} events with snapshots at most ${widest} apart`);
  return { states, entities, snapshots, divergences: [...trace.divergences].sort((a, b) => a[0] - b[0]), complete: trace.complete };
}

/** The failure of loading `path`, in one thread and in worker threads (split as `options` says). */
async function failures(path: string, options: ParallelReplayOptions): Promise<[string, string]> {
  const reasonOf = async (loadOptions: LoadOptions): Promise<string> => {
    try {
      await load(path, loadOptions);
    } catch (error) {
      assert.ok(error instanceof TraceLoadError, String(error));
      return error.message;
    }
    return 'loaded';
  };
  const replayer = watched(path, options);
  const result: [string, string] = [await reasonOf({}), await reasonOf({ parallel: replayer })];
  assert.ok(replayer.ran, 'the workers ran the pass');
  return result;
}

void describe('parallel replay pass', () => {
  let text = '';
  before(() => {
    text = debugTraceText();
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  void test('gives the same states at every event, the same ids and snapshots as the pass in one thread, with small chunks and any chain split', async () => {
    const path = traceFile(text);
    // Few bytes per event, so that the workers space the bigger states' snapshots as the pass in one thread does.
    const expected = replayed(await load(path, { snapshotEvery: 7, snapshotBytesPerEvent: 64 }));
    for (const options of [{ threads: 2 }, { threads: 2, chunkBytes: 4096, firstChainShare: 0.3 }, { threads: 2, chunkBytes: 4096, firstChainShare: 1 }, { threads: 3, chunkBytes: 1000 }]) {
      const replayer = watched(path, options);
      const parallel = await load(path, { snapshotEvery: 7, snapshotBytesPerEvent: 64, parallel: replayer });
      assert.ok(replayer.ran, 'the workers ran the pass');
      assert.deepEqual(replayed(parallel), expected, JSON.stringify(options));
    }
  });

  void test('replays a trace recorded under a broken recipe with that recipe, as the pass in one thread does', async () => {
    const path = new URL('../../../../traces/sim-mutant-double-release.trace.jsonl', import.meta.url);
    const copy = traceFile(readFileSync(path, 'utf8'));
    const replayer = watched(copy, { threads: 2, chunkBytes: 1 << 16 });
    const parallel = await load(copy, { parallel: replayer });
    assert.ok(replayer.ran);
    assert.deepEqual(replayed(parallel), replayed(await load(copy)));
  });

  void test('a recipe that throws stops its component in a worker as in one thread, with the same reason', async () => {
    const lines = text.split('\n');
    const at = lines.findIndex((line) => line.includes('"type":"node/started"'));
    lines[at] = (lines[at] ?? '').replace(/"resources":\{[^}]*\}/, '"resources":null');
    const path = traceFile(rechainTrace(lines));
    const inThread = await load(path);
    // With the trace's own snapshots, no pass runs the reducers: a seek finds the throw.
    const inThreadStates = replayed(inThread);
    assert.equal(inThread.divergences.size, 1);
    const replayer = watched(path, { threads: 2, chunkBytes: 4096 });
    const parallel = await load(path, { parallel: replayer });
    assert.ok(replayer.ran);
    assert.deepEqual(replayed(parallel), inThreadStates);
    assert.match([...parallel.divergences.values()][0]?.reason ?? '', /^seq \d+ node\/started: the raylet recipe threw: /);
  });

  void test('an edited line is caught by its checksum wherever it is, with the reason the pass in one thread gives', async () => {
    const lines = text.split('\n');
    const lastEvent = lines.findLastIndex((line) => line.includes('"atMs":'));
    for (const at of [1, Math.floor(lines.length / 2), lastEvent]) {
      const edited = [...lines];
      edited[at] = (edited[at] ?? '').replace(/"atMs":\d+/, '"atMs":1e308');
      assert.notEqual(edited[at], lines[at]);
      const path = traceFile(edited.join('\n'));
      for (const options of [{ threads: 2, chunkBytes: 4096, firstChainShare: 0.3 }, { threads: 2, firstChainShare: 0.9 }]) {
        const [inThread, parallel] = await failures(path, options);
        assert.equal(parallel, inThread);
        assert.match(parallel, new RegExp(`^line ${at + 1}: the line was changed, moved or removed`));
      }
    }
    // Wherever the split between the workers' ranges falls (small chunks, so it falls across reads too).
    for (let at = 1; at < lastEvent; at += 5) {
      const edited = [...lines];
      edited[at] = (edited[at] ?? '').replace(/"seq":(\d+)/, (_all, seq: string) => `"seq": ${seq}`);
      const path = traceFile(edited.join('\n'));
      const replayer = watched(path, { threads: 2, chunkBytes: 1000, firstChainShare: (at % 7) / 7 });
      await assert.rejects(load(path, { parallel: replayer }), (error: unknown) => error instanceof TraceLoadError && error.message.startsWith(`line ${at + 1}: the line was changed`));
      assert.ok(replayer.ran);
    }
    // The closing line is covered as well (the pass in one thread used to stop at the last event).
    const closed = [...lines];
    const closing = closed.findIndex((line) => line.startsWith('{"end":'));
    closed[closing] = (closed[closing] ?? '').replace(/"sum":"[0-9a-f]{16}"/, '"sum":"0000000000000000"');
    const [inThread, parallel] = await failures(traceFile(closed.join('\n')), { threads: 2 });
    assert.equal(parallel, inThread);
    assert.match(parallel, new RegExp(`^line ${closing + 1}: the line was changed`));
  });

  void test('a worker whose share starts after blank lines, or inside or after a line longer than a read, chains from the line before', async () => {
    const lines = text.split('\n');
    const at = Math.floor(lines.length / 2);
    const seq = (JSON.parse(lines[at - 1] ?? '{}') as { seq?: number }).seq ?? 1;
    const note = JSON.stringify({ note: 'x'.repeat(200_000), seq });
    const chained = rechainTrace([...lines.slice(0, at), note, ...lines.slice(at)]).split('\n');
    // Blank lines stay out of the chain and of the closing line's count.
    const spaced = [...chained.slice(0, at + 1), '', '   ', ...chained.slice(at + 1)];
    const offsetOf = (line: number): number => Buffer.byteLength(spaced.slice(0, line).join('\n')) + (line > 0 ? 1 : 0);
    const size = Buffer.byteLength(spaced.join('\n'));
    const shares = [offsetOf(at), offsetOf(at) + 70_000, offsetOf(at + 1), offsetOf(at + 2), offsetOf(at + 3), offsetOf(at + 3) + 1].map((offset) => offset / size);
    const path = traceFile(spaced.join('\n'));
    const expected = replayed(await load(path, { snapshotEvery: 7 }));
    for (const firstChainShare of shares) {
      const replayer = watched(path, { threads: 2, chunkBytes: 4096, firstChainShare });
      assert.deepEqual(replayed(await load(path, { snapshotEvery: 7, parallel: replayer })), expected, `first share ${firstChainShare}`);
      assert.ok(replayer.ran);
    }
    // A line edited right after the blank lines is caught on its own line number.
    const edited = [...spaced];
    edited[at + 3] = (edited[at + 3] ?? '').replace(/"seq":(\d+)/, (_all, number: string) => `"seq": ${number}`);
    const editedPath = traceFile(edited.join('\n'));
    for (const firstChainShare of shares) {
      const [inThread, parallel] = await failures(editedPath, { threads: 2, chunkBytes: 4096, firstChainShare });
      assert.equal(parallel, inThread);
      assert.match(parallel, new RegExp(`^line ${at + 4}: the line was changed`));
    }
  });

  void test('an event line whose prefix reads well but whose event is malformed is reported, not applied', async () => {
    const lines = text.split('\n');
    const at = lines.findIndex((line) => line.includes('"type":"task/replied"'));
    lines[at] = (lines[at] ?? '').replace(/"result":\{[^}]*\}/, '"result":7');
    const [inThread, parallel] = await failures(traceFile(rechainTrace(lines)), { threads: 2, chunkBytes: 4096 });
    assert.equal(parallel, inThread);
    assert.match(parallel, new RegExp(`^line ${at + 1}: `));
  });

  void test('when the workers cannot run, the pass runs in the calling thread, with the same results', async () => {
    const path = traceFile(text);
    const expected = replayed(await load(path, { snapshotEvery: 7 }));
    // One thread is no parallelism; a file the workers cannot open makes them fail after starting.
    for (const replayer of [parallelReplayer(path, { threads: 1 }), parallelReplayer(join(folder, 'missing.jsonl'), { threads: 2 })]) {
      assert.deepEqual(replayed(await load(path, { snapshotEvery: 7, parallel: replayer })), expected);
    }
  });

  void test('a closed replayer stops its workers and the pass does not start again in the calling thread', async () => {
    const path = traceFile(text);
    const replayer = parallelReplayer(path, { threads: 2, chunkBytes: 1024 });
    const trace = await openTrace(readFileSync(path), { pause: () => Promise.resolve() });
    let settled = false;
    void trace.replayAll({ pause: () => Promise.resolve(), parallel: replayer }).finally(() => (settled = true));
    replayer.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(settled, false);
    assert.equal(trace.complete, false);
    assert.equal(trace.entities.size, 0);
  });

  void test('splits components by their events, and the checksum chain into shares of the file', () => {
    assert.deepEqual(balanceGroups([10, 50, 30, 20], 2), { groups: [[1, 0], [2, 3]], weights: [60, 50] });
    // Weighed by their events (one for component 0, six each for 1 and 2), whatever their bytes; the
    // lighter group comes first.
    const addressIds = Uint16Array.from([0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 1]);
    assert.deepEqual(replayGroups({ addresses: ['worker:n1.d1', 'raylet:n1', 'worker:n1.w1'], addressIds }, 2), [[2], [1, 0]]);
    assert.deepEqual(chainRanges(2, 100), [
      [0, 50],
      [50, Infinity],
    ]);
    assert.deepEqual(chainRanges(3, 100, 0.1), [
      [0, 10],
      [10, 55],
      [55, Infinity],
    ]);
  });
});
