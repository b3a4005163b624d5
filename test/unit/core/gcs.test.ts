import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { produce, setAutoFreeze } from 'immer';
import { InvariantViolation } from '../../../core/assert.js';
import type { MessageSent } from '../../../core/effects.js';
import type { ActorSpec, Message, MessageOf } from '../../../core/protocol.js';
import type { ActorRecord, GcsConfig, GcsEffect, GcsEvent, GcsState } from '../../../core/gcs/index.js';
import { applyGcs, defaultGcsConfig, gcsCore, gcsInvariants, initialGcsState, maxHeldRedirects, maxRememberedRedirects, transitionActor } from '../../../core/gcs/index.js';
import { counterActorSpec } from '../../support/owner-events.js';

/** A GCS under test: applies events, checks the invariants after each, and keeps the log. */
class Harness {
  state: GcsState = initialGcsState();
  readonly log: GcsEvent[] = [];
  private seq = 0;

  step(event: GcsEvent): GcsEffect[] {
    this.log.push(event);
    const effects = applyGcs(this.state, event);
    assert.deepEqual(gcsInvariants(this.state), [], `invariants after ${event.type}`);
    return effects;
  }

  /** Delivers `message` from `from` with a fresh sequence number. */
  deliver(message: Message, from = 'test'): GcsEffect[] {
    this.seq += 1;
    return this.step({ ...message, via: { from, incarnation: 0, seq: this.seq } } as GcsEvent);
  }

  start(config: GcsConfig = defaultGcsConfig): GcsEffect[] {
    return this.step({ type: 'gcs/started', incarnation: 1, config });
  }

  tick(): GcsEffect[] {
    return this.step({ type: 'timer/fired', timerId: 'health', nowMs: 0 });
  }

  actor(actorId: string): ActorRecord {
    const actor = this.state.actors[actorId];
    assert.ok(actor, `actor ${actorId} is known`);
    return actor;
  }
}

const spec = counterActorSpec;

function sends(effects: GcsEffect[]): MessageSent[] {
  return effects.filter((effect): effect is MessageSent => effect.type === 'message/sent');
}

function sent<T extends Message['type']>(effects: GcsEffect[], type: T, to?: string): MessageOf<T>[] {
  return sends(effects)
    .filter((effect) => effect.message.type === type && (to === undefined || effect.to === to))
    .map((effect) => effect.message as MessageOf<T>);
}

function recipients(effects: GcsEffect[], type: Message['type']): string[] {
  return sends(effects)
    .filter((effect) => effect.message.type === type)
    .map((effect) => effect.to);
}

/** A started GCS with nodes n1 (4 CPU) and n2 (2 CPU) and driver n1.d1 running job j1. */
function cluster(): Harness {
  const gcs = new Harness();
  gcs.start();
  gcs.deliver({ type: 'node/registered', nodeId: 'n1', resources: { CPU: 4 } }, 'raylet:n1');
  gcs.deliver({ type: 'node/registered', nodeId: 'n2', resources: { CPU: 2 } }, 'raylet:n2');
  gcs.deliver({ type: 'job/registration-requested', driverId: 'n1.d1', namespace: 'default' }, 'worker:n1.d1');
  return gcs;
}

/** Registers an actor and drives it to ALIVE on `workerId`; returns the lease id it was granted. */
function createAlive(gcs: Harness, actorSpec: ActorSpec, workerId: string): string {
  const effects = gcs.deliver({ type: 'actor/registration-requested', spec: actorSpec }, `worker:${actorSpec.owner}`);
  const [request] = sent(effects, 'lease/requested');
  assert.ok(request, 'a lease is requested');
  const nodeId = workerId.split('.')[0] ?? '';
  gcs.deliver({ type: 'lease/granted', leaseId: request.leaseId, workerId, nodeId }, `raylet:${nodeId}`);
  const restartCount = gcs.actor(actorSpec.actorId).restartCount;
  gcs.deliver({ type: 'actor/creation-replied', actorId: actorSpec.actorId, restartCount, workerId }, `worker:${workerId}`);
  assert.equal(gcs.actor(actorSpec.actorId).state, 'ALIVE');
  return request.leaseId;
}

