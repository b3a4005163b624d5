/**
 * Raw frames (node/transport/frames.ts): a message's large binary `bytes` travel beside a msgpack
 * header, and the receiver lands them where it says, read straight from the socket's buffers. Over
 * real sockets on 127.0.0.1: order and contents, landing in place, backpressure, and malformed raw
 * frames, each closing its connection with a one-line reason while the server keeps serving others.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from 'fp-ts/lib/Either.js';
import {
  encodeFrameBody,
  encodeMessageFrames,
  encodeRawFrame,
  FrameReader,
  frameOf,
  FrameTooLargeError,
  generateClusterToken,
  QueueLimitError,
  } from '../../../../node/transport/index.js';
import type { Frame, RawLanding, RoutedMessage } from '../../../../node/transport/index.js';
import { helloBytes, memoryLog, smallMessage, transportFixture, until } from '../../../support/transport.js';

const token = generateClusterToken();
const { startServer, startClient, raw, close } = transportFixture(token);
after(close);

/** A chunk of an object, as a holder sends it (object-transfer.ts), `bytes` and all. */
function chunk(seq: number, offset: number, bytes: Uint8Array): RoutedMessage {
  return { type: 'object/chunk-sent', objectId: 'n2.d1.t1.r0', pullId: 'p1', offset, totalBytes: 64 * 1024 * 1024, bytes, via: { from: 'objects:n2', incarnation: 0, seq }, to: 'objects:n1' };
}

/** Bytes whose every 4 KiB page starts with its own number, so that a misplaced page shows. */
function pattern(length: number, salt: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let at = 0; at < length; at += 4096) bytes.writeUInt32LE((at / 4096 + salt) >>> 0, at);
  return bytes;
}

/** The frame bytes of a raw frame's header written by hand (for headers no sender would make). */
function rawHeader(frame: Record<string, unknown>): Buffer {
  return frameOf(encodeFrameBody(frame as unknown as Frame));
}

void test('chunks go as raw frames in order among other messages, land in place when the receiver says where, and in buffers of their own otherwise', async () => {
  const received: RoutedMessage[] = [];
  const store = new Uint8Array(new SharedArrayBuffer(32 * 1024 * 1024));
  const landed: Uint8Array[] = [];
  const server = await startServer({
    onMessages: (messages) => received.push(...messages),
    // Chunks at even MiB offsets land in `store` at their offset; the others get buffers of their own.
    landRaw: (message, lengthBytes) => {
      const offset = (message as { offset?: number }).offset ?? -1;
      if (message.type !== 'object/chunk-sent' || (offset / (1024 * 1024)) % 2 !== 0) return undefined;
      const target = store.subarray(offset, offset + lengthBytes);
      landed.push(target);
      return { target };
    },
  });
  const client = await startClient(server.address.port);
  const payloads = [pattern(8 * 1024 * 1024, 1), pattern(1024 * 1024, 2), pattern(2 * 1024 * 1024, 3), pattern(100, 4)];
  const offsets = [0, 9 * 1024 * 1024, 12 * 1024 * 1024, 20 * 1024 * 1024];
  const sent: RoutedMessage[] = [smallMessage(0, 'objects:n2', 'objects:n1')];
  payloads.forEach((bytes, index) => sent.push(chunk(index + 1, offsets[index] ?? 0, bytes), smallMessage(10 + index, 'objects:n2', 'objects:n1')));
  client.send(sent);
  await until('every message', () => received.length === sent.length);
  assert.deepEqual(
    received.map((message) => message.via.seq),
    sent.map((message) => message.via.seq),
  );
  const chunks = received.filter((message) => message.type === 'object/chunk-sent') as (RoutedMessage & { bytes: Uint8Array; offset: number })[];
  chunks.forEach((message, index) => assert.ok(Buffer.from(message.bytes).equals(payloads[index] ?? Buffer.alloc(0)), `chunk ${index} arrived changed`));
  // The 8 MiB and 2 MiB chunks landed in the store (their views are the targets given); the 1 MiB
  // one (odd offset) and the 100-byte one (too small for a raw frame, inside msgpack) did not.
  assert.equal(landed.length, 2);
  assert.equal(chunks[0]?.bytes, landed[0]);
  assert.equal(chunks[2]?.bytes, landed[1]);
  assert.ok(Buffer.from(store.subarray(12 * 1024 * 1024, 14 * 1024 * 1024)).equals(payloads[2] ?? Buffer.alloc(0)));
  assert.notEqual(chunks[1]?.bytes.buffer, store.buffer);
  // The hello, then batch, raw, batch, raw, batch, raw, and one batch of the last small message, the 100-byte chunk and the last one.
  assert.equal(client.peer?.stats.framesSent, 8);
});

