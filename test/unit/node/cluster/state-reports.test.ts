/**
 * The reports of cluster state queries: an owner's report counts and sums everything but lists only
 * its newest entries up to the limit; cutting reports to a limit keeps every count; a report of the
 * wrong shape (another tsray version) is recognised so the head counts its node as not answering.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeStateReport } from '../../../../core/protocol.js';
import { clampLimit, defaultListLimit, gathered, isNodeStateReport, matches, maxListLimit, maxWaitingForChars, nodesWithinLimit, ownerReport } from '../../../../node/cluster/state-reports.js';
import type { HostedTaskReport } from '../../../../core/protocol.js';
import type { ObjectListing, TaskListing } from '../../../../node/runtime/listing.js';

function tasks(owner: string, count: number): TaskListing[] {
  return Array.from({ length: count }, (_, index) => ({ taskId: `${owner}.t${index + 1}`, name: 'f', state: 'FINISHED', attempt: 1, nodeId: 'n1', waitingFor: 'nothing' }));
}

function objects(owner: string, count: number, refTypes: string[], size: number | null): ObjectListing[] {
  return Array.from({ length: count }, (_, index) => ({ objectId: `${owner}.p${index + 1}`, size, owner, refTypes, nodeIds: [] }));
}

void test("an owner's report lists its newest entries up to the limit and sums all of them by reference kind", () => {
  const report = ownerReport('n1.d1', tasks('n1.d1', 5), [...objects('n1.d1', 3, ['LOCAL_REFERENCE'], 10), ...objects('n1.d1', 2, ['LOCAL_REFERENCE', 'BORROWED'], 7), ...objects('n1.d1', 1, [], null)], 2);
  assert.deepEqual(
    report.tasks.map((task) => task.taskId),
    ['n1.d1.t4', 'n1.d1.t5'],
  );
  // What a task waits for travels, bounded.
  assert.equal(report.tasks[0]?.waitingFor, 'nothing');
  const long = ownerReport('n1.d1', [{ taskId: 'n1.d1.t1', name: 'f', state: 'PENDING_ARGS', attempt: 1, nodeId: null, waitingFor: 'x'.repeat(maxWaitingForChars * 3) }], [], 1);
  assert.equal(long.tasks[0]?.waitingFor?.length, maxWaitingForChars);
  assert.equal(report.taskCount, 5);
  assert.equal(report.objects.length, 2);
  assert.equal(report.objectCount, 6);
  assert.deepEqual(report.references, [
    { refType: 'BORROWED', count: 2, sizeBytes: 14 },
    { refType: 'LOCAL_REFERENCE', count: 5, sizeBytes: 44 },
    { refType: 'NONE', count: 1, sizeBytes: 0 },
  ]);
});

void test('reports cut to a limit list at most that many of each kind in all, and keep every count', () => {
  const node = (nodeId: string, owners: string[]): NodeStateReport => ({
    nodeId,
    store: { usedBytes: 0, capacityBytes: 100, objectCount: 0 },
    owners: owners.map((owner) => ownerReport(owner, tasks(owner, 4), objects(owner, 4, ['LOCAL_REFERENCE'], 1), 4)),
    silentOwners: [],
  });
  const cut = nodesWithinLimit([node('n1', ['n1.d1', 'n1.w1']), node('n2', ['n2.w1'])], 6);
  const all = gathered(cut);
  assert.equal(all.tasks.length, 6);
  assert.equal(all.objects.length, 6);
  assert.equal(all.taskCount, 12);
  assert.equal(all.objectCount, 12);
  assert.deepEqual(
    cut.map((report) => report.owners.map((owner) => owner.tasks.length)),
    [[4, 2], [0]],
  );
  assert.equal(isNodeStateReport(cut[0]), true);
});

void test('a report of another shape is not taken for one, and a limit from the wire is kept within bounds', () => {
  for (const bad of [null, 7, {}, { nodeId: 'n1', store: {}, owners: [], silentOwners: [] }, { nodeId: 'n1', store: { usedBytes: 0, capacityBytes: 0, objectCount: 0 }, owners: [{ owner: 'x' }], silentOwners: [] }]) {
    assert.equal(isNodeStateReport(bad), false, JSON.stringify(bad));
  }
  const owner = { owner: 'n1.w1', tasks: [], taskCount: 0, objects: [], objectCount: 0, references: [] };
  const node = (hosted: unknown): unknown => ({ nodeId: 'n1', store: { usedBytes: 0, capacityBytes: 0, objectCount: 0 }, owners: [{ ...owner, hosted }], silentOwners: [] });
  assert.equal(isNodeStateReport(node([{ taskId: 't', name: 'f', attempt: 1, workerId: 'n1.w1', phase: 'queued', behind: 't0' }])), true);
  for (const hosted of [7, [{ taskId: 't' }], [{ taskId: 't', name: 'f', attempt: 1, workerId: 'w', phase: 'asleep' }], [{ taskId: 't', name: 'f', attempt: 1, workerId: 'w', phase: 'running', waitsInGetFor: [1] }]]) {
    assert.equal(isNodeStateReport(node(hosted)), false, JSON.stringify(hosted));
  }
  assert.equal(clampLimit(0), defaultListLimit);
  assert.equal(clampLimit(2.5), defaultListLimit);
  assert.equal(clampLimit(10 ** 9), maxListLimit);
  assert.equal(clampLimit(3), 3);
});

void test('filters compare fields as text, hold for list fields, are applied before the limit and the counts, and a malformed one matches nothing', () => {
  const task = { taskId: 't1', name: 'f', state: 'FAILED', attempt: 2, nodeId: null };
  assert.equal(matches(task, [{ key: 'state', value: 'FAILED' }, { key: 'attempt', value: '2' }]), true);
  assert.equal(matches(task, [{ key: 'nodeId', value: 'null' }]), true);
  assert.equal(matches(task, [{ key: 'state', value: 'FINISHED' }]), false);
  assert.equal(matches({ refTypes: ['LOCAL_REFERENCE', 'BORROWED'] }, [{ key: 'refTypes', value: 'BORROWED' }]), true);
  assert.equal(matches(task, undefined), true);
  assert.equal(matches(task, 'state=FAILED' as unknown as []), false);
  assert.equal(matches(task, [{ key: 'state' }] as unknown as []), false);
  const report = ownerReport('n1.d1', [...tasks('n1.d1', 5), { taskId: 'n1.d1.t9', name: 'g', state: 'FAILED', attempt: 1, nodeId: 'n2' }], objects('n1.d1', 3, ['LOCAL_REFERENCE'], 1), 1, { tasks: [{ key: 'state', value: 'FAILED' }], objects: [{ key: 'objectId', value: 'n1.d1.p1' }] });
  assert.deepEqual(
    report.tasks.map((entry) => entry.taskId),
    ['n1.d1.t9'],
  );
  assert.equal(report.taskCount, 1);
  assert.equal(report.objectCount, 1);
  assert.deepEqual(report.references, [{ refType: 'LOCAL_REFERENCE', count: 1, sizeBytes: 1 }]);
});

void test("the gathered tasks follow a running task's wait through the tasks other owners host, within the limit", () => {
  const hosted = (workerId: string, list: HostedTaskReport[]): HostedTaskReport[] => list.map((entry) => ({ ...entry, workerId }));
  const running = (taskId: string, waitsFor: string): HostedTaskReport => ({ taskId, name: 'ping', attempt: 1, workerId: '', phase: 'running', waitsInGetFor: [waitsFor] });
  const driverTask: TaskListing = { taskId: 'n1.d1.t1', name: 'ping', state: 'RUNNING', attempt: 1, nodeId: 'n1', waitingFor: 'waits for task ping (attempt 1), running on node n1 (worker n1.w1)' };
  const node = (limit: number): NodeStateReport => ({
    nodeId: 'n1',
    store: { usedBytes: 0, capacityBytes: 100, objectCount: 0 },
    owners: [
      ownerReport('n1.d1', [driverTask], [], limit),
      ownerReport('n1.w1', [], [], limit, {}, hosted('n1.w1', [running('n1.d1.t1', 'n1.w1.t1.r0'), { taskId: 'n1.w2.t1', name: 'ping', attempt: 1, workerId: '', phase: 'queued', behind: 'n1.d1.t1' }])),
      ownerReport('n1.w2', [], [], limit, {}, hosted('n1.w2', [running('n1.w1.t1', 'n1.w2.t1.r0')])),
    ],
    silentOwners: [],
  });
  const [task] = gathered([node(10)]).tasks;
  assert.match(task?.waitingFor ?? '', /running on node n1 \(worker n1\.w1\); it waits in get for n1\.w1\.t1\.r0; .*: a deadlock \(n1\.d1\.t1 → n1\.w1\.t1 → n1\.w2\.t1 → n1\.d1\.t1\)$/);
  // Cut to 2 hosted tasks in all, the chain ends where the reports do.
  const cut = nodesWithinLimit([node(10)], 2);
  assert.deepEqual(
    cut[0]?.owners.map((owner) => owner.hosted?.length ?? 0),
    [0, 2, 0],
  );
  assert.doesNotMatch(gathered(cut).tasks[0]?.waitingFor ?? '', /deadlock/);
});
