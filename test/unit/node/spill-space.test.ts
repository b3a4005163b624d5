/**
 * The spill space's files: written laid out as in the store, bounded by its capacity, read back as
 * private copies, deleted when freed and all removed at close; served in chunks to another node, and
 * turned into a descriptor to pull when a fetched spilled object leaves its node.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Delivered, Message } from '../../../core/protocol.js';
import { objectsAddress, serveChunk } from '../../../node/cluster/object-transfer.js';
import { withRemoteStoredData } from '../../../node/cluster/node-routing.js';
import { isRemoteStoredData, partsOf } from '../../../node/runtime/stored-values.js';
import type { MessageBatch } from '../../../node/runtime/router.js';
import { objectNodes } from '../../../node/cli/status.js';
import { spilledObjectIds } from '../../../node/cluster/state-queries.js';
import { initialRayletState } from '../../../core/raylet/index.js';
import type { NodeStateReport } from '../../../core/protocol.js';
import { SpillSpace, readSpilled, readSpilledRange, spillBytesVariable, spillCapacityBytes, spillDir, spillStoreMultiple } from '../../../node/store/spill-space.js';

const root = mkdtempSync(join(tmpdir(), 'tsray-spill-space-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A value of a 10-byte body and two blobs. */
function value(seed: number): { body: Uint8Array; blobs: Uint8Array[] } {
  return { body: new Uint8Array(10).fill(seed), blobs: [new Uint8Array(100).fill(seed + 1), new Uint8Array(1000).fill(seed + 2)] };
}

