/**
 * Ordinary tsray code in the simulator (`simulate` of tsray/sim): the same script `node SCRIPT`
 * runs gives the same answers, each run is a function of its seed and plan, faults reach the code
 * as they would live, and every way a run can go wrong is reported with its reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as tsray from '../../../../node/public.js';
import { faultPlans, SimFailure, simulate } from '../../../../node/sim/index.js';
import { Peer } from '../../../support/peer-ring.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const everything = join(root, 'test/fixtures/sim/everything.mjs');
const work = mkdtempSync(join(tmpdir(), 'tsray-script-sim-'));

/** The JSON line a fixture printed, without what differs between runs by design (clocks, randomness). */
function answers(line: string | undefined): Record<string, unknown> {
  assert.ok(line !== undefined, 'the script printed its answers');
  const parsed = JSON.parse(line) as Record<string, unknown>;
  delete parsed['clock'];
  return parsed;
}

void describe('simulate', () => {
  after(() => rmSync(work, { recursive: true, force: true }));

  void test('an ordinary script runs unchanged and gives the answers it gives live', async () => {
    const live = spawnSync(process.execPath, [everything], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(live.status, 0, live.stderr);
    const simulated = await simulate(everything, { seed: 3, captureOutput: true });
    assert.equal(simulated.ok, true, String(simulated.error));
    assert.deepEqual(answers(simulated.output[0]), answers(live.stdout.trim()));
    // The trace replays to the recorded hashes.
    const path = join(work, 'everything.jsonl');
    writeFileSync(path, simulated.trace);
    const replay = spawnSync(process.execPath, [join(root, 'dist/node/cli/main.js'), 'replay', path, '--verify'], { encoding: 'utf8' });
    assert.equal(replay.status, 0, replay.stdout + replay.stderr);
  });

  void test('the same seed and plan give a byte-identical trace; clocks and Math.random are the run\'s, and real again after', async () => {
    const faults = { dropRate: 0.1, duplicateRate: 0.1, jitterMs: 5, scheduled: [{ atMs: 30, kind: 'worker-crash' as const, target: 1 }] };
    const first = await simulate(everything, { seed: 7, faults, captureOutput: true });
    const second = await simulate(everything, { seed: 7, faults, captureOutput: true });
    const other = await simulate(everything, { seed: 8, faults, captureOutput: true });
    assert.equal(first.trace, second.trace);
    assert.notEqual(first.trace, other.trace);
    assert.deepEqual(first.output, second.output);
    const clock = (run: typeof first): { date: number; random: number } => (JSON.parse(run.output[0] ?? '{}') as { clock: { date: number; random: number } }).clock;
    assert.ok(clock(first).date >= Date.UTC(2024, 0, 1) && clock(first).date < Date.UTC(2024, 0, 2), 'Date.now is virtual, from 2024-01-01');
    assert.notEqual(clock(first).random, clock(other).random);
    assert.ok(Math.abs(Date.now() - new Date().getTime()) < 1000 && Date.now() > Date.UTC(2025, 0, 1), 'real time is back');
  });

  void test('process.exit in a task ends its simulated worker: the task is retried, or fails with WorkerCrashedError; its timers never fire', async () => {
    const run = await simulate(async () => {
      await tsray.init();
      class Tally {
        counts: Record<string, number> = {};
        arrive(key: string): number {
          this.counts[key] = (this.counts[key] ?? 0) + 1;
          return this.counts[key];
        }
        read(key: string): number {
          return this.counts[key] ?? 0;
        }
      }
      const tally = tsray.remote(Tally).remote();
      const crashOnce = tsray.remote(async (counter: typeof tally, job: string) => {
        const attempt = await tsray.get(counter.arrive.remote(job));
        // A timer of this worker: it fires only if the worker lives on.
        setTimeout(() => void counter.arrive.remote('timers'), 1);
        if (attempt === 1) process.exit(1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        return attempt;
      });
      const retried = await tsray.get(crashOnce.options({ maxRetries: 2 }).remote(tally, 'first'));
      let error: unknown;
      try {
        await tsray.get(crashOnce.options({ maxRetries: 0 }).remote(tally, 'second'));
      } catch (caught) {
        error = caught;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { retried, error, timers: await tsray.get(tally.read.remote('timers')) };
    }, { seed: 1 });
    assert.equal(run.ok, true, String(run.error));
    assert.equal(run.value?.retried, 2);
    assert.ok(run.value?.error instanceof tsray.WorkerCrashedError, String(run.value?.error));
    // Only the retry that lived kept its timer; the two workers that exited dropped theirs.
    assert.equal(run.value?.timers, 1);
  });

  void test('a script that throws, breaks an invariant, waits for ever or on something outside fails with its reason', async () => {
    const threw = await simulate(async () => {
      await tsray.init();
      await tsray.get(tsray.put(1));
      throw new RangeError('the script gave up');
    });
    assert.equal(threw.ok, false);
    assert.ok(threw.error instanceof RangeError);
    assert.match(threw.trace, /failure: Error: the script threw RangeError: the script gave up/);

    // A broken recipe (retries never counted) turns a crashing task into endless retries: the run
    // cannot settle, and its liveness check says what the script still waits for.
    const mutant = await simulate(async () => {
      await tsray.init();
      const crash = tsray.remote(() => process.exit(1), { maxRetries: 2 });
      return tsray.get(crash.remote());
    }, { seed: 1, mutation: 'retry-not-counted', maxTimeMs: 3000 });
    assert.equal(mutant.ok, false);
    assert.ok(mutant.error instanceof SimFailure);
    assert.match(String(mutant.error), /liveness: the driver had not finished by 3000 ms \(maxTimeMs\): the script waits in get for n1\.d1\.t1\.r0, which waits for task anonymous \(attempt 1\)/);
    const honest = await simulate(async () => {
      await tsray.init();
      const crash = tsray.remote(() => process.exit(1), { maxRetries: 2 });
      return tsray.get(crash.remote()).catch((error: unknown) => (error as Error).constructor.name);
    }, { seed: 1, maxTimeMs: 3000 });
    assert.equal(honest.value, 'WorkerCrashedError');

    const forever = await simulate(async () => {
      await tsray.init();
      const hang = tsray.remote(async () => new Promise(() => undefined));
      return tsray.get(hang.remote());
    }, { seed: 1, maxTimeMs: 3000 });
    assert.equal(forever.ok, false);
    assert.match(String(forever.error), /liveness: the driver had not finished by 3000 ms \(maxTimeMs\): the script waits in get for n1\.d1\.t1\.r0, which waits for task anonymous \(attempt 1\), running on node n\d \(worker n\d\.w\d+\)/);

    // Two actors that each wait, inside a call, for a call to the other: the report follows the wait
    // through the workers that host the calls and names the cycle.
    const deadlock = await simulate(async () => {
      await tsray.init();
      const a = tsray.remote(Peer).remote();
      const b = tsray.remote(Peer).remote();
      await tsray.get([a.setPeer.remote(b), b.setPeer.remote(a)]);
      return tsray.get(a.ping.remote(3));
    }, { seed: 1, maxTimeMs: 3000 });
    assert.equal(deadlock.ok, false);
    assert.match(String(deadlock.error), /liveness: .*the script waits in get for n1\.d1\.t(\d+)\.r0, which waits for task ping \(attempt 1\), running on node n\d \(worker \S+\); it waits in get for \S+; .* is queued on worker \S+ behind n1\.d1\.t\1: a deadlock \(n1\.d1\.t\1 → \S+ → \S+ → n1\.d1\.t\1\)/);

    const outside = await simulate(async () => {
      await tsray.init();
      // A promise only something outside the run could settle.
      await new Promise(() => undefined);
    }, { seed: 1, stallGraceMs: 50 });
    assert.equal(outside.ok, false);
    assert.match(String(outside.error), /stall: the script waits, but nothing simulated is left to happen .*it may wait on real I\/O/);
  });

  void test('faultPlans drives a fast-check property over simulated runs, with its seed printed', async () => {
    const seed = Number(process.env['TSRAY_PROPERTY_SEED'] ?? Date.now() % 1_000_000);
    console.log(`faultPlans property seed ${seed}`);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(faultPlans({ faultPhaseMs: 500 }), async (faults) => {
        runs += 1;
        const run = await simulate(async () => {
          await tsray.init();
          const square = tsray.remote((x: number) => x * x, { maxRetries: 10 });
          return tsray.get([1, 2, 3, 4].map((x) => square.remote(x)));
        }, { seed: runs, faults, faultPhaseMs: 500, record: false });
        return run.ok && JSON.stringify(run.value) === '[1,4,9,16]';
      }),
      { seed, numRuns: 15 },
    );
    assert.equal(runs, 15);
  });

  void test('bad arguments are refused with a one-line reason', async () => {
    await assert.rejects(simulate(42 as unknown as string), /simulate takes an async function or a script path, not number/);
    const busy = simulate(async () => tsray.init());
    await assert.rejects(simulate(() => undefined), /a simulated run is already going on in this process/);
    assert.equal((await busy).ok, true);
  });
});
