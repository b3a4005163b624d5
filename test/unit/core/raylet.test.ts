// Unit tests of the raylet's pure core: events in, effects and state out, invariants after every step.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { produce, setAutoFreeze } from 'immer';
import type { Message, MessageOf } from '../../../core/protocol.js';
import type { RayletConfig, RayletEffect, RayletEvent, RayletInboundMessage, RayletState } from '../../../core/raylet/index.js';
import { hashState } from '../../../core/hash.js';
import { applyRaylet, defaultRayletConfig, initialRayletState, rayletCore, rayletInvariants } from '../../../core/raylet/index.js';

const driver = 'worker:n1.d1';

/**
 * A started raylet driven by events, checking invariants after each one. The raylet's asks to return
 * idle leases (`lease/return-requested`) are taken out of the effects a step returns and kept in
 * `returnAsks`, as `<to> <leaseId>`: the tests of granting see the grants alone.
 */
class Node {
  readonly state: RayletState = initialRayletState();
  readonly returnAsks: string[] = [];
  private readonly seqs: Record<string, number> = {};

  constructor(resources: Record<string, number> = { CPU: 1 }, config: Partial<RayletConfig> = {}) {
    this.step({ type: 'node/started', nodeId: 'n1', resources, config: { ...defaultRayletConfig, maxWorkers: 4, ...config } });
  }

  step(event: RayletEvent): RayletEffect[] {
    const effects = applyRaylet(this.state, event);
    assert.deepEqual(rayletInvariants(this.state), [], `invariants after ${event.type}`);
    return effects.filter((effect) => {
      if (effect.type !== 'message/sent' || effect.message.type !== 'lease/return-requested') return true;
      this.returnAsks.push(`${effect.to} ${effect.message.leaseId}`);
      return false;
    });
  }

  /** Wraps `message` in a fresh `via` from `from` and applies it. */
  deliver(message: RayletInboundMessage, from = driver): RayletEffect[] {
    const seq = this.seqs[from] ?? 0;
    this.seqs[from] = seq + 1;
    return this.step({ ...message, via: { from, incarnation: 1, seq } });
  }

  request(leaseId: string, over: Partial<MessageOf<'lease/requested'>> = {}): RayletEffect[] {
    return this.deliver({ type: 'lease/requested', leaseId, requester: driver, resources: { CPU: 1 }, placementResources: {}, strategy: 'DEFAULT', spillbackCount: 0, ...over });
  }

  /** Requests a lease, starts the worker spawned for it, and returns that worker's id. */
  grantNew(leaseId: string, over: Partial<MessageOf<'lease/requested'>> = {}): string {
    const spawned = this.request(leaseId, over).find((effect) => effect.type === 'worker/spawn');
    assert.ok(spawned !== undefined && spawned.type === 'worker/spawn', `a worker is spawned for ${leaseId}`);
    const granted = sent(this.step({ type: 'worker/started', workerId: spawned.workerId }), 'lease/granted');
    assert.deepEqual(granted, [{ leaseId, workerId: spawned.workerId, nodeId: 'n1', to: over.requester ?? driver }]);
    return spawned.workerId;
  }

  view(nodes: { nodeId: string; total: Record<string, number>; available: Record<string, number> }[]): RayletEffect[] {
    return this.deliver({ type: 'cluster/view-published', nodes }, 'gcs');
  }
}

/** The messages of type `type` among `effects`, each with the address it goes to. */
function sent<T extends Message['type']>(effects: RayletEffect[], type: T): (Omit<MessageOf<T>, 'type'> & { to: string })[] {
  const found: (Omit<MessageOf<T>, 'type'> & { to: string })[] = [];
  for (const effect of effects) {
    if (effect.type !== 'message/sent' || effect.message.type !== type) continue;
    const { type: _type, ...rest } = effect.message as MessageOf<T>;
    found.push({ ...rest, to: effect.to });
  }
  return found;
}

void describe('raylet: start and heartbeat', () => {
  void it('registers with the GCS, arms and re-arms the heartbeat, and sizes the pool from the CPUs', () => {
    const state = initialRayletState();
    const effects = applyRaylet(state, { type: 'node/started', nodeId: 'n1', resources: { CPU: 2, GPU: 1 }, config: defaultRayletConfig });
    assert.deepEqual(effects, [
      { type: 'message/sent', to: 'gcs', message: { type: 'node/registered', nodeId: 'n1', resources: { CPU: 2, GPU: 1 } } },
      { type: 'timer/armed', timerId: 'heartbeat', delayMs: 100 },
    ]);
    assert.equal(state.config.maxWorkers, 8);
    assert.deepEqual(applyRaylet(state, { type: 'timer/fired', timerId: 'heartbeat', nowMs: 100 }), [
      { type: 'message/sent', to: 'gcs', message: { type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 2, GPU: 1 } } },
      { type: 'timer/armed', timerId: 'heartbeat', delayMs: 100 },
    ]);
    assert.equal(rayletCore.kind, 'raylet');
    assert.equal(rayletCore.version, 13);
  });
});

void describe('raylet: local leases', () => {
  void it('spawns a worker, grants when it starts, and reuses the idle worker for the next lease', () => {
    const node = new Node();
    const workerId = node.grantNew('l1');
    assert.equal(workerId, 'n1.w1');
    assert.deepEqual(node.state.available, { CPU: 0 });
    node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId, disconnectWorker: false });
    assert.equal(node.state.workers[workerId]?.state, 'idle');
    const effects = node.request('l2');
    assert.deepEqual(effects.filter((effect) => effect.type === 'worker/spawn'), []);
    assert.deepEqual(sent(effects, 'lease/granted'), [{ leaseId: 'l2', workerId, nodeId: 'n1', to: driver }]);
  });

  void it('queues what does not fit, grants it on return, and rejects when the queue is full', () => {
    const node = new Node({ CPU: 1 }, { maxLeaseQueue: 1 });
    const workerId = node.grantNew('l1');
    assert.deepEqual(node.request('l2'), []);
    assert.deepEqual(node.state.queue, ['l2']);
    assert.deepEqual(sent(node.request('l3'), 'lease/rejected'), [{ leaseId: 'l3', reason: 'lease queue full', permanent: false, to: driver }]);
    const effects = node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId, disconnectWorker: false });
    assert.deepEqual(sent(effects, 'lease/granted'), [{ leaseId: 'l2', workerId, nodeId: 'n1', to: driver }]);
    assert.deepEqual(node.state.queue, []);
  });

  void it('lets a later lease that fits pass an earlier one that does not', () => {
    const node = new Node({ CPU: 2 });
    node.grantNew('l1');
    assert.deepEqual(node.request('big', { resources: { CPU: 2 } }), []);
    const effects = node.request('small');
    assert.equal(effects.filter((effect) => effect.type === 'worker/spawn').length, 1);
    assert.deepEqual(node.state.queue, ['big']);
  });

  void it('ends a disconnected worker instead of making it idle', () => {
    const node = new Node();
    const workerId = node.grantNew('l1');
    const effects = node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId, disconnectWorker: true });
    assert.deepEqual(effects, [{ type: 'worker/kill', workerId, reason: 'exited' }]);
    assert.equal(node.state.workers[workerId]?.state, 'dying');
    assert.deepEqual(node.state.available, { CPU: 1 });
  });
});

