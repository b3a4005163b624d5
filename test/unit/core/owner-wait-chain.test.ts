/**
 * Following a running task's wait across the workers that host the tasks on its way: a get inside
 * it, a call it queues behind, on to a deadlock when the chain comes back, bounded in length.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainHostedWait, hostedIndex, maxWaitFollowed, maxWaitHops } from '../../../core/owner/wait-chain.js';
import type { HostedTaskReport } from '../../../core/protocol.js';

function running(taskId: string, workerId: string, waitsInGetFor?: string[]): HostedTaskReport {
  return { taskId, name: 'f', attempt: 1, workerId, phase: 'running', ...(waitsInGetFor === undefined ? {} : { waitsInGetFor }) };
}

void test('a chain of gets ends at a task that simply runs, and a task that simply runs adds nothing', () => {
  const hosted = hostedIndex([[running('n1.d1.t1', 'n1.w1', ['n1.w1.t1.r0'])], [running('n1.w1.t1', 'n1.w2')], undefined]);
  assert.equal(explainHostedWait('n1.d1.t1', 1, hosted), 'it waits in get for n1.w1.t1.r0; n1.w1.t1 (f) runs on worker n1.w2');
  assert.equal(explainHostedWait('n1.w1.t1', 1, hosted), undefined);
  // Another attempt than the one hosted, or a task no worker hosts, has nothing to add.
  assert.equal(explainHostedWait('n1.d1.t1', 2, hosted), undefined);
  assert.equal(explainHostedWait('n1.d1.t9', 1, hosted), undefined);
});

void test('the ref followed is one whose task a worker hosts; a put or an unhosted task ends the chain', () => {
  const hosted = hostedIndex([[running('n1.d1.t1', 'n1.w1', ['n1.d1.p1', 'n1.w1.t1.r0', 'n1.w1.t2.r0'])], [running('n1.w1.t1', 'n1.w2')]]);
  assert.equal(explainHostedWait('n1.d1.t1', 1, hosted), 'it waits in get for n1.w1.t1.r0 (and 2 more); n1.w1.t1 (f) runs on worker n1.w2');
  // A get of more refs than a report names counts the rest.
  const many = hostedIndex([[{ ...running('n1.d1.t1', 'n1.w1', ['n1.w1.t1.r0']), waitsInGetCount: 100 }]]);
  assert.equal(explainHostedWait('n1.d1.t1', 1, many), 'it waits in get for n1.w1.t1.r0 (and 99 more)');
  const onPut = hostedIndex([[running('n1.d1.t1', 'n1.w1', ['n1.d1.p1'])]]);
  assert.equal(explainHostedWait('n1.d1.t1', 1, onPut), 'it waits in get for n1.d1.p1');
});

void test('a call queued behind the task waiting for it closes a deadlock; one waiting for an earlier call says so', () => {
  const ring = hostedIndex([
    [running('n1.d1.t1', 'n1.w1', ['n1.w1.t1.r0']), { taskId: 'n1.w2.t1', name: 'g', attempt: 1, workerId: 'n1.w1', phase: 'queued', behind: 'n1.d1.t1' }],
    [running('n1.w1.t1', 'n1.w2', ['n1.w2.t1.r0'])],
  ]);
  assert.equal(
    explainHostedWait('n1.w2.t1', 1, ring),
    'it is queued on worker n1.w1 behind n1.d1.t1; n1.d1.t1 (f) runs on worker n1.w1 and waits in get for n1.w1.t1.r0; n1.w1.t1 (f) runs on worker n1.w2 and waits in get for n1.w2.t1.r0: a deadlock (n1.w2.t1 → n1.d1.t1 → n1.w1.t1 → n1.w2.t1)',
  );
  // A task whose get waits for its own return (through a call queued behind itself) is a cycle of one.
  const self = hostedIndex([[running('n1.d1.t1', 'n1.w1', ['n1.d1.t1.r0'])]]);
  assert.equal(explainHostedWait('n1.d1.t1', 1, self), 'it waits in get for n1.d1.t1.r0: a deadlock (n1.d1.t1 → n1.d1.t1)');
  const early = hostedIndex([[{ taskId: 'n1.d1.t2', name: 'g', attempt: 1, workerId: 'n1.w1', phase: 'queued' }]]);
  assert.equal(explainHostedWait('n1.d1.t2', 1, early), 'it is queued on worker n1.w1 until an earlier call from its caller arrives');
});

void test(`a chain longer than ${maxWaitHops} tasks is cut with an ellipsis`, () => {
  const length = maxWaitHops * 3;
  const chain = Array.from({ length }, (_, index) => running(`n1.w${index}.t1`, `n1.w${index}`, index + 1 < length ? [`n1.w${index + 1}.t1.r0`] : undefined));
  const text = explainHostedWait('n1.w0.t1', 1, hostedIndex([chain])) ?? '';
  assert.equal(text.split('; ').length, maxWaitHops + 1);
  assert.match(text, /; …$/);
});

void test(`a ring longer than ${maxWaitHops} tasks is still named a deadlock, its text cut; one past ${maxWaitFollowed} is not followed`, () => {
  const ring = (length: number): HostedTaskReport[] => Array.from({ length }, (_, index) => running(`n1.w${index}.t1`, `n1.w${index}`, [`n1.w${(index + 1) % length}.t1.r0`]));
  const text = explainHostedWait('n1.w0.t1', 1, hostedIndex([ring(40)])) ?? '';
  assert.equal(text.split('; ').length, maxWaitHops + 1);
  assert.match(text, /; …: a deadlock of 40 tasks \(n1\.w0\.t1 → n1\.w1\.t1 → .* → n1\.w7\.t1 → … → n1\.w38\.t1 → n1\.w39\.t1 → n1\.w0\.t1\)$/);
  const huge = explainHostedWait('n1.w0.t1', 1, hostedIndex([ring(maxWaitFollowed + 5)])) ?? '';
  assert.match(huge, /; …$/);
});
