/**
 * A task worker answers its raylet's idle exit (core/owner/idle-exit.ts): it agrees, for the spell
 * asked about, only while it owns nothing; a worker that owns an object declines, and agrees on its
 * own, for the spell it declined, at the step that frees the object; a driver never does. Every step
 * is applied in place and under immer both ways, with the invariants checked and the states' hashes
 * compared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OwnerEffect, OwnerEvent } from '../../../core/owner/index.js';
import { defaultOwnerConfig } from '../../../core/owner/index.js';
import { ownsNothing } from '../../../core/owner/idle-exit.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';

const workerStarted: OwnerEvent = { type: 'owner/started', workerId: 'n1.w3', nodeId: 'n1', isDriver: false, namespace: 'default', config: defaultOwnerConfig };

/** The raylet's `seq`th message: would this worker end, in idle spell `turn`? */
function asked(workerId: string, turn: number, seq: number): OwnerEvent {
  return delivered({ type: 'worker/exit-requested', workerId, turn }, 'raylet:n1', seq);
}

/** The agreements among `effects`, as `[to, turn]`. */
function agreements(effects: OwnerEffect[]): [string, number][] {
  return effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'worker/exit-agreed' ? [[effect.to, effect.message.turn] as [string, number]] : []));
}

void test('an idle task worker agrees to end only while it owns nothing, and a driver never does', () => {
  const run = new ThreeWays();
  run.step(workerStarted);
  assert.ok(ownsNothing(run.live));
  assert.deepEqual(agreements(run.step(asked('n1.w3', 1, 0))), [['raylet:n1', 1]]);
  // A value put by a task of this worker, its ref still held: the object is owned here.
  const effects = run.step({ type: 'object/put', value: { data: 7, sizeBytes: 1, refs: [] } });
  const objectId = 'n1.w3.p1';
  assert.ok(JSON.stringify(effects).includes(objectId), 'the put minted the id expected');
  assert.equal(ownsNothing(run.live), false);
  assert.deepEqual(agreements(run.step(asked('n1.w3', 2, 1))), [], 'it owns an object');
  assert.equal(run.live.exitDeclinedTurn, 2, 'it remembers the spell it declined');
  assert.deepEqual(agreements(run.step({ type: 'refs/released', objectIds: [objectId] })), [['raylet:n1', 2]], 'the step that freed its last object agrees, for the spell it declined');
  assert.ok(ownsNothing(run.live), 'the object went with its last ref');
  assert.equal(run.live.exitDeclinedTurn, undefined);
  assert.deepEqual(agreements(run.step(asked('n1.w3', 3, 2))), [['raylet:n1', 3]]);
  // A task submitted from this worker (a nested task): it and its return are owned here.
  run.step(tinySubmission);
  assert.equal(ownsNothing(run.live), false);
  assert.deepEqual(agreements(run.step(asked('n1.w3', 4, 3))), [], 'it owns a task and its return');
  const driver = new ThreeWays();
  driver.step(driverStarted);
  assert.ok(ownsNothing(driver.live));
  assert.deepEqual(agreements(driver.step(asked('n1.d1', 1, 0))), [], 'a driver is not a pool worker');
});
