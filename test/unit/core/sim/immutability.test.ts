/**
 * Objects are immutable under the simulator too: a body gets its own copy of a small value (writing
 * to it changes nothing another reader sees), and a large one, which live readers share in place, is
 * frozen, so that every write to it is caught at the write.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimGetError, Simulator } from '../../../../core/sim/index.js';
import type { SimBody, SimContext, SimRef, Yielded } from '../../../../core/sim/index.js';

const bodies: Record<string, SimBody> = {
  scribble: (_ctx, value) => {
    (value as { n: number }).n = 99;
    return (value as { n: number }).n;
  },
  read: (_ctx, value) => (value as { n: number }).n,
};

function* driver(ctx: SimContext): Generator<Yielded, unknown, unknown> {
  const small = ctx.put({ n: 1 });
  const big = ctx.put({ n: 1, $padBytes: 200_000 });
  const outcome = (ref: SimRef): Generator<Yielded, unknown, unknown> =>
    (function* attempt(): Generator<Yielded, unknown, unknown> {
      try {
        return yield ctx.get(ctx.submit('scribble', [ref]));
      } catch (error) {
        return error instanceof SimGetError ? `${error.info.errorClass}: ${error.info.cause?.name ?? ''}` : String(error);
      }
    })();
  const wroteSmall = yield* outcome(small);
  const wroteBig = yield* outcome(big);
  const afterwards = yield ctx.get([ctx.submit('read', [small]) as SimRef, ctx.submit('read', [big]) as SimRef]);
  return { wroteSmall, wroteBig, afterwards };
}

void test('a body writes to its own copy of a small value, and a write to a large shared one fails at the write', () => {
  const sim = new Simulator({ seed: 7, program: { name: 'immutability', bodies, actors: {}, driver }, nodes: [{ resources: { CPU: 2 } }], record: false });
  const result = sim.run().driverResult;
  assert.deepEqual(result, { wroteSmall: 99, wroteBig: 'RayTaskError: TypeError', afterwards: [1, 1] });
});
