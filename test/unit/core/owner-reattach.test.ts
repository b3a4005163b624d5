/**
 * The owner core when a driver reattaches to a resumed head under a new node id (owner/reattached):
 * its former node is dead to it (a lease waiting there is asked again of the new node, a put stored
 * only there is lost), it registers its job again, and the GCS's later notice of that node's death
 * changes nothing more.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultOwnerConfig, ownerCore } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { checkInvariants } from '../../../core/step.js';
import { tableGet, tableKeys } from '../../../core/table.js';

/** A driver attached to node n1, with its job, stepped directly with its invariants checked after every event. */
function startedDriver(): { state: OwnerState; step: (event: OwnerEvent) => readonly OwnerEffect[] } {
  const state = ownerCore.initial();
  const step = (event: OwnerEvent): readonly OwnerEffect[] => {
    const effects = ownerCore.apply(state, event);
    checkInvariants(ownerCore, state, event.type);
    return effects;
  };
  step({ type: 'owner/started', workerId: 'driver-1-ab.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: defaultOwnerConfig });
  step({ type: 'job/registration-replied', jobId: 'j1', via: from('gcs') });
  return { state, step };
}

let seq = 0;
/** An envelope from `address`, each with the next sequence number. */
function from(address: string): { from: string; incarnation: number; seq: number } {
  return { from: address, incarnation: 0, seq: ++seq };
}

/** The messages among `effects`, as `to type`. */
function sent(effects: readonly OwnerEffect[]): string[] {
  return effects.flatMap((effect) => (effect.type === 'message/sent' ? [`${effect.to} ${effect.message.type}`] : []));
}

void describe('owner: a driver reattached to a resumed head', () => {
  void it('asks the new node for the lease its former node had, registers its job again, and loses a put stored only on the former node', () => {
    const { state, step } = startedDriver();
    const submitted = step({ type: 'task/submitted', name: 'f', functionId: 'f', args: [], numReturns: 1, resources: { CPU: 1 }, maxRetries: 3, retryExceptions: false, strategy: 'DEFAULT' });
    assert.deepEqual(sent(submitted), ['raylet:n1 lease/requested']);
    const sizeBytes = defaultOwnerConfig.inlineThresholdBytes + 1;
    step({ type: 'object/put', value: { data: { bytes: 'x' }, sizeBytes, refs: [] } });
    const putId = tableKeys(state.objects).find((id) => id.includes('.p')) ?? '';
    step({ type: 'object/put-acked', objectId: putId, via: from('raylet:n1') });

    const reattached = sent(step({ type: 'owner/reattached', nodeId: 'n2' }));
    assert.equal(state.nodeId, 'n2');
    assert.ok(reattached.includes('raylet:n2 lease/requested'), `the lease is asked of the new node: ${reattached.join('; ')}`);
    assert.ok(!reattached.some((line) => line.startsWith('raylet:n1 ')), 'nothing more goes to the dead node');
    assert.ok(reattached.includes('gcs job/registration-requested'), 'the job is registered again (the GCS answers with the same id)');
    assert.equal(state.deadNodes['n1'], true);
    const put = tableGet(state.objects, putId);
    assert.equal(put?.state, 'failed', 'a put has no lineage: its only copy died with the former node');
    assert.equal(put.error?.errorClass, 'ObjectLostError');

    assert.deepEqual(sent(step({ type: 'node/died', nodeId: 'n1', via: from('raylet:n2') })), [], 'the GCS notice of the same death changes nothing more');
    assert.deepEqual(sent(step({ type: 'owner/reattached', nodeId: 'n2' })), [], 'a repeat is ignored');
    assert.equal(state.jobId, 'j1');
  });
});