void describe('raylet: spillback', () => {
  void it('DEFAULT spills a first request to the alive node with the most free CPU, but not a spilled one', () => {
    const node = new Node();
    node.grantNew('l1');
    node.view([
      { nodeId: 'n1', total: { CPU: 1 }, available: { CPU: 1 } },
      { nodeId: 'n2', total: { CPU: 4 }, available: { CPU: 2 } },
      { nodeId: 'n3', total: { CPU: 4 }, available: { CPU: 3 } },
    ]);
    assert.deepEqual(sent(node.request('l2'), 'lease/spilled'), [{ leaseId: 'l2', toNodeId: 'n3', to: driver }]);
    assert.equal(node.state.leases['l2'], undefined);
    assert.deepEqual(node.request('l3', { spillbackCount: 1 }), []);
    assert.deepEqual(node.state.queue, ['l3']);
    assert.deepEqual(node.state.available, { CPU: 0 }, 'the view of this node does not overwrite its own numbers');
  });

  void it('a lease queued behind a full node moves on when a new view shows another node free, at most a bounded number of times', () => {
    const node = new Node({ CPU: 1 });
    node.grantNew('held');
    // The other nodes look busy when the leases arrive, so they queue here behind a CPU that may never free.
    node.view([
      { nodeId: 'n2', total: { CPU: 2 }, available: { CPU: 0 } },
      { nodeId: 'n3', total: { CPU: 1 }, available: { CPU: 0 } },
    ]);
    node.request('w1');
    node.request('w2');
    node.request('w3');
    node.request('pinned', { strategy: { nodeId: 'n1', soft: true } });
    node.request('tired', { spillbackCount: 4 });
    assert.deepEqual(node.state.queue, ['w1', 'w2', 'w3', 'pinned', 'tired']);
    const freed = node.view([
      { nodeId: 'n2', total: { CPU: 2 }, available: { CPU: 2 } },
      { nodeId: 'n3', total: { CPU: 1 }, available: { CPU: 1 } },
    ]);
    // Each node gets no more than it showed free; affinity and a lease spilled too often stay.
    assert.deepEqual(sent(freed, 'lease/spilled'), [
      { leaseId: 'w1', toNodeId: 'n2', to: driver },
      { leaseId: 'w2', toNodeId: 'n2', to: driver },
      { leaseId: 'w3', toNodeId: 'n3', to: driver },
    ]);
    assert.deepEqual(node.state.queue, ['pinned', 'tired']);
    assert.equal(node.state.leases['w1'], undefined);
    assert.deepEqual(sent(node.view([{ nodeId: 'n2', total: { CPU: 2 }, available: { CPU: 2 } }]), 'lease/spilled'), []);
  });

  void it('SPREAD goes round robin over the feasible alive nodes, this one included', () => {
    const node = new Node({ CPU: 4 });
    node.view([
      { nodeId: 'n2', total: { CPU: 4 }, available: { CPU: 4 } },
      { nodeId: 'n3', total: { CPU: 4 }, available: { CPU: 4 } },
      { nodeId: 'n4', total: { GPU: 1 }, available: { GPU: 1 } },
    ]);
    const here = node.request('s1', { strategy: 'SPREAD' });
    assert.equal(here.filter((effect) => effect.type === 'worker/spawn').length, 1);
    assert.deepEqual(sent(node.request('s2', { strategy: 'SPREAD' }), 'lease/spilled'), [{ leaseId: 's2', toNodeId: 'n2', to: driver }]);
    assert.deepEqual(sent(node.request('s3', { strategy: 'SPREAD' }), 'lease/spilled'), [{ leaseId: 's3', toNodeId: 'n3', to: driver }]);
    assert.deepEqual(sent(node.request('s4', { strategy: 'SPREAD' }), 'lease/spilled'), []);
    assert.equal(node.state.leases['s4']?.state, 'spawning');
  });

  void it('rejects hard affinity for good when the node can never fit, or is dead, naming why', () => {
    const node = new Node({ CPU: 1 });
    const rejected = sent(node.request('h1', { resources: { CPU: 1, GPU: 2 }, strategy: { nodeId: 'n1', soft: false } }), 'lease/rejected');
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]?.permanent, true);
    assert.match(rejected[0]?.reason ?? '', /GPU \(needs 2, has 0\)/);
    node.deliver({ type: 'node/died', nodeId: 'n9' }, 'gcs');
    const dead = sent(node.request('h2', { strategy: { nodeId: 'n9', soft: false } }), 'lease/rejected');
    assert.deepEqual(dead, [{ leaseId: 'h2', reason: 'hard node affinity to n9, which is dead', permanent: true, to: driver }]);
  });

  void it('holds hard affinity until the first cluster view, then spills to a known target and rejects a dead or unknown one', () => {
    const node = new Node({ CPU: 1 });
    assert.deepEqual(node.request('a1', { strategy: { nodeId: 'n2', soft: false } }), []);
    assert.deepEqual(node.request('a2', { strategy: { nodeId: 'n3', soft: false } }), []);
    assert.deepEqual(node.request('a3', { strategy: { nodeId: 'n4', soft: false } }), []);
    assert.deepEqual(node.state.infeasible, ['a1', 'a2', 'a3']);
    const died = node.deliver({ type: 'node/died', nodeId: 'n3' }, 'gcs');
    assert.deepEqual(sent(died, 'lease/rejected'), [{ leaseId: 'a2', reason: 'hard node affinity to n3, which is dead', permanent: true, to: driver }]);
    assert.deepEqual(node.state.infeasible, ['a1', 'a3'], 'an unknown target is not rejected before the first view');
    const joined = node.view([{ nodeId: 'n2', total: { CPU: 1 }, available: { CPU: 0 } }]);
    assert.deepEqual(sent(joined, 'lease/spilled'), [{ leaseId: 'a1', toNodeId: 'n2', to: driver }]);
    const unknown = sent(joined, 'lease/rejected');
    assert.equal(unknown.length, 1);
    assert.equal(unknown[0]?.leaseId, 'a3');
    assert.equal(unknown[0]?.permanent, true);
    assert.match(unknown[0]?.reason ?? '', /^hard node affinity to n4, which is not in the cluster/);
    assert.deepEqual(node.state.infeasible, []);
    const later = sent(node.request('a4', { strategy: { nodeId: 'n5', soft: false } }), 'lease/rejected');
    assert.match(later[0]?.reason ?? '', /n5, which is not in the cluster/, 'after the view an unknown target is rejected at once');
  });

  void it('soft affinity to a node not in the cluster waits for the first view, then runs as DEFAULT', () => {
    const node = new Node({ CPU: 1 });
    assert.deepEqual(node.request('u1', { strategy: { nodeId: 'n7', soft: true } }), []);
    assert.deepEqual(node.state.infeasible, ['u1']);
    const viewed = node.view([]);
    assert.deepEqual(sent(viewed, 'lease/rejected'), []);
    assert.equal(node.state.leases['u1']?.state, 'spawning', 'the lease fell back to this node');
    assert.ok(viewed.some((effect) => effect.type === 'worker/spawn'));
    node.request('u2', { strategy: { nodeId: 'n7', soft: true } });
    assert.deepEqual(node.state.queue, ['u2'], 'after the view it falls back at once (queued behind the busy CPU)');
  });

  void it('hard affinity to this node runs here, with or without a cluster view', () => {
    const node = new Node({ CPU: 1 });
    node.request('h1', { strategy: { nodeId: 'n1', soft: false } });
    assert.equal(node.state.leases['h1']?.state, 'spawning');
    assert.deepEqual(node.state.infeasible, []);
  });

  void it('soft affinity waits on a busy target that fits, and falls back to DEFAULT when the target is dead', () => {
    const node = new Node({ CPU: 1 });
    node.grantNew('l1');
    node.view([
      { nodeId: 'n2', total: { CPU: 2 }, available: { CPU: 2 } },
      { nodeId: 'n3', total: { CPU: 2 }, available: { CPU: 0 } },
    ]);
    assert.deepEqual(node.request('s1', { strategy: { nodeId: 'n1', soft: true } }), []);
    assert.deepEqual(node.state.queue, ['s1']);
    assert.deepEqual(sent(node.request('s2', { strategy: { nodeId: 'n3', soft: true } }), 'lease/spilled'), [{ leaseId: 's2', toNodeId: 'n3', to: driver }]);
    node.deliver({ type: 'node/died', nodeId: 'n3' }, 'gcs');
    assert.deepEqual(sent(node.request('s3', { strategy: { nodeId: 'n3', soft: true } }), 'lease/spilled'), [{ leaseId: 's3', toNodeId: 'n2', to: driver }]);
  });

  void it('keeps infeasible work pending, tells its requester why once it knows the cluster, and spills it when a node that fits joins', () => {
    const node = new Node({ CPU: 1 });
    assert.deepEqual(node.request('g1', { resources: { GPU: 1 } }), [], 'before the first view it cannot tell infeasible from not heard of yet');
    assert.deepEqual(node.state.infeasible, ['g1']);
    const viewed = node.view([{ nodeId: 'n2', total: { CPU: 8 }, available: { CPU: 8 } }]);
    const told = sent(viewed, 'lease/infeasible');
    assert.equal(viewed.length, 1);
    assert.deepEqual(
      told.map(({ leaseId, to }) => ({ leaseId, to })),
      [{ leaseId: 'g1', to: driver }],
    );
    assert.match(told[0]?.reason ?? '', /^no alive node can ever fit \{GPU: 1\}: node n1 lacks GPU \(needs 1, has 0\)/);
    assert.deepEqual(node.view([{ nodeId: 'n2', total: { CPU: 8 }, available: { CPU: 7 } }]), [], 'told once, not at every view');
    const later = sent(node.request('g2', { resources: { GPU: 1 } }), 'lease/infeasible');
    assert.deepEqual(
      later.map(({ leaseId }) => leaseId),
      ['g2'],
      'once the cluster is known, a new infeasible request is told at once',
    );
    assert.deepEqual(sent(node.request('c1', { resources: { CPU: 4 } }), 'lease/infeasible'), [], 'a request another node can fit is not infeasible');
    node.grantNew('q1');
    node.request('q2', { strategy: { nodeId: 'n1', soft: false } });
    node.request('q3', { strategy: { nodeId: 'n1', soft: false } });
    const heartbeat = (): MessageOf<'node/heartbeat'>['demand'] => sent(node.step({ type: 'timer/fired', timerId: 'heartbeat', nowMs: 0 }), 'node/heartbeat')[0]?.demand;
    assert.deepEqual(heartbeat(), [
      { resources: { CPU: 1 }, count: 2, infeasible: false },
      { resources: { GPU: 1 }, count: 2, infeasible: true },
    ], 'the heartbeat reports what waits here, by shape: two queued behind the busy CPU, two that no node can fit');
    const effects = node.view([{ nodeId: 'n3', total: { GPU: 1 }, available: { GPU: 0 } }]);
    assert.deepEqual(sent(effects, 'lease/spilled'), [
      { leaseId: 'g1', toNodeId: 'n3', to: driver },
      { leaseId: 'g2', toNodeId: 'n3', to: driver },
    ]);
    assert.deepEqual(node.state.infeasible, []);
    assert.equal(node.state.leases['g1'], undefined);
    assert.deepEqual(heartbeat(), [{ resources: { CPU: 1 }, count: 2, infeasible: false }]);
  });
});

