/**
 * The transport over real TCP sockets on 127.0.0.1 (port 0): round trips, coalescing, backpressure,
 * the token handshake and hostile peers, reconnects.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import {
  ClusterRefusedError,
  ClusterUnreachableError,
  encodeFrameBody,
  frameOf,
  generateClusterToken,
  QueueLimitError,
  TransportClient,
  } from '../../../../node/transport/index.js';
import type { Peer, RoutedMessage } from '../../../../node/transport/index.js';
import { chunkMessage, helloBytes, memoryLog, smallMessage, transportFixture, turn, until } from '../../../support/transport.js';

const token = generateClusterToken();
const { startServer, startClient, raw, close } = transportFixture(token);
after(close);

/** Waits until the server has logged `count` lines (it logs when the socket has closed on its side too). */
async function logged(lines: readonly string[], count = 1): Promise<void> {
  await until(`${count} logged lines`, () => lines.length >= count);
}

/** An echo server: every message goes back to its sender, addressed to where it came from. */
function echo(messages: readonly RoutedMessage[], peer: Peer): void {
  peer.send(messages.map((message) => ({ ...message, to: message.via.from, via: { ...message.via, from: message.to } })));
}

void test('messages round-trip with the peer identity, including a 32 MiB binary payload', async () => {
  const identities: string[] = [];
  const server = await startServer({
    limits: { maxFrameBytes: 40 * 1024 * 1024 },
    onMessages: (messages, peer) => {
      identities.push(`${peer.identity.nodeId}/${peer.identity.role}`);
      echo(messages, peer);
    },
  });
  const received: RoutedMessage[] = [];
  const big = new Uint8Array(32 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
  const client = await startClient(server.address.port, {
    limits: { maxFrameBytes: 40 * 1024 * 1024 },
    onMessages: (messages) => received.push(...messages),
  });
  assert.equal(server.address.host, '127.0.0.1', 'the default bind is loopback only');
  assert.equal(client.peer?.identity.nodeId, 'head');
  assert.equal(client.peer?.identity.role, 'gcs');
  const sent = Array.from({ length: 1000 }, (_, i) => smallMessage(i));
  client.send(sent.slice(0, 500));
  client.send([chunkMessage(7, big)]);
  client.send(sent.slice(500));
  await until('every message back', () => received.length >= 1001);
  assert.ok(identities.every((identity) => identity === 'n2/raylet'));
  const small = received.filter((message) => message.type === 'lease/cancelled');
  assert.deepEqual(
    small.map((message) => message.via.seq),
    sent.map((message) => message.via.seq),
  );
  assert.deepEqual(small[3], { ...sent[3], to: 'raylet:n2', via: { ...sent[3]!.via, from: 'gcs' } });
  const chunk = received.find((message) => message.type === 'object/fetched');
  assert.ok(chunk?.type === 'object/fetched');
  assert.ok(Buffer.from(chunk.data as Uint8Array).equals(Buffer.from(big)), 'the 32 MiB payload came back byte for byte');
});

void test('sends in one turn are coalesced into one socket write; sends in separate turns are not', async () => {
  let count = 0;
  const server = await startServer({ onMessages: (messages) => (count += messages.length) });
  const client = await startClient(server.address.port);
  const peer = client.peer!;
  await turn();
  const before = { ...peer.stats };
  for (let i = 0; i < 1000; i += 1) client.send([smallMessage(i)]);
  await turn();
  assert.equal(peer.stats.framesSent - before.framesSent, 1000);
  assert.equal(peer.stats.writes - before.writes, 1, '1000 frames queued in one turn go out in one write');
  for (let round = 0; round < 3; round += 1) {
    client.send([smallMessage(round)]);
    await turn();
  }
  assert.equal(peer.stats.writes - before.writes, 4, 'one write per turn that had frames');
  await until('the server to get 1003 messages', () => count >= 1003);
});

void test('a peer that does not read: the sender sees backpressure, then an error naming maxQueuedBytes; reading again releases it', async () => {
  let serverPeer: Peer | undefined;
  const server = await startServer({
    limits: { highWaterMarkBytes: 4 * 1024 * 1024, maxQueuedBytes: 24 * 1024 * 1024, maxFrameBytes: 1024 * 1024 },
    onPeer: (peer) => (serverPeer = peer),
  });
  const reader = await raw(server.address.port);
  reader.socket.write(helloBytes(token));
  await reader.frameOfKind('welcome');
  reader.socket.pause();
  assert.ok(serverPeer !== undefined);
  const chunk = new Uint8Array(256 * 1024);
  let sends = 0;
  let writable = true;
  while (writable && sends < 2000) {
    writable = serverPeer.send([chunkMessage(sends, chunk, 'raylet:n9')]);
    sends += 1;
    await turn();
  }
  assert.equal(writable, false, 'send answered false once the queue passed the high-water mark');
  // 4 MiB more than the mark, so that what the kernel may still take cannot bring the queue under it.
  for (let i = 0; i < 16; i += 1, sends += 1) serverPeer.send([chunkMessage(sends, chunk, 'raylet:n9')]);
  let released = false;
  const whenWritable = serverPeer.whenWritable().then(() => (released = true));
  for (let i = 0; i < 20; i += 1) await turn();
  assert.equal(released, false, 'whenWritable waits while the peer does not read');
  let error: unknown;
  for (let i = 0; i < 200 && error === undefined; i += 1) {
    try {
      serverPeer.send([chunkMessage(sends + i, chunk, 'raylet:n9')]);
    } catch (caught) {
      error = caught;
    }
  }
  assert.ok(error instanceof QueueLimitError, 'a sender that ignores backpressure hits the hard limit');
  assert.equal(error.limitBytes, 24 * 1024 * 1024);
  assert.match(error.message, /would pass its limit of 24 MiB \(maxQueuedBytes\); wait for whenWritable\(\)/);
  reader.socket.resume();
  await whenWritable;
  assert.equal(released, true);
});

void test('a wrong token is refused with a one-line reason on both sides, and the client does not retry', async () => {
  const { lines, log } = memoryLog();
  const server = await startServer({ log });
  const clientLog = memoryLog();
  const refused = await TransportClient.connect({
    host: '127.0.0.1',
    port: server.address.port,
    token: generateClusterToken(),
    identity: { nodeId: 'n3', role: 'raylet' },
    log: clientLog.log,
    onMessages: () => undefined,
  }).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(refused instanceof ClusterRefusedError);
  assert.equal(refused.reason, 'wrong cluster token');
  assert.match(refused.message, /^the cluster refused this node: wrong cluster token; pass the --token that `tsray start --head` printed/);
  assert.doesNotMatch(refused.message, /\n/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(server.stats.accepted, 1, 'no retry after a refusal');
  assert.equal(server.stats.authenticated, 0);
  assert.deepEqual(lines, [lines[0]]);
  assert.match(lines[0] ?? '', /^refused a connection from 127\.0\.0\.1:\d+: wrong cluster token$/);
  assert.match(clientLog.lines.join('|'), /refused this node: wrong cluster token/);
});

void test('a missing token is refused, saying so', async () => {
  const { lines, log } = memoryLog();
  const server = await startServer({ log });
  const error = await TransportClient.connect({ host: '127.0.0.1', port: server.address.port, token: undefined, identity: { nodeId: 'n3', role: 'raylet' }, log: () => undefined, onMessages: () => undefined }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ClusterRefusedError);
  assert.match(error.message, /^the cluster refused this node: missing cluster token; pass the --token/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.match(lines.join('\n'), /^refused a connection from 127\.0\.0\.1:\d+: missing cluster token$/);
});

void test('a frame before the handshake closes the connection, with the reason sent and logged', async () => {
  const { lines, log } = memoryLog();
  const server = await startServer({ log });
  const peer = await raw(server.address.port);
  peer.socket.write(frameOf(encodeFrameBody({ kind: 'messages', messages: [smallMessage(1)] })));
  await until('the server to close the connection', () => peer.socket.closed);
  assert.equal(peer.refusal, "a 'messages' frame before the handshake");
  await logged(lines);
  assert.match(lines.join('\n'), /refused a connection from 127\.0\.0\.1:\d+: a 'messages' frame before the handshake/);
  assert.equal(server.stats.authenticated, 0);
});

void test('an oversize length prefix closes the connection, before and after the handshake, naming the limit', async () => {
  const { lines, log } = memoryLog();
  const server = await startServer({ log, limits: { maxFrameBytes: 1024 * 1024, maxQueuedBytes: 8 * 1024 * 1024, highWaterMarkBytes: 1024 * 1024 } });
  const header = Buffer.alloc(4);
  header.writeUInt32BE(2 ** 31, 0);
  const early = await raw(server.address.port);
  early.socket.write(header);
  await until('the server to close the connection', () => early.socket.closed);
  assert.equal(early.refusal, 'a frame of 2 GiB (2147483648 bytes) is over the limit of 4 KiB (maxFrameBytes)');
  const late = await raw(server.address.port);
  late.socket.write(helloBytes(token));
  await late.frameOfKind('welcome');
  late.socket.write(header);
  await until('the server to close the connection', () => late.socket.closed);
  assert.equal(late.refusal, 'a frame of 2 GiB (2147483648 bytes) is over the limit of 1 MiB (maxFrameBytes)');
  await logged(lines, 2);
  assert.match(lines.join('\n'), /closed the connection of node n9 \(raylet\) at 127\.0\.0\.1:\d+: a frame of 2 GiB .* over the limit of 1 MiB \(maxFrameBytes\)/);
  assert.equal(server.stats.closedByThisSide, 1);
});

void test('a frame that follows the hello in the same chunk is read under the bound of an authenticated peer', async () => {
  const received: RoutedMessage[] = [];
  const server = await startServer({ onMessages: (messages) => received.push(...messages) });
  const peer = await raw(server.address.port);
  const large = frameOf(encodeFrameBody({ kind: 'messages', messages: [chunkMessage(1, new Uint8Array(100 * 1024))] }));
  peer.socket.write(Buffer.concat([helloBytes(token), large]));
  await until('the message or a close', () => received.length > 0 || peer.socket.closed);
  assert.equal(peer.refusal, undefined);
  assert.equal(received.length, 1);
});

void test('a silent peer is closed after handshakeTimeoutMs', async () => {
  const { lines, log } = memoryLog();
  const server = await startServer({ log, limits: { handshakeTimeoutMs: 100 } });
  const silent = await raw(server.address.port);
  await until('the server to close the connection', () => silent.socket.closed);
  assert.equal(silent.refusal, 'no hello within 100 ms (handshakeTimeoutMs)');
  await logged(lines);
  assert.match(lines.join('\n'), /refused a connection from .*: no hello within 100 ms \(handshakeTimeoutMs\)/);
});

void test('a client reconnects by itself when the server comes back on its port, and sends what waited', async () => {
  const received: number[] = [];
  const onMessages = (messages: readonly RoutedMessage[]): void => {
    for (const message of messages) received.push(message.via.seq);
  };
  const first = await startServer({ onMessages });
  const port = first.address.port;
  const clientLog = memoryLog();
  let connects = 0;
  let disconnects = 0;
  const client = await startClient(port, { log: clientLog.log, onConnected: () => (connects += 1), onDisconnected: () => (disconnects += 1) });
  client.send([smallMessage(1)]);
  await until('the first message', () => received.length >= 1);
  await first.close();
  await until('the client to see the connection lost', () => client.peer === undefined);
  assert.equal(client.send([smallMessage(2)]), true, 'a send while reconnecting is held');
  await startServer({ onMessages, port });
  await until('the held message after the reconnect', () => received.length >= 2);
  assert.deepEqual(received, [1, 2]);
  assert.equal(client.connects, 2);
  assert.equal(connects, 2, 'onConnected for the first connection and the reconnect');
  assert.equal(disconnects, 1);
  assert.match(clientLog.lines.join('\n'), /lost the connection to the cluster at 127\.0\.0\.1:\d+: the server is shutting down; reconnecting\nreconnected to the cluster/);
});

void test('frames queued on a connection that closes before writing them go out on the next connection', async () => {
  const received: number[] = [];
  const server = await startServer({
    onMessages: (messages) => {
      for (const message of messages) received.push(message.via.seq);
    },
  });
  const client = await startClient(server.address.port);
  client.send([smallMessage(1), smallMessage(2)]);
  // In the same turn, before the flush: the connection closes with those frames still queued.
  client.peer!.close('closed by the test');
  client.send([smallMessage(3)]);
  await until('the three messages after the reconnect', () => received.length >= 3);
  assert.deepEqual(received, [1, 2, 3]);
  assert.equal(client.connects, 2);
});

void test('a client that cannot reach the cluster gives up after its retry bound, naming it', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const error = await TransportClient.connect({
    host: '127.0.0.1',
    port,
    token,
    identity: { nodeId: 'n2', role: 'raylet' },
    reconnect: { initialDelayMs: 10, maxDelayMs: 40, giveUpAfterMs: 300 },
    log: () => undefined,
    onMessages: () => undefined,
  }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ClusterUnreachableError);
  assert.match(error.message, new RegExp(`^could not reach the cluster at 127\\.0\\.0\\.1:${port} for 0\\.3 s \\(reconnect\\.giveUpAfterMs, \\d+ attempts\\): network error: ECONNREFUSED; check that`));
});

void test('a first connection has its own retry bound when one is given, and the error names it', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const error = await TransportClient.connect({
    host: '127.0.0.1',
    port,
    token,
    identity: { nodeId: 'n2', role: 'raylet' },
    // The long bound would outlast the test; the first connection's bound ends it.
    reconnect: { initialDelayMs: 10, maxDelayMs: 40, giveUpAfterMs: 600_000, firstConnectGiveUpAfterMs: 300 },
    log: () => undefined,
    onMessages: () => undefined,
  }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ClusterUnreachableError);
  assert.match(error.message, new RegExp(`^could not reach the cluster at 127\\.0\\.0\\.1:${port} for 0\\.3 s \\(reconnect\\.firstConnectGiveUpAfterMs, \\d+ attempts\\): network error: ECONNREFUSED`));
});

/** A server that is not a tsray server: it answers every connection with `reply` (or nothing). */
async function impostor(reply: Buffer | undefined): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (reply !== undefined) socket.write(reply);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

void test('a client closes a connection whose server sends frames before its welcome, or nothing at all, and says why when it gives up', async () => {
  const chatty = await impostor(frameOf(encodeFrameBody({ kind: 'messages', messages: [smallMessage(1)] })));
  const silent = await impostor(undefined);
  try {
    const connectTo = (port: number): Promise<unknown> =>
      TransportClient.connect({
        host: '127.0.0.1',
        port,
        token,
        identity: { nodeId: 'n2', role: 'raylet' },
        limits: { handshakeTimeoutMs: 100 },
        reconnect: { initialDelayMs: 10, maxDelayMs: 20, giveUpAfterMs: 250 },
        log: () => undefined,
        onMessages: () => assert.fail('no message may be delivered before the welcome'),
      }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
    const [early, quiet] = await Promise.all([connectTo(chatty.port), connectTo(silent.port)]);
    assert.ok(early instanceof ClusterUnreachableError);
    assert.match(early.message, /: a 'messages' frame before the welcome; check that/);
    assert.ok(quiet instanceof ClusterUnreachableError);
    assert.match(quiet.message, /: no welcome from 127\.0\.0\.1:\d+ within 100 ms \(handshakeTimeoutMs\); check that/);
  } finally {
    await chatty.close();
    await silent.close();
  }
});
