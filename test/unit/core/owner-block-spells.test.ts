/**
 * A task worker that waits in `get` tells its raylet so in numbered spells: each `worker/blocked`
 * and its `worker/unblocked` name the spell and the lease the worker runs under, and a
 * `worker/resumed` of any spell but the one under way (late, or repeated by the network) leaves the
 * worker blocked. Every step is applied in place and under immer both ways, with the invariants
 * checked and the states' hashes compared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OwnerEffect, OwnerEvent } from '../../../core/owner/index.js';
import { defaultOwnerConfig } from '../../../core/owner/index.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';

const workerStarted: OwnerEvent = { type: 'owner/started', workerId: 'n1.w3', nodeId: 'n1', isDriver: false, namespace: 'default', config: defaultOwnerConfig };

/** The reports of blocking among `effects`, as `[type, spell]`. */
function reports(effects: OwnerEffect[]): [string, number | undefined][] {
  return effects.flatMap((effect) =>
    effect.type === 'message/sent' && (effect.message.type === 'worker/blocked' || effect.message.type === 'worker/unblocked') ? [[effect.message.type, effect.message.spell] as [string, number | undefined]] : [],
  );
}

/** A get, made by the task `t1` this worker runs, of an object a driver of another node owns (so it waits). */
function borrowedGet(getId: string): OwnerEvent {
  return { type: 'get/requested', getId, refs: [{ objectId: 'n2.d1.t9.r0', owner: 'n2.d1' }], timeoutMs: 1000, inTaskId: 'n2.d1.t1' };
}

void test('a worker blocked in get numbers its spells, and a resume of another spell leaves it blocked', () => {
  const run = new ThreeWays();
  run.step(workerStarted);
  assert.deepEqual(reports(run.step(borrowedGet('g1'))), [['worker/blocked', 1]]);
  assert.deepEqual(reports(run.step({ type: 'timer/fired', timerId: 'get:g1', nowMs: 1000 })), [['worker/unblocked', 1]], 'its get timed out: it asks for its CPU back, for spell 1');
  run.step(delivered({ type: 'worker/resumed', workerId: 'n1.w3', spell: 1 }, 'raylet:n1', 0));
  assert.equal(run.live.blockedInGet, false);
  assert.deepEqual(reports(run.step(borrowedGet('g2'))), [['worker/blocked', 2]], 'a new spell');
  run.step(delivered({ type: 'worker/resumed', workerId: 'n1.w3', spell: 1 }, 'raylet:n1', 1));
  assert.equal(run.live.blockedInGet, true, "spell 1's resume, repeated late, does not end spell 2");
  assert.deepEqual(reports(run.step({ type: 'timer/fired', timerId: 'get:g2', nowMs: 2000 })), [['worker/unblocked', 2]]);
  run.step(delivered({ type: 'worker/resumed', workerId: 'n1.w3', spell: 2 }, 'raylet:n1', 2));
  assert.equal(run.live.blockedInGet, false);
  // A resume without a spell (as raylets before version 9 sent it) still ends the spell under way.
  run.step(borrowedGet('g3'));
  assert.deepEqual(reports(run.step({ type: 'timer/fired', timerId: 'get:g3', nowMs: 3000 })), [['worker/unblocked', 3]]);
  run.step(delivered({ type: 'worker/resumed', workerId: 'n1.w3' }, 'raylet:n1', 3));
  assert.equal(run.live.blockedInGet, false);
});

void test("a worker's reports name the lease its task was pushed under", () => {
  const run = new ThreeWays();
  run.step(workerStarted);
  run.step(
    delivered(
      {
        type: 'task/pushed',
        leaseId: 'n2.d1.l4',
        attempt: 1,
        args: [],
        spec: { taskId: 'n2.d1.t1', jobId: 'j1', owner: 'n2.d1', functionId: 'wait', name: 'wait', args: [], returnIds: ['n2.d1.t1.r0'], resources: { CPU: 1 }, strategy: 'DEFAULT', maxRetries: 0, retryExceptions: false },
      },
      'worker:n2.d1',
      0,
    ),
  );
  const blocked = run.step(borrowedGet('g1')).flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'worker/blocked' ? [effect.message] : []));
  assert.deepEqual(blocked, [{ type: 'worker/blocked', workerId: 'n1.w3', spell: 1, leaseId: 'n2.d1.l4' }]);
});
