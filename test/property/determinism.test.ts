import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { gcsCore } from '../../core/gcs/index.js';
import { ownerCore } from '../../core/owner/index.js';
import { rayletCore } from '../../core/raylet/index.js';
import type { SimResult } from '../../core/sim/index.js';
import { SimFailure, simulate } from '../../core/sim/index.js';
import { decodeTrace } from '../../core/trace/decode.js';
import { splitSum } from '../../core/trace/format.js';
import type { Trace } from '../../core/trace/format.js';
import { replayTrace } from '../../core/trace/replay.js';
import { assertProperty, numRuns } from '../support/property-harness.js';
import type { RunOptions, RunSample } from '../support/property-run.js';
import { runSampleArbitrary, simOptions } from '../support/property-run.js';
import type { Workload } from '../support/workload.js';
import { resolveWorkload } from '../support/workload.js';

const cores = { gcs: gcsCore, raylet: rayletCore, owner: ownerCore };

/** A run's whole observable outcome as text: its trace, and the failure if it failed. */
function runText(sample: RunSample, options: RunOptions = {}): { trace: string; failure?: string } {
  try {
    const result: SimResult = simulate(simOptions(sample, resolveWorkload(sample.workload), options));
    return { trace: result.traceText() };
  } catch (error) {
    if (error instanceof SimFailure) return { trace: error.traceText, failure: error.message };
    throw error;
  }
}

/** Decodes a trace that must decode cleanly. */
function decoded(text: string): Trace {
  const trace = decodeTrace(text);
  if (E.isLeft(trace)) assert.fail(`the trace does not decode: ${trace.left.reason}`);
  return trace.right;
}

/**
 * The trace without its header line (which names the apply mode) and without the checksums, which
 * chain from the header and so differ on every line.
 */
const body = (trace: string): string =>
  trace
    .slice(trace.indexOf('\n') + 1)
    .split('\n')
    .map((line) => splitSum(line).content)
    .join('\n');

/** A fixed workload with tasks, a nested call, a stored value, an actor and a ref in a return value. */
const fixedWorkload: Workload = [
  { op: 'task', body: 'add', args: [{ kind: 'lit', n: 1 }, { kind: 'lit', n: 2 }], maxRetries: 3, retryExceptions: false, numReturns: 1 },
  { op: 'task', body: 'big', args: [{ kind: 'ref', pick: 0 }], maxRetries: 3, retryExceptions: false, numReturns: 1 },
  { op: 'actor', start: 100, maxRestarts: 1, maxTaskRetries: 1, maxConcurrency: 1 },
  { op: 'call', actor: 0, arg: { kind: 'ref', pick: 1 } },
  { op: 'task', body: 'nested', args: [{ kind: 'nested', picks: [2] }], maxRetries: 3, retryExceptions: false, numReturns: 1 },
  { op: 'task', body: 'returnsRef', args: [{ kind: 'lit', n: 7 }], maxRetries: 3, retryExceptions: false, numReturns: 1 },
  { op: 'call', actor: 0, arg: { kind: 'lit', n: 5 } },
];

