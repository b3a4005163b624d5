/**
 * The timeline draws calls that run at once on one worker (an async actor with maxConcurrency) in
 * lanes of their own, since one Chrome-trace track cannot draw overlapping spans; calls one after
 * another stay on the worker's own track.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TraceEntry } from '../../../../core/trace/format.js';
import { buildTimeline } from '../../../../node/trace/timeline.js';

function entry(seq: number, atMs: number, event: Record<string, unknown>): TraceEntry {
  return { seq, address: 'worker:n1.w1', component: 'owner', atMs, event: event as unknown as TraceEntry['event'] };
}

const pushed = (seq: number, atMs: number, taskId: string, name: string): TraceEntry => entry(seq, atMs, { type: 'actor-task/pushed', attempt: 1, spec: { taskId, name, owner: 'n1.d1', actor: { actorId: 'n1.d1.a1', method: name } } });
const executed = (seq: number, atMs: number, taskId: string): TraceEntry => entry(seq, atMs, { type: 'task/executed', taskId, attempt: 1, result: { kind: 'returned', values: [] } });

void test('overlapping calls on one worker get lanes; calls one after another share the track', () => {
  const timeline = buildTimeline([
    pushed(1, 0, 't1', 'Fetcher.get'),
    pushed(2, 1, 't2', 'Fetcher.get'),
    pushed(3, 2, 't3', 'Fetcher.get'),
    executed(4, 10, 't2'),
    executed(5, 12, 't1'),
    executed(6, 13, 't3'),
    pushed(7, 20, 't4', 'Fetcher.get'),
    executed(8, 25, 't4'),
  ]);
  const spans = timeline.traceEvents.filter((event) => event.ph === 'X');
  const tidOf = (taskId: string): number => spans.find((span) => (span.args as { taskId?: string } | undefined)?.taskId === taskId)?.tid ?? -1;
  const lanes = new Set(['t1', 't2', 't3'].map(tidOf));
  assert.equal(lanes.size, 3, 'three calls at once: three lanes');
  assert.equal(tidOf('t4'), tidOf('t1'), 'a later call returns to the first lane');
  const names = timeline.traceEvents.filter((event) => event.ph === 'M' && event.name === 'thread_name').map((event) => (event.args as { name: string }).name);
  assert.ok(names.some((name) => /\(concurrent 2\)$/.test(name)) && names.some((name) => /\(concurrent 3\)$/.test(name)), names.join(', '));
  // On every track, no two spans overlap.
  for (const tid of new Set(spans.map((span) => span.tid))) {
    const mine = spans.filter((span) => span.tid === tid).sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));
    for (let index = 1; index < mine.length; index++) assert.ok((mine[index - 1]?.ts ?? 0) + (mine[index - 1]?.dur ?? 0) <= (mine[index]?.ts ?? 0));
  }
});
