/**
 * Pipelining and fairness: a burst of tiny tasks is pipelined deeply (the depth follows how long
 * tasks take), yet a long task at the head of a burst does not hold tasks pushed behind it while the
 * other worker runs out of work. A worker runs its pushed tasks in order, and a synchronous body
 * holds its thread, so tasks pushed behind a long one cannot be taken back: with a fixed depth of 16,
 * the long task's worker held 10 to 15 short tasks and ran them after it, while the other worker
 * sat idle.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { setRuntime } from '../../../../node/runtime/context.js';
import { EmbeddedCluster } from '../../../../node/runtime/embedded.js';
import { eventually } from '../../../support/eventually.js';

const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-pipeline-fairness-'));
let cluster: EmbeddedCluster | undefined;

before(async () => {
  cluster = await EmbeddedCluster.start({ namespace: 'default', numCpus: 2, sessionDir });
  setRuntime(cluster.driver);
});

after(async () => {
  setRuntime(undefined);
  await cluster?.stop();
  rmSync(sessionDir, { recursive: true, force: true });
});

function depthNow(): number {
  if (cluster === undefined) throw new Error('the cluster did not start');
  return cluster.driver.state.config.maxTasksInFlightPerLease ?? 1;
}

const plusOne = tsray.remote((value: number) => value + 1);

/** Holds its worker's thread for `ms` (a synchronous body, as CPU-bound work is), and says where and when it ran. */
const busy = tsray.remote((ms: number) => {
  const startedMs = Date.now();
  while (Date.now() < startedMs + ms);
  return { workerId: tsray.getRuntimeContext().workerId, startedMs, endedMs: Date.now() };
});

void test('a burst of tiny tasks is pipelined deeply, and the depth goes back to 1 once the work is done', async () => {
  // Warm the leases: tasks awaited one at a time are never pipelined.
  for (let index = 0; index < 20; index += 1) assert.equal(await tsray.get(plusOne.remote(index)), index + 1);
  assert.equal(depthNow(), 1);
  let deepest = 0;
  const refs = Array.from({ length: 3000 }, (_, index) => plusOne.remote(index));
  const values = await Promise.all(
    refs.map((ref) =>
      tsray.get(ref).then((value) => {
        deepest = Math.max(deepest, depthNow());
        return value;
      }),
    ),
  );
  assert.deepEqual(
    values,
    Array.from({ length: 3000 }, (_, index) => index + 1),
  );
  assert.ok(deepest >= 8, `tiny tasks were pipelined at most ${deepest} deep`);
  assert.equal(await eventually(() => Promise.resolve(depthNow()), (depth) => depth === 1, 100), 1);
});

void test('a long task at the head of a burst holds no tasks behind it while the other worker runs out of work', async (t) => {
  // Tiny tasks first, as a program runs them before its heavy part: the depth they reached must not carry over.
  await tsray.get(Array.from({ length: 2000 }, (_, index) => plusOne.remote(index)));
  assert.equal(await eventually(() => Promise.resolve(depthNow()), (depth) => depth === 1, 100), 1);
  const longMs = 500;
  const shortMs = 10;
  const shorts = 30;
  const started = Date.now();
  const runs = await tsray.get<{ workerId: string; startedMs: number; endedMs: number }[]>([busy.remote(longMs), ...Array.from({ length: shorts }, () => busy.remote(shortMs))], { timeout: 30_000 });
  const workers = [...new Set(runs.map((run) => run.workerId))];
  assert.equal(workers.length, 2, `the tasks ran on ${workers.length} workers`);
  const lastEnd = new Map(workers.map((workerId) => [workerId, Math.max(...runs.filter((run) => run.workerId === workerId).map((run) => run.endedMs))]));
  // A task that started well after the other worker ran out of work waited in a queue that worker could have taken.
  const slackMs = 3 * shortMs;
  const waited = runs.filter((run) => workers.some((other) => other !== run.workerId && run.startedMs > (lastEnd.get(other) ?? 0) + slackMs));
  const runMs = Math.max(...lastEnd.values()) - Math.min(...runs.map((run) => run.startedMs));
  const figures = `the workers ended ${[...lastEnd.values()].map((end) => end - started).join(' and ')} ms after the submission; ${waited.length} tasks started over ${slackMs} ms after the other worker ran out of work; the tasks ran for ${runMs} ms`;
  t.diagnostic(figures);
  // The short tasks fit beside the long one (30 x 10 ms < 500 ms): the ideal is the long task alone.
  // A fixed depth of 16 queued 9 to 15 short tasks behind it, which ran after it while the other
  // worker sat idle, and the tasks ran for 605-741 ms (500-515 ms adaptive on a quiet machine). The
  // time a task takes is held by its body whatever the machine's load, but the gaps between tasks
  // are not (671 ms at a load average of 21, with no task waiting), so the run's length is only reported.
  assert.equal(waited.length, 0, `tasks waited behind the long one while the other worker was idle (${figures})`);
});
