/**
 * The owner core and the copies of its objects that other nodes keep (object/copy-added): a copy is
 * one of the value's locations, so a put whose primary node dies is still read from the copy (a put
 * has no lineage: without the copy it is lost), and freeing the value frees the copy; a copy of a
 * value the owner no longer has is freed at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultOwnerConfig, ownerCore } from '../../../core/owner/index.js';
import type { OwnerEffect, OwnerEvent, OwnerState } from '../../../core/owner/index.js';
import { checkInvariants } from '../../../core/step.js';
import { tableGet, tableKeys } from '../../../core/table.js';

/** An owner (a driver on node n1) stepped directly, its invariants checked after every event. */
function startedOwner(): { state: OwnerState; step: (event: OwnerEvent) => readonly OwnerEffect[] } {
  const state = ownerCore.initial();
  const step = (event: OwnerEvent): readonly OwnerEffect[] => {
    const effects = ownerCore.apply(state, event);
    checkInvariants(ownerCore, state, event.type);
    return effects;
  };
  step({ type: 'owner/started', workerId: 'n1.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: defaultOwnerConfig });
  return { state, step };
}

let seq = 0;
/** An envelope from `address`, each with the next sequence number. */
const from = (address: string) => ({ from: address, incarnation: 0, seq: ++seq });

/** The free requests among `effects`, as `node: objects`. */
function frees(effects: readonly OwnerEffect[]): string[] {
  return effects.flatMap((effect) => (effect.type === 'message/sent' && effect.message.type === 'object/free-requested' ? [`${effect.to}: ${effect.message.objectIds.join(',')}`] : []));
}

void describe('owner: copies of its objects on other nodes', () => {
  void it('reads a put from the copy another node kept after the primary node died, and frees that copy with the value', () => {
    const { state, step } = startedOwner();
    const sizeBytes = defaultOwnerConfig.inlineThresholdBytes + 1;
    step({ type: 'object/put', value: { data: { bytes: 'x' }, sizeBytes, refs: [] } });
    const objectId = tableKeys(state.objects)[0] ?? '';
    step({ type: 'object/put-acked', objectId, via: from('raylet:n1') });
    assert.deepEqual(tableGet(state.objects, objectId)?.payload, { kind: 'stored', sizeBytes, refs: [], nodeIds: ['n1'] });
    step({ type: 'object/copy-added', objectId, nodeId: 'n2', via: from('raylet:n2') });
    step({ type: 'object/copy-added', objectId, nodeId: 'n2', via: from('raylet:n2') });
    const copied = tableGet(state.objects, objectId)?.payload;
    assert.deepEqual(copied?.kind === 'stored' ? copied.nodeIds : [], ['n1', 'n2'], 'the copy is one location, however often it is reported');
    step({ type: 'node/died', nodeId: 'n1', via: from('raylet:n1') });
    const object = tableGet(state.objects, objectId);
    assert.equal(object?.state, 'ready', 'the put survives its primary node: it was not lost');
    assert.deepEqual(object.payload?.kind === 'stored' ? object.payload.nodeIds : [], ['n2']);
    assert.deepEqual(frees(step({ type: 'refs/released', objectIds: [objectId] })), ['raylet:n2: ' + objectId]);
  });

  void it('frees at once a copy of a value it no longer has, and ignores a copy on a dead node', () => {
    const { step } = startedOwner();
    assert.deepEqual(frees(step({ type: 'object/copy-added', objectId: 'n1.d1.p9', nodeId: 'n2', via: from('raylet:n2') })), ['raylet:n2: n1.d1.p9']);
    step({ type: 'node/died', nodeId: 'n3', via: from('raylet:n1') });
    assert.deepEqual(frees(step({ type: 'object/copy-added', objectId: 'n1.d1.p9', nodeId: 'n3', via: from('raylet:n3') })), []);
  });
});
