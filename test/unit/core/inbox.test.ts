// Tests for the inbox's duplicate suppression, which every component admits each message through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admit, maxGap } from '../../../core/inbox.js';
import type { Inbox } from '../../../core/inbox.js';

const via = (seq: number, incarnation = 0): { from: string; incarnation: number; seq: number } => ({ from: 'worker:n1.d1', incarnation, seq });

void test('admits messages in order once each, and remembers them as a floor', () => {
  const inbox: Inbox = {};
  for (let seq = 0; seq < 5; seq++) assert.equal(admit(inbox, via(seq)), true);
  assert.deepEqual(inbox['worker:n1.d1#0'], { floor: 5, above: [] });
  for (let seq = 0; seq < 5; seq++) assert.equal(admit(inbox, via(seq)), false, `seq ${seq} again`);
  assert.deepEqual(inbox['worker:n1.d1#0'], { floor: 5, above: [] });
});

void test('admits messages out of order once each, and closes the gap when the missing one comes', () => {
  const inbox: Inbox = {};
  assert.equal(admit(inbox, via(0)), true);
  assert.equal(admit(inbox, via(3)), true);
  assert.equal(admit(inbox, via(2)), true);
  assert.equal(admit(inbox, via(3)), false);
  assert.deepEqual(inbox['worker:n1.d1#0'], { floor: 1, above: [2, 3] });
  assert.equal(admit(inbox, via(1)), true);
  assert.deepEqual(inbox['worker:n1.d1#0'], { floor: 4, above: [] });
  assert.equal(admit(inbox, via(2)), false);
  assert.equal(admit(inbox, via(4)), true);
  assert.deepEqual(inbox['worker:n1.d1#0'], { floor: 5, above: [] });
});

void test('keeps each sender incarnation apart, and bounds the window of one that runs ahead', () => {
  const inbox: Inbox = {};
  assert.equal(admit(inbox, via(0)), true);
  assert.equal(admit(inbox, via(0, 1)), true);
  for (let seq = 2; seq < maxGap + 3; seq++) assert.equal(admit(inbox, via(seq)), true);
  // The oldest of the seen seqs past the gap was taken as the floor: 1 is now treated as seen.
  assert.equal(admit(inbox, via(1)), false);
  assert.equal(inbox['worker:n1.d1#0']?.above.length, maxGap);
  assert.deepEqual(inbox['worker:n1.d1#1'], { floor: 1, above: [] });
});

void test('keys every sender incarnation as from#incarnation, past the senders whose keys it remembers', () => {
  const inbox: Inbox = {};
  // More senders than the key cache holds, each twice, in two incarnations: every window keeps its own key.
  const senders = Array.from({ length: 1500 }, (_, index) => `worker:n${index}.w1`);
  for (const from of senders) assert.equal(admit(inbox, { from, incarnation: 0, seq: 0 }), true, from);
  for (const from of senders) assert.equal(admit(inbox, { from, incarnation: 1, seq: 0 }), true, `${from} restarted`);
  for (const from of senders) assert.equal(admit(inbox, { from, incarnation: 0, seq: 0 }), false, `${from} again`);
  assert.equal(Object.keys(inbox).length, 3000);
  assert.deepEqual(inbox['worker:n0.w1#0'], { floor: 1, above: [] });
  assert.deepEqual(inbox['worker:n1499.w1#1'], { floor: 1, above: [] });
});

void test('keeps the numbers seen ahead of the floor ascending, whatever order they arrive in, and admits each once', () => {
  const inbox: Inbox = {};
  // A fixed shuffle of 1..40 (0 is held back, so every one lands above the floor).
  const order = Array.from({ length: 40 }, (_, index) => ((index * 17) % 40) + 1);
  for (const seq of order) {
    assert.equal(admit(inbox, via(seq)), true, `seq ${seq} first time`);
    const above = inbox['worker:n1.d1#0']?.above ?? [];
    assert.deepEqual(above, [...above].sort((x, y) => x - y), `ascending after ${seq}`);
  }
  for (const seq of order) assert.equal(admit(inbox, via(seq)), false, `seq ${seq} again`);
  assert.equal(inbox['worker:n1.d1#0']?.above.length, 40);
  assert.equal(admit(inbox, via(0)), true);
  assert.deepEqual(inbox['worker:n1.d1#0'], { floor: 41, above: [] }, 'the missing one closes the whole gap');
});
