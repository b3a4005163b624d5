/**
 * `TSRAY_EVENT_LOG=off` turns event logging off (to measure what it costs): the run works as usual and
 * its session holds no event log, of the main thread's components or of its workers. A value it cannot
 * take fails `init` with a line naming the variable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { openSessionLogs } from '../../../../node/store/event-log.js';

const plusOne = tsray.remote((value: number) => value + 1);

class Counter {
  total = 0;
  add(amount: number): number {
    this.total += amount;
    return this.total;
  }
}

/** Runs `body` with TSRAY_EVENT_LOG set to `value`, then restores the variable. */
async function withEventLog<T>(value: string | undefined, body: () => Promise<T>): Promise<T> {
  const before = process.env['TSRAY_EVENT_LOG'];
  if (value === undefined) delete process.env['TSRAY_EVENT_LOG'];
  else process.env['TSRAY_EVENT_LOG'] = value;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env['TSRAY_EVENT_LOG'];
    else process.env['TSRAY_EVENT_LOG'] = before;
  }
}

/** Runs tasks and actor calls in a fresh cluster in `sessionDir`; returns what they gave. */
async function run(sessionDir: string): Promise<unknown[]> {
  await tsray.init({ numCpus: 2, sessionDir });
  try {
    const counter = tsray.remote(Counter).remote();
    const tasks = await tsray.get(Array.from({ length: 200 }, (_, index) => plusOne.remote(index)));
    const calls = await tsray.get([counter.add.remote(2), counter.add.remote(3)]);
    return [(tasks as number[]).reduce((sum, value) => sum + value, 0), calls];
  } finally {
    await tsray.shutdown();
  }
}

void describe('TSRAY_EVENT_LOG', () => {
  const dirs: string[] = [];
  const sessionDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'tsray-event-log-switch-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  void test('off: the run works and leaves no event log; on (the default): every component logs', async () => {
    const off = sessionDir();
    assert.deepEqual(await withEventLog('off', () => run(off)), [20_100, [2, 5]]);
    assert.deepEqual(openSessionLogs(off), []);
    const on = sessionDir();
    assert.deepEqual(await withEventLog(undefined, () => run(on)), [20_100, [2, 5]]);
    const components = new Set(openSessionLogs(on).map((log) => log.component));
    assert.deepEqual([...components].sort(), ['gcs', 'owner', 'raylet']);
    assert.ok(openSessionLogs(on).some((log) => log.address.startsWith('worker:n1.w')), 'no worker logged its events');
  });

  void test('a value it cannot take fails init with a line naming the variable', async () => {
    await withEventLog('no', async () => {
      await assert.rejects(tsray.init({ numCpus: 1, sessionDir: sessionDir() }), /TSRAY_EVENT_LOG must be 'on' .* or 'off' .*, not 'no'/);
    });
    assert.equal(tsray.isInitialized(), false);
  });
});
