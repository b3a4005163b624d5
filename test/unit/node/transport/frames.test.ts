import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from 'fp-ts/lib/Either.js';
import { decodeFrame, encodeFrame, encodeFrameBody, encodeMessageFrames, FrameReader, FrameTooLargeError, protocolVersion } from '../../../../node/transport/index.js';
import type { Frame, RoutedMessage } from '../../../../node/transport/index.js';
import { Packr, REUSE_BUFFER_MODE, RESET_BUFFER_MODE } from 'msgpackr';
import { encodeValue, plainDataHooks } from '../../../../node/codec/index.js';
import { chunkMessage, smallMessage } from '../../../support/transport.js';

const packr = new Packr({ useRecords: false });

function leftOf(value: unknown): string {
  const result = decodeFrame(packr.pack(value));
  assert.ok(E.isLeft(result), `expected a Left for ${JSON.stringify(value)}`);
  assert.doesNotMatch(result.left, /\n/);
  return result.left;
}

void test('every frame kind round-trips, binary and typed arrays intact', () => {
  const blob = new Float64Array([1.5, -2, Number.NaN]);
  const frames: Frame[] = [
    { kind: 'hello', protocol: protocolVersion, token: 'ab', nodeId: 'n2', role: 'raylet' },
    { kind: 'welcome', protocol: protocolVersion, nodeId: 'head', role: 'gcs' },
    { kind: 'refused', reason: 'wrong cluster token' },
    // Binary data decodes as a Uint8Array (a view of the frame), so the test sends that type.
    { kind: 'messages', messages: [smallMessage(1), chunkMessage(2, new Uint8Array([1, 2, 3])), { ...chunkMessage(3, new Uint8Array(0)), data: { body: new Uint8Array([9]), blobs: [blob] } } as RoutedMessage] },
  ];
  for (const frame of frames) {
    const decoded = decodeFrame(new Uint8Array(encodeFrameBody(frame)));
    assert.ok(E.isRight(decoded));
    assert.deepEqual(decoded.right, frame);
  }
});

void test('bytes that are not msgpack, unknown kinds and wrong field types are Lefts with one-line reasons', () => {
  const notMsgpack = decodeFrame(Buffer.from([0xc1, 0xc1, 0xc1]));
  assert.ok(E.isLeft(notMsgpack));
  assert.match(notMsgpack.left, /^a frame that is not valid msgpack/);
  assert.match(leftOf([1, 2]), /^a frame that is not a map \(got an array\)$/);
  assert.match(leftOf({ kind: 'gossip' }), /^a frame of unknown kind 'gossip'$/);
  assert.match(leftOf({ kind: 7 }), /'kind' is the number 7, not a string/);
  assert.match(leftOf({ kind: 'hello', protocol: '1', nodeId: 'n2', role: 'raylet' }), /'hello' frame whose field 'protocol' should be an integer but is the string "1"/);
  assert.match(leftOf({ kind: 'hello', protocol: 1, nodeId: 'n2', role: 'boss' }), /field 'role' should be one of gcs, raylet, driver, worker, cli/);
  assert.match(leftOf({ kind: 'hello', protocol: 1, nodeId: 'n2', role: 'raylet', token: 5 }), /field 'token' should be a string but is the number 5/);
  assert.match(leftOf({ kind: 'messages', messages: 'x' }), /field 'messages' should be an array/);
  assert.match(leftOf({ kind: 'messages', messages: [] }), /no messages/);
  assert.match(leftOf({ kind: 'messages', messages: [{ ...smallMessage(1), leaseId: 5 }] }), /message 0 is bad: message 'lease\/cancelled' field 'leaseId' should be a string but is the number 5/);
  assert.match(leftOf({ kind: 'messages', messages: [smallMessage(1), { ...smallMessage(2), type: 'lease/stolen' }] }), /message 1 is bad: 'lease\/stolen' is not a tsray message type/);
  assert.match(leftOf({ kind: 'messages', messages: [{ ...smallMessage(1), via: { from: 'x', incarnation: -1, seq: 0 } }] }), /via\.incarnation/);
  const { to: _to, ...unaddressed } = smallMessage(1);
  assert.match(leftOf({ kind: 'messages', messages: [unaddressed] }), /message 0 has no address: 'to' should be a non-empty string but is missing/);
});

