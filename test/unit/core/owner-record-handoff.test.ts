/**
 * A driver's tiny task looks each of its records up once per step where it can: a get of its return
 * reads the return's record once and hands it on to indexing, advancing and settling the get, and the
 * reply that settles it neither looks the return up again to settle the get, nor to learn that it is
 * still held (so nothing is freed and the task keeps its lineage), nor the task again to forget it.
 * These lookups, in a live shell's tables (kept in Maps, as bench/ P1 runs them with 100k entries),
 * were most of the driver's Map work per task. The steps are applied every way too (in place and
 * under immer), so the handed-on records must give the same states.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerCore } from '../../../core/owner/index.js';
import type { OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { keepTablesInMaps, tableGet } from '../../../core/table.js';
import { delivered, ThreeWays } from '../../support/owner-three-ways.js';
import { driverStarted, tinySubmission } from '../../support/owner-events.js';

const taskId = 'n1.d1.t1';
const returnId = 'n1.d1.t1.r0';

/** A method of `Map.prototype`, as a plain function of its receiver and arguments. */
type MapMethod = (this: Map<unknown, unknown>, ...args: unknown[]) => unknown;

/** The Map operations made with each key while `run` runs: every table of a live shell's state is a Map. */
function countKeyedMapCalls(run: () => void): Map<unknown, number> {
  const counts = new Map<unknown, number>();
  const names = ['get', 'has', 'set', 'delete'] as const;
  const originals = names.map((name) => Reflect.get(Map.prototype, name) as MapMethod);
  const [get, , set] = originals as [MapMethod, MapMethod, MapMethod, MapMethod];
  names.forEach((name, index) => {
    const original = originals[index] as MapMethod;
    Reflect.set(Map.prototype, name, function (this: Map<unknown, unknown>, key: unknown, ...rest: unknown[]): unknown {
      if (this !== counts) set.call(counts, key, ((get.call(counts, key) as number | undefined) ?? 0) + 1);
      return original.call(this, key, ...rest);
    });
  });
  try {
    run();
  } finally {
    names.forEach((name, index) => Reflect.set(Map.prototype, name, originals[index]));
  }
  return counts;
}

/** A run applied as a live shell applies it (its tables kept in Maps), and every other way alongside. */
class Run {
  readonly shell: OwnerState = ownerCore.initial();
  readonly ways = new ThreeWays();

  constructor() {
    keepTablesInMaps(this.shell);
  }

  /** Applies `event` every way; the Map operations of the shell's step, by key. */
  step(event: OwnerEvent): Map<unknown, number> {
    this.ways.step(event);
    return countKeyedMapCalls(() => ownerCore.apply(this.shell, event));
  }
}

void test("a driver's get of a task's return, and the reply that settles it, look the return and the task up once each", () => {
  const run = new Run();
  run.step(driverStarted);
  run.step(tinySubmission);
  const get = run.step({ type: 'get/requested', getId: 'g1', refs: [{ objectId: returnId, owner: 'n1.d1' }] });
  assert.equal(get.get(returnId), 1, 'the get reads its return once (it read it three times: to index, advance and settle the get)');
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  const reply = run.step(
    delivered(
      { type: 'task/replied', taskId, attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 2, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] },
      'worker:n1.w1',
      0,
    ),
  );
  assert.equal(reply.get(returnId), 1, 'the reply reads the return once (it read it six times: to ready it, to settle its get twice, to unindex the get, to free it and to forget its task)');
  assert.equal(reply.get(taskId), 1, 'and the task once (it read it again to forget it, and found its return held)');
  assert.equal(tableGet(run.shell.gets, 'g1'), undefined, 'the get settled');
  assert.equal(tableGet(run.shell.tasks, taskId)?.state, 'FINISHED', 'the finished task stays as lineage while its return is held');
  assert.equal(tableGet(run.shell.objects, returnId)?.state, 'ready');
  const release = run.step({ type: 'refs/released', objectIds: [returnId] });
  assert.equal(release.get(returnId), 2, 'freeing the return reads and deletes it, and does not read it again to learn its task has no return left');
  assert.equal(tableGet(run.shell.objects, returnId), undefined);
  assert.equal(tableGet(run.shell.tasks, taskId), undefined, 'the task goes with its last return');
});

void test('a get of a return that is already ready settles at once, reading the return once', () => {
  const run = new Run();
  run.step(driverStarted);
  run.step(tinySubmission);
  run.step(delivered({ type: 'lease/granted', leaseId: 'n1.d1.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1', 0));
  run.step(
    delivered(
      { type: 'task/replied', taskId, attempt: 1, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'returned', payloads: [{ kind: 'inline', data: 2, sizeBytes: 1, refs: [] }] }, releasedBorrows: [] },
      'worker:n1.w1',
      0,
    ),
  );
  const get = run.step({ type: 'get/requested', getId: 'g1', refs: [{ objectId: returnId, owner: 'n1.d1' }] });
  assert.equal(get.get(returnId), 1);
  assert.equal(tableGet(run.shell.gets, 'g1'), undefined, 'the get settled at once');
  assert.equal(tableGet(run.shell.objects, returnId)?.retrievals, undefined, 'and left no trace in its return\'s index');
});
