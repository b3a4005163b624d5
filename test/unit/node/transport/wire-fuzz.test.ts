/**
 * Wire fuzz (issue 10 item 9): 10,000 malformed frames, one per connection, sent to a transport
 * server while a well-behaved client keeps exchanging messages with it. Nothing may crash, every bad
 * connection must be closed with a logged one-line reason, and the good client's exchange must
 * complete. The seed is printed; set TSRAY_FUZZ_SEED to replay one.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { Packr } from 'msgpackr';
import { encodeFrameBody, frameOf, generateClusterToken, protocolVersion, TransportClient, TransportServer } from '../../../../node/transport/index.js';
import type { Frame, RoutedMessage } from '../../../../node/transport/index.js';
import { helloBytes, memoryLog, smallMessage } from '../../../support/transport.js';

const frameCount = 10_000;
const concurrency = 48;
const seedText = process.env['TSRAY_FUZZ_SEED'];
const seed = seedText !== undefined && seedText !== '' ? Number(seedText) : randomInt(2 ** 31);
const token = generateClusterToken();
const rawPackr = new Packr({ useRecords: false });

let server: TransportServer | undefined;
let client: TransportClient | undefined;
after(async () => {
  await client?.close();
  await server?.close();
});

/** mulberry32: a small seeded generator, so a failing seed replays the same frames. */
function generator(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const int = (random: Random, below: number): number => Math.floor(random() * below);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)]!;

function randomBytes(random: Random, count: number): Buffer {
  const bytes = Buffer.alloc(count);
  for (let i = 0; i < count; i += 1) bytes[i] = int(random, 256);
  return bytes;
}

function lengthPrefix(length: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length, 0);
  return header;
}

/** Values that each field of a message must not have. */
const badValues: Readonly<Record<string, readonly unknown[]>> = {
  leaseId: [5, true, null, [], {}, 1.5],
  type: [5, null, 'lease/stolen', ''],
  via: [5, null, 'x', []],
  to: [5, true, null, '', []],
  'via.seq': [-1, 1.5, 'x', null],
  'via.incarnation': [-1, 2.5, '0', {}],
  'via.from': [5, '', null],
};

/** A valid message with one field replaced by a value it must not have. */
function wrongTypedMessage(random: Random): unknown {
  const message: Record<string, unknown> = { ...smallMessage(int(random, 1000)) };
  const field = pick(random, Object.keys(badValues));
  const bad = pick(random, badValues[field]!);
  if (field.startsWith('via.')) message['via'] = { ...(message['via'] as object), [field.slice(4)]: bad };
  else message[field] = bad;
  return message;
}

/** A frame body that is msgpack but not a valid frame. */
function wrongTypedFrame(random: Random): Buffer {
  const choices: unknown[] = [
    { kind: 'messages', messages: [smallMessage(1), wrongTypedMessage(random)] },
    { kind: 'messages', messages: pick(random, [5, 'x', null, {}, []]) },
    { kind: pick(random, ['hello', 'welcome']), protocol: pick(random, ['1', null, 1.5]), nodeId: 'n9', role: 'raylet' },
    { kind: 'hello', protocol: protocolVersion, token: pick(random, [5, true, [], {}]), nodeId: 'n9', role: 'raylet' },
    { kind: 'hello', protocol: protocolVersion, token, nodeId: pick(random, [5, '', null]), role: pick(random, ['raylet', 'king', 3]) },
    { kind: pick(random, ['gossip', 7, null, '']) },
    { kind: 'raw', message: smallMessage(1), rawBytes: pick(random, [-1, 0, 'x', 1.5, null]) },
    { kind: 'raw', message: pick(random, [wrongTypedMessage(random), 5, null]), rawBytes: 16 },
    { kind: 'raw', message: { ...smallMessage(1), bytes: Buffer.alloc(3) }, rawBytes: 16 },
    pick(random, [[1, 2, 3], 'text', 42, null, true]),
  ];
  return Buffer.from(rawPackr.pack(pick(random, choices)));
}

/** A well-formed frame that is not allowed where it is sent: first, instead of a hello. */
function frameBeforeHandshake(random: Random): Buffer {
  const frames: Frame[] = [
    { kind: 'messages', messages: [smallMessage(int(random, 1000))] },
    { kind: 'welcome', protocol: protocolVersion, nodeId: 'n9', role: 'gcs' },
    { kind: 'refused', reason: 'no' },
    { kind: 'raw', message: smallMessage(int(random, 1000)), rawBytes: 8 },
  ];
  const frame = pick(random, frames);
  return frame.kind === 'raw' ? Buffer.concat([frameOf(encodeFrameBody(frame)), Buffer.alloc(frame.rawBytes)]) : frameOf(encodeFrameBody(frame));
}

