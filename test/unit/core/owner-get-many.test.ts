/**
 * A get of many refs reads each owned object's record once to index and advance it, and a settled
 * return re-examines the get without finding it again (P1 in bench/ gets 100,000 refs at once): these
 * tests pin what advancing must still start, in order, when some refs need a fetch and others are
 * borrowed, applied in place and under immer (with own copies, and with patches) alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OwnerEffect, OwnerEvent } from '../../../core/owner/index.js';
import { tableGet } from '../../../core/table.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';

const storedBytes = 1 << 20;

/** A driver whose tasks t1 and t3 returned values stored on n1 and whose task t2 still runs on another lease. */
function twoStoredOneRunning(): ThreeWays {
  const run = new ThreeWays();
  run.step(driverStarted);
  for (let index = 0; index < 3; index += 1) run.step(tinySubmission);
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l2', workerId: 'n1.w2', nodeId: 'n1' }, 'raylet:n1', 1));
  assert.deepEqual(['n1.d1.t1', 'n1.d1.t2'].map((taskId) => tableGet(run.live.tasks, taskId)?.leaseId), ['n1.d1.l1', 'n1.d1.l2']);
  const stored = (taskId: string, seq: number): OwnerEvent =>
    delivered({ type: 'task/replied', taskId, attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'stored', nodeIds: ['n1'], sizeBytes: storedBytes, refs: [] }] }, releasedBorrows: [] }, 'worker:n1.w1', seq);
  run.step(stored('n1.d1.t1', 0));
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t3')?.leaseId, 'n1.d1.l1', 'the first lease takes the third task once free');
  run.step(stored('n1.d1.t3', 1));
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t2')?.state, 'RUNNING');
  return run;
}

/** The objects each fetch request among `effects` asks for, in order. */
function fetchesAsked(effects: readonly OwnerEffect[]): string[] {
  return effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'object/fetch-requested' ? [effect.message.objectId] : []));
}

void test('a get of many refs starts a fetch for every stored value among them, also for those after the first that started one', () => {
  const run = twoStoredOneRunning();
  const refs = ['n1.d1.t1.r0', 'n1.d1.t2.r0', 'n1.d1.t3.r0'].map((objectId) => ({ objectId, owner: 'n1.d1' }));
  const effects = run.step({ type: 'get/requested', getId: 'g1', refs });
  // Each fetch may change the records after it: the refs after the first must be looked up again,
  // and the third still fetched.
  assert.deepEqual(fetchesAsked(effects), ['n1.d1.t1.r0', 'n1.d1.t3.r0']);
  assert.deepEqual(Object.keys(run.live.fetches).sort(), ['n1.d1.t1.r0', 'n1.d1.t3.r0']);
  assert.equal(effects.find((effect) => effect.type === 'get/settled'), undefined);
  const fetched = (objectId: string, data: number, seq: number): OwnerEvent => delivered({ type: 'object/fetched', objectId, data, sizeBytes: storedBytes, refs: [] }, 'raylet:n1', seq);
  assert.equal(run.step(fetched('n1.d1.t3.r0', 30, 2)).find((effect) => effect.type === 'get/settled'), undefined);
  // The second ref's return settles the get only once the first's fetch is in too.
  const replied = run.step(delivered({ type: 'task/replied', taskId: 'n1.d1.t2', attempt: 1, workerId: 'n1.w2', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 20, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] }, 'worker:n1.w2', 0));
  assert.equal(replied.find((effect) => effect.type === 'get/settled'), undefined);
  assert.equal(tableGet(run.live.gets, 'g1')?.cursor, undefined, 'the cursor stays at the first ref, still fetching');
  const settled = run.step(fetched('n1.d1.t1.r0', 10, 3)).find((effect) => effect.type === 'get/settled');
  assert.ok(settled?.type === 'get/settled');
  assert.deepEqual(settled.outcomes.map((outcome) => (outcome.kind === 'value' ? outcome.value.data : outcome)), [10, 20, 30]);
  assert.equal(tableGet(run.live.gets, 'g1'), undefined);
  for (const objectId of ['n1.d1.t1.r0', 'n1.d1.t2.r0', 'n1.d1.t3.r0']) assert.equal(tableGet(run.live.objects, objectId)?.retrievals, undefined, `${objectId} is out of the settled get's index`);
});

void test('a borrowed ref among many is advanced in its turn, and the owned refs after it are looked up again', () => {
  const run = twoStoredOneRunning();
  const borrowed = { objectId: 'n2.d1.t9.r0', owner: 'n2.d1' };
  const refs = [{ objectId: 'n1.d1.t2.r0', owner: 'n1.d1' }, borrowed, { objectId: 'n1.d1.t3.r0', owner: 'n1.d1' }];
  const effects = run.step({ type: 'get/requested', getId: 'g1', refs });
  assert.deepEqual(fetchesAsked(effects), ['n1.d1.t3.r0']);
  const asked = effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type !== 'object/fetch-requested' ? [effect.message.type] : []));
  assert.ok(asked.includes('object/status-requested'), `the borrowed ref's owner is asked for its status (sent: ${asked.join(', ')})`);
  assert.equal(tableGet(run.live.gets, 'g1')?.cursor, undefined);
});
