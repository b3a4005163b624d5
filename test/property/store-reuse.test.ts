/**
 * Freed store memory is always reusable: whatever order puts, large task returns, releases of their
 * refs (what garbage collection does live) and pauses come in, once the driver holds nothing every
 * node's store is empty. A release that overtakes its put's acknowledgement used to leave the copy
 * in the store for good, which filled it after an overflow.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RayletState } from '../../core/raylet/index.js';
import { Simulator } from '../../core/sim/index.js';
import type { SimContext, SimRef, Yielded } from '../../core/sim/index.js';
import { assertProperty, numRuns } from '../support/property-harness.js';

/** One driver step: store a value (large ones go to the node's store), drop a held ref, or pause. */
type StoreOp = { readonly op: 'put'; readonly big: boolean } | { readonly op: 'return'; readonly big: boolean } | { readonly op: 'release'; readonly pick: number } | { readonly op: 'sleep'; readonly ms: number };

const storeOp: fc.Arbitrary<StoreOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), big: fc.boolean() }),
  fc.record({ op: fc.constant('return' as const), big: fc.boolean() }),
  fc.record({ op: fc.constant('release' as const), pick: fc.nat({ max: 30 }) }),
  fc.record({ op: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 20 }) }),
);

const padBytes = 150_000;

function runOps(ops: readonly StoreOp[], seed: number, jitterMs: number): Simulator {
  function* driver(ctx: SimContext): Generator<Yielded, unknown, unknown> {
    const held: SimRef[] = [];
    for (const op of ops) {
      if (op.op === 'put') held.push(ctx.put({ v: held.length, ...(op.big ? { $padBytes: padBytes } : {}) }));
      else if (op.op === 'return') held.push(ctx.submit(op.big ? 'big' : 'small', [held.length]) as SimRef);
      else if (op.op === 'release') {
        const [ref] = held.splice(op.pick % Math.max(1, held.length), 1);
        if (ref !== undefined) ctx.release(ref);
      } else yield ctx.sleep(op.ms);
    }
    for (const ref of held.splice(0)) ctx.release(ref);
    yield ctx.sleep(500);
    return 'done';
  }
  const sim = new Simulator({
    seed,
    program: { name: 'store-reuse', bodies: { big: (_ctx, x) => ({ x, $padBytes: padBytes }), small: (_ctx, x) => x }, actors: {}, driver },
    nodes: [{ resources: { CPU: 2 } }],
    faults: { jitterMs },
    faultPhaseMs: 5_000,
    record: false,
    hashEvery: 0,
  });
  sim.run();
  return sim;
}

void describe('the node store', () => {
  void it('is empty again once every ref is released, whatever the order of puts, returns and releases', () => {
    const property = fc.property(fc.array(storeOp, { maxLength: 30 }), fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 5 }), (ops, seed, jitterMs) => {
      const sim = runOps(ops, seed, jitterMs);
      for (const instance of sim.instances.values()) {
        if (instance.kind !== 'raylet') continue;
        const raylet = instance.state as RayletState;
        assert.deepEqual(Object.keys(raylet.objects), [], `${instance.address} still stores objects nobody references`);
        assert.equal(raylet.usedBytes, 0, `${instance.address} still counts bytes in use`);
      }
    });
    assertProperty('store reuse', property, numRuns(300));
  });
});