void describe('raylet: stale and duplicate messages', () => {
  void it('ignores a duplicate delivery with the same via', () => {
    const node = new Node();
    const event: RayletEvent = {
      type: 'lease/requested',
      leaseId: 'l1',
      requester: driver,
      resources: { CPU: 1 },
      placementResources: {},
      strategy: 'DEFAULT',
      spillbackCount: 0,
      via: { from: driver, incarnation: 1, seq: 0 },
    };
    assert.equal(node.step(event).length, 1);
    const before = JSON.stringify(node.state);
    assert.deepEqual(node.step(event), []);
    assert.equal(JSON.stringify(node.state), before);
  });

  void it('re-sends the grant when a granted lease is requested again, and ignores requests for finished leases', () => {
    const node = new Node();
    const workerId = node.grantNew('l1');
    assert.deepEqual(sent(node.request('l1'), 'lease/granted'), [{ leaseId: 'l1', workerId, nodeId: 'n1', to: driver }]);
    node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId, disconnectWorker: false });
    assert.deepEqual(node.request('l1'), []);
    assert.deepEqual(node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId, disconnectWorker: false }), []);
    assert.equal(node.state.workers[workerId]?.state, 'idle');
  });

  void it('cancels a queued lease, and a spawning one whose worker then becomes idle', () => {
    const node = new Node({ CPU: 1 });
    node.request('l1');
    assert.equal(node.state.leases['l1']?.state, 'spawning');
    assert.deepEqual(node.state.available, { CPU: 0 });
    node.request('l2');
    node.deliver({ type: 'lease/cancelled', leaseId: 'l2' });
    assert.deepEqual(node.state.queue, []);
    assert.deepEqual(node.deliver({ type: 'lease/cancelled', leaseId: 'l1' }), []);
    assert.deepEqual(node.state.available, { CPU: 1 });
    assert.deepEqual(node.step({ type: 'worker/started', workerId: 'n1.w1' }), []);
    assert.equal(node.state.workers['n1.w1']?.state, 'idle');
    assert.deepEqual(node.request('l2'), [], 'a cancelled lease id stays finished');
  });

  void it('ignores a request whose cancel overtook it', () => {
    const node = new Node();
    node.deliver({ type: 'lease/cancelled', leaseId: 'l1' });
    assert.deepEqual(node.request('l1'), []);
  });

  void it('binds a queued lease to a starting worker whose lease was cancelled instead of spawning another', () => {
    const node = new Node({ CPU: 1 }, { maxWorkers: 1 });
    node.request('l1');
    node.deliver({ type: 'lease/cancelled', leaseId: 'l1' });
    assert.deepEqual(node.request('l2'), []);
    assert.equal(node.state.leases['l2']?.workerId, 'n1.w1');
    assert.deepEqual(sent(node.step({ type: 'worker/started', workerId: 'n1.w1' }), 'lease/granted'), [{ leaseId: 'l2', workerId: 'n1.w1', nodeId: 'n1', to: driver }]);
  });
});

void describe('raylet: worker deaths', () => {
  void it('reports a leased worker exit to the requester and to the GCS', () => {
    const node = new Node();
    const workerId = node.grantNew('l1');
    const effects = node.step({ type: 'worker/exited', workerId, reason: 'crashed' });
    assert.deepEqual(sent(effects, 'lease/worker-died'), [{ leaseId: 'l1', workerId, reason: 'crashed', to: driver }]);
    assert.deepEqual(sent(effects, 'worker/died'), [{ workerId, nodeId: 'n1', reason: 'crashed', to: 'gcs' }]);
    assert.equal(node.state.workers[workerId]?.state, 'dead');
    assert.deepEqual(node.state.available, { CPU: 1 });
    assert.equal(node.state.tombstones['l1'], true);
  });

  void it('spawns a replacement when a worker dies before starting, then gives up after maxSpawnRetries', () => {
    const node = new Node({ CPU: 1 }, { maxSpawnRetries: 1 });
    node.request('l1');
    const retry = node.step({ type: 'worker/exited', workerId: 'n1.w1', reason: 'crashed' });
    assert.deepEqual(retry.filter((effect) => effect.type === 'worker/spawn'), [{ type: 'worker/spawn', workerId: 'n1.w2' }]);
    assert.equal(node.state.leases['l1']?.workerId, 'n1.w2');
    const givenUp = node.step({ type: 'worker/exited', workerId: 'n1.w2', reason: 'crashed' });
    const rejected = sent(givenUp, 'lease/rejected');
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]?.permanent, false);
    assert.equal(node.state.leases['l1'], undefined);
    assert.deepEqual(node.state.available, { CPU: 1 });
  });

  void it('drops every lease of a dead owner, kills its workers, deletes its objects and tells local owners', () => {
    const node = new Node({ CPU: 1 });
    node.step({ type: 'driver/connected', workerId: 'n1.d1' });
    const remote = 'worker:n2.d1';
    const workerId = node.grantNew('r1', { requester: remote });
    node.request('r2', { requester: remote });
    node.deliver({ type: 'object/put-requested', objectId: 'n2.d1.p1', owner: 'n2.d1', data: [1], sizeBytes: 10, refs: [] });
    const effects = node.deliver({ type: 'worker/died', workerId: 'n2.d1', nodeId: 'n2', reason: 'exited' }, 'gcs');
    assert.ok(effects.some((effect) => effect.type === 'worker/kill' && effect.workerId === workerId && effect.reason === 'owner-died'));
    assert.ok(effects.some((effect) => effect.type === 'objects/deleted' && effect.objectIds.includes('n2.d1.p1')));
    assert.deepEqual(sent(effects, 'worker/died'), [{ workerId: 'n2.d1', nodeId: 'n2', reason: 'exited', to: driver }]);
    assert.equal(node.state.workers[workerId]?.state, 'dying');
    assert.deepEqual(node.state.leases, {});
    assert.deepEqual(node.state.queue, []);
    assert.deepEqual(node.state.available, { CPU: 1 });
    assert.deepEqual(node.request('r3', { requester: remote }), [], 'a late request from a dead owner is ignored');
  });

  void it('forgets the oldest dead owner past maxDeadOwners, with its inbox window', () => {
    const node = new Node({ CPU: 1 }, { maxDeadOwners: 2 });
    // Three owners of another node each ask for a lease, which leaves their windows in the inbox.
    const owners = ['n2.w1', 'n2.w2', 'n2.w3'];
    for (const [index, owner] of owners.entries()) {
      node.step({ type: 'lease/requested', leaseId: `n2.l${index}`, requester: `worker:${owner}`, resources: { CPU: 1 }, placementResources: {}, strategy: 'DEFAULT', spillbackCount: 0, via: { from: `worker:${owner}`, incarnation: 0, seq: 0 } });
    }
    const windows = (): string[] => Object.keys(node.state.inbox).filter((key) => key.startsWith('worker:n2.')).sort();
    assert.deepEqual(windows(), ['worker:n2.w1#0', 'worker:n2.w2#0', 'worker:n2.w3#0']);
    node.deliver({ type: 'worker/died', workerId: 'n2.w1', nodeId: 'n2', reason: 'exited' }, 'gcs');
    node.deliver({ type: 'worker/died', workerId: 'n2.w2', nodeId: 'n2', reason: 'exited' }, 'gcs');
    assert.equal(windows().length, 3, 'within the bound, dead owners keep their windows');
    node.deliver({ type: 'worker/died', workerId: 'n2.w3', nodeId: 'n2', reason: 'exited' }, 'gcs');
    assert.deepEqual(Object.keys(node.state.deadOwners), ['n2.w2', 'n2.w3']);
    assert.deepEqual(windows(), ['worker:n2.w2#0', 'worker:n2.w3#0'], "the forgotten owner's window went with it");
  });

  void it('treats the workers of a dead node as dead owners and forwards the news', () => {
    const node = new Node({ CPU: 1 });
    node.step({ type: 'driver/connected', workerId: 'n1.d1' });
    node.grantNew('r1', { requester: 'worker:n2.w5' });
    const effects = node.deliver({ type: 'node/died', nodeId: 'n2' }, 'gcs');
    assert.deepEqual(sent(effects, 'node/died'), [{ nodeId: 'n2', to: driver }]);
    assert.ok(effects.some((effect) => effect.type === 'worker/kill' && effect.reason === 'owner-died'));
    assert.deepEqual(node.state.leases, {});
  });

  void it('kills an alive worker on request, and ignores a request for a dead one', () => {
    const node = new Node();
    const workerId = node.grantNew('l1');
    assert.deepEqual(node.deliver({ type: 'worker/kill-requested', workerId, reason: 'killed' }, 'gcs'), [{ type: 'worker/kill', workerId, reason: 'killed' }]);
    node.step({ type: 'worker/exited', workerId, reason: 'killed' });
    assert.deepEqual(node.deliver({ type: 'worker/kill-requested', workerId, reason: 'killed' }, 'gcs'), []);
  });
});

