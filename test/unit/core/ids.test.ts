// Tests for the id derivations that reducers read ownership and lineage from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { creatorOfActor, isDriverId, isObjectOfTask, ownerOfObject, taskNumber, taskOfObject, workerAddress } from '../../../core/ids.js';

void test('taskOfObject finds the task of a return object and nothing for a put', () => {
  assert.equal(taskOfObject('n1.d1.t7.r0'), 'n1.d1.t7');
  assert.equal(taskOfObject('n12.w3.t100.r15'), 'n12.w3.t100');
  assert.equal(taskOfObject('n1.d1.t7'), 'n1.d1.t7');
  assert.equal(taskOfObject('n1.d1.p3'), undefined);
  assert.equal(taskOfObject('n1.d1.a2.h0'), undefined);
  for (const odd of ['', 'n1', 'n1.', 'n1.d1', 'n1.d1.', 'n1..t', '..t.', 'n1.d1.t', 't.t.t.t.t']) {
    // The split-based reading it replaced, as the reference for shapes no recipe makes.
    const parts = odd.split('.');
    const expected = (parts[2] ?? '').startsWith('t') ? parts.slice(0, 3).join('.') : undefined;
    assert.equal(taskOfObject(odd), expected, odd);
  }
});

void test('taskNumber reads the number an owner gave a task, and nothing from an id of another form', () => {
  assert.equal(taskNumber('n1.d1.t1'), 1);
  assert.equal(taskNumber('driver-1-ab.d1.t123456'), 123456);
  assert.equal(taskNumber('n2.w17.t40'), 40);
  for (const odd of ['n1.d1', 'n1.d1.t', 'n1.d1.tx', 'n1.d1.t1.r0', 'n1.d1.t-1', '']) assert.equal(taskNumber(odd), undefined, odd);
});

void test('ownerOfObject reads the owner from any object id, as the split-based reading did', () => {
  assert.equal(ownerOfObject('n1.d1.t7.r0'), 'n1.d1');
  assert.equal(ownerOfObject('n12.w3.p100'), 'n12.w3');
  assert.equal(ownerOfObject('n1.d1.a2.h'), 'n1.d1');
  for (const odd of ['', 'n1', 'n1.', 'n1.d1', 'n1.d1.', 'n1..t', '..t.', '.', '...']) {
    // The split-based reading it replaced, as the reference for shapes no recipe makes.
    const parts = odd.split('.');
    assert.equal(ownerOfObject(odd), `${parts[0] ?? ''}.${parts[1] ?? ''}`, odd);
  }
});

void test('workerAddress gives worker:<id> for every worker, past the workers whose addresses it remembers', () => {
  // More workers than the address cache holds, twice over: every address is still the worker's own.
  const workers = Array.from({ length: 2500 }, (_, index) => `n${index % 7}.w${index}`);
  for (let round = 0; round < 2; round++) for (const workerId of workers) assert.equal(workerAddress(workerId), `worker:${workerId}`);
  assert.equal(workerAddress('n1.d1'), 'worker:n1.d1');
  assert.equal(workerAddress('n1.d1'), 'worker:n1.d1', 'a remembered address is the same');
});

void test('isObjectOfTask tells what taskOfObject === taskId tells, for the ids owners mint and for odd ones', () => {
  const ids = ['n1.d1.t7.r0', 'n1.d1.t7.r12', 'n1.d1.t70.r0', 'n1.d1.t7', 'n1.d1.p3', 'n1.w2.t7.r0', 'n1.d1.t7.x', 'n1.d1.t7.r0.extra', 'x', '', 'n1.d1.x7.r0', 'driver-1.d2.t9.r1'];
  const tasks = ['n1.d1.t7', 'n1.d1.t70', 'n1.w2.t7', 'n1.d1', 'n1.d1.t7.r0', 'driver-1.d2.t9', 'n1.d1.x7'];
  for (const objectId of ids) {
    for (const taskId of tasks) {
      // Never true where taskOfObject says otherwise; true for every return id of a minted task id.
      if (isObjectOfTask(objectId, taskId)) assert.equal(taskOfObject(objectId), taskId, `${objectId} of ${taskId}`);
      else if (objectId.startsWith(`${taskId}.r`)) assert.notEqual(taskOfObject(objectId), taskId, `${objectId} of ${taskId}`);
    }
  }
  assert.equal(isObjectOfTask('n1.d1.t7.r0', 'n1.d1.t7'), true);
  assert.equal(isObjectOfTask('n1.d1.t70.r0', 'n1.d1.t7'), false);
  assert.equal(isObjectOfTask('n1.d1.p3', 'n1.d1.t7'), false);
});

void test('minted task ids and return ids are flat strings, not ropes, however long their counters grow', () => {
  // V8 makes a template string of 13 characters or more as a rope (a cons string) of its pieces, which
  // each Map keyed by it walks to hash and compare: only V8's own debug print tells the two apart.
  const lineage = new URL('../../../core/owner/lineage.js', import.meta.url).href;
  const ids = new URL('../../../core/ids.js', import.meta.url).href;
  const script = `
    const { mintTaskIds } = await import(${JSON.stringify(lineage)});
    const { returnObjectId } = await import(${JSON.stringify(ids)});
    const ctx = { s: { workerId: 'n1.d1', counters: { task: 123456 } } };
    const minted = mintTaskIds(ctx, 1);
    const several = mintTaskIds(ctx, 2);
    for (const id of [minted.taskId, minted.returnIds, several.taskId, ...several.returnIds, returnObjectId('n1.d1.t7', 3)]) %DebugPrint(id);
  `;
  const result = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  const types = [...result.stdout.matchAll(/- type: (\w+)/g)].map((match) => match[1]);
  assert.deepEqual(types.length, 6, result.stdout);
  assert.deepEqual(types.filter((type) => type?.includes('CONS') === true), [], 'no id is a rope');
  assert.match(result.stdout, /n1\.d1\.t123457\.r0/);
});

void test("isDriverId knows an embedded driver, a cluster driver's random hex suffix, and no worker thread", () => {
  for (const id of ['n1.d1', 'n6128c0fa.d0e2311cb', 'driver-14401-2bcea3.d0e2311cb', 'worker:driver-14401-2bcea3.dabcdef01', 'worker:n1.d1']) assert.equal(isDriverId(id), true, id);
  for (const id of ['n1.w3', 'n6128c0fa.w12', 'worker:n1.w1', 'n1.d1.t7', 'gcs', 'raylet:n1']) assert.equal(isDriverId(id), false, id);
});

void test('creatorOfActor reads the creating process from the ids owners mint, and nothing from any other string', () => {
  assert.equal(creatorOfActor('n1.d1.a7'), 'n1.d1');
  assert.equal(creatorOfActor('n12.w3.a100'), 'n12.w3');
  for (const odd of ['a1', 'nobody', 'n1.d1', 'n1.d1.a', 'n1.d1.t7', 'n1.d1.a7.h', 'n1.d1.ax', '.d1.a1x']) assert.equal(creatorOfActor(odd), undefined, odd);
});
