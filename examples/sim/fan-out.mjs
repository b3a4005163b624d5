// A simulated workload for `tsray sim`: a fan-out of tasks, a nested task that waits for its child,
// a large object that lives in a node's store, and a counter actor. Run it under faults:
//   npx tsray sim examples/sim/fan-out.mjs --seed 1 --runs 20 --faults chaos
export default {
  name: 'fan-out',
  bodies: {
    square: (_ctx, x) => x * x,
    sum: (_ctx, ...values) => values.reduce((total, value) => total + value, 0),
    *nested(ctx, x) {
      const child = ctx.submit('square', [x + 1]);
      return (yield ctx.get(child)) + 1;
    },
    big: (_ctx, x) => ({ x, $padBytes: 300_000 }),
  },
  actors: {
    Counter: {
      init: () => ({ total: 0 }),
      methods: {
        add: (_ctx, state, n) => {
          state.total += n;
          return state.total;
        },
      },
    },
  },
  *driver(ctx) {
    const squares = [1, 2, 3, 4, 5, 6, 7, 8].map((x) => ctx.submit('square', [x], { maxRetries: 5 }));
    const total = ctx.submit('sum', squares, { maxRetries: 5 });
    const nested = ctx.submit('nested', [total], { maxRetries: 5 });
    const big = ctx.submit('big', [7], { maxRetries: 5 });
    const counter = ctx.createActor('Counter', [], { maxRestarts: 3, maxTaskRetries: 3 });
    const adds = [1, 2, 3].map((n) => ctx.call(counter, 'add', [n]));
    const results = { total: yield ctx.get(total), nested: yield ctx.get(nested), big: (yield ctx.get(big)).x };
    try {
      results.counter = yield ctx.get(adds);
    } catch (error) {
      results.counter = error.info?.errorClass ?? String(error);
    }
    return results;
  },
};