void describe('raylet: sharing the CPUs between requesters', () => {
  const other = 'worker:n1.w9';
  const third = 'worker:n1.w8';

  void it('asks the holders of what a queued lease waits for to return their leases once idle, once per grant', () => {
    const node = new Node({ CPU: 1, GPU: 1 });
    node.grantNew('l1');
    node.grantNew('g1', { resources: { GPU: 1 }, requester: third });
    assert.deepEqual(node.returnAsks, [], 'nothing waits yet');
    assert.deepEqual(node.request('l2', { requester: other }), []);
    assert.deepEqual(node.returnAsks, [`${driver} l1`], 'the CPU lease is asked for, the GPU one is not');
    node.request('l3', { requester: other });
    node.deliver({ type: 'worker/blocked', workerId: 'n1.w1' }, 'worker:n1.w1');
    assert.deepEqual(node.returnAsks, [`${driver} l1`], 'l1 was asked once for this grant');
    const l2 = node.state.leases['l2'];
    assert.ok(l2 !== undefined && l2.state !== 'queued', 'the lent CPU went to l2');
  });

  void it('grants the leases of requesters that hold none here before more to one that holds some', () => {
    const node = new Node({ CPU: 1 }, { maxWorkers: 8 });
    const w1 = node.grantNew('d1');
    node.request('d2');
    node.request('d3');
    node.request('n1', { requester: other });
    node.request('n2', { requester: third });
    assert.deepEqual(node.state.queue, ['d2', 'd3', 'n1', 'n2']);
    // d1's task waits in a get: its CPU goes to the first requester that holds nothing here yet.
    const lent = node.deliver({ type: 'worker/blocked', workerId: w1 }, `worker:${w1}`);
    const spawned = lent.find((effect) => effect.type === 'worker/spawn');
    assert.ok(spawned !== undefined && spawned.type === 'worker/spawn');
    assert.equal(node.state.leases['n1']?.state, 'spawning', 'n1 passes the driver\'s earlier d2 and d3');
    assert.deepEqual(node.state.queue, ['d2', 'd3', 'n2']);
    node.step({ type: 'worker/started', workerId: spawned.workerId });
    // n1 ends: the CPU goes to n2, whose requester holds nothing, before the driver's second lease.
    node.deliver({ type: 'lease/returned', leaseId: 'n1', workerId: spawned.workerId, disconnectWorker: false }, other);
    assert.equal(node.state.leases['n2']?.state, 'granted');
    assert.deepEqual(node.state.queue, ['d2', 'd3']);
  });
});

void describe('raylet: blocked workers', () => {
  void it('lends a blocked worker CPU out, resumes it at once when it unblocks (CPU below zero, as Ray lets it), and never frees it twice', () => {
    const node = new Node({ CPU: 1 });
    const w1 = node.grantNew('l1');
    node.deliver({ type: 'worker/blocked', workerId: w1 }, `worker:${w1}`);
    assert.deepEqual(node.state.available, { CPU: 1 });
    const w2 = node.grantNew('l2');
    const resumed = node.deliver({ type: 'worker/unblocked', workerId: w1 }, `worker:${w1}`);
    assert.deepEqual(sent(resumed, 'worker/resumed'), [{ workerId: w1, to: `worker:${w1}` }], 'w1 goes on while w2 holds the CPU it lent');
    assert.deepEqual(node.state.available, { CPU: -1 });
    assert.deepEqual(node.request('l3'), [], 'a new lease waits until the node is back within its CPUs');
    assert.deepEqual(sent(node.deliver({ type: 'lease/returned', leaseId: 'l2', workerId: w2, disconnectWorker: false }), 'lease/granted'), [], 'one CPU back only ends the overdraft');
    assert.deepEqual(node.state.available, { CPU: 0 });
    const lent = node.deliver({ type: 'worker/blocked', workerId: w1 }, `worker:${w1}`);
    assert.deepEqual(sent(lent, 'lease/granted'), [{ leaseId: 'l3', workerId: w2, nodeId: 'n1', to: driver }], 'the lent CPU goes to the queued lease');
    node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId: w1, disconnectWorker: false });
    assert.deepEqual(node.state.available, { CPU: 0 }, 'returning a blocked lease gives back nothing twice');
    node.deliver({ type: 'lease/returned', leaseId: 'l3', workerId: w2, disconnectWorker: false });
    assert.deepEqual(node.state.available, { CPU: 1 }, 'every CPU is back once every lease ended');
  });

  void it('starts a worker beyond the pool bound when the others are blocked, so nested gets cannot deadlock', () => {
    const node = new Node({ CPU: 1 }, { maxWorkers: 1 });
    const w1 = node.grantNew('l1');
    assert.deepEqual(node.request('l2'), [], 'the pool is full');
    const lent = node.deliver({ type: 'worker/blocked', workerId: w1 }, `worker:${w1}`);
    assert.deepEqual(lent, [{ type: 'worker/spawn', workerId: 'n1.w2' }]);
  });

  void it('gives back the CPU a resumed worker took over the total when its lease ends, and lets one unblocked once idle go on at once', () => {
    const node = new Node({ CPU: 1 });
    const w1 = node.grantNew('l1');
    node.deliver({ type: 'worker/blocked', workerId: w1 }, `worker:${w1}`);
    const w2 = node.grantNew('l2');
    node.deliver({ type: 'worker/unblocked', workerId: w1 }, `worker:${w1}`);
    assert.deepEqual(node.state.available, { CPU: -1 }, 'w1 took its CPU back while w2 holds the one it lent');
    // w1's task ended: its owner returns the lease while w2 still runs.
    node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId: w1, disconnectWorker: false });
    assert.deepEqual(node.state.available, { CPU: 0 });
    assert.equal(node.state.workers[w1]?.state, 'idle');
    // A worker whose lease ended while blocked unblocks later: nothing to take back, it goes on.
    const [granted] = sent(node.request('l3', { resources: {} }), 'lease/granted');
    assert.equal(granted?.workerId, w1, 'the idle w1 serves it');
    const w3 = w1;
    node.deliver({ type: 'worker/blocked', workerId: w3 }, `worker:${w3}`);
    node.deliver({ type: 'lease/returned', leaseId: 'l3', workerId: w3, disconnectWorker: false });
    assert.deepEqual(sent(node.deliver({ type: 'worker/unblocked', workerId: w3 }, `worker:${w3}`), 'worker/resumed'), [{ workerId: w3, to: `worker:${w3}` }]);
    assert.deepEqual(node.state.available, { CPU: 0 }, 'w2 still holds the CPU; nothing was given twice');
    void w2;
  });

  void it('resumes at once when the unblock overtakes its block', () => {
    const node = new Node({ CPU: 1 });
    const w1 = node.grantNew('l1');
    assert.deepEqual(sent(node.deliver({ type: 'worker/unblocked', workerId: w1 }, `worker:${w1}`), 'worker/resumed'), [{ workerId: w1, to: `worker:${w1}` }]);
    node.deliver({ type: 'worker/blocked', workerId: w1 }, `worker:${w1}`);
    assert.equal(node.state.workers[w1]?.blocked, false);
    assert.deepEqual(node.state.available, { CPU: 0 });
  });

  void it("answers a late unblock of a lease that ended without swallowing the next lease's block (reports name their spell and lease)", () => {
    const node = new Node({ CPU: 1 });
    const w1 = node.grantNew('l1');
    node.deliver({ type: 'worker/blocked', workerId: w1, spell: 1, leaseId: 'l1' }, `worker:${w1}`);
    assert.deepEqual(node.state.available, { CPU: 1 }, 'its CPU is lent out');
    // Its task was cancelled: the owner returns the lease before the worker's unblock arrives.
    node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId: w1, disconnectWorker: false });
    assert.equal(sent(node.request('l2', { resources: {} }), 'lease/granted')[0]?.workerId, w1, 'the idle w1 serves the next lease');
    const late = node.deliver({ type: 'worker/unblocked', workerId: w1, spell: 1, leaseId: 'l1' }, `worker:${w1}`);
    assert.deepEqual(sent(late, 'worker/resumed'), [{ workerId: w1, spell: 1, to: `worker:${w1}` }], 'the worker waits for it: answered at once');
    assert.equal(node.state.workers[w1]?.earlyUnblocks, 0, 'not taken for an early unblock of the new lease');
    node.deliver({ type: 'worker/blocked', workerId: w1, spell: 2, leaseId: 'l2' }, `worker:${w1}`);
    assert.equal(node.state.workers[w1]?.blocked, true, "the new lease's block is heard");
  });

  void it('lends nothing for a block of a lease that ended, and answers its unblock at once', () => {
    const node = new Node({ CPU: 1 });
    const w1 = node.grantNew('l1');
    node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId: w1, disconnectWorker: false });
    assert.equal(sent(node.request('l2'), 'lease/granted')[0]?.workerId, w1);
    node.deliver({ type: 'worker/blocked', workerId: w1, spell: 1, leaseId: 'l1' }, `worker:${w1}`);
    assert.deepEqual(node.state.available, { CPU: 0 }, "l2's CPU is not lent out for a block under l1");
    assert.equal(node.state.workers[w1]?.blocked, false);
    assert.deepEqual(sent(node.deliver({ type: 'worker/unblocked', workerId: w1, spell: 1, leaseId: 'l1' }, `worker:${w1}`), 'worker/resumed'), [{ workerId: w1, spell: 1, to: `worker:${w1}` }]);
    assert.deepEqual(node.state.available, { CPU: 0 });
  });

  void it('changes nothing for repeated or reordered reports of a spell', () => {
    const node = new Node({ CPU: 1 });
    const w1 = node.grantNew('l1');
    const from = `worker:${w1}`;
    // Spell 1's unblock overtakes its block: answered at once, and the block that follows lends nothing.
    assert.deepEqual(sent(node.deliver({ type: 'worker/unblocked', workerId: w1, spell: 1, leaseId: 'l1' }, from), 'worker/resumed'), [{ workerId: w1, spell: 1, to: from }]);
    node.deliver({ type: 'worker/blocked', workerId: w1, spell: 1, leaseId: 'l1' }, from);
    assert.deepEqual(node.state.available, { CPU: 0 });
    // Spell 2 blocks, is repeated, unblocks and is resumed; late copies of both then change nothing.
    node.deliver({ type: 'worker/blocked', workerId: w1, spell: 2, leaseId: 'l1' }, from);
    node.deliver({ type: 'worker/blocked', workerId: w1, spell: 2, leaseId: 'l1' }, from);
    assert.deepEqual(node.state.available, { CPU: 1 }, 'lent once');
    assert.deepEqual(sent(node.deliver({ type: 'worker/unblocked', workerId: w1, spell: 2, leaseId: 'l1' }, from), 'worker/resumed'), [{ workerId: w1, spell: 2, to: from }]);
    assert.deepEqual(node.state.available, { CPU: 0 }, 'taken back once');
    node.deliver({ type: 'worker/blocked', workerId: w1, spell: 2, leaseId: 'l1' }, from);
    assert.deepEqual(node.deliver({ type: 'worker/unblocked', workerId: w1, spell: 1, leaseId: 'l1' }, from), [], 'an unblock of an earlier spell was answered then');
    assert.deepEqual(node.state.available, { CPU: 0 });
    assert.equal(node.state.workers[w1]?.blocked, false);
    // A repeated unblock of the latest spell is answered again: the worker ignores a resume it has had.
    assert.deepEqual(sent(node.deliver({ type: 'worker/unblocked', workerId: w1, spell: 2, leaseId: 'l1' }, from), 'worker/resumed'), [{ workerId: w1, spell: 2, to: from }]);
    assert.deepEqual(node.state.available, { CPU: 0 });
  });
});

