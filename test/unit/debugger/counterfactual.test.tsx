/**
 * The counterfactual in the debugger: `x` shows the run's fault plan, and a change typed there runs
 * the workload again from the same seed (node/trace/counterfactual.ts) and shows, side by side,
 * whether the failure remains and where the runs first differ. Keys in, frames out, on the curated
 * simulator traces.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { cleanup, render } from 'ink-testing-library';
import { Debugger } from '../../../debugger/components/Debugger.js';
import { parsePlanChange, whatIf, wholeTrace } from '../../../node/cli/debug.js';
import { removeWhatIfTrace } from '../../support/debugger-traces.js';
import { packageRoot } from '../../support/driver-script.js';
import { press, settle } from '../../support/ink-keys.js';
import type { Instance } from '../../support/ink-keys.js';

afterEach(() => cleanup());


/** Waits until a frame matches `pattern` (the counterfactual runs a simulation). */
async function frameMatching(instance: Instance, pattern: RegExp): Promise<string> {
  for (let wait = 0; wait < 500; wait++) {
    const frame = instance.lastFrame() ?? '';
    if (pattern.test(frame)) return frame;
    await settle();
  }
  assert.fail(`no frame matched ${pattern}; the last:\n${instance.lastFrame() ?? ''}`);
}

/** Waits for the browser's first frame, and for its key handler, attached just after it draws. */
async function ready(instance: Instance, name: string): Promise<void> {
  await frameMatching(instance, new RegExp(`tsray debug ${name}`));
  for (let wait = 0; wait < 10; wait++) await settle();
}

function open(file: string, withCounterfactual = true): Instance {
  const path = join(packageRoot, 'traces', file);
  const whole = wholeTrace(path, statSync(path).size);
  return render(
    <Debugger
      source={new Uint8Array(readFileSync(path))}
      name={file}
      width={100}
      height={30}
      onQuit={() => undefined}
      onFailure={(reason) => assert.fail(reason)}
      {...(withCounterfactual ? { counterfactual: (change: string) => whatIf(whole, path, change) } : {})}
    />,
  );
}

void test("x lists the plan's faults; dropping the owner's death shows where the runs part", async () => {
  const instance = open('sim-owner-died.trace.jsonl');
  await ready(instance, 'sim-owner-died');
  const plan = await press(instance, 'x');
  assert.match(plan, /0: atMs=200 kind=owner-death target=0/);
  assert.match(plan, /what if \(drop N, or N key=value\)/);
  await press(instance, ...'drop 0'.split(''), '\r');
  const compared = await frameMatching(instance, /they first differ at seq \d+/);
  assert.match(compared, /neither run fails/);
  assert.match(compared, /changed plan: \{"scheduled":\[\]\}/);
  assert.match(compared, /the changed run's trace: .*sim-owner-died\.trace\.jsonl/);
  removeWhatIfTrace(compared);
});

void test('a change the plan cannot take (pasted with its Enter) is one line, and a live trace has no counterfactual', async () => {
  const instance = open('sim-owner-died.trace.jsonl');
  await ready(instance, 'sim-owner-died');
  // Pasted, as one piece with its Enter: typed, then submitted.
  await press(instance, 'x', '3 atMs=5\r');
  await frameMatching(instance, /the plan has 1 scheduled faults; there is no fault 3/);
  instance.unmount();
  const live = open('live-cancel.trace.jsonl', false);
  await ready(live, 'live-cancel');
  assert.match(await press(live, 'x'), /no counterfactual here: it needs a simulator trace/);
});

void test('changes are read as the help says: drop N, N key=value, rate key=value', () => {
  const plan = { scheduled: [{ atMs: 200, kind: 'owner-death' as const, target: 0 }] };
  assert.deepEqual(parsePlanChange('drop 0', plan), { kind: 'drop', index: 0 });
  assert.deepEqual(parsePlanChange('0 atMs=300', plan), { kind: 'replace', index: 0, fault: { atMs: 300, kind: 'owner-death', target: 0 } });
  assert.deepEqual(parsePlanChange('rate dropRate=0.5', plan), { kind: 'rate', key: 'dropRate', value: 0.5 });
  assert.throws(() => parsePlanChange('0 speed=3', plan), /fault 0 \(owner-death\) has no field 'speed' to change; it has atMs, target/);
  assert.throws(() => parsePlanChange('rate colour=3', plan), /rate takes one of dropRate/);
});
