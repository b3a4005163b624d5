/**
 * The handoff folder between a node and its local drivers (node/store/shm-handoff.ts), in a temporary
 * root standing for /dev/shm: parts land at their offsets and read back whole, the bound fails a
 * write naming TSRAY_SHM_STORE_BYTES, a driver finds only a live node's folder, a driver's files go
 * together, and the sweep removes the folders of dead nodes only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HandoffFullError, ShmHandoff, handoffDir, sweepStaleHandoffs } from '../../../node/store/shm-handoff.js';

const root = mkdtempSync(join(tmpdir(), 'tsray-handoff-'));

/** The reason a folder could not be made or found (the test fails if there is a folder). */
function reason(result: ShmHandoff | string): string {
  assert.equal(typeof result, 'string', 'a folder was made or found');
  return result as string;
}

/** A pid that no process has now: a child that ran and exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid ?? 0;
}

function made(nodeId: string, limitBytes: number): ShmHandoff {
  const folder = ShmHandoff.create(nodeId, limitBytes, root);
  assert.ok(folder instanceof ShmHandoff, typeof folder === 'string' ? folder : '');
  return folder;
}

void describe('the shared-memory handoff folder', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  void test('parts land at their offsets and read back whole, synchronously and off the main thread', async () => {
    const node = made('n1', 1024);
    const body = Uint8Array.from([1, 2, 3]);
    const blob = new Uint8Array(new SharedArrayBuffer(8)).fill(9);
    node.write('p-d1-o1', 72, [
      { at: 0, bytes: body },
      { at: 64, bytes: blob },
    ]);
    const driver = ShmHandoff.attach('n1', root);
    assert.ok(driver instanceof ShmHandoff, typeof driver === 'string' ? driver : '');
    const back = new Uint8Array(72);
    driver.readInto('p-d1-o1', back);
    assert.deepEqual([...back.subarray(0, 4)], [1, 2, 3, 0]);
    assert.deepEqual([...back.subarray(64)], [9, 9, 9, 9, 9, 9, 9, 9]);
    await node.writeAsync('g-d1-o2-1', 16, [{ at: 0, bytes: new Uint8Array(16).fill(5) }]);
    const staged = new Uint8Array(new SharedArrayBuffer(16));
    await driver.readIntoAsync('g-d1-o2-1', staged);
    assert.deepEqual([...staged], new Array<number>(16).fill(5));
    assert.throws(() => driver.readInto('g-d1-o2-1', new Uint8Array(32)), /ended after 16 of 32 bytes/);
    node.close();
    assert.equal(existsSync(handoffDir('n1', root)), false, 'the node removes its folder when it closes');
  });

  void test('a write past the bound fails naming TSRAY_SHM_STORE_BYTES, and room comes back as files go', async () => {
    const node = made('n2', 100);
    node.write('p-d1-a', 60, [{ at: 0, bytes: new Uint8Array(60) }]);
    assert.throws(() => node.write('p-d1-b', 50, [{ at: 0, bytes: new Uint8Array(50) }]), (error: unknown) => error instanceof HandoffFullError && /60 of 100 bytes in use; TSRAY_SHM_STORE_BYTES/.test(error.message));
    await assert.rejects(node.writeAsync('g-d1-b-1', 50, [{ at: 0, bytes: new Uint8Array(50) }]), HandoffFullError);
    assert.equal(node.has('p-d1-b'), false, 'a refused write leaves no file');
    node.remove('p-d1-a');
    node.write('p-d1-b', 50, [{ at: 0, bytes: new Uint8Array(50) }]);
    assert.equal(node.usedBytes(), 50);
    node.close();
  });

  void test("a driver's files go together, and names that leave the folder are refused", () => {
    const node = made('n3', 1000);
    node.mark('d-d7');
    node.write('p-d7-x', 4, [{ at: 0, bytes: new Uint8Array(4) }]);
    node.write('g-d7-y-1', 4, [{ at: 0, bytes: new Uint8Array(4) }]);
    node.write('g-d8-y-2', 4, [{ at: 0, bytes: new Uint8Array(4) }]);
    node.removeDriver('d7');
    assert.deepEqual(readdirSync(handoffDir('n3', root)).sort(), ['g-d8-y-2', 'node.json']);
    assert.throws(() => node.write('../escape', 1, []), /not a handoff file name/);
    assert.throws(() => node.readInto('p-../../etc', new Uint8Array(1)), /not a handoff file name/);
    node.close();
  });

  void test('a driver finds no folder of a node that is elsewhere or dead, and the sweep removes only dead nodes\' folders', () => {
    assert.match(reason(ShmHandoff.attach('n-elsewhere', root)), /no shared mapping of node n-elsewhere/);
    assert.match(reason(ShmHandoff.create('n0', 0, root)), /TSRAY_SHM_STORE_BYTES is 0/);
    assert.match(reason(ShmHandoff.create('n0', 10, join(root, 'missing'))), /cannot make|not a folder/);
    const live = made('n4', 10);
    const deadDir = handoffDir('n5', root);
    made('n5', 10);
    writeFileSync(join(deadDir, 'node.json'), JSON.stringify({ pid: deadPid(), nodeId: 'n5', limitBytes: 10 }));
    assert.match(reason(ShmHandoff.attach('n5', root)), /no shared mapping/, 'a dead node is not attached to');
    assert.equal(sweepStaleHandoffs(root), 1);
    assert.equal(existsSync(deadDir), false);
    assert.equal(existsSync(live.dir), true, "a live node's folder stays");
    live.close();
  });
});