/** The bytes one hostile connection sends, and the kind of case (for the summary). */
function hostileCase(random: Random): { kind: string; bytes: Buffer } {
  const kind = pick(random, ['random bytes', 'truncated frame', 'oversize length', 'wrong field types', 'frame before handshake', 'bad token']);
  // Half the cases that need not start with a hello start with a valid one, so the post-handshake paths are fuzzed too.
  const authenticated = random() < 0.5;
  const prelude = authenticated ? helloBytes(token, `f${int(random, 100)}`) : Buffer.alloc(0);
  switch (kind) {
    case 'random bytes':
      return { kind, bytes: Buffer.concat([prelude, randomBytes(random, 1 + int(random, 300))]) };
    case 'truncated frame': {
      const whole = random() < 0.5 ? frameOf(encodeFrameBody({ kind: 'messages', messages: [smallMessage(1), smallMessage(2)] })) : helloBytes(token);
      return { kind, bytes: Buffer.concat([prelude, whole.subarray(0, 1 + int(random, whole.byteLength - 1))]) };
    }
    case 'oversize length': {
      const limit = authenticated ? 64 * 1024 * 1024 : 4096;
      return { kind, bytes: Buffer.concat([prelude, lengthPrefix(limit + 1 + int(random, 0xffff_ffff - limit - 1)), randomBytes(random, int(random, 64))]) };
    }
    case 'wrong field types':
      return { kind, bytes: Buffer.concat([prelude, frameOf(wrongTypedFrame(random))]) };
    case 'frame before handshake':
      return { kind, bytes: frameBeforeHandshake(random) };
    default:
      return { kind: 'bad token', bytes: helloBytes(pick(random, [randomBytes(random, 32).toString('hex'), '', 'x'.repeat(int(random, 100))])) };
  }
}

/** Sends `bytes` on a new connection, ends it, and resolves once the connection has closed. */
function sendHostile(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('connect', () => socket.end(bytes));
    socket.once('close', () => resolve());
  });
}

void test(`wire fuzz: ${frameCount} malformed frames while a good client exchanges messages`, { timeout: 120_000 }, async () => {
  console.log(`wire fuzz seed ${seed} (set TSRAY_FUZZ_SEED=${seed} to replay)`);
  assert.ok(Number.isInteger(seed), `TSRAY_FUZZ_SEED must be an integer, not '${seedText}'`);
  const random = generator(seed);
  const { lines, log } = memoryLog();
  server = await TransportServer.listen({
    token,
    identity: { nodeId: 'head', role: 'gcs' },
    log,
    onMessages: (messages, peer) => {
      peer.send(messages.map((message) => ({ ...message, to: message.via.from, via: { ...message.via, from: message.to } })));
    },
  });
  const { port } = server.address;

  // The good client sends rounds of 100 messages and waits for their echo, until the fuzz is over.
  let echoed = 0;
  let wake: () => void = () => undefined;
  client = await TransportClient.connect({
    host: '127.0.0.1',
    port,
    token,
    identity: { nodeId: 'n2', role: 'raylet' },
    onMessages: (messages) => {
      echoed += messages.length;
      wake();
    },
  });
  const good = client;
  let fuzzing = true;
  let rounds = 0;
  const exchange = (async () => {
    while (fuzzing || rounds < 20) {
      const batch: RoutedMessage[] = Array.from({ length: 100 }, (_, i) => smallMessage(rounds * 100 + i));
      good.send(batch);
      rounds += 1;
      while (echoed < rounds * 100) await new Promise<void>((resolve) => (wake = resolve));
    }
  })();

  const kinds = new Map<string, number>();
  const cases = Array.from({ length: frameCount }, () => hostileCase(random));
  for (const { kind } of cases) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  let next = 0;
  const startedMs = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < cases.length) {
        const hostile = cases[next]!;
        next += 1;
        await sendHostile(port, hostile.bytes);
      }
    }),
  );
  fuzzing = false;
  await exchange;
  // The server logs a connection when its side of the socket has closed, which may trail the client's.
  for (let tries = 0; lines.length < frameCount && tries < 400; tries += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  const elapsedMs = Date.now() - startedMs;
  console.log(`wire fuzz: ${frameCount} hostile connections in ${elapsedMs} ms, ${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(', ')}; the good client exchanged ${echoed} messages in ${rounds} rounds`);

  assert.equal(echoed, rounds * 100, 'the good client got every message back');
  assert.ok(rounds >= 20);
  assert.equal(good.connects, 1, 'the good client never lost its connection');
  assert.equal(server.stats.accepted, frameCount + 1);
  assert.equal(server.stats.authenticated + server.stats.refused, frameCount + 1);
  const { refused, closedByThisSide, disconnected } = server.stats;
  console.log(`wire fuzz: the server refused ${refused} connections in their handshake, closed ${closedByThisSide} authenticated ones for a protocol violation, and saw ${disconnected} end in the middle of a frame`);
  assert.equal(refused + closedByThisSide + disconnected, frameCount, 'every hostile connection was closed by the server or ended with a truncated frame');
  assert.equal(lines.length, frameCount, `one logged line per hostile connection (got ${lines.length})`);
  for (const line of lines) {
    assert.match(
      line,
      /^((refused a connection from 127\.0\.0\.1:\d+|a connection from 127\.0\.0\.1:\d+ ended before its handshake|closed the connection of node f\d+ \(raylet\) at 127\.0\.0\.1:\d+): \S|node f\d+ \(raylet\) at 127\.0\.0\.1:\d+ disconnected: the peer closed the connection in the middle of)/,
    );
    assert.doesNotMatch(line, /[\n\r]/);
  }
  const reasons = new Map<string, number>();
  for (const line of lines) {
    const reason = line.slice(line.indexOf(': ') + 2).replace(/[0-9]+/g, 'N').slice(0, 60);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  console.log(`wire fuzz: ${reasons.size} distinct reasons, most common: ${[...reasons].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([reason, n]) => `${n}× ${reason}`).join(' | ')}`);
});
