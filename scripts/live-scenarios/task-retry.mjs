// A curated live scenario (see scripts/traces.ts): a task's first attempt ends its worker, and the
// task is retried on a new worker, where it succeeds.
import { join } from 'node:path';
import * as tsray from 'tsray';

const sessionDir = process.env.TSRAY_SCENARIO_SESSION;
await tsray.init({ numCpus: 2, sessionDir });
const flaky = tsray.remote(
  async function flaky(x, marker) {
    // The first attempt leaves a marker and dies as a crashed process would; Ray retries a task
    // whose worker died, and the retry finds the marker.
    const fs = await import('node:fs');
    if (!fs.existsSync(marker)) {
      fs.writeFileSync(marker, 'crashed once');
      process.exit(1);
    }
    return x * 2;
  },
  { maxRetries: 2 },
);
console.log('flaky(21) =', await tsray.get(flaky.remote(21, join(sessionDir, 'crash-marker'))));
await tsray.shutdown();