void describe('the spill space', () => {
  void test('writes one file per object within its capacity, reads private copies, deletes freed files and removes all at close', () => {
    const space = new SpillSpace(spillDir(root, 'n1'), 2600);
    const one = space.write('n1.d1.p1', value(1));
    assert.ok(one !== undefined);
    assert.equal(one.totalBytes, 1192, 'body, then each blob 64-byte aligned');
    assert.deepEqual(one.layout, { offset: 0, body: [0, 10], blobs: [[64, 100], [192, 1000]] });
    assert.equal(space.write('n1.d1.p1', value(9)), one, 'an object spilled already keeps its file');
    const two = space.write('n1.d1.p2', value(4));
    assert.ok(two !== undefined);
    assert.equal(space.usedBytes, 2 * 1192);
    assert.equal(space.write('n1.d1.p3', value(7)), undefined, 'past the capacity');
    assert.deepEqual(readdirSync(space.dir).sort(), ['n1.d1.p1.spill', 'n1.d1.p2.spill']);

    const bytes = readSpilled(one);
    const parts = partsOf(bytes, one.layout);
    assert.ok(parts.body.every((byte) => byte === 1));
    assert.ok((parts.blobs[1] as Uint8Array).every((byte) => byte === 3));
    (parts.blobs[1] as Uint8Array).fill(0);
    assert.ok((partsOf(readSpilled(one), one.layout).blobs[1] as Uint8Array).every((byte) => byte === 3), 'each read is its own copy');
    assert.deepEqual([...readSpilledRange(two, 190, 4)], [0, 0, 6, 6], 'a range, alignment padding included');

    assert.equal(space.delete('n1.d1.p1'), true);
    assert.equal(space.delete('n1.d1.p1'), false);
    assert.equal(space.usedBytes, 1192);
    assert.deepEqual(readdirSync(space.dir), ['n1.d1.p2.spill']);
    assert.throws(() => readSpilled(one), /n1\.d1\.p1 was spilled to .* which is gone/);
    assert.ok(space.write('n1.d1.p3', value(7)) !== undefined, 'the freed bytes are given back');
    space.close();
    assert.equal(existsSync(space.dir), false);
    assert.equal(space.usedBytes, 0);
  });

  void test('its capacity: the variable, else a multiple of the store bounded by the free disk', () => {
    assert.equal(spillCapacityBytes(root, 1000, { [spillBytesVariable]: '0' }), 0);
    assert.equal(spillCapacityBytes(root, 1000, { [spillBytesVariable]: '12345' }), 12345);
    assert.throws(() => spillCapacityBytes(root, 1000, { [spillBytesVariable]: '-1' }), /TSRAY_SPILL_BYTES must be a whole number/);
    assert.equal(spillCapacityBytes(root, 1000, {}), spillStoreMultiple * 1000);
    const huge = spillCapacityBytes(root, 2 ** 50, {});
    assert.ok(huge < spillStoreMultiple * 2 ** 50, 'no more than the disk has free');
  });

  void test('a spilled object is served in chunks read from its file, and leaves its node as one to pull', () => {
    const space = new SpillSpace(spillDir(root, 'n2'), 10_000);
    const spilled = space.write('n2.d1.p1', value(1));
    assert.ok(spilled !== undefined);
    const source = { byteLength: spilled.totalBytes, read: (offset: number, lengthBytes: number) => readSpilledRange(spilled, offset, lengthBytes) };
    const chunk = serveChunk({ type: 'object/chunk-requested', objectId: 'n2.d1.p1', pullId: 'x', offset: 64, lengthBytes: 100, requester: 'objects:n3' }, () => source);
    assert.equal(chunk.type, 'object/chunk-sent');
    const chunkBytes = chunk.type === 'object/chunk-sent' ? (chunk.bytes as Uint8Array) : new Uint8Array(0);
    assert.ok(chunk.type === 'object/chunk-sent' && chunk.totalBytes === 1192 && chunkBytes.byteLength === 100 && chunkBytes.every((byte) => byte === 2));
    const outside = serveChunk({ type: 'object/chunk-requested', objectId: 'n2.d1.p1', pullId: 'x', offset: 1100, lengthBytes: 100, requester: 'objects:n3' }, () => source);
    assert.equal(outside.type, 'object/chunk-failed');
    space.close();
    const gone = serveChunk({ type: 'object/chunk-requested', objectId: 'n2.d1.p1', pullId: 'x', offset: 0, lengthBytes: 10, requester: 'objects:n3' }, () => source);
    assert.ok(gone.type === 'object/chunk-failed' && /could not be read/.test(gone.reason));

    const posted: MessageBatch[] = [];
    const port = withRemoteStoredData({ postMessage: (batch: unknown) => posted.push(batch as MessageBatch) }, 'n2');
    const fetched: Delivered<Message> = { type: 'object/fetched', objectId: 'n2.d1.p1', data: spilled, sizeBytes: 1110, refs: [], via: { from: 'raylet:n2', incarnation: 1, seq: 0 } };
    port.postMessage({ kind: 'tsray/messages', messages: [fetched] });
    const sent = posted[0]?.messages[0];
    assert.ok(sent?.type === 'object/fetched' && isRemoteStoredData(sent.data));
    assert.deepEqual(sent.data, { remoteObjectId: 'n2.d1.p1', nodeId: 'n2', holder: objectsAddress('n2'), totalBytes: 1192, layout: spilled.layout });
  });

  void test('listings mark the objects a node holds on disk', () => {
    const raylet = initialRayletState();
    raylet.objects['n1.d1.p1'] = { owner: 'n1.d1', data: null, sizeBytes: 5, refs: [] };
    raylet.objects['n1.d1.p2'] = { owner: 'n1.d1', data: null, sizeBytes: 5, refs: [], spilled: true };
    raylet.objects['n1.d1.p3'] = { owner: 'n1.d1', data: null, sizeBytes: 5, refs: [], spilled: true };
    assert.deepEqual(spilledObjectIds(raylet, 10), ['n1.d1.p2', 'n1.d1.p3']);
    assert.deepEqual(spilledObjectIds(raylet, 1), ['n1.d1.p2'], 'up to the limit');
    const node = (nodeId: string, spilled: string[]): NodeStateReport => ({ nodeId, store: { usedBytes: 0, capacityBytes: 1, objectCount: 0, spilledObjectIds: spilled }, owners: [], silentOwners: [] });
    const nodesOf = objectNodes([node('n1', ['n1.d1.p2']), node('n2', [])]);
    assert.equal(nodesOf({ objectId: 'n1.d1.p2', nodeIds: ['n1', 'n2'] }), 'n1(spilled),n2');
    assert.equal(nodesOf({ objectId: 'n1.d1.p1', nodeIds: ['n1'] }), 'n1');
    assert.equal(nodesOf({ objectId: 'n1.d1.p1', nodeIds: [] }), '-');
  });
});