void test('raw bytes count against the queue bounds: backpressure, then an error naming maxQueuedBytes', async () => {
  const server = await startServer({ limits: { maxFrameBytes: 4 * 1024 * 1024, highWaterMarkBytes: 1024 * 1024, maxQueuedBytes: 6 * 1024 * 1024 } });
  const client = await startClient(server.address.port, { limits: { maxFrameBytes: 4 * 1024 * 1024, highWaterMarkBytes: 1024 * 1024, maxQueuedBytes: 6 * 1024 * 1024 } });
  // The server reads nothing, so what is sent stays queued (past what the kernel's buffers take).
  for (const peer of server.peers) (peer as unknown as { framed: { socket: { pause(): void } } }).framed.socket.pause();
  const bytes = Buffer.alloc(2 * 1024 * 1024);
  assert.equal(client.send([chunk(1, 0, bytes)]), false, 'a 2 MiB chunk is over the 1 MiB high-water mark');
  assert.throws(
    () => {
      for (let seq = 2; seq < 64; seq += 1) client.send([chunk(seq, 0, bytes)]);
    },
    (error: unknown) => error instanceof QueueLimitError && /maxQueuedBytes/.test(error.message),
  );
  assert.throws(
    () => encodeMessageFrames([chunk(1, 0, Buffer.alloc(5 * 1024 * 1024))], 4 * 1024 * 1024),
    (error: unknown) => error instanceof FrameTooLargeError && /^a 'object\/chunk-sent' message to objects:n1 carries 5 MiB of bytes, over the frame limit of 4 MiB \(maxFrameBytes\)/.test(error.message),
  );
});

void test('malformed raw frames each close their connection with a one-line reason, and the server keeps serving', async () => {
  const { lines, log } = memoryLog();
  const received: RoutedMessage[] = [];
  const server = await startServer({ log, limits: { maxFrameBytes: 1024 * 1024, maxQueuedBytes: 8 * 1024 * 1024, highWaterMarkBytes: 1024 * 1024 }, onMessages: (messages) => received.push(...messages) });
  const { bytes: _bytes, ...header } = chunk(1, 0, Buffer.alloc(0)) as RoutedMessage & { bytes?: unknown };
  const cases: { readonly name: string; readonly frames: Buffer[]; readonly reason: RegExp }[] = [
    { name: 'before the handshake', frames: [rawHeader({ kind: 'raw', message: header, rawBytes: 10 })], reason: /^a 'raw' frame before the handshake$/ },
    { name: 'raw bytes over the bound', frames: [helloBytes(token), rawHeader({ kind: 'raw', message: header, rawBytes: 2 * 1024 * 1024 })], reason: /^a raw frame of 2 MiB \(2097152 bytes\) is over the limit of 1 MiB \(maxFrameBytes\)$/ },
    { name: 'a negative length', frames: [helloBytes(token), rawHeader({ kind: 'raw', message: header, rawBytes: -5 })], reason: /^a 'raw' frame whose field 'rawBytes' should be a positive integer but is the number -5$/ },
    { name: 'a length that is text', frames: [helloBytes(token), rawHeader({ kind: 'raw', message: header, rawBytes: '10' })], reason: /^a 'raw' frame whose field 'rawBytes' should be a positive integer but is the string "10"$/ },
    { name: 'bytes inside the header', frames: [helloBytes(token), rawHeader({ kind: 'raw', message: { ...header, bytes: Buffer.alloc(4) }, rawBytes: 10 })], reason: /^a 'raw' frame whose message carries 'bytes' of its own/ },
    { name: 'a message with no envelope', frames: [helloBytes(token), rawHeader({ kind: 'raw', message: { ...header, via: undefined }, rawBytes: 10 })], reason: /^a 'raw' frame whose message is bad: .*'via'/ },
    { name: 'a message with no address', frames: [helloBytes(token), rawHeader({ kind: 'raw', message: { ...header, to: 7 }, rawBytes: 10 })], reason: /^a 'raw' frame whose message has no address/ },
    { name: 'no message', frames: [helloBytes(token), rawHeader({ kind: 'raw', rawBytes: 10 })], reason: /^a 'raw' frame whose message is bad/ },
  ];
  for (const { name, frames, reason } of cases) {
    const peer = await raw(server.address.port);
    peer.socket.write(Buffer.concat(frames));
    await until(`the server to close the connection (${name})`, () => peer.socket.closed);
    assert.match(peer.refusal ?? '', reason, name);
    assert.ok(!(peer.refusal ?? '').includes('\n'), `${name}: the reason is one line`);
  }
  // A raw frame cut short: the peer hangs up inside its bytes, and the server says where.
  const cut = await raw(server.address.port);
  const [rawFrame, rawBytes] = encodeRawFrame(chunk(2, 0, Buffer.alloc(200 * 1024, 9)), Buffer.alloc(200 * 1024, 9));
  cut.socket.write(Buffer.concat([helloBytes(token), rawFrame, rawBytes.subarray(0, 1000)]));
  await until('the server to read the cut frame', () => server.stats.authenticated >= 3);
  cut.socket.end();
  await until('the cut connection to be logged', () => lines.some((line) => line.includes('raw bytes')));
  assert.match(lines.join('\n'), /disconnected: the peer closed the connection in the middle of the 204800 raw bytes of a frame \(1000 bytes received\)/);
  assert.equal(received.length, 0, 'no malformed or cut raw frame was delivered');
  // The server serves a good peer all along.
  const client = await startClient(server.address.port, { limits: { maxFrameBytes: 1024 * 1024, maxQueuedBytes: 8 * 1024 * 1024, highWaterMarkBytes: 1024 * 1024 } });
  client.send([chunk(3, 0, pattern(512 * 1024, 5))]);
  await until('the good chunk', () => received.length === 1);
  assert.ok(Buffer.from((received[0] as unknown as { bytes: Uint8Array }).bytes).equals(pattern(512 * 1024, 5)));
});

