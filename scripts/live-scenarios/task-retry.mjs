// A curated live scenario (see scripts/traces.ts): a task's first attempt ends its worker, and the
// task is retried on a new worker, where it succeeds.
import * as tsray from 'tsray';

await tsray.init({ numCpus: 2, sessionDir: process.env.TSRAY_SCENARIO_SESSION });
const flaky = tsray.remote(
  function flaky(x) {
    // The first attempt dies as a crashed process would; Ray retries a task whose worker died.
    if (tsray.getRuntimeContext().attempt === 1) process.exit(1);
    return x * 2;
  },
  { maxRetries: 2 },
);
console.log('flaky(21) =', await tsray.get(flaky.remote(21)));
await tsray.shutdown();