void describe('raylet: idle workers past the soft limit', () => {
  /**
   * A node of one CPU whose pool grew to three task workers while two tasks were blocked in `get`
   * (w1 and w2 blocked, w3 running), all three idle now, in spells 1, 1 and 1.
   */
  function grownPool(config: Partial<RayletConfig> = {}): { node: Node; workers: string[]; armed: string[] } {
    const node = new Node({ CPU: 1 }, { maxWorkers: 1, idleWorkerExitMs: 1000, ...config });
    const armed: string[] = [];
    const note = (effects: RayletEffect[]): RayletEffect[] => {
      for (const effect of effects) if (effect.type === 'timer/armed' && effect.timerId.startsWith('idle-exit:')) armed.push(effect.timerId);
      return effects;
    };
    const w1 = node.grantNew('l1');
    assert.deepEqual(node.request('l2'), [], 'the pool is full');
    const [spawn2] = node.deliver({ type: 'worker/blocked', workerId: w1 }, `worker:${w1}`);
    assert.deepEqual(spawn2, { type: 'worker/spawn', workerId: 'n1.w2' });
    node.step({ type: 'worker/started', workerId: 'n1.w2' });
    assert.deepEqual(node.request('l3'), []);
    const [spawn3] = node.deliver({ type: 'worker/blocked', workerId: 'n1.w2' }, 'worker:n1.w2');
    assert.deepEqual(spawn3, { type: 'worker/spawn', workerId: 'n1.w3' });
    node.step({ type: 'worker/started', workerId: 'n1.w3' });
    note(node.deliver({ type: 'lease/returned', leaseId: 'l3', workerId: 'n1.w3', disconnectWorker: false }));
    note(node.deliver({ type: 'worker/unblocked', workerId: 'n1.w2' }, 'worker:n1.w2'));
    note(node.deliver({ type: 'lease/returned', leaseId: 'l2', workerId: 'n1.w2', disconnectWorker: false }));
    note(node.deliver({ type: 'worker/unblocked', workerId: w1 }, `worker:${w1}`));
    note(node.deliver({ type: 'lease/returned', leaseId: 'l1', workerId: w1, disconnectWorker: false }));
    return { node, workers: [w1, 'n1.w2', 'n1.w3'], armed };
  }

  void it('asks each surplus idle worker after idleWorkerExitMs, again up to maxIdleExitAsks, and ends as many as agree past the soft limit', () => {
    const { node, workers, armed } = grownPool();
    assert.deepEqual(armed, ['idle-exit:n1.w3:1:1', 'idle-exit:n1.w2:1:1', 'idle-exit:n1.w1:1:1'], 'each went idle while the node had more task workers than CPUs (blocked ones count)');
    assert.deepEqual(workers.map((id) => node.state.workers[id]?.state), ['idle', 'idle', 'idle']);
    const asked = node.step({ type: 'timer/fired', timerId: 'idle-exit:n1.w3:1:1', nowMs: 1000 });
    assert.deepEqual(asked, [
      { type: 'message/sent', to: 'worker:n1.w3', message: { type: 'worker/exit-requested', workerId: 'n1.w3', turn: 1 } },
      { type: 'timer/armed', timerId: 'idle-exit:n1.w3:1:2', delayMs: 1000 },
    ]);
    assert.deepEqual(node.step({ type: 'timer/fired', timerId: 'idle-exit:n1.w3:1:3', nowMs: 3000 }).filter((effect) => effect.type === 'timer/armed'), [], 'the third ask is the last of the spell');
    node.step({ type: 'timer/fired', timerId: 'idle-exit:n1.w2:1:1', nowMs: 1000 });
    node.step({ type: 'timer/fired', timerId: 'idle-exit:n1.w1:1:1', nowMs: 1000 });
    // All three agree; only two are past the soft limit of one CPU.
    assert.deepEqual(node.deliver({ type: 'worker/exit-agreed', workerId: 'n1.w3', turn: 1 }, 'worker:n1.w3'), [{ type: 'worker/kill', workerId: 'n1.w3', reason: 'idle' }]);
    assert.deepEqual(node.deliver({ type: 'worker/exit-agreed', workerId: 'n1.w2', turn: 1 }, 'worker:n1.w2'), [{ type: 'worker/kill', workerId: 'n1.w2', reason: 'idle' }]);
    assert.deepEqual(node.deliver({ type: 'worker/exit-agreed', workerId: 'n1.w1', turn: 1 }, 'worker:n1.w1'), [], 'the soft limit (the CPU count) stays');
    assert.deepEqual(node.step({ type: 'timer/fired', timerId: 'idle-exit:n1.w1:1:2', nowMs: 2000 }), [], 'no more surplus: nobody is asked');
    const exited = node.step({ type: 'worker/exited', workerId: 'n1.w3', reason: 'idle' });
    assert.deepEqual(sent(exited, 'worker/died'), [
      { workerId: 'n1.w3', nodeId: 'n1', reason: 'idle', to: 'gcs' },
      { workerId: 'n1.w3', nodeId: 'n1', reason: 'idle', to: 'worker:n1.w1' },
    ], 'the GCS and the local owners hear of it as of any death');
    assert.equal(node.state.workers['n1.w1']?.state, 'idle');
  });

  void it('ends nothing for an answer about an earlier idle spell, for a worker leased since, or when the node is off', () => {
    const { node } = grownPool();
    node.step({ type: 'timer/fired', timerId: 'idle-exit:n1.w3:1:1', nowMs: 1000 });
    const granted = node.request('l4');
    assert.deepEqual(sent(granted, 'lease/granted'), [{ leaseId: 'l4', workerId: 'n1.w1', nodeId: 'n1', to: driver }], 'the smallest idle worker serves the new lease');
    node.step({ type: 'timer/fired', timerId: 'idle-exit:n1.w1:1:1', nowMs: 1000 });
    assert.deepEqual(node.deliver({ type: 'worker/exit-agreed', workerId: 'n1.w1', turn: 1 }, 'worker:n1.w1'), [], 'leased since it agreed');
    const returned = node.deliver({ type: 'lease/returned', leaseId: 'l4', workerId: 'n1.w1', disconnectWorker: false });
    assert.deepEqual(returned.filter((effect) => effect.type === 'timer/armed'), [{ type: 'timer/armed', timerId: 'idle-exit:n1.w1:2:1', delayMs: 1000 }]);
    assert.deepEqual(node.deliver({ type: 'worker/exit-agreed', workerId: 'n1.w1', turn: 1 }, 'worker:n1.w1'), [], 'an answer about its first spell');
    assert.deepEqual(node.deliver({ type: 'worker/exit-agreed', workerId: 'n1.w1', turn: 2 }, 'worker:n1.w1'), [{ type: 'worker/kill', workerId: 'n1.w1', reason: 'idle' }]);
    const off = grownPool({ idleWorkerExitMs: 0 });
    assert.deepEqual(off.armed, [], 'idleWorkerExitMs 0: never');
  });

  void it('keeps a pool within its CPUs, and the prestarted workers beside busy ones', () => {
    const node = new Node({ CPU: 2 }, { idleWorkerExitMs: 1000 });
    const w1 = node.grantNew('l1');
    const w2 = node.grantNew('l2');
    for (const [leaseId, workerId] of [['l1', w1], ['l2', w2]] as const) {
      const effects = node.deliver({ type: 'lease/returned', leaseId, workerId, disconnectWorker: false });
      assert.deepEqual(effects.filter((effect) => effect.type === 'timer/armed'), [], `${workerId} is within the soft limit`);
    }
    // Two CPUs busy, and two workers kept ready beside them: ending those would only start them again.
    const prestarting = new Node({ CPU: 2 }, { idleWorkerExitMs: 1000, prestartWorkers: 2 });
    const ready = Object.keys(prestarting.state.workers);
    assert.equal(ready.length, 2);
    const armed: string[] = [];
    for (const workerId of ready) {
      for (const effect of prestarting.step({ type: 'worker/started', workerId })) if (effect.type === 'timer/armed') armed.push(effect.timerId);
    }
    const busy = [prestarting.request('l1'), prestarting.request('l2')].flat();
    assert.equal(busy.filter((effect) => effect.type === 'worker/spawn').length, 2, 'the two ready workers took the leases, and two more are started ahead');
    for (const workerId of ['n1.w3', 'n1.w4']) {
      for (const effect of prestarting.step({ type: 'worker/started', workerId })) if (effect.type === 'timer/armed') armed.push(effect.timerId);
    }
    assert.deepEqual(armed, [], 'four workers on two CPUs, but the two idle ones are the ones kept ready');
  });

  void it('gives the same state under immer as in place, idle exits included', () => {
    const { node } = grownPool();
    const later: RayletEvent[] = [
      { type: 'timer/fired', timerId: 'idle-exit:n1.w3:1:1', nowMs: 1000 },
      { type: 'timer/fired', timerId: 'idle-exit:n1.w2:1:1', nowMs: 1000 },
      { type: 'worker/exit-agreed', workerId: 'n1.w3', turn: 1, via: { from: 'worker:n1.w3', incarnation: 1, seq: 9 } },
      { type: 'worker/exit-agreed', workerId: 'n1.w2', turn: 1, via: { from: 'worker:n1.w2', incarnation: 1, seq: 9 } },
      { type: 'worker/exited', workerId: 'n1.w3', reason: 'idle' },
      { type: 'worker/exited', workerId: 'n1.w2', reason: 'idle' },
    ];
    let frozen: RayletState = produce(structuredClone(node.state), () => undefined);
    const mutable = structuredClone(node.state);
    for (const event of later) {
      let drafted: RayletEffect[] = [];
      frozen = produce(frozen, (draft) => {
        drafted = applyRaylet(draft, event);
      });
      const direct = applyRaylet(mutable, event);
      assert.equal(JSON.stringify(drafted), JSON.stringify(direct), `effects of ${event.type}`);
      assert.equal(hashState(frozen), hashState(mutable), `state hash after ${event.type}`);
    }
    assert.deepEqual(Object.values(mutable.workers).map((worker) => worker.state), ['idle', 'dead', 'dead']);
  });
});

