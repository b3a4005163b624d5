/**
 * Each curated trace, opened in the debugger as `tsray debug` opens it (with core/trace's why), and
 * driven by keys from its first frame to its root cause. The keystrokes here are the ones the
 * closing note and traces/README.md give; live traces' seqs differ between regenerations, so a seq
 * is read off a frame rather than written in.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { cleanup, render } from 'ink-testing-library';
import { Debugger } from '../../../debugger/components/Debugger.js';
import { coreWhy, wholeTrace } from '../../../node/cli/debug.js';
import { packageRoot } from '../../support/driver-script.js';
import { settle, type } from '../../support/ink-keys.js';
import type { Instance } from '../../support/ink-keys.js';

afterEach(() => cleanup());


/** Opens a curated trace at 80×24 and waits until its list is drawn and takes keys. */
async function open(file: string): Promise<Instance> {
  const path = join(packageRoot, 'traces', file);
  const instance = render(
    <Debugger source={new Uint8Array(readFileSync(path))} name={file} width={80} height={24} why={coreWhy(wholeTrace(path, statSync(path).size))} onQuit={() => undefined} onFailure={(reason) => assert.fail(reason)} />,
  );
  for (let wait = 0; wait < 300 && !/▶/.test(instance.lastFrame() ?? ''); wait++) await settle();
  // The replay pass runs on after the first frame; searches and breakpoints wait for it.
  for (let wait = 0; wait < 300 && /replaying/.test(instance.lastFrame() ?? ''); wait++) await settle();
  for (let wait = 0; wait < 10; wait++) await settle();
  return instance;
}


void test('live-task-retry: / task/replied ⏎ Tab e shows attempt 1 ended by the crashed worker', async () => {
  const frame = await type(await open('live-task-retry.trace.jsonl'), '/task/replied\r\te');
  assert.match(frame, /timeline of n1\.d1\.t1/);
  assert.match(frame, /attempt 1: worker n1\.w\d on node n1 \(seq \d+\) → worker crashed/);
  assert.match(frame, /attempt 2: worker n1\.w\d on node n1 \(seq \d+\) → returned/);
});

void test('live-actor-restart: / actor/state ⏎ e shows the restart; g SEQ ⏎ w traces it to the crash', async () => {
  const instance = await open('live-actor-restart.trace.jsonl');
  const timeline = await type(instance, '/actor/state\re');
  const restart = /life 1: RESTARTING \(seq (\d+)\)/.exec(timeline);
  assert.ok(restart?.[1] !== undefined, timeline);
  const why = await type(instance, `g${restart[1]}\rw`);
  assert.match(why, /worker\/exited: .*crashed/);
  assert.match(why, /root \(crash\): worker n1\.w\d crashed while running task n1\.d1\.t\d+ \(crash\)/);
});

void test('live-cancel: / cancel ⏎ w shows the root, the driver calling cancel', async () => {
  const frame = await type(await open('live-cancel.trace.jsonl'), '/cancel\rw');
  assert.match(frame, /cancel\/requested/);
  assert.match(frame, /root \(user call\): the driver n1\.d1 called cancel/);
});

void test("sim-node-death-lineage: / task/pushed ⏎ n w shows the re-run's cause, the injected death of n2", async () => {
  const frame = await type(await open('sim-node-death-lineage.trace.jsonl'), '/task/pushed\rnw');
  assert.match(frame, /task\/pushed n1\.d1\.t1 produce attempt 2/);
  assert.match(frame, /node\/died: node n2 is dead/);
  assert.match(frame, /root \(injected fault\): injected: node n2 died: fault injected/);
});

void test('sim-owner-died: / worker/died ⏎ w shows the injected death of the owner', async () => {
  const frame = await type(await open('sim-owner-died.trace.jsonl'), '/worker/died\rw');
  assert.match(frame, /root \(injected fault\): injected: fault: owner n1\.w1 died/);
});

void test("sim-mutant-double-release: a breakpoint on the object's count finds the unrelated reply that dropped it", async () => {
  const frame = await type(await open('sim-mutant-double-release.trace.jsonl'), "bworker:n1.d1 s.objects['n1.d1.p1'].submittedRefs < 3\r");
  assert.match(frame, /▶ +\d+ +\d+ms worker:n1\.d1 +task\/replied n1\.d1\.t\d+ attempt 1: returned/);
  assert.match(frame, /~ objects\.n1\.d1\.p1\.submittedRefs = 2/);
  assert.match(frame, /first holds after seq \d+ on worker:n1\.d1/);
});
