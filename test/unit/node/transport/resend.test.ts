/**
 * The transport client's resend window: frames a server took and then lost with itself (as a head
 * killed with messages in its socket or not yet handled) go again on the next connection, so that
 * component messages stay delivered at least once across a restart of the head; their receivers drop
 * the repeats (core/inbox.ts). Only the frames within the window's bytes go again.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TransportServer, generateClusterToken } from '../../../../node/transport/index.js';
import type { RoutedMessage } from '../../../../node/transport/index.js';
import { memoryLog, smallMessage, transportFixture, turn, until } from '../../../support/transport.js';

const token = generateClusterToken();
const { startServer, startClient, close } = transportFixture(token);
after(close);

/** A server whose received messages are recorded by seq, and a way to drop it as a crash would lose what it took. */
async function recordingServer(port?: number): Promise<{ server: TransportServer; seqs: number[] }> {
  const seqs: number[] = [];
  const server = await startServer({
    ...(port === undefined ? {} : { port }),
    onMessages: (messages: readonly RoutedMessage[]) => {
      for (const message of messages) seqs.push(message.via.seq);
    },
  });
  return { server, seqs };
}

void test('frames written just before the server went away go again on the next connection, before what waited', async () => {
  const first = await recordingServer();
  const port = first.server.address.port;
  const clientLog = memoryLog();
  const client = await startClient(port, { log: clientLog.log, reconnect: { resendWindowMs: 60_000 } });
  client.send([smallMessage(1)]);
  await turn();
  client.send([smallMessage(2)]);
  // The server took both, then died before handling them: for the cluster they are lost.
  await until('the first server to take both', () => first.seqs.length >= 2);
  await first.server.close();
  await until('the client to see the connection lost', () => client.peer === undefined);
  client.send([smallMessage(3)]);
  const second = await recordingServer(port);
  await until('the messages after the reconnect', () => second.seqs.length >= 3);
  assert.deepEqual(second.seqs, [1, 2, 3]);
  assert.match(clientLog.lines.join('\n'), /reconnecting \(2 frames written within 60000 ms go again\)/);
  // A later loss sends again only what the new connection carried.
  client.send([smallMessage(4)]);
  await until('message 4', () => second.seqs.length >= 4);
  await second.server.close();
  await until('the client to see the second connection lost', () => client.peer === undefined);
  const third = await recordingServer(port);
  await until('the messages after the second reconnect', () => third.seqs.length >= 4);
  await turn();
  assert.deepEqual(third.seqs, [1, 2, 3, 4]);
});

void test('only the newest frames within resendWindowBytes go again, and none without a window', async () => {
  const first = await recordingServer();
  const port = first.server.address.port;
  const frameBytes = 200;
  const bounded = await startClient(port, { reconnect: { resendWindowMs: 60_000, resendWindowBytes: frameBytes } });
  const plain = await startClient(port);
  for (const client of [bounded, plain]) {
    client.send([smallMessage(1)]);
    await turn();
    client.send([smallMessage(2)]);
    await turn();
  }
  await until('the first server to take all four', () => first.seqs.length >= 4);
  await first.server.close();
  await until('both clients to see the connection lost', () => bounded.peer === undefined && plain.peer === undefined);
  const second = await recordingServer(port);
  await until('the bounded client back', () => bounded.peer !== undefined && plain.peer !== undefined);
  bounded.send([smallMessage(3)]);
  plain.send([smallMessage(3)]);
  await until('both messages 3', () => second.seqs.filter((seq) => seq === 3).length >= 2);
  await turn();
  // One small frame fits the bytes bound (the newest, 2); the plain client sends nothing again.
  assert.deepEqual([...second.seqs].sort(), [2, 3, 3]);
});
