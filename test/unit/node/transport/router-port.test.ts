/**
 * Two routers of node/runtime/router.ts joined by the transport, as the cluster will join a head's
 * GCS and a node's raylet: component messages cross by address with the envelope the sender stamped.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivered, Message } from '../../../../core/protocol.js';
import { Router } from '../../../../node/runtime/router.js';
import { generateClusterToken, QueueLimitError, routerPort, TransportClient, TransportServer } from '../../../../node/transport/index.js';
import { turn, until } from '../../../support/transport.js';

const token = generateClusterToken();
const headRouter = new Router();
const nodeRouter = new Router();
let server: TransportServer | undefined;
let client: TransportClient | undefined;
after(async () => {
  headRouter.close();
  nodeRouter.close();
  await client?.close();
  await server?.close();
});

void test('a raylet and the GCS exchange messages through their routers over TCP', async () => {
  const errors: Error[] = [];
  const gcsInbox: Delivered<Message>[] = [];
  const rayletInbox: Delivered<Message>[] = [];
  headRouter.addLocal('gcs', (message) => gcsInbox.push(message));
  nodeRouter.addLocal('raylet:n2', (message) => rayletInbox.push(message));
  server = await TransportServer.listen({
    token,
    identity: { nodeId: 'head', role: 'gcs' },
    log: () => undefined,
    onPeer: (peer) => headRouter.addRemote(`raylet:${peer.identity.nodeId}`, routerPort(peer, (error) => errors.push(error))),
    onMessages: (messages) => {
      for (const message of messages) headRouter.forward(message, message.to);
    },
  });
  client = await TransportClient.connect({
    host: '127.0.0.1',
    port: server.address.port,
    token,
    identity: { nodeId: 'n2', role: 'raylet' },
    log: () => undefined,
    onMessages: (messages) => {
      for (const message of messages) nodeRouter.forward(message, message.to);
    },
  });
  nodeRouter.addRemote('gcs', routerPort(client, (error) => errors.push(error)));
  const framesBefore = client.peer!.stats.framesSent;
  for (let i = 0; i < 100; i += 1) nodeRouter.send('raylet:n2', 3, 'gcs', { type: 'node/heartbeat', nodeId: 'n2', available: { CPU: i } }, i);
  await until('the GCS to get 100 messages', () => gcsInbox.length >= 100);
  assert.equal(client.peer!.stats.framesSent - framesBefore, 1, "one turn's messages to one address travel as one frame");
  assert.deepEqual(gcsInbox[7], { type: 'node/heartbeat', nodeId: 'n2', available: { CPU: 7 }, via: { from: 'raylet:n2', incarnation: 3, seq: 7, cause: 7 } });
  headRouter.send('gcs', 0, 'raylet:n2', { type: 'node/died', nodeId: 'n3' });
  await until("the raylet to get the GCS's message", () => rayletInbox.length >= 1);
  assert.deepEqual(rayletInbox, [{ type: 'node/died', nodeId: 'n3', via: { from: 'gcs', incarnation: 0, seq: 0 } }]);
  assert.deepEqual(errors, []);
});

void test('a send error goes to onError and the router keeps flushing its other ports', async () => {
  const router = new Router();
  const errors: Error[] = [];
  const delivered: unknown[] = [];
  const failing = { send: (): boolean => { throw new QueueLimitError('the send queue is full (maxQueuedBytes)', 1); } };
  const working = { send: (messages: readonly unknown[]): boolean => delivered.push(...messages) > 0 };
  router.addRemote('raylet:n3', routerPort(failing, (error) => errors.push(error)));
  router.addRemote('raylet:n4', routerPort(working, (error) => errors.push(error)));
  router.send('gcs', 0, 'raylet:n3', { type: 'node/died', nodeId: 'n9' });
  router.send('gcs', 0, 'raylet:n4', { type: 'node/died', nodeId: 'n9' });
  await turn();
  router.close();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof QueueLimitError);
  assert.equal(delivered.length, 1);
});