void describe('raylet: actors and the pool', () => {
  void it('gives every actor a worker of its own outside the pool bound, so tasks still get workers', () => {
    const node = new Node({ CPU: 2 }, { maxWorkers: 2 });
    const actorWorkers = Array.from({ length: 6 }, (_, index) => node.grantNew(`actor${index}`, { resources: {}, placementResources: { CPU: 1 }, actorId: `a${index}`, requester: 'gcs' }));
    assert.equal(new Set(actorWorkers).size, 6);
    // Both pooled slots are still free for tasks.
    const first = node.grantNew('task1');
    const second = node.grantNew('task2');
    assert.notEqual(first, second);
    assert.equal(node.request('task3').some((effect) => effect.type === 'worker/spawn'), false, 'a third task worker is over the bound');
  });

  void it('turns an actor away at once when maxActorWorkers actors already run, naming the limit', () => {
    const node = new Node({ CPU: 2 }, { maxActorWorkers: 2 });
    node.grantNew('actor0', { resources: {}, placementResources: { CPU: 1 }, actorId: 'a0', requester: 'gcs' });
    node.grantNew('actor1', { resources: {}, placementResources: { CPU: 1 }, actorId: 'a1', requester: 'gcs' });
    const rejected = sent(node.request('actor2', { resources: {}, placementResources: { CPU: 1 }, actorId: 'a2', requester: 'gcs' }), 'lease/rejected');
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]?.permanent, true);
    assert.match(rejected[0]?.reason ?? '', /maxActorWorkers/);
  });

  void it('keeps prestartWorkers idle workers ahead of demand, replaces a taken one, and stops after repeated start failures', () => {
    const state = initialRayletState();
    const started = applyRaylet(state, { type: 'node/started', nodeId: 'n1', resources: { CPU: 2 }, config: { ...defaultRayletConfig, maxWorkers: 4, prestartWorkers: 2 } });
    const spawned = started.filter((effect) => effect.type === 'worker/spawn').map((effect) => (effect.type === 'worker/spawn' ? effect.workerId : ''));
    assert.deepEqual(spawned, ['n1.w1', 'n1.w2']);
    for (const workerId of spawned) applyRaylet(state, { type: 'worker/started', workerId });
    assert.deepEqual(rayletInvariants(state), []);
    // A lease takes an idle worker at once, and another is started to take its place.
    const effects = applyRaylet(state, { type: 'lease/requested', leaseId: 'l1', requester: driver, resources: { CPU: 1 }, placementResources: {}, strategy: 'DEFAULT', spillbackCount: 0, via: { from: driver, incarnation: 1, seq: 0 } });
    assert.equal(sent(effects, 'lease/granted')[0]?.workerId, 'n1.w1');
    assert.deepEqual(effects.filter((effect) => effect.type === 'worker/spawn').map((effect) => (effect.type === 'worker/spawn' ? effect.workerId : '')), ['n1.w3']);
    // Workers started ahead that keep dying before they start are not replaced for ever.
    let respawns = 0;
    let next = 'n1.w3';
    for (let round = 0; round < 10; round += 1) {
      const after = applyRaylet(state, { type: 'worker/exited', workerId: next, reason: 'crashed' });
      const spawn = after.find((effect) => effect.type === 'worker/spawn');
      if (spawn === undefined || spawn.type !== 'worker/spawn') break;
      respawns += 1;
      next = spawn.workerId;
    }
    assert.equal(respawns, defaultRayletConfig.maxSpawnRetries);
    assert.deepEqual(rayletInvariants(state), []);
  });
});

