// Unit tests of peer-links.ts over real sockets on 127.0.0.1: direct links between nodes carry
// chunk messages both ways instead of the head, within their bound, and give way to the head when
// they cannot be made or break; the drivers that attach to a node over the same port go to the node.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Message } from '../../../../core/protocol.js';
import { objectsAddress } from '../../../../node/cluster/object-transfer.js';
import { PeerLinks } from '../../../../node/cluster/peer-links.js';
import { Router, isMessageBatch } from '../../../../node/runtime/router.js';
import { TransportClient, generateClusterToken } from '../../../../node/transport/index.js';
import { until } from '../../../support/transport.js';

const token = generateClusterToken();
/** The GCS's node table, as far as these tests go: each node's transfer address. */
const addresses = new Map<string, string>();
const started: PeerLinks[] = [];

after(async () => {
  await Promise.all(started.map((links) => links.close()));
});

interface TestNode {
  readonly links: PeerLinks;
  readonly router: Router;
  /** Messages that reached this node's `objects:` address. */
  readonly delivered: Message[];
  /** Messages this node sent the head's way (no direct link). */
  readonly upstream: Message[];
  readonly lost: string[];
  readonly lines: string[];
}

async function node(nodeId: string, maxLinks?: number): Promise<TestNode> {
  const upstream: Message[] = [];
  const router = new Router({ postMessage: (value: unknown) => void (isMessageBatch(value) && upstream.push(...(value.messages as Message[]))) });
  const delivered: Message[] = [];
  router.addLocal(objectsAddress(nodeId), (message) => delivered.push(message));
  const lost: string[] = [];
  const lines: string[] = [];
  const links = await PeerLinks.start({
    nodeId,
    token,
    router,
    host: '127.0.0.1',
    transferAddressOf: (id) => addresses.get(id),
    landRaw: () => undefined,
    onLost: (id, reason) => lost.push(`${id}: ${reason}`),
    ...(maxLinks === undefined ? {} : { maxLinks }),
    log: (line) => lines.push(line),
  });
  started.push(links);
  addresses.set(nodeId, links.address);
  return { links, router, delivered, upstream, lost, lines };
}

const request = (requester: string): Message => ({ type: 'object/chunk-requested', objectId: 'n1.d1.t1.r0', pullId: 'p1', offset: 0, lengthBytes: 10, requester });

void test('chunk messages go both ways over a direct link, not the head; past the bound, or with no address or no answer, the head carries them', async () => {
  const a = await node('na', 1);
  const b = await node('nb');
  const c = await node('nc');
  assert.equal(await a.links.ensure('nb'), true);
  a.router.send('objects:na', 0, 'objects:nb', request('objects:na'));
  await until('the request at nb', () => b.delivered.length === 1);
  // The reply takes the link nb accepted.
  b.router.send('objects:nb', 0, 'objects:na', { type: 'object/chunk-failed', objectId: 'n1.d1.t1.r0', pullId: 'p1', reason: 'r' });
  await until('the reply at na', () => a.delivered.length === 1);
  assert.deepEqual([a.upstream, b.upstream], [[], []]);
  // na has its one link: nc is reached through the head.
  assert.equal(await a.links.ensure('nc'), false);
  assert.match(a.lines.join('\n'), /node na has 1 direct links to other nodes \(the bound, maxPeerLinks\): further pulls go through the head/);
  a.router.send('objects:na', 0, 'objects:nc', request('objects:na'));
  await until('the request to nc upstream', () => a.upstream.length === 1);
  assert.equal(c.delivered.length, 0);
  // No address in the node table, or nobody at it: through the head, with a line saying why.
  assert.equal(await c.links.ensure('nunknown'), false);
  addresses.set('ngone', '127.0.0.1:1');
  assert.equal(await c.links.ensure('ngone'), false);
  assert.match(c.lines.join('\n'), /could not connect directly to node ngone at 127\.0\.0\.1:1 .*; its objects come through the head/);
  // A link that breaks gives way to the head, and its pulls hear of it.
  await b.links.close();
  await until('na to hear its link to nb broke', () => a.lost.length === 1);
  assert.match(a.lost[0] ?? '', /^nb: /);
  a.router.send('objects:na', 0, 'objects:nb', request('objects:na'));
  await until('the request to nb upstream', () => a.upstream.length === 2);
});

void test('a message other than an object chunk over a direct link closes it, saying why', async () => {
  const d = await node('nd');
  const e = await node('ne');
  assert.equal(await d.links.ensure('ne'), true);
  d.router.send('objects:nd', 0, 'objects:ne', { type: 'lease/cancelled', leaseId: 'nd.d1.l1' });
  await until('nd to hear the link closed', () => d.lost.length === 1);
  assert.match(d.lost[0] ?? '', /^ne: a 'lease\/cancelled' message for objects:ne over a direct link to node ne: only object chunks for objects:ne go direct$/);
  assert.equal(e.delivered.length, 0);
});

void test("a driver's connection to a node's port is handed to the node's drivers, or refused by a node that takes none", async () => {
  const heard: string[] = [];
  const upstream: Message[] = [];
  const router = new Router({ postMessage: (value: unknown) => void (isMessageBatch(value) && upstream.push(...(value.messages as Message[]))) });
  const withDrivers = await PeerLinks.start({
    nodeId: 'nf',
    token,
    router,
    host: '127.0.0.1',
    transferAddressOf: () => undefined,
    landRaw: () => undefined,
    onLost: () => undefined,
    log: () => undefined,
    drivers: {
      deliver: (messages, peer) => heard.push(...messages.map((message) => `${peer.identity.nodeId} ${message.type} ${message.to}`)),
      closed: (peer) => heard.push(`${peer.identity.nodeId} closed`),
    },
  });
  started.push(withDrivers);
  const plain = await node('ng');
  const connect = (address: string, closed: string[]): ReturnType<typeof TransportClient.connect> => {
    const colon = address.lastIndexOf(':');
    return TransportClient.connect({
      host: address.slice(0, colon),
      port: Number(address.slice(colon + 1)),
      token,
      identity: { nodeId: 'driver-1', role: 'driver' },
      reconnect: { firstConnectGiveUpAfterMs: 2000, giveUpAfterMs: 0 },
      log: () => undefined,
      onMessages: () => undefined,
      onDisconnected: (info) => void closed.push(info.reason),
    });
  };
  const closed: string[] = [];
  const driver = await connect(withDrivers.address, closed);
  // Any message a driver sends is the node's to route (its raylet's, or on to the head), not a chunk's.
  driver.send([{ type: 'lease/cancelled', leaseId: 'nf.d1.l1', via: { from: 'worker:nf.d1', incarnation: 0, seq: 0 }, to: 'raylet:nf' }]);
  await until('the node to hear the driver', () => heard.length === 1);
  assert.deepEqual(heard, ['driver-1 lease/cancelled raylet:nf']);
  assert.equal(withDrivers.size, 0, 'a driver is no direct link');
  await driver.close();
  await until('the node to hear the driver left', () => heard.length === 2);
  assert.equal(heard[1], 'driver-1 closed');
  const refused: string[] = [];
  const other = await connect(plain.links.address, refused).catch((error: unknown) => error as Error);
  if (!(other instanceof Error)) await until('the node without drivers to close the connection', () => refused.length === 1);
  const reason = other instanceof Error ? other.message : (refused[0] ?? '');
  assert.match(reason, /a driver connected to the transfer port of node ng/);
  if (!(other instanceof Error)) await other.close();
});
