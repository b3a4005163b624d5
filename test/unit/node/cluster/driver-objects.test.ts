// Unit tests of driver-objects.ts: a connected driver without its node's shared mapping captures a
// large put at the call in one copy, keeps those bytes for the node to pull, and sends a descriptor.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delivered, Message } from '../../../../core/protocol.js';
import { DriverObjects } from '../../../../node/cluster/driver-objects.js';
import { loggedOwnerEvent } from '../../../../node/runtime/log-elision.js';
import type { Router } from '../../../../node/runtime/router.js';
import { flattenValue, isRemoteStoredData } from '../../../../node/runtime/stored-values.js';
import type { EncodedData } from '../../../../node/runtime/values.js';

const driverAddress = 'worker:driver-1';

/** A driver's objects over a router that records what it sends. */
function driverObjects(): { objects: DriverObjects; sent: Message[] } {
  const sent: Message[] = [];
  const router = {
    send: (_from: string, _incarnation: number, _to: string, message: Message) => sent.push(message),
    forward: (message: Delivered<Message>) => sent.push(message),
  } as unknown as Router;
  return { objects: new DriverObjects(driverAddress, router), sent };
}

/** An encoded value with one blob of `length` bytes, each saying where it is. */
function encodedValue(length: number): { data: EncodedData; blob: Uint8Array } {
  const blob = Uint8Array.from({ length }, (_, index) => index % 251);
  return { data: { body: Uint8Array.of(1, 2, 3), blobs: [blob] }, blob };
}

const via = { from: 'objects:n1', incarnation: 0, seq: 1 };

/** Asks the driver for every byte of `objectId` as a node pulling it would; the bytes it serves, or the failure. */
function served(objects: DriverObjects, sent: Message[], objectId: string, totalBytes: number): Uint8Array | string {
  sent.length = 0;
  objects.onMessage({ type: 'object/chunk-requested', objectId, pullId: 'p1', offset: 0, lengthBytes: totalBytes, requester: 'objects:n1', via }, driverAddress);
  const reply = sent[0];
  if (reply?.type === 'object/chunk-sent') return Uint8Array.from(reply.bytes as Uint8Array);
  return reply?.type === 'object/chunk-failed' ? reply.reason : 'no reply';
}

void describe('a connected driver captures a large put at the call, in one copy', () => {
  void it('returns a descriptor of bytes it holds, laid out as the node stores them, which later writes to the caller’s array do not change', () => {
    const { objects, sent } = driverObjects();
    const { data, blob } = encodedValue(100_000);
    const expected = flattenValue(data);
    const captured = objects.putCaptured('o1', data);
    assert.ok(isRemoteStoredData(captured), 'without a shared mapping the put travels as a descriptor to pull');
    assert.equal(captured.holder, driverAddress);
    assert.equal(captured.totalBytes, expected.bytes.byteLength);
    assert.deepEqual(captured.layout, expected.layout);
    assert.equal(objects.heldCount, 1);
    blob.fill(0);
    assert.deepEqual(served(objects, sent, 'o1', captured.totalBytes), expected.bytes, 'the node pulls the value as it was at the call');
  });

  void it('sends a captured put on as it is, with no second copy, and lets its bytes go once the node has them', () => {
    const { objects, sent } = driverObjects();
    const captured = objects.putCaptured('o2', encodedValue(50_000).data);
    const posted: unknown[] = [];
    const port = objects.outbound({ postMessage: (value: unknown) => posted.push(value) });
    const request = { type: 'object/put-requested' as const, objectId: 'o2', owner: 'driver-1', data: captured, sizeBytes: 50_000, refs: [], via };
    port.postMessage({ kind: 'tsray/messages', messages: [request] });
    const batch = posted[0] as { messages: { data: unknown }[] };
    assert.equal(batch.messages[0]?.data, captured, 'the descriptor goes on untouched: the outbound port does not lay the bytes out again');
    assert.equal(objects.heldCount, 1);
    objects.onMessage({ type: 'object/put-acked', objectId: 'o2', via }, driverAddress);
    assert.equal(objects.heldCount, 0, 'the node acknowledged the put: its bytes are in the node store');
    assert.match(String(served(objects, sent, 'o2', 100)), /not here/);
  });

  void it('takes back a captured put whose put event failed', () => {
    const { objects, sent } = driverObjects();
    const captured = objects.putCaptured('o3', encodedValue(20_000).data);
    assert.ok(isRemoteStoredData(captured));
    objects.dropCapturedPut('o3');
    assert.equal(objects.heldCount, 0);
    assert.match(String(served(objects, sent, 'o3', captured.totalBytes)), /not here/);
  });

  void it('logs a captured put as its descriptor, without hashing bytes it does not carry', () => {
    const { objects } = driverObjects();
    const captured = objects.putCaptured('o4', encodedValue(200_000).data);
    assert.ok(isRemoteStoredData(captured));
    const event = { type: 'object/put' as const, value: { data: captured, sizeBytes: 200_003, refs: [] } };
    assert.equal(loggedOwnerEvent(event, 100 * 1024, () => 'o4'), event, 'a descriptor is small and replays as it is: it is logged whole');
  });
});