void describe('gcs core', () => {
  void it('describes itself as the gcs reducer', () => {
    assert.equal(gcsCore.kind, 'gcs');
    assert.equal(gcsCore.version, 10);
    assert.equal(gcsCore.initial().started, false);
    assert.deepEqual(gcsCore.invariants(gcsCore.initial()), []);
  });

  void it('a subscription that arrives before its actor is registered is kept, and answered once the registration arrives', () => {
    const gcs = cluster();
    // A worker got a handle and subscribed while the owner's registration was still on the way.
    assert.deepEqual(sent(gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a1', subscriber: 'n1.w2' }, 'worker:n1.w2'), 'actor/state-changed'), []);
    gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a1', subscriber: 'n1.w3' }, 'worker:n1.w3');
    gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a1', subscriber: 'n1.w2' }, 'worker:n1.w2');
    assert.deepEqual(gcs.state.earlySubscribers, { 'n1.d1.a1': ['n1.w2', 'n1.w3'] });
    const effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('n1.d1.a1') }, 'worker:n1.d1');
    assert.deepEqual(recipients(effects, 'actor/state-changed').sort(), ['worker:n1.d1', 'worker:n1.w2', 'worker:n1.w3']);
    assert.deepEqual(gcs.actor('n1.d1.a1').subscribers, ['n1.w2', 'n1.w3']);
    assert.deepEqual(gcs.state.earlySubscribers, {});
  });

  void it('asks the owner about an actor it does not know, once, and answers the waiting subscribers with what the owner knows', () => {
    const gcs = cluster();
    const first = gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a7', subscriber: 'n1.w2' }, 'worker:n1.w2');
    assert.deepEqual(sent(first, 'actor/status-requested', 'worker:n1.d1'), [{ type: 'actor/status-requested', actorId: 'n1.d1.a7' }]);
    assert.deepEqual(sent(gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a7', subscriber: 'n1.w3' }, 'worker:n1.w3'), 'actor/status-requested'), [], 'asked once');
    // An id no process minted has no owner to ask.
    assert.deepEqual(gcs.deliver({ type: 'actor/subscribed', actorId: 'nobody', subscriber: 'n1.w3' }, 'worker:n1.w3'), []);
    // The owner no longer knows it (it ended long ago): both subscribers hear that, with the bounds that forgot it.
    const answered = gcs.deliver({ type: 'actor/status-replied', actorId: 'n1.d1.a7', deathCause: 'killed via tsray.kill' }, 'worker:n1.d1');
    assert.deepEqual(recipients(answered, 'actor/registration-replied').sort(), ['worker:n1.w2', 'worker:n1.w3']);
    const [reply] = sent(answered, 'actor/registration-replied', 'worker:n1.w2');
    assert.equal(reply?.actorId, 'n1.d1.a7');
    assert.match(reply?.error ?? '', /^actor n1\.d1\.a7 is not known to the GCS: it died \(killed via tsray\.kill\), and the GCS forgot it \(the GCS keeps only the latest 100000 dead actors, maxDeadActors, and 4096 getIfExists answers, maxRememberedRedirects\)$/);
    assert.equal(gcs.state.earlySubscribers['n1.d1.a7'], undefined, 'nobody waits for it any more');
    // A getIfExists creation the owner remembers: the subscriber is pointed at the actor, and so is a later one.
    createAlive(gcs, spec('n1.d1.a1', { name: 'counter' }), 'n1.w1');
    gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a8', subscriber: 'n1.w2' }, 'worker:n1.w2');
    const pointed = gcs.deliver({ type: 'actor/status-replied', actorId: 'n1.d1.a8', aliasOf: 'n1.d1.a1' }, 'worker:n1.d1');
    assert.deepEqual(sent(pointed, 'actor/registration-replied', 'worker:n1.w2'), [{ type: 'actor/registration-replied', requestedActorId: 'n1.d1.a8', actorId: 'n1.d1.a1' }]);
    const later = gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a8', subscriber: 'n1.w3' }, 'worker:n1.w3');
    assert.deepEqual(sent(later, 'actor/registration-replied', 'worker:n1.w3'), [{ type: 'actor/registration-replied', requestedActorId: 'n1.d1.a8', actorId: 'n1.d1.a1' }]);
    // A registration that arrived before the owner's answer answered the subscribers already: the answer changes nothing.
    gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a9', subscriber: 'n1.w2' }, 'worker:n1.w2');
    gcs.deliver({ type: 'actor/registration-requested', spec: spec('n1.d1.a9') }, 'worker:n1.d1');
    assert.deepEqual(gcs.deliver({ type: 'actor/status-replied', actorId: 'n1.d1.a9' }, 'worker:n1.d1'), []);
    assert.deepEqual(gcs.actor('n1.d1.a9').subscribers, ['n1.w2']);
  });

  void it('tells subscribers to an actor it does not know whose creator died that no registration will come', () => {
    const gcs = cluster();
    gcs.deliver({ type: 'actor/subscribed', actorId: 'n2.w5.a3', subscriber: 'n1.w2' }, 'worker:n1.w2');
    const died = gcs.deliver({ type: 'worker/died', workerId: 'n2.w5', nodeId: 'n2', reason: 'crashed' }, 'raylet:n2');
    assert.match(sent(died, 'actor/registration-replied', 'worker:n1.w2')[0]?.error ?? '', /^actor n2\.w5\.a3 is not known to the GCS: its creator n2\.w5 died before registering it, or it ended and the GCS forgot it \(/);
    assert.deepEqual(gcs.state.earlySubscribers, {});
    // A later subscriber is answered at once: nobody is left to ask.
    const later = gcs.deliver({ type: 'actor/subscribed', actorId: 'n2.w5.a4', subscriber: 'n1.w3' }, 'worker:n1.w3');
    assert.match(sent(later, 'actor/registration-replied', 'worker:n1.w3')[0]?.error ?? '', /its creator n2\.w5 died/);
    assert.deepEqual(sent(later, 'actor/status-requested'), []);
    assert.deepEqual(gcs.state.earlySubscribers, {});
  });

  void it('tells a subscriber past the bound of those waiting for a registration so, rather than dropping it', () => {
    const gcs = new Harness();
    gcs.start({ ...defaultGcsConfig, maxSubscribersPerActor: 2 });
    gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a5', subscriber: 'n1.w2' }, 'worker:n1.w2');
    gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a5', subscriber: 'n1.w3' }, 'worker:n1.w3');
    const third = gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a5', subscriber: 'n1.w4' }, 'worker:n1.w4');
    assert.deepEqual(sent(third, 'actor/registration-replied', 'worker:n1.w4'), [
      { type: 'actor/registration-replied', requestedActorId: 'n1.d1.a5', actorId: 'n1.d1.a5', error: '2 processes already wait for the registration of actor n1.d1.a5 (maxSubscribersPerActor)' },
    ]);
    assert.deepEqual(gcs.state.earlySubscribers, { 'n1.d1.a5': ['n1.w2', 'n1.w3'] });
    // One already waiting that subscribes again is not turned away.
    assert.deepEqual(sent(gcs.deliver({ type: 'actor/subscribed', actorId: 'n1.d1.a5', subscriber: 'n1.w3' }, 'worker:n1.w3'), 'actor/registration-replied'), []);
  });

  void it('arms the health check when started', () => {
    const gcs = new Harness();
    const effects = gcs.start({ ...defaultGcsConfig, healthCheckPeriodMs: 250 });
    assert.deepEqual(effects, [{ type: 'timer/armed', timerId: 'health', delayMs: 250 }]);
    assert.equal(gcs.state.started, true);
  });

  void describe('nodes', () => {
    void it('registers nodes, takes heartbeats and publishes the view only when it changed', () => {
      const gcs = cluster();
      assert.deepEqual(gcs.state.nodes['n1']?.available, { CPU: 4 });
      let effects = gcs.tick();
      assert.deepEqual(recipients(effects, 'cluster/view-published'), ['raylet:n1', 'raylet:n2']);
      const [view] = sent(effects, 'cluster/view-published');
      assert.deepEqual(view?.nodes, [
        { nodeId: 'n1', total: { CPU: 4 }, available: { CPU: 4 } },
        { nodeId: 'n2', total: { CPU: 2 }, available: { CPU: 2 } },
      ]);
      assert.deepEqual(effects.at(-1), { type: 'timer/armed', timerId: 'health', delayMs: 100 });
      gcs.deliver({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 4 } }, 'raylet:n1');
      effects = gcs.tick();
      assert.deepEqual(sent(effects, 'cluster/view-published'), [], 'nothing changed');
      assert.equal(gcs.state.nodes['n1']?.missedChecks, 0);
      assert.equal(gcs.state.nodes['n2']?.missedChecks, 2);
      gcs.deliver({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 1 } }, 'raylet:n1');
      effects = gcs.tick();
      assert.deepEqual(sent(effects, 'cluster/view-published')[0]?.nodes[0]?.available, { CPU: 1 });
    });

    void it('declares a silent node dead at the threshold, tells every raylet, and fences it afterwards', () => {
      const gcs = cluster();
      let effects: GcsEffect[] = [];
      for (let check = 1; check <= 5; check += 1) {
        gcs.deliver({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 4 } }, 'raylet:n1');
        effects = gcs.tick();
        if (check < 5) assert.equal(gcs.state.nodes['n2']?.alive, true, `alive after ${check} missed checks`);
      }
      assert.equal(gcs.state.nodes['n2']?.alive, false);
      assert.deepEqual(recipients(effects, 'node/died'), ['raylet:n1', 'raylet:n2']);
      assert.deepEqual(sent(effects, 'node/died')[0], { type: 'node/died', nodeId: 'n2' });
      assert.deepEqual(recipients(effects, 'cluster/view-published'), ['raylet:n1']);
      assert.deepEqual(sent(effects, 'cluster/view-published')[0]?.nodes.map((node) => node.nodeId), ['n1']);

      effects = gcs.deliver({ type: 'node/heartbeat', nodeId: 'n2', available: { CPU: 2 } }, 'raylet:n2');
      assert.deepEqual(sends(effects), [{ type: 'message/sent', to: 'raylet:n2', message: { type: 'node/died', nodeId: 'n2' } }]);
      effects = gcs.deliver({ type: 'node/registered', nodeId: 'n2', resources: { CPU: 2 } }, 'raylet:n2');
      assert.deepEqual(recipients(effects, 'node/died'), ['raylet:n2']);
      assert.equal(gcs.state.nodes['n2']?.alive, false, 'a dead node stays dead');
    });

    void it('keeps the pending demand of each node\'s last heartbeat, and forgets it when the node reports none or dies', () => {
      const gcs = cluster();
      const demand = [{ resources: { CPU: 1, tpu: 1 }, count: 2, infeasible: true }];
      gcs.deliver({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 4 }, demand }, 'raylet:n1');
      gcs.deliver({ type: 'node/heartbeat', nodeId: 'n2', available: { CPU: 0 }, demand: [{ resources: { CPU: 1 }, count: 3, infeasible: false }] }, 'raylet:n2');
      assert.deepEqual(gcs.state.nodes['n1']?.demand, demand);
      assert.deepEqual(sent(gcs.tick(), 'cluster/view-published')[0]?.nodes[0], { nodeId: 'n1', total: { CPU: 4 }, available: { CPU: 4 } }, 'demand is for state queries, not in the view');
      gcs.deliver({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 4 } }, 'raylet:n1');
      assert.equal(gcs.state.nodes['n1']?.demand, undefined);
      for (let check = 0; check < 5; check += 1) {
        gcs.deliver({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 4 } }, 'raylet:n1');
        gcs.tick();
      }
      assert.equal(gcs.state.nodes['n2']?.alive, false);
      assert.equal(gcs.state.nodes['n2']?.demand, undefined, 'what waited on a dead node is not demand any more');
    });

    void it('restarts the actors of a dead node elsewhere and ends the jobs driven from it', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'job/registration-requested', driverId: 'n2.d1', namespace: 'default' }, 'worker:n2.d1');
      createAlive(gcs, spec('a1', { maxRestarts: 1, strategy: { nodeId: 'n2', soft: true } }), 'n2.w1');
      createAlive(gcs, spec('a2', { owner: 'n2.d1', jobId: 'j2' }), 'n1.w5');
      let effects: GcsEffect[] = [];
      for (let check = 0; check < 5; check += 1) {
        gcs.deliver({ type: 'node/heartbeat', nodeId: 'n1', available: { CPU: 4 } }, 'raylet:n1');
        effects = gcs.tick();
      }
      assert.equal(gcs.state.nodes['n2']?.alive, false);
      assert.equal(gcs.actor('a1').state, 'RESTARTING');
      assert.equal(gcs.actor('a1').restartCount, 1);
      assert.deepEqual(sent(effects, 'lease/requested', 'raylet:n1').map((request) => request.actorId), ['a1']);
      assert.equal(gcs.actor('a2').state, 'DEAD');
      assert.equal(gcs.actor('a2').deathCause, 'owner died');
      assert.deepEqual(sent(effects, 'worker/kill-requested', 'raylet:n1'), [{ type: 'worker/kill-requested', workerId: 'n1.w5', reason: 'owner-died' }]);
      assert.equal(gcs.state.jobs['j2']?.alive, false);
      const deaths = sent(effects, 'worker/died', 'raylet:n1').map((death) => death.workerId);
      assert.deepEqual(deaths, ['n2.d1', 'n2.w1']);
    });
  });

  void describe('jobs', () => {
    void it('registers one job per driver, idempotently', () => {
      const gcs = new Harness();
      gcs.start();
      let effects = gcs.deliver({ type: 'job/registration-requested', driverId: 'n1.d1', namespace: 'default' }, 'worker:n1.d1');
      assert.deepEqual(sends(effects), [{ type: 'message/sent', to: 'worker:n1.d1', message: { type: 'job/registration-replied', jobId: 'j1' } }]);
      effects = gcs.deliver({ type: 'job/registration-requested', driverId: 'n1.d1', namespace: 'default' }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'job/registration-replied'), [{ type: 'job/registration-replied', jobId: 'j1' }]);
      effects = gcs.deliver({ type: 'job/registration-requested', driverId: 'n2.d1', namespace: 'x' }, 'worker:n2.d1');
      assert.deepEqual(sent(effects, 'job/registration-replied', 'worker:n2.d1'), [{ type: 'job/registration-replied', jobId: 'j2' }]);
      assert.equal(gcs.state.jobCounter, 2);
    });

    void it('kills the non-detached actors of a finished job', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { owner: 'n1.w9' }), 'n1.w1');
      createAlive(gcs, spec('a2', { detached: true }), 'n1.w2');
      const effects = gcs.deliver({ type: 'job/finished', jobId: 'j1' }, 'worker:n1.d1');
      assert.equal(gcs.state.jobs['j1']?.alive, false);
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'job finished');
      assert.equal(gcs.actor('a2').state, 'ALIVE');
      assert.deepEqual(sent(effects, 'worker/kill-requested'), [{ type: 'worker/kill-requested', workerId: 'n1.w1', reason: 'killed' }]);
      // The driver hears that its job's end is recorded (sent once committed), and waits for it before it disconnects.
      assert.deepEqual(sent(effects, 'job/finish-acked', 'worker:n1.d1'), [{ type: 'job/finish-acked', jobId: 'j1' }]);
      const again = gcs.deliver({ type: 'job/finished', jobId: 'j1' }, 'worker:n1.d1');
      assert.deepEqual(sends(again), [{ type: 'message/sent', to: 'worker:n1.d1', message: { type: 'job/finish-acked', jobId: 'j1' } }], 'a second finish changes nothing but is answered too');
    });
  });

  void describe('dead workers', () => {
    void it('forgets the oldest dead worker past maxDeadWorkers, with its inbox window', () => {
      const gcs = new Harness();
      gcs.start({ ...defaultGcsConfig, maxDeadWorkers: 2 });
      gcs.deliver({ type: 'node/registered', nodeId: 'n1', resources: { CPU: 4 } }, 'raylet:n1');
      // Each worker looks an actor up, which leaves its window in the inbox.
      for (const workerId of ['n1.w1', 'n1.w2', 'n1.w3']) gcs.deliver({ type: 'actor/lookup-requested', requestId: `r-${workerId}`, name: 'none', namespace: 'default', requester: workerId }, `worker:${workerId}`);
      const windows = (): string[] => Object.keys(gcs.state.inbox).sort();
      assert.deepEqual(windows(), ['raylet:n1#0', 'worker:n1.w1#0', 'worker:n1.w2#0', 'worker:n1.w3#0']);
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'killed' }, 'raylet:n1');
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w2', nodeId: 'n1', reason: 'killed' }, 'raylet:n1');
      assert.equal(windows().length, 4, 'within the bound, dead workers keep their windows');
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w3', nodeId: 'n1', reason: 'killed' }, 'raylet:n1');
      assert.deepEqual(Object.keys(gcs.state.deadWorkers), ['n1.w2', 'n1.w3']);
      assert.deepEqual(windows(), ['raylet:n1#0', 'worker:n1.w2#0', 'worker:n1.w3#0'], 'the forgotten worker\'s window went with it');
    });
  });

  void describe('actors', () => {
    void it('registers, leases, creates and publishes to the owner and subscribers', () => {
      const gcs = cluster();
      let effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1') }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/registration-replied', 'worker:n1.d1'), [
        { type: 'actor/registration-replied', requestedActorId: 'a1', actorId: 'a1' },
      ]);
      assert.equal(sent(effects, 'actor/state-changed', 'worker:n1.d1')[0]?.state, 'PENDING');
      assert.deepEqual(sent(effects, 'lease/requested', 'raylet:n1'), [
        {
          type: 'lease/requested',
          leaseId: 'gcs.l1',
          requester: 'gcs',
          resources: {},
          placementResources: { CPU: 1 },
          strategy: 'DEFAULT',
          spillbackCount: 0,
          actorId: 'a1',
        },
      ]);

      effects = gcs.deliver({ type: 'actor/subscribed', actorId: 'a1', subscriber: 'n2.w4' }, 'worker:n2.w4');
      assert.equal(sent(effects, 'actor/state-changed', 'worker:n2.w4')[0]?.state, 'PENDING');
      gcs.deliver({ type: 'actor/subscribed', actorId: 'a1', subscriber: 'n2.w4' }, 'worker:n2.w4');
      assert.deepEqual(gcs.actor('a1').subscribers, ['n2.w4']);
      assert.deepEqual(gcs.deliver({ type: 'actor/subscribed', actorId: 'nobody', subscriber: 'n2.w4' }, 'worker:n2.w4'), []);

      effects = gcs.deliver({ type: 'lease/granted', leaseId: 'gcs.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1');
      const [push] = sent(effects, 'actor/creation-pushed', 'worker:n1.w1');
      assert.deepEqual(push, { type: 'actor/creation-pushed', spec: spec('a1'), restartCount: 0, leaseId: 'gcs.l1' });
      assert.notEqual(push?.spec, gcs.actor('a1').spec, 'the pushed spec is a copy');
      assert.notEqual(push?.spec.args, gcs.actor('a1').spec.args);

      effects = gcs.deliver({ type: 'actor/creation-replied', actorId: 'a1', restartCount: 0, workerId: 'n1.w1' }, 'worker:n1.w1');
      assert.deepEqual(recipients(effects, 'actor/state-changed'), ['worker:n1.d1', 'worker:n2.w4']);
      const [alive] = sent(effects, 'actor/state-changed');
      assert.equal(alive?.state, 'ALIVE');
      assert.equal(alive?.workerId, 'n1.w1');
      assert.equal(alive?.nodeId, 'n1');
      assert.deepEqual(alive?.spec, spec('a1'));

      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1') }, 'worker:n1.d1');
      assert.deepEqual(sends(effects), [
        { type: 'message/sent', to: 'worker:n1.d1', message: { type: 'actor/registration-replied', requestedActorId: 'a1', actorId: 'a1' } },
      ]);
    });

    void it('ignores a duplicate delivery of the same message', () => {
      const gcs = cluster();
      const event = { type: 'actor/registration-requested', spec: spec('a1'), via: { from: 'worker:n1.d1', incarnation: 0, seq: 1000 } } as const;
      assert.notDeepEqual(gcs.step(event), []);
      const before = JSON.stringify(gcs.state);
      assert.deepEqual(gcs.step(event), []);
      assert.equal(JSON.stringify(gcs.state), before);
    });

    void it('tells a process that subscribes to a getIfExists handle which actor it stands for, or why none', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { name: 'counter' }), 'n1.w1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a3', { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a4', { name: 'counter' }) }, 'worker:n1.d1');
      // The handles of a3 and a4 went to a task on n1.w5, whose process asks about them by those ids.
      let effects = gcs.deliver({ type: 'actor/subscribed', actorId: 'a3', subscriber: 'n1.w5' }, 'worker:n1.w5');
      assert.deepEqual(sent(effects, 'actor/registration-replied', 'worker:n1.w5'), [{ type: 'actor/registration-replied', requestedActorId: 'a3', actorId: 'a1' }]);
      effects = gcs.deliver({ type: 'actor/subscribed', actorId: 'a4', subscriber: 'n1.w5' }, 'worker:n1.w5');
      assert.match(sent(effects, 'actor/registration-replied', 'worker:n1.w5')[0]?.error ?? '', /already taken/);
      assert.deepEqual(gcs.state.earlySubscribers, {}, 'neither waits for a registration that never comes');
    });

    void it('tells a process that subscribed before the registration arrived which actor a getIfExists handle stands for, or why none', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { name: 'counter' }), 'n1.w1');
      // The handles reached n1.w5 while the creations' constructor args were still being resolved.
      gcs.deliver({ type: 'actor/subscribed', actorId: 'a3', subscriber: 'n1.w5' }, 'worker:n1.w5');
      gcs.deliver({ type: 'actor/subscribed', actorId: 'a4', subscriber: 'n1.w5' }, 'worker:n1.w5');
      let effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a3', { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/registration-replied', 'worker:n1.w5'), [{ type: 'actor/registration-replied', requestedActorId: 'a3', actorId: 'a1' }]);
      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a4', { name: 'counter' }) }, 'worker:n1.d1');
      assert.match(sent(effects, 'actor/registration-replied', 'worker:n1.w5')[0]?.error ?? '', /already taken/);
      assert.deepEqual(gcs.state.earlySubscribers, {}, 'neither waits for a registration that never comes');
    });

    void it('answers for a counted getIfExists handle however many redirects come later, until its creator lets it go', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'job/registration-requested', driverId: 'n1.d2', namespace: 'default' }, 'worker:n1.d2');
      createAlive(gcs, spec('a1', { name: 'counter' }), 'n1.w1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a2', { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('b2', { name: 'counter', getIfExists: true, owner: 'n1.d2' }) }, 'worker:n1.d2');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('d2', { name: 'counter', getIfExists: true, detached: true }) }, 'worker:n1.d1');
      // A service that asks for its actor with getIfExists on every request, dropping each handle.
      for (let index = 0; index < maxRememberedRedirects + 10; index++) {
        const actorId = `r${index}`;
        gcs.deliver({ type: 'actor/registration-requested', spec: spec(actorId, { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
        gcs.deliver({ type: 'actor/out-of-scope', actorId }, 'worker:n1.d1');
      }
      assert.equal(gcs.state.heldRedirectCount, 2, 'the dropped ones are not held');
      assert.equal(gcs.state.redirectOrder.length, maxRememberedRedirects);
      // A process handed a2's handle long ago (in a stored object, say) asks about it only now.
      let effects = gcs.deliver({ type: 'actor/subscribed', actorId: 'a2', subscriber: 'n1.w5' }, 'worker:n1.w5');
      assert.deepEqual(sent(effects, 'actor/registration-replied', 'worker:n1.w5'), [{ type: 'actor/registration-replied', requestedActorId: 'a2', actorId: 'a1' }]);
      // Detached handles are not counted: their answer is only among the latest remembered.
      gcs.deliver({ type: 'actor/subscribed', actorId: 'd2', subscriber: 'n1.w5' }, 'worker:n1.w5');
      assert.deepEqual(gcs.state.earlySubscribers['d2'], ['n1.w5'], 'forgotten, as the bound says');
      // Once its creator says no handle is left, it joins the latest remembered.
      gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a2' }, 'worker:n1.d1');
      assert.equal(gcs.state.heldRedirects['a2'], undefined);
      assert.deepEqual(gcs.state.redirects['a2'], { actorId: 'a1' });
      // So does the one of a creator that died.
      gcs.deliver({ type: 'worker/died', workerId: 'n1.d2', nodeId: 'n1', reason: 'exited' }, 'raylet:n1');
      assert.equal(gcs.state.heldRedirectCount, 0);
      effects = gcs.deliver({ type: 'actor/subscribed', actorId: 'b2', subscriber: 'n1.w5' }, 'worker:n1.w5');
      assert.deepEqual(sent(effects, 'actor/registration-replied', 'worker:n1.w5'), [{ type: 'actor/registration-replied', requestedActorId: 'b2', actorId: 'a1' }]);
    });

    void it('refuses a getIfExists creation with an error naming maxHeldRedirects once that many are held', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { name: 'counter' }), 'n1.w1');
      for (let index = 0; index < maxHeldRedirects; index++) gcs.state.heldRedirects[`h${index}`] = { owner: 'n1.d1', redirect: { actorId: 'a1' } };
      gcs.state.heldRedirectCount = maxHeldRedirects;
      let effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a2', { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
      assert.match(sent(effects, 'actor/registration-replied')[0]?.error ?? '', /already answers for 65536 live getIfExists handles to existing actors \(maxHeldRedirects\)/);
      gcs.deliver({ type: 'actor/out-of-scope', actorId: 'h0' }, 'worker:n1.d1');
      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a3', { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/registration-replied'), [{ type: 'actor/registration-replied', requestedActorId: 'a3', actorId: 'a1' }], 'room again once one is let go');
    });

    void it('refuses a taken name, unless getIfExists, and frees the name when the holder dies', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { name: 'counter' }), 'n1.w1');
      let effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a2', { name: 'counter' }) }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/registration-replied'), [
        { type: 'actor/registration-replied', requestedActorId: 'a2', actorId: 'a2', error: "actor name 'counter' is already taken in namespace 'default'; pass getIfExists: true to use the existing actor, or choose another name" },
      ]);
      assert.equal(gcs.state.actors['a2'], undefined, 'not created');
      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a2', { name: 'counter' }) }, 'worker:n1.d1');
      assert.equal(sent(effects, 'actor/registration-replied')[0]?.error, "actor name 'counter' is already taken in namespace 'default'; pass getIfExists: true to use the existing actor, or choose another name", 'the same reply again');

      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a3', { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/registration-replied'), [{ type: 'actor/registration-replied', requestedActorId: 'a3', actorId: 'a1' }]);
      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a4', { name: 'counter', namespace: 'other' }) }, 'worker:n1.d1');
      assert.equal(sent(effects, 'actor/registration-replied')[0]?.error, undefined, 'names are per namespace');

      effects = gcs.deliver({ type: 'actor/lookup-requested', requestId: 'r1', name: 'counter', namespace: 'default', requester: 'n2.w1' }, 'worker:n2.w1');
      assert.deepEqual(sent(effects, 'actor/lookup-replied', 'worker:n2.w1'), [{ type: 'actor/lookup-replied', requestId: 'r1', actorId: 'a1', spec: spec('a1', { name: 'counter' }) }]);

      gcs.deliver({ type: 'actor/kill-requested', actorId: 'a1', noRestart: true }, 'worker:n1.d1');
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'killed' }, 'raylet:n1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.state.names['default/counter'], undefined);
      effects = gcs.deliver({ type: 'actor/lookup-requested', requestId: 'r2', name: 'counter', namespace: 'default', requester: 'n2.w1' }, 'worker:n2.w1');
      assert.deepEqual(sent(effects, 'actor/lookup-replied'), [{ type: 'actor/lookup-replied', requestId: 'r2' }]);
      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a5', { name: 'counter' }) }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/registration-replied'), [{ type: 'actor/registration-replied', requestedActorId: 'a5', actorId: 'a5' }]);
      assert.equal(gcs.state.names['default/counter'], 'a5');
    });

    void it("drops a dead actor's constructor arguments, and keeps a restarting one's", () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { maxRestarts: 1 }), 'n1.w1');
      const args = gcs.actor('a1').spec.args;
      assert.equal(args.length, 1);
      let effects = gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'crashed' }, 'raylet:n1');
      assert.equal(gcs.actor('a1').state, 'RESTARTING');
      assert.deepEqual(gcs.actor('a1').spec.args, args, 'a restart constructs it again, with the same arguments');
      assert.deepEqual(sent(effects, 'lease/requested').length, 1);
      effects = gcs.deliver({ type: 'actor/kill-requested', actorId: 'a1', noRestart: true }, 'worker:n1.d1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.deepEqual(gcs.actor('a1').spec.args, [], 'dead for good: never constructed again');
      assert.equal(gcs.actor('a1').spec.className, 'Counter', 'the rest of its spec stays for listings');
      assert.deepEqual(sent(effects, 'actor/state-changed', 'worker:n1.d1')[0]?.spec?.args, args, 'the death notice went out as before');
    });

    void it('kills an actor for good when its constructor throws', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1', { maxRestarts: -1 }) }, 'worker:n1.d1');
      gcs.deliver({ type: 'lease/granted', leaseId: 'gcs.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1');
      const effects = gcs.deliver(
        {
          type: 'actor/creation-replied',
          actorId: 'a1',
          restartCount: 0,
          workerId: 'n1.w1',
          error: { errorClass: 'RayTaskError', message: 'task failed', cause: { name: 'Error', message: 'boom', fields: { code: 'E_BOOM' } } },
        },
        'worker:n1.w1',
      );
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'constructor threw: boom');
      assert.deepEqual(sent(effects, 'lease/returned', 'raylet:n1'), [{ type: 'lease/returned', leaseId: 'gcs.l1', workerId: 'n1.w1', disconnectWorker: true }]);
      assert.equal(sent(effects, 'actor/state-changed')[0]?.deathCause, 'constructor threw: boom');
      // What the constructor threw goes out with the death, so callers' ActorDiedError can show it.
      assert.deepEqual(sent(effects, 'actor/state-changed')[0]?.deathError, { name: 'Error', message: 'boom', fields: { code: 'E_BOOM' } });
    });

    void it('restarts after its worker dies, then dies once restarts are spent', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { maxRestarts: 1 }), 'n1.w1');
      let effects = gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'crashed' }, 'raylet:n1');
      assert.deepEqual(recipients(effects, 'worker/died'), ['raylet:n1', 'raylet:n2'], 'the death is re-broadcast');
      assert.equal(gcs.actor('a1').state, 'RESTARTING');
      assert.equal(sent(effects, 'actor/state-changed')[0]?.state, 'RESTARTING');
      const [request] = sent(effects, 'lease/requested');
      assert.ok(request);

      effects = gcs.deliver({ type: 'actor/creation-replied', actorId: 'a1', restartCount: 0, workerId: 'n1.w1' }, 'worker:n1.w1');
      assert.deepEqual(effects, [], 'a reply of the old incarnation is stale');
      gcs.deliver({ type: 'lease/granted', leaseId: request.leaseId, workerId: 'n1.w2', nodeId: 'n1' }, 'raylet:n1');
      effects = gcs.deliver({ type: 'actor/creation-replied', actorId: 'a1', restartCount: 1, workerId: 'n1.w2' }, 'worker:n1.w2');
      const [alive] = sent(effects, 'actor/state-changed');
      assert.equal(alive?.state, 'ALIVE');
      assert.equal(alive?.restartCount, 1);

      effects = gcs.deliver({ type: 'lease/worker-died', leaseId: 'gcs.l1', workerId: 'n1.w1', reason: 'crashed' }, 'raylet:n1');
      assert.deepEqual(effects, [], 'a report about the old worker is stale');
      effects = gcs.deliver({ type: 'lease/worker-died', leaseId: request.leaseId, workerId: 'n1.w2', reason: 'crashed' }, 'raylet:n1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'worker n1.w2 died (crashed); restarts spent after 1');
      assert.equal(gcs.actor('a1').numRestarts, 1);
    });

    void it('keeps a PENDING actor PENDING when its worker dies during creation and restarts remain', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1', { maxRestarts: 2 }) }, 'worker:n1.d1');
      gcs.deliver({ type: 'lease/granted', leaseId: 'gcs.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1');
      const effects = gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'crashed' }, 'raylet:n1');
      assert.equal(gcs.actor('a1').state, 'PENDING');
      assert.equal(gcs.actor('a1').restartCount, 1);
      assert.equal(sent(effects, 'actor/state-changed')[0]?.restartCount, 1);
      assert.equal(sent(effects, 'lease/requested').length, 1);
    });

    void it('kills with noRestart at once, as Ray destroys it: DEAD, its name free, its worker killed, and the death report changes nothing', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { maxRestarts: -1, name: 'svc' }), 'n1.w1');
      let effects = gcs.deliver({ type: 'actor/kill-requested', actorId: 'a1', noRestart: true }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'worker/kill-requested'), [{ type: 'worker/kill-requested', workerId: 'n1.w1', reason: 'killed' }]);
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'killed via tsray.kill');
      assert.deepEqual(sent(effects, 'actor/state-changed', 'worker:n1.d1').map((change) => change.state), ['DEAD'], 'its owner hears at once');
      // The driver that killed it creates its successor under the same name at once.
      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a2', { name: 'svc' }) }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/registration-replied'), [{ type: 'actor/registration-replied', requestedActorId: 'a2', actorId: 'a2' }]);
      effects = gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'killed' }, 'raylet:n1');
      assert.equal(gcs.actor('a1').deathCause, 'killed via tsray.kill');
      assert.deepEqual(sent(effects, 'lease/requested'), [], 'no restart');
      assert.deepEqual(gcs.deliver({ type: 'actor/kill-requested', actorId: 'a1', noRestart: true }, 'worker:n1.d1'), [], 'a dead actor ignores kills');
    });

    void it('kills without noRestart: the actor restarts when restarts remain', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { maxRestarts: 1 }), 'n1.w1');
      gcs.deliver({ type: 'actor/kill-requested', actorId: 'a1', noRestart: false }, 'worker:n1.d1');
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'killed' }, 'raylet:n1');
      assert.equal(gcs.actor('a1').state, 'RESTARTING');
      assert.equal(gcs.actor('a1').numRestarts, 1);
    });

    void it('kills a pending actor at once and cancels its lease request', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1') }, 'worker:n1.d1');
      let effects = gcs.deliver({ type: 'actor/kill-requested', actorId: 'a1', noRestart: true }, 'worker:n1.d1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'killed via tsray.kill');
      assert.deepEqual(sent(effects, 'lease/cancelled', 'raylet:n1'), [{ type: 'lease/cancelled', leaseId: 'gcs.l1' }]);
      effects = gcs.deliver({ type: 'lease/granted', leaseId: 'gcs.l1', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1');
      assert.deepEqual(sends(effects), [
        { type: 'message/sent', to: 'raylet:n1', message: { type: 'lease/returned', leaseId: 'gcs.l1', workerId: 'n1.w1', disconnectWorker: false } },
      ], 'the worker never hosted the actor: it goes back to the pool, with whatever it owns');
    });

    void it('ends an actor whose handles went out of scope after its worker disposed it, and hands the worker back', () => {
      const gcs = cluster();
      const leaseId = createAlive(gcs, spec('a1', { maxRestarts: -1 }), 'n1.w1');
      let effects = gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a1' }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'actor/dispose-requested', 'worker:n1.w1'), [{ type: 'actor/dispose-requested', actorId: 'a1', restartCount: 0 }]);
      assert.deepEqual(effects.filter((effect) => effect.type === 'timer/armed'), [{ type: 'timer/armed', timerId: 'actor-dispose:a1', delayMs: 5000 }]);
      assert.equal(gcs.actor('a1').state, 'ALIVE', 'it lives while it disposes');
      assert.deepEqual(sends(gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a1' }, 'worker:n1.d1')), [], 'a second notice asks nothing more');
      effects = gcs.deliver({ type: 'actor/disposed', actorId: 'a1', restartCount: 0, workerId: 'n1.w1' }, 'worker:n1.w1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'all handles to the actor went out of scope');
      assert.deepEqual(sent(effects, 'lease/returned', 'raylet:n1'), [{ type: 'lease/returned', leaseId, workerId: 'n1.w1', disconnectWorker: true }]);
      assert.deepEqual(gcs.step({ type: 'timer/fired', timerId: 'actor-dispose:a1', nowMs: 0 }), [], 'the timer of an ended actor does nothing');
    });

    void it('cuts off a dispose that does not finish, and keeps dead an actor whose worker died while disposing', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1'), 'n1.w1');
      gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a1' }, 'worker:n1.d1');
      const effects = gcs.step({ type: 'timer/fired', timerId: 'actor-dispose:a1', nowMs: 0 });
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.match(gcs.actor('a1').deathCause ?? '', /did not finish within actorDisposeTimeoutMs, 5000 ms/);
      assert.deepEqual(sent(effects, 'worker/kill-requested', 'raylet:n1'), [{ type: 'worker/kill-requested', workerId: 'n1.w1', reason: 'killed' }]);
      createAlive(gcs, spec('a2', { maxRestarts: -1 }), 'n1.w2');
      gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a2' }, 'worker:n1.d1');
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w2', nodeId: 'n1', reason: 'crashed' }, 'raylet:n1');
      assert.equal(gcs.actor('a2').state, 'DEAD', 'no restart for an actor nobody can call');
      assert.equal(gcs.actor('a2').deathCause, 'all handles to the actor went out of scope');
    });

    void it('ends a pending actor out of scope at once, and never a detached one', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1') }, 'worker:n1.d1');
      const effects = gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a1' }, 'worker:n1.d1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.deepEqual(sent(effects, 'lease/cancelled', 'raylet:n1'), [{ type: 'lease/cancelled', leaseId: 'gcs.l1' }]);
      createAlive(gcs, spec('a2', { detached: true }), 'n1.w2');
      assert.deepEqual(gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a2' }, 'worker:n1.d1'), []);
      assert.equal(gcs.actor('a2').state, 'ALIVE');
    });

    void it('kills non-detached actors with their owner, keeps detached ones, and ends the driver job', () => {
      const gcs = cluster();
      createAlive(gcs, spec('a1'), 'n1.w1');
      createAlive(gcs, spec('a2', { detached: true, name: 'keeper' }), 'n1.w2');
      createAlive(gcs, spec('a3', { owner: 'n1.w1', maxRestarts: 3 }), 'n2.w1');
      let effects = gcs.deliver({ type: 'worker/died', workerId: 'n1.d1', nodeId: 'n1', reason: 'exited' }, 'raylet:n1');
      assert.deepEqual(recipients(effects, 'worker/died'), ['raylet:n1', 'raylet:n2']);
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'owner died');
      assert.equal(gcs.actor('a2').state, 'ALIVE');
      assert.equal(gcs.state.jobs['j1']?.alive, false);
      assert.deepEqual(sent(effects, 'worker/kill-requested', 'raylet:n1'), [{ type: 'worker/kill-requested', workerId: 'n1.w1', reason: 'owner-died' }]);
      assert.equal(gcs.actor('a3').state, 'DEAD', 'the job of a3 ended with its driver');

      effects = gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'owner-died' }, 'raylet:n1');
      assert.deepEqual(sent(effects, 'actor/state-changed'), []);
      effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a4', { owner: 'n1.w1', jobId: 'j9' }) }, 'worker:n1.w1');
      assert.equal(gcs.actor('a4').state, 'DEAD');
      assert.equal(gcs.actor('a4').deathCause, 'owner died');
      assert.deepEqual(sent(effects, 'lease/requested'), []);
      effects = gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'crashed' }, 'raylet:n2');
      assert.deepEqual(effects, [], 'a known death is not broadcast again');
    });

    void it('follows spillback, retries a lease turned down for now, and dies when turned down for good', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1') }, 'worker:n1.d1');
      let effects = gcs.deliver({ type: 'lease/spilled', leaseId: 'gcs.l1', toNodeId: 'n2' }, 'raylet:n1');
      assert.deepEqual(sent(effects, 'lease/requested', 'raylet:n2').map((request) => [request.leaseId, request.spillbackCount]), [['gcs.l2', 1]]);
      assert.deepEqual(gcs.deliver({ type: 'lease/spilled', leaseId: 'gcs.l1', toNodeId: 'n2' }, 'raylet:n1'), [], 'a stale spill');
      effects = gcs.deliver({ type: 'lease/rejected', leaseId: 'gcs.l2', reason: 'busy', permanent: false }, 'raylet:n2');
      assert.deepEqual(effects, [{ type: 'timer/armed', timerId: 'actor-retry:a1', delayMs: 200 }]);
      effects = gcs.step({ type: 'timer/fired', timerId: 'actor-retry:a1', nowMs: 300 });
      const [retry] = sent(effects, 'lease/requested');
      assert.equal(retry?.leaseId, 'gcs.l3');
      assert.deepEqual(gcs.step({ type: 'timer/fired', timerId: 'actor-retry:a1', nowMs: 301 }), [], 'a retry that is no longer needed');
      effects = gcs.deliver({ type: 'lease/rejected', leaseId: 'gcs.l3', reason: 'no GPU anywhere', permanent: true }, 'raylet:n1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.equal(gcs.actor('a1').deathCause, 'unschedulable: no GPU anywhere');
    });

    void it('places by strategy: hard affinity, spread, and waiting for a node that fits', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1', { strategy: { nodeId: 'n9', soft: false } }) }, 'worker:n1.d1');
      assert.equal(gcs.actor('a1').state, 'DEAD');
      assert.match(gcs.actor('a1').deathCause ?? '', /^unschedulable:/);
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a2', { strategy: { nodeId: 'n2', soft: false }, resources: { CPU: 3 } }) }, 'worker:n1.d1');
      assert.match(gcs.actor('a2').deathCause ?? '', /^unschedulable: node n2 can never fit the actor \(short of CPU\)/);

      const spreadTo = ['a3', 'a4', 'a5'].map((actorId) => {
        const effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec(actorId, { strategy: 'SPREAD' }) }, 'worker:n1.d1');
        return recipients(effects, 'lease/requested')[0];
      });
      assert.deepEqual(spreadTo, ['raylet:n1', 'raylet:n2', 'raylet:n1']);

      let effects = gcs.deliver({ type: 'actor/registration-requested', spec: spec('a6', { resources: { GPU: 1 } }) }, 'worker:n1.d1');
      assert.deepEqual(sent(effects, 'lease/requested'), [], 'no node has a GPU yet');
      assert.equal(gcs.actor('a6').state, 'PENDING');
      effects = gcs.deliver({ type: 'node/registered', nodeId: 'n3', resources: { CPU: 1, GPU: 1 } }, 'raylet:n3');
      assert.deepEqual(sent(effects, 'lease/requested', 'raylet:n3').map((request) => request.actorId), ['a6']);
    });

    void it('hands back grants it cannot use', () => {
      const gcs = cluster();
      const leaseId = createAlive(gcs, spec('a1'), 'n1.w1');
      assert.deepEqual(
        gcs.deliver({ type: 'lease/granted', leaseId, workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1'),
        [],
        'a repeat of the grant in use keeps the worker',
      );
      const effects = gcs.deliver({ type: 'lease/granted', leaseId: 'gcs.l77', workerId: 'n2.w3', nodeId: 'n2' }, 'raylet:n2');
      assert.deepEqual(sent(effects, 'lease/returned', 'raylet:n2'), [{ type: 'lease/returned', leaseId: 'gcs.l77', workerId: 'n2.w3', disconnectWorker: false }], 'a worker given back unused goes back to its pool');
      const taken = gcs.deliver({ type: 'lease/granted', leaseId: 'gcs.l78', workerId: 'n1.w1', nodeId: 'n1' }, 'raylet:n1');
      assert.deepEqual(sent(taken, 'lease/returned', 'raylet:n1'), [{ type: 'lease/returned', leaseId: 'gcs.l78', workerId: 'n1.w1', disconnectWorker: true }], 'a grant of the worker that hosts a1 ends it');
    });

    void it('bounds the subscribers of an actor', () => {
      const gcs = new Harness();
      gcs.start({ ...defaultGcsConfig, maxSubscribersPerActor: 2 });
      gcs.deliver({ type: 'node/registered', nodeId: 'n1', resources: { CPU: 4 } }, 'raylet:n1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1') }, 'worker:n1.d1');
      for (const subscriber of ['n1.w7', 'n1.w8', 'n1.w9']) {
        const effects = gcs.deliver({ type: 'actor/subscribed', actorId: 'a1', subscriber }, `worker:${subscriber}`);
        assert.deepEqual(recipients(effects, 'actor/state-changed'), [`worker:${subscriber}`]);
      }
      assert.deepEqual(gcs.actor('a1').subscribers, ['n1.w7', 'n1.w8']);
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w7', nodeId: 'n1', reason: 'exited' }, 'raylet:n1');
      gcs.deliver({ type: 'actor/subscribed', actorId: 'a1', subscriber: 'n1.w9' }, 'worker:n1.w9');
      assert.deepEqual(gcs.actor('a1').subscribers, ['n1.w8', 'n1.w9'], 'a dead subscriber makes room');
    });

    void it('asserts that every actor state change is legal', () => {
      const gcs = cluster();
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a1') }, 'worker:n1.d1');
      const actor = structuredClone(gcs.actor('a1'));
      assert.throws(() => transitionActor(actor, 'RESTARTING'), InvariantViolation);
      transitionActor(actor, 'DEAD');
      for (const to of ['PENDING', 'ALIVE', 'RESTARTING', 'DEAD'] as const) {
        assert.throws(() => transitionActor(actor, to), (error: unknown) => error instanceof InvariantViolation && /cannot go from DEAD/.test(error.message));
      }
    });
  });

  void describe('restart and replay', () => {
    /** A run that leaves an actor waiting for its lease and nodes with missed checks. */
    function run(): Harness {
      const gcs = cluster();
      createAlive(gcs, spec('a1', { maxRestarts: 2, name: 'counter' }), 'n1.w1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a2') }, 'worker:n1.d1');
      gcs.deliver({ type: 'actor/subscribed', actorId: 'a1', subscriber: 'n2.w1' }, 'worker:n2.w1');
      // Redirects held and let go (by the creator, or at its death), one kept among the latest, and a kill for good.
      gcs.deliver({ type: 'job/registration-requested', driverId: 'n1.d2', namespace: 'default' }, 'worker:n1.d2');
      gcs.deliver({ type: 'actor/subscribed', actorId: 'a4', subscriber: 'n2.w1' }, 'worker:n2.w1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a4', { name: 'counter', getIfExists: true }) }, 'worker:n1.d1');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a5', { name: 'counter', owner: 'n1.d2' }) }, 'worker:n1.d2');
      gcs.deliver({ type: 'actor/registration-requested', spec: spec('a6', { name: 'counter', getIfExists: true, detached: true }) }, 'worker:n1.d1');
      gcs.deliver({ type: 'actor/out-of-scope', actorId: 'a4' }, 'worker:n1.d1');
      gcs.deliver({ type: 'worker/died', workerId: 'n1.d2', nodeId: 'n1', reason: 'exited' }, 'raylet:n1');
      createAlive(gcs, spec('a3'), 'n2.w2');
      gcs.deliver({ type: 'actor/kill-requested', actorId: 'a3', noRestart: true }, 'worker:n1.d1');
      gcs.deliver({ type: 'worker/died', workerId: 'n1.w1', nodeId: 'n1', reason: 'crashed' }, 'raylet:n1');
      gcs.tick();
      gcs.tick();
      return gcs;
    }

    void it('rebuilds the same state from its log and resumes what was in flight', () => {
      const original = run();
      const replayed = new Harness();
      for (const event of original.log) replayed.step(event);
      assert.deepEqual(replayed.state, original.state);
      assert.equal(JSON.stringify(replayed.state), JSON.stringify(original.state));

      const waiting = Object.values(replayed.state.actors).flatMap((actor) => (actor.pendingLease === undefined ? [] : [actor.pendingLease.leaseId]));
      assert.equal(waiting.length, 2);
      assert.ok((replayed.state.nodes['n2']?.missedChecks ?? 0) > 0);
      const effects = replayed.step({ type: 'gcs/restarted', incarnation: 2 });
      assert.equal(replayed.state.incarnation, 2);
      assert.deepEqual(effects.at(-1), { type: 'timer/armed', timerId: 'health', delayMs: 100 });
      assert.deepEqual(sent(effects, 'lease/requested').map((request) => request.leaseId).sort(), [...waiting].sort());
      assert.deepEqual(recipients(effects, 'cluster/view-published'), ['raylet:n1', 'raylet:n2']);
      assert.equal(replayed.state.nodes['n2']?.missedChecks, 0, 'nodes get a grace period');
    });

    void it('gives the same state and effects under immer as on a mutable copy', () => {
      setAutoFreeze(true);
      const events = run().log;
      let frozen: GcsState = initialGcsState();
      const mutable: GcsState = initialGcsState();
      for (const event of [...events, { type: 'gcs/restarted', incarnation: 2 } as const, { type: 'timer/fired', timerId: 'health', nowMs: 1 } as const]) {
        let immerEffects: GcsEffect[] = [];
        frozen = produce(frozen, (draft) => {
          immerEffects = applyGcs(draft, event);
        });
        const directEffects = applyGcs(mutable, event);
        assert.equal(JSON.stringify(frozen), JSON.stringify(mutable), `state after ${event.type}`);
        assert.equal(JSON.stringify(immerEffects), JSON.stringify(directEffects), `effects of ${event.type}`);
        assert.deepEqual(gcsInvariants(frozen), []);
      }
      assert.ok(Object.isFrozen(frozen.actors));
    });
  });
});
