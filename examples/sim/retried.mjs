// A simulated workload for `tsray why`: one slow task whose worker is crashed while it runs, so the
// task is retried on another worker. Record it, then ask why:
//   npx tsray sim examples/sim/retried.mjs --faults '{"scheduled":[{"atMs":100,"kind":"worker-crash","target":0}]}' --fault-phase-ms 1000 -o /tmp/traces
//   npx tsray why /tmp/traces/retried-1.jsonl n1.d1.t1
export default {
  name: 'retried',
  bodies: {
    *slow(ctx, x) {
      yield ctx.sleep(500);
      return x;
    },
  },
  actors: {},
  *driver(ctx) {
    return yield ctx.get(ctx.submit('slow', [1], { maxRetries: 2 }));
  },
};
