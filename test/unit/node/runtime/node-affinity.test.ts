/**
 * Node affinity on the real runtime, on a one-node cluster (n1) with 2 CPUs, as Ray's
 * NodeAffinitySchedulingStrategy behaves: a node that is not in the cluster is the same as a dead
 * one, so soft affinity runs the task or actor elsewhere and hard affinity fails it, naming the node.
 * Affinity to the local node runs there. None of these may wait forever.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';

class Placed {
  where(): string {
    return tsray.getRuntimeContext().nodeId;
  }
}

/** Long enough for any placement on an idle local cluster; a get that needs it has hung. */
const timeout = 20_000;

void describe('node affinity', () => {
  useEmbeddedCluster('node-affinity');

  void test('soft affinity to a node not in the cluster runs the task on a node that is', async () => {
    const where = tsray.remote(() => tsray.getRuntimeContext().nodeId, { schedulingStrategy: { nodeId: 'n2', soft: true } });
    assert.equal(await tsray.get(where.remote(), { timeout }), 'n1');
  });

  void test('hard affinity to a node not in the cluster is TaskUnschedulableError naming the node', async () => {
    const pinned = tsray.remote(() => 1, { schedulingStrategy: { nodeId: 'n2', soft: false } });
    await assert.rejects(tsray.get(pinned.remote(), { timeout }), (error: unknown) => error instanceof tsray.TaskUnschedulableError && /\bn2, which is not in the cluster/.test(error.message));
  });

  void test('hard affinity to the local node runs there', async () => {
    const where = tsray.remote(() => tsray.getRuntimeContext().nodeId, { schedulingStrategy: { nodeId: 'n1', soft: false } });
    assert.equal(await tsray.get(where.remote(), { timeout }), 'n1');
  });

  void test('an actor with soft affinity to a node not in the cluster runs elsewhere; with hard affinity it dies naming the node', async () => {
    const soft = tsray.remote(Placed, { schedulingStrategy: { nodeId: 'n2', soft: true } }).remote();
    assert.equal(await tsray.get(soft.where.remote(), { timeout }), 'n1');
    const hard = tsray.remote(Placed, { schedulingStrategy: { nodeId: 'n2', soft: false } }).remote();
    await assert.rejects(
      tsray.get(hard.where.remote(), { timeout }),
      (error: unknown) => error instanceof tsray.ActorDiedError && /unschedulable: node n2 is not in the cluster/.test(error.message),
    );
  });
});
