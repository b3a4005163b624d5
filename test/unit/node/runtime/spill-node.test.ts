/**
 * The spill space as the embedded node's shell keeps it: a put the store cannot take is spilled and
 * recorded by the raylet (in memory or spilled, never both), a second copy of the same put keeps one
 * file, a free deletes the file, and the node's stop removes the spill folder.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EmbeddedCluster } from '../../../../node/runtime/embedded.js';
import { isSpilledData } from '../../../../node/runtime/stored-values.js';
import { spillDir } from '../../../../node/store/spill-space.js';

const mib = 1024 * 1024;
const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-spill-node-'));
after(() => rmSync(sessionDir, { recursive: true, force: true }));

/** Waits until `check` holds (puts that do not fit land after a collection round); whether it did. */
async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return check();
}

void test('a put the store cannot take is spilled, recorded once, freed with its file, and the folder goes at stop', async () => {
  const cluster = await EmbeddedCluster.start({ namespace: 'default', numCpus: 1, sessionDir, objectStoreMemory: 8 * mib, spillCapacityBytes: 32 * mib });
  const folder = spillDir(cluster.sessionDir, cluster.nodeId);
  try {
    const put = (objectId: string): void =>
      cluster.router.send('worker:n1.d1', 0, 'raylet:n1', { type: 'object/put-requested', objectId, owner: 'n1.d1', data: { body: new Uint8Array(10).fill(1), blobs: [new Uint8Array(6 * mib).fill(2)] }, sizeBytes: 6 * mib + 10, refs: [] });
    put('n1.d1.p91');
    put('n1.d1.p92');
    assert.ok(await eventually(() => cluster.raylet.state.objects['n1.d1.p92'] !== undefined), 'the second put lands');
    assert.equal(cluster.raylet.state.objects['n1.d1.p91']?.spilled, undefined, 'the first is in memory');
    const spilled = cluster.raylet.state.objects['n1.d1.p92'];
    assert.equal(spilled?.spilled, true);
    assert.ok(isSpilledData(spilled?.data));
    assert.equal(cluster.store.get('n1.d1.p92'), undefined, 'a spilled object takes no memory of the store');
    assert.equal(cluster.raylet.state.spilledBytes, 6 * mib + 10);
    assert.equal(cluster.raylet.state.config.spillCapacityBytes, 32 * mib);
    assert.deepEqual(readdirSync(folder), ['n1.d1.p92.spill']);

    // The same put again (a retransmission) keeps its one file and its one count.
    put('n1.d1.p92');
    cluster.router.flush();
    assert.equal(cluster.raylet.state.spilledBytes, 6 * mib + 10);
    assert.deepEqual(readdirSync(folder), ['n1.d1.p92.spill']);

    cluster.router.send('worker:n1.d1', 0, 'raylet:n1', { type: 'object/free-requested', objectIds: ['n1.d1.p92'] });
    cluster.router.flush();
    assert.equal(cluster.raylet.state.spilledBytes, 0);
    assert.deepEqual(readdirSync(folder), [], 'the freed object has no file any more');
    put('n1.d1.p93');
    assert.ok(await eventually(() => cluster.raylet.state.objects['n1.d1.p93']?.spilled === true));
    assert.equal(readdirSync(folder).length, 1);
  } finally {
    await cluster.stop();
  }
  assert.equal(existsSync(folder), false, "the node's stop removes its spill files");
});
