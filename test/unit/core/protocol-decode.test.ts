// Tests for the edge check applied to frames from sockets and to message events in trace lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from 'fp-ts/lib/Either.js';
import type { Message } from '../../../core/protocol.js';
import { decodeDelivered, decodeMessage, messageProblem, messageTable, messageTypes } from '../../../core/protocol-decode.js';

// Compile-time: the table has exactly the message types of protocol.ts.
type Missing = Exclude<Message['type'], keyof typeof messageTable>;
type Extra = Exclude<keyof typeof messageTable, Message['type']>;
const noneMissing: [Missing] extends [never] ? true : false = true;
const noneExtra: [Extra] extends [never] ? true : false = true;

function leftOf<A>(result: E.Either<string, A>): string {
  assert.ok(E.isLeft(result), 'expected a Left');
  assert.doesNotMatch(result.left, /\n/);
  return result.left;
}

void test('the table covers every message type', () => {
  assert.equal(noneMissing && noneExtra, true);
  assert.equal(new Set(messageTypes).size, messageTypes.length);
  assert.ok(messageTypes.includes('lease/requested') && messageTypes.includes('actor/creation-replied'));
});

void test('valid messages of several types decode', () => {
  const resources = { CPU: 1 };
  const valid: Message[] = [
    { type: 'lease/requested', leaseId: 'n1.d1.l1', requester: 'worker:n1.d1', resources, placementResources: resources, strategy: 'DEFAULT', spillbackCount: 0 },
    { type: 'lease/requested', leaseId: 'n1.d1.l2', requester: 'gcs', resources, placementResources: resources, strategy: { nodeId: 'n2', soft: true }, spillbackCount: 1, actorId: 'n1.d1.a1' },
    { type: 'lease/rejected', leaseId: 'n1.d1.l1', reason: 'no node fits', permanent: true },
    { type: 'task/replied', taskId: 'n1.d1.t1', attempt: 0, workerId: 'n1.w1', nodeId: 'n1', result: { kind: 'cancelled' }, releasedBorrows: [] },
    { type: 'object/put-requested', objectId: 'n1.d1.p1', owner: 'n1.d1', data: null, sizeBytes: 10, refs: [] },
    { type: 'actor/state-changed', actorId: 'n1.d1.a1', state: 'ALIVE', restartCount: 0, nodeId: 'n1' },
    { type: 'cluster/view-published', nodes: [{ nodeId: 'n1', total: resources, available: resources }] },
  ];
  for (const message of valid) assert.deepEqual(decodeMessage(message), E.right(message));
  const delivered = { ...valid[2]!, via: { from: 'raylet:n1', incarnation: 0, seq: 4 } };
  assert.deepEqual(decodeDelivered(delivered), E.right(delivered));
});

void test('a field of the wrong kind is a one-line Left naming the field', () => {
  const reason = leftOf(decodeMessage({ type: 'lease/granted', leaseId: 'l1', workerId: 7, nodeId: 'n1' }));
  assert.match(reason, /'lease\/granted' field 'workerId' should be a string but is the number 7/);
  assert.match(leftOf(decodeMessage({ type: 'lease/requested', leaseId: 'l', requester: 'gcs', resources: {}, placementResources: {}, strategy: 3, spillbackCount: 0 })), /'strategy' should be a string or an object/);
  assert.match(leftOf(decodeMessage({ type: 'actor/lookup-replied', requestId: 'r', spec: 'nope' })), /'spec' should be an object/);
});

void test('a missing field is a one-line Left naming the field', () => {
  const reason = leftOf(decodeMessage({ type: 'task/cancel-requested', taskId: 't' }));
  assert.match(reason, /'task\/cancel-requested' is missing field 'recursive'/);
});

void test('an unknown type, or no message at all, is a one-line Left', () => {
  assert.match(leftOf(decodeMessage({ type: 'lease/stolen', leaseId: 'l' })), /'lease\/stolen' is not a tsray message type/);
  assert.match(leftOf(decodeMessage([1])), /not a tsray message/);
  assert.match(leftOf(decodeMessage({ leaseId: 'l' })), /'type' should be a string/);
});

void test('a delivered message needs a valid via', () => {
  const message = { type: 'node/died', nodeId: 'n1' };
  assert.match(leftOf(decodeDelivered(message)), /no 'via' envelope/);
  assert.match(leftOf(decodeDelivered({ ...message, via: { from: 'gcs', incarnation: 0, seq: -1 } })), /'via\.seq' should be an integer >= 0 but is the number -1/);
  assert.match(leftOf(decodeDelivered({ ...message, via: { from: 'gcs', incarnation: 1.5, seq: 0 } })), /'via\.incarnation'/);
});

void test('every field of every message type accepts exactly the kinds its rule names', () => {
  // The check answers valid messages from compiled rules; this walks every rule with a value of
  // every kind, so a compiled rule that drifts from the table's words fails here.
  const samples: readonly (readonly [string, unknown])[] = [
    ['string', 'x'],
    ['number', 3],
    ['other', Number.NaN],
    ['other', Infinity],
    ['boolean', false],
    ['null', null],
    ['object', { a: 1 }],
    ['array', []],
    ['missing', undefined],
  ];
  const valueOf = (kinds: readonly string[]): unknown => samples.find(([kind]) => kinds.includes(kind))?.[1] ?? null;
  let checked = 0;
  for (const type of messageTypes) {
    const spec = messageTable[type] as Readonly<Record<string, string>>;
    const rules = Object.entries(spec).map(([field, rule]) => ({ field, optional: rule.endsWith('?'), kinds: rule.replace(/\?$/, '').split('|') }));
    const base: Record<string, unknown> = { type };
    for (const rule of rules) if (!rule.kinds.includes('unknown')) base[rule.field] = valueOf(rule.kinds);
    assert.equal(messageProblem(base), undefined, `a valid ${type}`);
    for (const rule of rules) {
      for (const [kind, value] of samples) {
        const message = { ...base, [rule.field]: value };
        const fits = rule.kinds.includes('unknown') || rule.kinds.includes(kind) || (kind === 'missing' && rule.optional);
        assert.equal(messageProblem(message) === undefined, fits, `${type}.${rule.field} = ${String(value)}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 500);
});
