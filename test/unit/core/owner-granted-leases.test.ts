/**
 * A scheduling class lists its granted leases apart from the requests still waiting at a raylet, in
 * the order of all its leases, so that `pump` walks only the granted ones and counts the rest. Every
 * step is applied in place and under immer (with own copies, and with patches), with the invariants
 * (which check the two lists against the leases) checked after each.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OwnerEffect, OwnerState, SchedulingClass } from '../../../core/owner/index.js';
import { tableGet } from '../../../core/table.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';

/** The driver's one scheduling class (every tiny task has the same shape), in `state`. */
function onlyClass(state: OwnerState): SchedulingClass {
  const classes = Object.values(state.classes);
  assert.equal(classes.length, 1, 'one scheduling class');
  return classes[0] as SchedulingClass;
}

/** The lease requests among `effects`, by lease id. */
function requestedLeases(effects: readonly OwnerEffect[]): string[] {
  return effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'lease/requested' ? [effect.message.leaseId] : []));
}

const lease = (index: number): string => `n1.d1.l${index}`;
const granted = (index: number, seq: number) => delivered({ type: 'lease/granted', leaseId: lease(index), workerId: `n1.w${index}`, nodeId: 'n1' }, 'raylet:n1', seq);

void test('a class walks its granted leases in the order they were asked for, and counts the requests still out as the rest', () => {
  const run = new ThreeWays();
  run.step(driverStarted);
  const asked: string[] = [];
  for (let index = 0; index < 12; index += 1) asked.push(...requestedLeases(run.step(tinySubmission)));
  assert.deepEqual(asked, Array.from({ length: 10 }, (_, index) => lease(index + 1)), 'ten requests out (maxLeaseRequestsPerClass) for twelve queued tasks');
  assert.deepEqual(onlyClass(run.live).granted, []);

  // Granted out of order: the third request first.
  assert.deepEqual(requestedLeases(run.step(granted(3, 0))), [lease(11)], 'nine requests are still out for eleven queued tasks: one more is asked for');
  assert.deepEqual(onlyClass(run.live).granted, [lease(3)]);
  assert.equal(run.live.leases[lease(3)]?.runningTaskId, 'n1.d1.t1', 'the first queued task runs on the first lease granted');

  assert.deepEqual(requestedLeases(run.step(granted(1, 1))), [lease(12)]);
  assert.deepEqual(onlyClass(run.live).granted, [lease(1), lease(3)], 'in the order the leases were asked for, not granted');
  assert.equal(run.live.leases[lease(1)]?.runningTaskId, 'n1.d1.t2');
  assert.equal(onlyClass(run.live).leases.length, 12);

  // A passing rejection of a request: it leaves the class, the granted leases stay, and the class
  // backs off rather than asking again at once.
  const rejected = run.step(delivered({ type: 'lease/rejected', leaseId: lease(2), reason: 'busy', permanent: false }, 'raylet:n1', 2));
  assert.deepEqual(requestedLeases(rejected), []);
  assert.ok(rejected.some((effect) => effect.type === 'timer/armed' && effect.timerId.startsWith('lease-retry:')));
  assert.deepEqual(onlyClass(run.live).granted, [lease(1), lease(3)]);
  assert.ok(!onlyClass(run.live).leases.includes(lease(2)));

  // The worker of a granted lease dies: the lease leaves both lists, and its task is queued again.
  run.step(delivered({ type: 'lease/worker-died', leaseId: lease(3), workerId: 'n1.w3', reason: 'crashed' }, 'raylet:n1', 3));
  assert.equal(run.live.leases[lease(3)], undefined);
  assert.deepEqual(onlyClass(run.live).granted, [lease(1)]);
  assert.equal(tableGet(run.live.tasks, 'n1.d1.t1')?.state, 'PENDING_NODE', 'its task waits for a lease again (it has retries left)');

  // The lease left takes the next task when its own replies.
  run.step(
    delivered(
      { type: 'task/replied', taskId: 'n1.d1.t2', attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 2, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] },
      'worker:n1.w1',
      0,
    ),
  );
  const next = run.live.leases[lease(1)]?.runningTaskId;
  assert.ok(next !== undefined && next !== 'n1.d1.t2', 'the granted lease runs the next queued task');
  assert.equal(tableGet(run.live.tasks, next)?.leaseId, lease(1));
});
