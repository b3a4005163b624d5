/**
 * `availableResources()` counts what the alive nodes have free now: a node whose CPU went below zero
 * (tasks that waited in `get` took their CPU back while it was lent out, as Ray lets them) has none
 * free, and does not take CPUs off another node's count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freeResources } from '../../../../node/runtime/api.js';

void test('freeResources sums the alive nodes, counting a CPU overdraft as nothing free', () => {
  const node = (nodeId: string, alive: boolean, available: Record<string, number>) => ({ nodeId, address: '127.0.0.1:1', alive, resources: { CPU: 2, GPU: 1 }, available });
  assert.deepEqual(freeResources([node('n1', true, { CPU: -1, GPU: 1 }), node('n2', true, { CPU: 2, GPU: 0 }), node('n3', false, { CPU: 2, GPU: 1 })]), { CPU: 2, GPU: 1 });
  assert.deepEqual(freeResources([node('n1', true, { CPU: 1.5 })]), { CPU: 1.5 });
});
