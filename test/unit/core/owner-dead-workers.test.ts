/**
 * An owner remembers at most `maxDeadWorkers` dead workers, the oldest forgotten first, and forgets
 * the inbox window of each one it forgets: a driver that creates and kills actors as it goes kept
 * both for every actor, for as long as it ran. The last step is applied in place and under immer
 * both ways, with the invariants checked and the states' hashes compared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerCore } from '../../../core/owner/index.js';
import type { OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { maxDeadWorkers } from '../../../core/owner/state.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { driverStarted } from '../../support/owner-events.js';

const firstDead = 'n1.w0';

/** The raylet's `nth` notice: worker `n1.w<nth>` died. */
function death(nth: number): OwnerEvent {
  return delivered({ type: 'worker/died', workerId: `n1.w${nth}`, nodeId: 'n1', reason: 'killed' }, 'raylet:n1', nth);
}

/** Whether `state` still knows `workerId` died, and still keeps the window of its messages. */
function remembers(state: OwnerState, workerId: string): [boolean, boolean] {
  return [state.deadWorkers[workerId] === true, state.inbox[`worker:${workerId}#0`] !== undefined];
}

void test('an owner forgets the oldest dead worker, and its inbox window, past maxDeadWorkers', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  // The first worker asks this owner about an object, which leaves its window in the inbox.
  run.step({ type: 'object/status-requested', objectId: 'n1.d1.t9.r0', requester: firstDead, via: { from: `worker:${firstDead}`, incarnation: 0, seq: 0 } });
  assert.deepEqual(remembers(run.live, firstDead), [false, true]);
  // Up to the bound, applied in place only (three ways, with a hash of the state after each, would
  // take minutes); the other two states start from copies of it.
  for (let nth = 0; nth < maxDeadWorkers; nth += 1) ownerCore.apply(run.live, death(nth));
  assert.deepEqual(remembers(run.live, firstDead), [true, true], 'at the bound, every death is still known');
  assert.equal(run.live.deadWorkerOrder.length, maxDeadWorkers);
  run.own = structuredClone(run.live);
  run.patched = structuredClone(run.live);
  run.step(death(maxDeadWorkers));
  for (const state of [run.live, run.own, run.patched]) {
    assert.deepEqual(remembers(state, firstDead), [false, false], 'the oldest death and its window are forgotten');
    assert.deepEqual(remembers(state, 'n1.w1'), [true, false]);
    assert.deepEqual(remembers(state, `n1.w${maxDeadWorkers}`), [true, false]);
    assert.equal(state.deadWorkerOrder.length, maxDeadWorkers);
    assert.equal(Object.keys(state.deadWorkers).length, maxDeadWorkers);
    assert.ok(state.inbox['raylet:n1#1'] !== undefined, 'the window of a live sender stays');
  }
});