void describe('raylet: object store', () => {
  void it('puts, acks duplicates, rejects when full, fetches and frees', () => {
    const node = new Node({ CPU: 1 }, { objectStoreCapacityBytes: 100 });
    const from = 'worker:n1.w1';
    const put = (objectId: string, sizeBytes: number): RayletEffect[] =>
      node.deliver({ type: 'object/put-requested', objectId, owner: 'n1.d1', data: { v: objectId }, sizeBytes, refs: [{ objectId: 'n1.d1.p0', owner: 'n1.d1' }] }, from);
    assert.deepEqual(sent(put('n1.d1.p1', 60), 'object/put-acked'), [{ objectId: 'n1.d1.p1', to: from }]);
    assert.deepEqual(sent(put('n1.d1.p1', 60), 'object/put-acked'), [{ objectId: 'n1.d1.p1', to: from }]);
    assert.deepEqual(sent(put('n1.d1.p2', 50), 'object/put-rejected'), [
      { objectId: 'n1.d1.p2', reason: 'object store full: need 50 bytes, 60 of 100 in use; free objects or raise objectStoreMemory', to: from },
    ]);
    const fetched = sent(node.deliver({ type: 'object/fetch-requested', objectId: 'n1.d1.p1', requester: 'worker:n2.w1' }, 'raylet:n2'), 'object/fetched');
    assert.deepEqual(fetched, [{ objectId: 'n1.d1.p1', data: { v: 'n1.d1.p1' }, sizeBytes: 60, refs: [{ objectId: 'n1.d1.p0', owner: 'n1.d1' }], to: 'worker:n2.w1' }]);
    const missing = sent(node.deliver({ type: 'object/fetch-requested', objectId: 'n1.d1.p2', requester: 'worker:n2.w1' }, 'raylet:n2'), 'object/fetch-failed');
    assert.deepEqual(missing, [{ objectId: 'n1.d1.p2', nodeId: 'n1', to: 'worker:n2.w1' }]);
    assert.deepEqual(node.deliver({ type: 'object/free-requested', objectIds: ['n1.d1.p1', 'n1.d1.p2'] }), [{ type: 'objects/deleted', objectIds: ['n1.d1.p1'] }]);
    assert.equal(node.state.usedBytes, 0);
    assert.deepEqual(sent(put('n1.d1.p2', 50), 'object/put-acked'), [{ objectId: 'n1.d1.p2', to: from }]);
  });

  void it('keeps a copy pulled from another node while it fits, counts its bytes, serves it, and frees it like any object', () => {
    const node = new Node({ CPU: 1 }, { objectStoreCapacityBytes: 100 });
    const copy = (objectId: string, sizeBytes: number, owner = 'n2.d1'): RayletEffect[] =>
      node.step({ type: 'object/copy-stored', objectId, owner, fromNodeId: 'n2', data: { v: objectId }, sizeBytes, refs: [] });
    // The owner hears where the copy is (so it can read it if the primary's node dies, and free it).
    assert.deepEqual(copy('n2.d1.p1', 60), [{ type: 'message/sent', to: 'worker:n2.d1', message: { type: 'object/copy-added', objectId: 'n2.d1.p1', nodeId: node.state.nodeId } }]);
    assert.equal(node.state.usedBytes, 60);
    assert.equal(node.state.objects['n2.d1.p1']?.copiedFrom, 'n2');
    // A second copy of the same object, or one with no room, changes nothing: the shell takes its memory back.
    assert.deepEqual(copy('n2.d1.p1', 60), []);
    assert.deepEqual(copy('n2.d1.p2', 50), []);
    assert.equal(node.state.usedBytes, 60);
    assert.equal(node.state.objects['n2.d1.p2'], undefined);
    const fetched = sent(node.deliver({ type: 'object/fetch-requested', objectId: 'n2.d1.p1', requester: 'worker:n1.w1' }, 'worker:n1.w1'), 'object/fetched');
    assert.deepEqual(fetched, [{ objectId: 'n2.d1.p1', data: { v: 'n2.d1.p1' }, sizeBytes: 60, refs: [], to: 'worker:n1.w1' }]);
    assert.deepEqual(node.deliver({ type: 'object/free-requested', objectIds: ['n2.d1.p1'] }, 'objects:n2'), [{ type: 'objects/deleted', objectIds: ['n2.d1.p1'] }]);
    assert.equal(node.state.usedBytes, 0);
    // The copy of an owner that dies goes with the owner's other objects; a copy of a dead owner is never kept.
    copy('n2.d1.p3', 30);
    const died = node.deliver({ type: 'worker/died', workerId: 'n2.d1', nodeId: 'n2', reason: 'exited' }, 'gcs');
    assert.ok(died.some((effect) => effect.type === 'objects/deleted' && effect.objectIds.includes('n2.d1.p3')));
    assert.deepEqual(copy('n2.d1.p4', 30), []);
    assert.equal(node.state.objects['n2.d1.p4'], undefined);
    assert.equal(node.state.usedBytes, 0);
  });
});

void describe('raylet: spill space', () => {
  const from = 'worker:n1.w1';
  const spill = (node: Node, objectId: string, sizeBytes: number, owner = 'n1.d1'): RayletEffect[] =>
    node.step({ type: 'object/spilled', objectId, owner, requester: from, data: { file: objectId }, sizeBytes, refs: [{ objectId: 'n1.d1.p0', owner: 'n1.d1' }] });

  void it('keeps a spilled put against the spill bound, serves it, and frees its bytes', () => {
    const node = new Node({ CPU: 1 }, { objectStoreCapacityBytes: 100, spillCapacityBytes: 150 });
    node.deliver({ type: 'object/put-requested', objectId: 'n1.d1.p1', owner: 'n1.d1', data: { v: 1 }, sizeBytes: 90, refs: [] }, from);
    assert.deepEqual(sent(spill(node, 'n1.d1.p2', 80), 'object/put-acked'), [{ objectId: 'n1.d1.p2', to: from }]);
    assert.equal(node.state.usedBytes, 90);
    assert.equal(node.state.spilledBytes, 80);
    assert.equal(node.state.objects['n1.d1.p2']?.spilled, true);
    assert.equal(node.state.objects['n1.d1.p1']?.spilled, undefined);
    // A second spill of a known object (in memory or spilled) is only acknowledged, and counted once.
    assert.deepEqual(sent(spill(node, 'n1.d1.p2', 80), 'object/put-acked'), [{ objectId: 'n1.d1.p2', to: from }]);
    assert.deepEqual(sent(spill(node, 'n1.d1.p1', 90), 'object/put-acked'), [{ objectId: 'n1.d1.p1', to: from }]);
    assert.equal(node.state.spilledBytes, 80);
    assert.equal(node.state.objects['n1.d1.p1']?.spilled, undefined, 'an object is in memory or spilled, never both');
    // Past the spill bound: rejected, naming both limits and what to do.
    const [rejected] = sent(spill(node, 'n1.d1.p3', 71), 'object/put-rejected');
    assert.equal(rejected?.to, from);
    assert.match(rejected?.reason ?? '', /need 71 bytes; the store holds 90 of 100 bytes \(objectStoreMemory\) and its spill space on disk 80 of 150 bytes/);
    assert.match(rejected?.reason ?? '', /raise objectStoreMemory/);
    assert.match(rejected?.reason ?? '', /TSRAY_SPILL_BYTES/);
    assert.equal(node.state.objects['n1.d1.p3'], undefined);
    // Readers get the spilled descriptor.
    const fetched = sent(node.deliver({ type: 'object/fetch-requested', objectId: 'n1.d1.p2', requester: 'worker:n1.w2' }, 'worker:n1.w2'), 'object/fetched');
    assert.deepEqual(fetched, [{ objectId: 'n1.d1.p2', data: { file: 'n1.d1.p2' }, sizeBytes: 80, refs: [{ objectId: 'n1.d1.p0', owner: 'n1.d1' }], to: 'worker:n1.w2' }]);
    // Freeing gives back the spill space, not the store's memory.
    assert.deepEqual(node.deliver({ type: 'object/free-requested', objectIds: ['n1.d1.p2'] }), [{ type: 'objects/deleted', objectIds: ['n1.d1.p2'] }]);
    assert.equal(node.state.spilledBytes, 0);
    assert.equal(node.state.usedBytes, 90);
    assert.deepEqual(sent(spill(node, 'n1.d1.p3', 150), 'object/put-acked'), [{ objectId: 'n1.d1.p3', to: from }]);
    assert.equal(node.state.spilledBytes, 150);
  });

  void it('turns away every spill when there is no spill space, and those of a dead owner', () => {
    const node = new Node({ CPU: 1 }, { objectStoreCapacityBytes: 100 });
    assert.equal(node.state.config.spillCapacityBytes, 0, 'no spill space unless the shell gives one');
    assert.equal(sent(spill(node, 'n1.d1.p1', 1), 'object/put-rejected').length, 1);
    const withSpace = new Node({ CPU: 1 }, { objectStoreCapacityBytes: 100, spillCapacityBytes: 100 });
    spill(withSpace, 'n2.d1.p1', 30, 'n2.d1');
    assert.equal(withSpace.state.spilledBytes, 30);
    const died = withSpace.deliver({ type: 'worker/died', workerId: 'n2.d1', nodeId: 'n2', reason: 'exited' }, 'gcs');
    assert.ok(died.some((effect) => effect.type === 'objects/deleted' && effect.objectIds.includes('n2.d1.p1')), "a dead owner's spilled objects are deleted");
    assert.equal(withSpace.state.spilledBytes, 0);
    assert.match(sent(spill(withSpace, 'n2.d1.p2', 10, 'n2.d1'), 'object/put-rejected')[0]?.reason ?? '', /owner n2\.d1 is dead/);
    assert.match(sent(spill(withSpace, 'n1.d1.p9', -1), 'object/put-rejected')[0]?.reason ?? '', /invalid object size/);
    assert.equal(withSpace.state.spilledBytes, 0);
  });

  void it('flags a spilled count that disagrees with the objects, or one over the bound', () => {
    const node = new Node({ CPU: 1 }, { objectStoreCapacityBytes: 100, spillCapacityBytes: 100 });
    spill(node, 'n1.d1.p1', 60);
    const state = structuredClone(node.state);
    state.spilledBytes = 10;
    assert.deepEqual(rayletInvariants(state), ['spill space counts 10 bytes used but holds 60']);
    const over = structuredClone(node.state);
    over.config = { ...over.config, spillCapacityBytes: 50 };
    assert.deepEqual(rayletInvariants(over), ['spill space uses 60 bytes, over its capacity 50']);
  });
});