void test('a key __proto__ does not change the prototype of a decoded frame', () => {
  // JSON.parse makes '__proto__' an own key, so the packed map carries it as the wire would.
  const hostile = packr.pack(JSON.parse('{"kind":"refused","reason":"r","__proto__":{"polluted":true}}'));
  const decoded = decodeFrame(hostile);
  assert.ok(E.isRight(decoded));
  assert.equal((decoded.right as unknown as { polluted?: boolean }).polluted, undefined);
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
});

void test('a batch over the frame bound is split in order; a single message over it names maxFrameBytes', () => {
  const messages = Array.from({ length: 10 }, (_, i) => chunkMessage(i, Buffer.alloc(3000, i)));
  const frames = encodeMessageFrames(messages, 8000);
  assert.ok(frames.length >= 4);
  const reader = new FrameReader(8000);
  const bodies = reader.pushAll(Buffer.concat(frames));
  assert.ok(E.isRight(bodies));
  const seqs = bodies.right.flatMap((body) => {
    const frame = decodeFrame(body);
    assert.ok(E.isRight(frame) && frame.right.kind === 'messages');
    return frame.right.messages.map((message) => message.via.seq);
  });
  assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.throws(() => encodeMessageFrames([chunkMessage(1, Buffer.alloc(9000))], 8000), (error: unknown) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.match(error.message, /^a 'object\/fetched' message to raylet:n1 encodes to 8\.\d KiB, over the frame limit of 7\.8 KiB \(maxFrameBytes\)/);
    return true;
  });
});

void test('an encoded frame keeps its bytes while it waits in a queue, whatever msgpackr encodes after it', () => {
  const queued = [encodeFrame({ kind: 'messages', messages: [smallMessage(1)] }), encodeFrame({ kind: 'messages', messages: [chunkMessage(2, new Uint8Array(300_000).fill(7))] })];
  const copies = queued.map((frame) => Buffer.from(frame));
  // Other users of msgpackr in this process: the event log's Packr (which LMDB-style callers run in
  // reuse and reset modes), the object codec, and encodes large enough to move msgpackr to a new buffer.
  const other = new Packr({ structuredClone: true, copyBuffers: true });
  for (let i = 0; i < 200; i += 1) {
    other.pack({ i, text: 'x'.repeat(i * 10) }, REUSE_BUFFER_MODE | RESET_BUFFER_MODE);
    other.pack({ i }, RESET_BUFFER_MODE);
    encodeValue({ i, list: [1, 2, 3] }, plainDataHooks);
    if (i % 50 === 0) encodeFrame({ kind: 'messages', messages: [chunkMessage(i, new Uint8Array(2_000_000))] });
    queued.push(encodeFrame({ kind: 'messages', messages: [smallMessage(i)] }));
    copies.push(Buffer.from(queued[queued.length - 1]!));
  }
  queued.forEach((frame, index) => assert.ok(frame.equals(copies[index]!), `frame ${index} was written over`));
  const reader = new FrameReader(8 * 1024 * 1024);
  const bodies = reader.pushAll(Buffer.concat(queued));
  assert.ok(E.isRight(bodies));
  assert.equal(bodies.right.length, queued.length);
  assert.ok(bodies.right.every((body) => E.isRight(decodeFrame(body))));
});

void test('hostile msgpack (huge counts, deep nesting, every extension type, the codec extensions) decodes to a Left, never a crash', () => {
  // The object codec is imported by this file, so its msgpackr extensions (0x20 to 0x25) are registered in this process.
  const cases: Buffer[] = [
    Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]), // array32 claiming 4G elements
    Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61]), // map32
    Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), // str32
    Buffer.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0x61]), // bin32
    Buffer.from([0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x61]), // ext32
    Buffer.from([...Array<number>(1_000_000).fill(0x91), 0x01]), // a million nested arrays
  ];
  for (let type = 0; type < 256; type += 1) {
    cases.push(Buffer.from([0xd6, type, 1, 2, 3, 4]), Buffer.from([0xc7, 0x00, type]), Buffer.from([0xd4, type, 0x05]));
  }
  const before = process.memoryUsage().arrayBuffers;
  for (const bytes of cases) {
    const result = decodeFrame(bytes);
    assert.ok(E.isLeft(result), `bytes ${bytes.subarray(0, 8).toString('hex')} decoded to a frame`);
    assert.match(result.left, /^a frame /);
    assert.doesNotMatch(result.left, /\n/);
  }
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no claimed size was allocated');
});