void test('a landing taken away while its bytes arrive: nothing more is written there, and the next frame reads whole', () => {
  const reader = new FrameReader(1024 * 1024);
  const target = new Uint8Array(300_000);
  const landing: RawLanding = { target };
  const [header, bytes] = encodeRawFrame(chunk(1, 0, Buffer.alloc(300_000, 7)), Buffer.alloc(300_000, 7));
  const after = frameOf(encodeFrameBody({ kind: 'messages', messages: [smallMessage(2)] }));
  const headerBody = reader.pushAll(header);
  assert.ok(E.isRight(headerBody) && headerBody.right.length === 1);
  reader.beginRaw(300_000, landing);
  reader.push(bytes.subarray(0, 100_000));
  assert.equal(reader.fillRaw(), false);
  assert.equal(reader.partialFrame()?.raw, true);
  landing.target = undefined;
  reader.push(Buffer.concat([bytes.subarray(100_000), after]));
  assert.equal(reader.fillRaw(), true);
  assert.equal(target[99_999], 7);
  assert.equal(target[100_000], 0, 'bytes were written after the landing was taken away');
  const next = reader.next();
  assert.ok(E.isRight(next) && next.right !== undefined && next.right.equals(after.subarray(4)));
});

void test('a client reads into one buffer of its own, reused: chunks a server sends land whole in its store, among other messages', async () => {
  const received: RoutedMessage[] = [];
  const store = new Uint8Array(new SharedArrayBuffer(16 * 1024 * 1024));
  const server = await startServer();
  const client = await startClient(server.address.port, {
    onMessages: (messages) => received.push(...messages),
    landRaw: (message, lengthBytes) => {
      const offset = (message as { offset?: number }).offset ?? -1;
      return message.type === 'object/chunk-sent' ? { target: store.subarray(offset, offset + lengthBytes) } : undefined;
    },
  });
  await until('the server sees the client', () => server.peers.size === 1);
  const peer = [...server.peers][0];
  // Offsets and lengths that are not multiples of 8, and more bytes than the client's read buffer.
  const payloads = [pattern(3 * 1024 * 1024 + 5, 7), pattern(200_001, 8), pattern(1024 * 1024 + 9, 9)];
  const offsets = [3, 4 * 1024 * 1024 + 1, 5 * 1024 * 1024 + 7];
  const sent: RoutedMessage[] = [];
  payloads.forEach((bytes, index) => sent.push(smallMessage(20 + index, 'objects:head', 'objects:n2'), { ...chunk(index + 1, offsets[index] ?? 0, bytes), to: 'objects:n2' }));
  peer?.send(sent);
  await until('every message', () => received.length === sent.length);
  assert.deepEqual(
    received.map((message) => message.via.seq),
    sent.map((message) => message.via.seq),
  );
  payloads.forEach((bytes, index) => {
    const at = offsets[index] ?? 0;
    assert.ok(Buffer.from(store.buffer, at, bytes.byteLength).equals(bytes), `chunk ${index} landed changed`);
  });
  // The client's socket reads through onread, so it never emits 'data' (a buffer per read).
  const socket = (client as unknown as { attempt: { socket: NodeJS.EventEmitter } }).attempt.socket;
  assert.equal(socket.listenerCount('data'), 1);
  let dataEvents = 0;
  socket.on('data', () => (dataEvents += 1));
  peer?.send([smallMessage(40, 'objects:head', 'objects:n2')]);
  await until('the last message', () => received.length === sent.length + 1);
  assert.equal(dataEvents, 0, 'the client got a buffer per read');
});
