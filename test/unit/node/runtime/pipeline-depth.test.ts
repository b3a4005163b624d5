/**
 * The shell's choice of pipeline depth (node/runtime/pipeline-depth.ts): the time queued behind a
 * running task stays within the budget, tiny tasks reach the full depth within a few replies, a
 * long task brings it down within a few, a task handed back unrun is not timed, batches of replies
 * and stalls between them do not move it, and a burst that ends leaves the depth at 1 for the next.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { depthForTaskUs, initialPipelineDepth, maxPipelineDepth, pipelineBudgetUs, PipelineDepth } from '../../../../node/runtime/pipeline-depth.js';

void describe('pipeline depth', () => {
  void it('keeps the work queued behind a running task within the budget, in powers of two from 1 to the maximum', () => {
    assert.equal(depthForTaskUs(10), maxPipelineDepth);
    assert.equal(depthForTaskUs(pipelineBudgetUs / maxPipelineDepth), maxPipelineDepth);
    assert.equal(depthForTaskUs(pipelineBudgetUs / 16), 16);
    assert.equal(depthForTaskUs(pipelineBudgetUs / 5), 4);
    assert.equal(depthForTaskUs(pipelineBudgetUs * 1.25), 1);
    for (const us of [1, 50, 300, 999, 5_000, 1e9]) {
      const depth = depthForTaskUs(us);
      assert.ok(depth === 1 || depth * us <= pipelineBudgetUs, `${us} µs: depth ${depth} queues too much`);
      assert.equal(depth & (depth - 1), 0, `${us} µs: depth ${depth} is not a power of two`);
    }
  });

  void it('deepens for tiny tasks, comes down for long ones, and starts the next burst unpipelined', () => {
    const depth = new PipelineDepth();
    assert.equal(depth.current, initialPipelineDepth);
    // The first reply of a lease pushed while idle times nothing: when its task started is unknown.
    assert.equal(depth.replied('l1', true, 1_000), undefined);
    assert.equal(depth.replied('l1', true, 1_100), maxPipelineDepth, 'a 100 µs task');
    assert.equal(depth.replied('l1', true, 1_150), undefined, 'no change, no event');
    let at = 1_150;
    const seen: number[] = [];
    for (let task = 0; task < 4; task += 1) {
      at += pipelineBudgetUs * 1.25;
      const changed = depth.replied('l1', true, at);
      if (changed !== undefined) seen.push(changed);
    }
    assert.equal(depth.current, 1, `tasks longer than the budget leave the depth at ${depth.current} (went ${seen.join(', ')})`);
  });

  void it('times nothing from tasks handed back unrun, which reply at once', () => {
    const depth = new PipelineDepth();
    depth.replied('l1', true, 0);
    depth.replied('l1', true, pipelineBudgetUs);
    assert.equal(depth.current, 1, 'a task as long as the budget');
    // The task now running blocks in a get; the worker hands back the tasks pipelined behind it.
    for (let at = pipelineBudgetUs + 10; at < pipelineBudgetUs + 100; at += 10) assert.equal(depth.replied('l1', true, at, true), undefined);
    assert.equal(depth.current, 1, 'hand-backs leave the depth alone');
    // The blocked task replies: its time runs from the reply before it, not from a hand-back.
    assert.equal(depth.replied('l1', true, 2 * pipelineBudgetUs), undefined, 'still a task as long as the budget');
    assert.equal(depth.current, 1);
  });

  void it('holds the depth of tiny tasks whose replies come in batches, through stalls of the owner between batches', () => {
    const depth = new PipelineDepth();
    const changes: number[] = [];
    let at = 0;
    // Two leases' workers each reply 15 tasks at a time, 10 µs apart as the owner reads them, 375 µs
    // after the batch before; every tenth batch waits 5 ms more (the owner's thread was collecting).
    for (let batch = 0; batch < 400; batch += 1) {
      at += 375 + (batch % 10 === 9 ? 5_000 : 0);
      for (const lease of ['l1', 'l2']) {
        for (let reply = 0; reply < 15; reply += 1) {
          at += 10;
          const changed = depth.replied(lease, true, at);
          if (changed !== undefined) changes.push(changed);
        }
      }
    }
    // One change: from the first depth to the full one. Timed one reply at a time, the first reply
    // after each stall took the depth down to 8 and the batch after took it back up.
    assert.deepEqual(changes, [maxPipelineDepth]);
  });

  void it('forgets what it measured once every lease is out of work', () => {
    const depth = new PipelineDepth();
    depth.replied('l1', true, 0);
    depth.replied('l2', true, 0);
    assert.equal(depth.replied('l1', true, 100), maxPipelineDepth);
    // One lease out of work while the other still runs: what was measured holds.
    assert.equal(depth.replied('l1', false, 150), undefined);
    assert.equal(depth.replied('l2', true, 200), undefined);
    assert.equal(depth.current, maxPipelineDepth);
    assert.equal(depth.replied('l2', false, 250), initialPipelineDepth, 'the last lease out of work: the next burst starts unpipelined');
    assert.equal(depth.current, initialPipelineDepth);
  });
});
