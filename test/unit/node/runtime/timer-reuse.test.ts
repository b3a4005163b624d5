/**
 * The live runtime's timers on the per-task path are made once and reused: a shell timer armed
 * again with the same delay is restarted in place, and the driver's keep-alive while calls are
 * pending is one interval ref'd and unref'd. Tasks awaited one at a time used to make and clear
 * both timers at every task. The reuse must not change when timers fire or what keeps a process
 * alive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import type { ComponentCore } from '../../../../core/component.js';
import { Router } from '../../../../node/runtime/router.js';
import { ComponentShell } from '../../../../node/runtime/shell.js';
import { writeDriverScript } from '../../../support/driver-script.js';
import { eventually } from '../../../support/eventually.js';

type TestEvent = { type: 'armed'; delayMs: number } | { type: 'timer/fired'; timerId: string };
type TestEffect = { type: 'timer/armed'; timerId: string; delayMs: number };

/** A core that arms timer `t` on every `armed` event and counts the times it fired. */
const timerCore: ComponentCore<{ fired: number }, TestEvent, TestEffect> = {
  kind: 'owner',
  version: 1,
  initial: () => ({ fired: 0 }),
  apply: (state, event) => {
    if (event.type === 'timer/fired') {
      state.fired += 1;
      return [];
    }
    return [{ type: 'timer/armed', timerId: 't', delayMs: event.delayMs }];
  },
  invariants: () => [],
};

/** Runs `body` while counting the calls of `globalThis[name]`. */
function counting<T>(name: 'setTimeout' | 'setInterval', body: () => T): { result: T; calls: number } {
  const original = globalThis[name];
  let calls = 0;
  (globalThis as Record<string, unknown>)[name] = (...args: unknown[]) => {
    calls += 1;
    return (original as (...a: unknown[]) => unknown)(...args);
  };
  try {
    return { result: body(), calls };
  } finally {
    (globalThis as Record<string, unknown>)[name] = original;
  }
}

void test('a shell timer armed again with the same delay is restarted, not made again, and fires once', async () => {
  const shell = new ComponentShell({ core: timerCore, address: 'test:timers', router: new Router() });
  try {
    const { calls } = counting('setTimeout', () => {
      for (let index = 0; index < 50; index += 1) shell.apply({ type: 'armed', delayMs: 20 });
    });
    assert.equal(calls, 1, 'one timer for fifty armings with the same delay');
    const fired = await eventually(
      () => Promise.resolve(shell.state.fired),
      (count) => count > 0,
    );
    assert.equal(fired, 1);
    // Armed again after it fired, with another delay: a new timer, which fires too.
    const again = counting('setTimeout', () => shell.apply({ type: 'armed', delayMs: 5 }));
    assert.equal(again.calls, 1);
    assert.equal(await eventually(() => Promise.resolve(shell.state.fired), (count) => count > 1), 2);
  } finally {
    shell.stop();
  }
});

void test('a shell timer armed again with another delay fires after the new delay only', async () => {
  const shell = new ComponentShell({ core: timerCore, address: 'test:timers', router: new Router() });
  try {
    shell.apply({ type: 'armed', delayMs: 60_000 });
    shell.apply({ type: 'armed', delayMs: 5 });
    assert.equal(await eventually(() => Promise.resolve(shell.state.fired), (count) => count > 0), 1);
  } finally {
    shell.stop();
  }
});

// Each get waits for a task that sleeps in its worker: only the driver's keep-alive holds the process
// open meanwhile (worker threads never do), and that is the interval made at the first get.
const script = writeDriverScript(
  'timer-reuse-check',
  `import * as tsray from 'tsray';
let intervals = 0;
const setIntervalBefore = globalThis.setInterval;
globalThis.setInterval = (...args) => {
  intervals += 1;
  return setIntervalBefore(...args);
};
await tsray.init({ numCpus: 1, sessionDir: process.argv[2] });
const slow = tsray.remote(async (x) => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return x + 1;
});
const values = [];
for (let index = 0; index < 3; index += 1) values.push(await tsray.get(slow.remote(index)));
console.log('values', JSON.stringify(values), 'intervals', intervals);
`,
);
after(() => script.remove());

void test('the driver keeps itself alive through awaited tasks with one interval, and still exits by itself', () => {
  const result = spawnSync(process.execPath, [script.path, script.sessionDir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /values \[1,2,3\] intervals 1\b/);
});