void describe('raylet: node death', () => {
  void it('shuts down when the GCS declares this node dead, and ignores everything after', () => {
    const node = new Node();
    node.grantNew('l1');
    assert.deepEqual(node.deliver({ type: 'node/died', nodeId: 'n1' }, 'gcs'), [{ type: 'node/shutdown' }]);
    assert.equal(node.state.phase, 'shut-down');
    const before = JSON.stringify(node.state);
    assert.deepEqual(node.request('l2'), []);
    assert.deepEqual(node.step({ type: 'timer/fired', timerId: 'heartbeat', nowMs: 1 }), []);
    assert.deepEqual(node.step({ type: 'worker/exited', workerId: 'n1.w1', reason: 'node-died' }), []);
    assert.equal(JSON.stringify(node.state), before);
  });
});

void describe('raylet: immer and plain mutation agree', () => {
  void it('gives the same state and effects on a fixed sequence', () => {
    setAutoFreeze(true);
    const config = { ...defaultRayletConfig, maxWorkers: 3, maxLeaseQueue: 3, maxLeaseTombstones: 4, objectStoreCapacityBytes: 100, spillCapacityBytes: 100, maxSpawnRetries: 1 };
    const seqs: Record<string, number> = {};
    const via = (from: string): { from: string; incarnation: number; seq: number } => {
      const seq = seqs[from] ?? 0;
      seqs[from] = seq + 1;
      return { from, incarnation: 1, seq };
    };
    const request = (leaseId: string, over: Partial<MessageOf<'lease/requested'>> = {}): RayletEvent => ({
      type: 'lease/requested',
      leaseId,
      requester: driver,
      resources: { CPU: 1 },
      placementResources: {},
      strategy: 'DEFAULT',
      spillbackCount: 0,
      ...over,
      via: via(over.requester ?? driver),
    });
    const events: RayletEvent[] = [
      { type: 'node/started', nodeId: 'n1', resources: { CPU: 2, GPU: 1 }, config },
      { type: 'driver/connected', workerId: 'n1.d1' },
      request('l1'),
      request('l2', { resources: { CPU: 1, GPU: 1 } }),
      request('l3'),
      { type: 'worker/started', workerId: 'n1.w1' },
      { type: 'worker/exited', workerId: 'n1.w2', reason: 'crashed' },
      { type: 'worker/started', workerId: 'n1.w3' },
      { type: 'worker/blocked', workerId: 'n1.w1', via: via('worker:n1.w1') },
      { type: 'cluster/view-published', nodes: [{ nodeId: 'n2', total: { CPU: 4, TPU: 1 }, available: { CPU: 4, TPU: 1 } }], via: via('gcs') },
      request('l4', { resources: { TPU: 1 } }),
      request('l5', { resources: { FPGA: 1 } }),
      request('l6', { strategy: 'SPREAD' }),
      { type: 'object/put-requested', objectId: 'n1.d1.p1', owner: 'n1.d1', data: { nested: [1, { x: 2 }] }, sizeBytes: 40, refs: [], via: via('worker:n1.d1') },
      { type: 'object/put-requested', objectId: 'n2.d1.p1', owner: 'n2.d1', data: [3], sizeBytes: 40, refs: [], via: via('worker:n1.w1') },
      { type: 'object/fetch-requested', objectId: 'n1.d1.p1', requester: 'worker:n1.w3', via: via('worker:n1.w3') },
      { type: 'object/spilled', objectId: 'n1.d1.p2', owner: 'n1.d1', requester: 'worker:n1.d1', data: { file: 'p2', layout: [1, [2, 3]] }, sizeBytes: 70, refs: [{ objectId: 'n1.d1.p1', owner: 'n1.d1' }] },
      { type: 'object/spilled', objectId: 'n1.d1.p3', owner: 'n1.d1', requester: 'worker:n1.d1', data: { file: 'p3' }, sizeBytes: 40, refs: [] },
      { type: 'object/spilled', objectId: 'n1.d1.p4', owner: 'n1.d1', requester: 'worker:n1.d1', data: { file: 'p4' }, sizeBytes: 30, refs: [] },
      { type: 'object/fetch-requested', objectId: 'n1.d1.p2', requester: 'worker:n1.w3', via: via('worker:n1.w3') },
      { type: 'object/free-requested', objectIds: ['n1.d1.p2'], via: via(driver) },
      { type: 'worker/unblocked', workerId: 'n1.w1', via: via('worker:n1.w1') },
      { type: 'lease/returned', leaseId: 'l2', workerId: 'n1.w3', disconnectWorker: false, via: via(driver) },
      { type: 'timer/fired', timerId: 'heartbeat', nowMs: 100 },
      request('r1', { requester: 'worker:n2.d1' }),
      { type: 'worker/died', workerId: 'n2.d1', nodeId: 'n2', reason: 'exited', via: via('gcs') },
      { type: 'lease/cancelled', leaseId: 'l3', via: via(driver) },
      { type: 'worker/started', workerId: 'n1.w4' },
      { type: 'cluster/view-published', nodes: [{ nodeId: 'n3', total: { FPGA: 1 }, available: { FPGA: 1 } }], via: via('gcs') },
      { type: 'object/free-requested', objectIds: ['n1.d1.p1'], via: via(driver) },
      { type: 'lease/returned', leaseId: 'l1', workerId: 'n1.w1', disconnectWorker: true, via: via(driver) },
      { type: 'worker/exited', workerId: 'n1.w1', reason: 'killed' },
      { type: 'node/died', nodeId: 'n1', via: via('gcs') },
      request('l9'),
    ];
    let frozen: RayletState = initialRayletState();
    const mutable: RayletState = structuredClone(initialRayletState());
    for (const [index, event] of events.entries()) {
      let drafted: RayletEffect[] = [];
      frozen = produce(frozen, (draft) => {
        drafted = applyRaylet(draft, event);
      });
      const direct = applyRaylet(mutable, event);
      assert.equal(JSON.stringify(drafted), JSON.stringify(direct), `effects of event ${index} (${event.type})`);
      assert.equal(JSON.stringify(frozen), JSON.stringify(mutable), `state after event ${index} (${event.type})`);
      assert.deepEqual(rayletInvariants(frozen), [], `invariants after event ${index} (${event.type})`);
      assert.equal(hashState(frozen), hashState(mutable), `state hash after event ${index} (${event.type})`);
      if (event.type === 'object/spilled' && event.objectId === 'n1.d1.p4') assert.equal(mutable.spilledBytes, 100, 'the spills before it filled the spill space');
    }
    assert.equal(frozen.phase, 'shut-down');
  });
});
