/**
 * An idle worker holding borrowed refs that only its decoded values hold collects garbage once, so
 * that a handle an actor dropped is given back without the actor's thread allocating again: the
 * check alone (when it collects, and when not), and an actor that kept another actor's handle and
 * let go of it, which ends the other actor once the driver dropped its own handle too, with only the
 * driver collecting.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { ownerCore } from '../../../../core/owner/index.js';
import type { BorrowedRef, OwnerState } from '../../../../core/owner/index.js';
import { tableSet } from '../../../../core/table.js';
import { collectWhenIdle, holdsDecodedRefs } from '../../../../node/runtime/idle-collect.js';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

function borrowing(localRefs: number): OwnerState {
  const state = ownerCore.initial();
  const entry: BorrowedRef = { objectId: 'n1.d1.t1.r0', owner: 'n1.d1', localRefs, submittedRefs: 0, containedIn: [], transientHolds: 0, registration: 'registered', status: 'ready', dependents: [], fetchFailures: 0 };
  tableSet(state.borrowed, entry.objectId, entry);
  return state;
}

void test('an idle worker collects once per idle spell, only after running a body, only while decoded values hold a borrowed ref, and spaced by 20 times its last collection', () => {
  assert.equal(holdsDecodedRefs(ownerCore.initial()), false);
  assert.equal(holdsDecodedRefs(borrowing(0)), false, 'a borrow held only by submitted tasks or stored objects is not a collection\'s to give back');
  assert.equal(holdsDecodedRefs(borrowing(1)), true);
  const bodies = { bodiesStarted: 0, executingCount: 0 };
  let state = borrowing(1);
  let collections = 0;
  let clockMs = 0;
  let collectMs = 0;
  let check: () => void = () => assert.fail('the check was not handed over');
  let stopped = false;
  const stop = collectWhenIdle(bodies, () => state, {
    collect: () => {
      collections += 1;
      clockMs += collectMs;
    },
    nowMs: () => clockMs,
    every: (given) => {
      check = given;
      return () => (stopped = true);
    },
  });
  /** `count` periods go by. */
  const periods = (count: number): void => {
    for (let index = 0; index < count; index += 1) check();
  };
  periods(3);
  assert.equal(collections, 0, 'nothing ran since the worker started');
  bodies.bodiesStarted = 1;
  bodies.executingCount = 1;
  periods(3);
  assert.equal(collections, 0, 'not while a body runs');
  bodies.executingCount = 0;
  periods(1);
  assert.equal(collections, 1, 'once idle for a whole period');
  periods(3);
  assert.equal(collections, 1, 'and once only while nothing else runs');
  state = borrowing(0);
  bodies.bodiesStarted = 2;
  periods(3);
  assert.equal(collections, 1, 'not without a borrow that decoded values hold');
  // A collection that took 50 ms (of the fake clock) keeps the next one 20 times that away.
  state = borrowing(1);
  collectMs = 50;
  bodies.bodiesStarted = 3;
  periods(2);
  assert.equal(collections, 2);
  bodies.bodiesStarted = 4;
  clockMs += 999;
  periods(3);
  assert.equal(collections, 2, 'not within 20 times the last collection\'s time');
  clockMs += 2;
  periods(1);
  assert.equal(collections, 3, 'once that time has passed');
  stop();
  assert.ok(stopped, 'the stop ends the period');
});

const script = writeDriverScript('idle-collect-check', `import * as tsray from 'tsray';
import { join } from 'node:path';
await tsray.init({ numCpus: 1, sessionDir: join(process.argv[2], 'session') });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const Target = tsray.remote(class Target { ping() { return 'pong'; } });
const Holder = tsray.remote(class Holder {
  keep(box) { this.box = box; return 'kept'; }
  forget() { this.box = undefined; return 'forgotten'; }
});
let target = Target.remote();
const actorId = target.actorId;
const holder = Holder.remote();
const out = { kept: await tsray.get(holder.keep.remote({ actor: target })), forgotten: await tsray.get(holder.forget.remote()) };
target = undefined;
// Only the driver collects: the holder's thread is left to itself.
const startedMs = Date.now();
for (let i = 0; i < 150; i++) {
  globalThis.gc();
  await sleep(100);
  out.state = (await tsray.state.listActors({ actorId }))[0]?.state;
  if (out.state === 'DEAD') break;
}
out.withinMs = Date.now() - startedMs;
out.holder = (await tsray.state.listActors({ actorId: holder.actorId }))[0]?.state;
console.log(JSON.stringify(out));
await tsray.shutdown();
`);
after(() => script.remove());

void test("an actor that let go of another actor's handle gives it back on its own once idle: the other actor ends when the driver drops its handle too", () => {
  // Without its memory reducer, V8 never collects an idle thread of its own accord (with it, one
  // idle for about 8 s), so the holder gives the handle back only by collecting when idle.
  const result = spawnSync(process.execPath, ['--expose-gc', '--no-memory-reducer', script.path, script.sessionDir], { cwd: packageRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, result.stderr);
  const out = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { kept: string; forgotten: string; state: string; withinMs: number; holder: string };
  assert.equal(out.kept, 'kept');
  assert.equal(out.forgotten, 'forgotten');
  assert.equal(out.state, 'DEAD', `the target was still ${out.state} after ${out.withinMs} ms: the holder's thread never gave its handle back`);
  assert.equal(out.holder, 'ALIVE', 'the holder, whose handle the driver keeps, lives on');
});