void describe('determinism', () => {
  void it('the same seed, workload and faults give byte-identical traces', () => {
    const property = fc.property(runSampleArbitrary(), (sample) => {
      const first = runText(sample);
      const second = runText(sample);
      assert.equal(second.failure, first.failure);
      assert.ok(second.trace === first.trace, 'two runs of the same sample wrote different traces');
    });
    assertProperty('byte-identical traces', property, numRuns(200));
  });

  void it("mode 'both' finds immer and direct application identical, and the run unchanged", () => {
    const property = fc.property(runSampleArbitrary(), (sample) => {
      const direct = runText(sample, { mode: 'direct' });
      const both = runText(sample, { mode: 'both' });
      // A hash difference between immer and direct fails the run in mode 'both' with its own message.
      assert.equal(both.failure, direct.failure);
      assert.ok(body(both.trace) === body(direct.trace), "mode 'both' ran differently from mode 'direct'");
    });
    assertProperty("mode 'both'", property, numRuns(30));
  });

  void it('a recorded trace decodes and replays with every recorded hash reproduced', () => {
    const property = fc.property(runSampleArbitrary(), (sample) => {
      const run = runText(sample, { hashEvery: 10 });
      const trace = decoded(run.trace);
      assert.deepEqual(trace.rejected, []);
      // A failed run's trace is closed and chained too, so it is not mistaken for a truncated one.
      assert.deepEqual(trace.integrity, []);
      const replay = replayTrace(trace, cores);
      if (run.failure === undefined) {
        assert.ok(replay.ok, `replay diverged: ${replay.ok ? '' : replay.reason}`);
        assert.equal(replay.events, trace.entries.length);
        assert.ok(replay.checkedHashes > 0, 'no recorded hash was compared');
        assert.equal(replay.skippedHashes, 0);
      } else {
        // A failed run's trace ends at the event that broke it; replay may only stop there.
        const last = trace.entries[trace.entries.length - 1];
        assert.ok(replay.ok || replay.seq === last?.seq, `replay of a failed run diverged before its end: ${replay.ok ? '' : replay.reason}`);
      }
    });
    assertProperty('trace replay', property, numRuns(200));
  });

  void it('a corrupted event line is reported by seq and source, and replay goes on until the gap shows', () => {
    const sample: RunSample = { workload: fixedWorkload, faults: { dropRate: 0.05, jitterMs: 3 }, simSeed: 7 };
    const run = runText(sample, { hashEvery: 10 });
    assert.equal(run.failure, undefined);
    const lines = run.trace.split('\n');
    // Corrupt the first message the driver receives after its first recorded hash: a delivered
    // message always changes the receiver's state (its inbox), and the driver's next hash is then
    // about ten of its events later, with other instances' events in between.
    const isDriver = (line: string): boolean => line.includes('"address":"worker:n1.d1"');
    const firstHash = lines.findIndex((line) => isDriver(line) && line.includes('"hash":'));
    const index = lines.findIndex((line, i) => i > firstHash && isDriver(line) && line.includes('"via":'));
    assert.ok(firstHash > 0 && index > firstHash, 'the driver has a hashed event and receives a message after it');
    const original = JSON.parse(lines[index] ?? '') as { seq: number; address: string };
    const corrupted = [...lines];
    corrupted[index] = (lines[index] ?? '').slice(0, Math.floor((lines[index] ?? '').length / 2));

    const trace = decoded(corrupted.join('\n'));
    assert.equal(trace.rejected.length, 1);
    const [rejection] = trace.rejected;
    assert.equal(rejection?.lineNumber, index + 1);
    assert.equal(rejection?.seq, original.seq);
    assert.equal(rejection?.source, original.address);
    assert.match(rejection?.reason ?? '', /not valid JSON/);
    assert.equal(trace.entries.length, decoded(run.trace).entries.length - 1);

    let applied = 0;
    const replay = replayTrace(trace, cores, () => {
      applied += 1;
    });
    // What happens: every other instance replays on untouched, and the driver, one event short,
    // diverges at its next recorded hash after the gap.
    assert.equal(replay.ok, false);
    if (replay.ok) return;
    assert.equal(replay.address, original.address);
    assert.ok(replay.seq > original.seq, `diverged at seq ${replay.seq}, before the gap at ${original.seq}`);
    assert.match(replay.reason, /state hash .* differs from the recorded/);
    assert.ok(replay.expectedHash !== undefined && replay.actualHash !== undefined);
    assert.equal(applied, trace.entries.findIndex((entry) => entry.seq === replay.seq) + 1);
    const afterGap = trace.entries.filter((entry) => entry.seq > original.seq && entry.seq < replay.seq);
    assert.ok(afterGap.length > 0, 'events after the gap were replayed before the divergence');
    console.log(`corrupted line ${index + 1} (seq ${original.seq}, ${original.address}): rejected; replay applied ${afterGap.length} events after the gap and diverged at seq ${replay.seq}: ${replay.reason}`);
  });
});
