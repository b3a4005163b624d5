/**
 * A run under a named broken recipe records the name in its trace, and replay applies the same
 * recipe: the run replays exactly, up to and including the invariant it broke. Without the name, the
 * real recipe cannot reproduce it; and a break the recording did not end with is still a divergence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { gcsCore } from '../../../../core/gcs/index.js';
import { ownerCore } from '../../../../core/owner/index.js';
import { rayletCore } from '../../../../core/raylet/index.js';
import { mutationNamed, SimFailure, simulate } from '../../../../core/sim/index.js';
import { sharedArgumentProgram } from '../../../../scripts/sim-scenarios.js';
import { decodeTrace } from '../../../../core/trace/decode.js';
import { replayTrace } from '../../../../core/trace/replay.js';
import type { Trace } from '../../../../core/trace/format.js';

const realCores = { gcs: gcsCore, raylet: rayletCore, owner: ownerCore };

function failingTrace(): Trace {
  let text = '';
  try {
    simulate({ seed: 1, program: sharedArgumentProgram, mutation: 'double-release', hashEvery: 4 });
    assert.fail('the broken recipe should break an invariant');
  } catch (error) {
    assert.ok(error instanceof SimFailure, String(error));
    text = error.traceText;
  }
  const decoded = decodeTrace(text);
  assert.ok(E.isRight(decoded));
  return decoded.right;
}

void test('the trace of a run under a broken recipe names it, and replays exactly with it, failure included', () => {
  const trace = failingTrace();
  assert.equal(trace.header.mutation, 'double-release');
  const mutation = mutationNamed('double-release');
  assert.ok(mutation !== undefined);
  const replayed = replayTrace(trace, { ...realCores, ...mutation.cores });
  assert.equal(replayed.ok, true, JSON.stringify(replayed));
  assert.ok(replayed.ok && replayed.checkedHashes > 0 && replayed.reproducedFailure !== undefined);
  assert.match(replayed.reproducedFailure.reason, /kept although nothing references it/);
});

void test('the real recipes do not reproduce that run, and an unrecorded invariant break is a divergence', () => {
  const trace = failingTrace();
  const withReal = replayTrace(trace, realCores);
  assert.equal(withReal.ok, false);
  // The same trace without its failure note: replay breaks the invariant where the recording did not.
  const mutation = mutationNamed('double-release');
  assert.ok(mutation !== undefined);
  const unnoted = replayTrace({ ...trace, notes: trace.notes.filter((note) => !note.note.startsWith('failure: ')) }, { ...realCores, ...mutation.cores });
  assert.equal(unnoted.ok, false);
  assert.ok(!unnoted.ok && /invariants broken/.test(unnoted.reason));
});

void test('an unknown mutation name is refused with the names there are', () => {
  assert.throws(() => simulate({ seed: 1, program: sharedArgumentProgram, mutation: 'no-such' }), /no mutation is called 'no-such'; there are retry-not-counted, double-release/);
});
