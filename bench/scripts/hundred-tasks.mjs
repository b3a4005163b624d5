// The simulator's speed workload: 100 tasks (a fan-out of 80, and 20 that each wait for a child),
// as an ordinary script. `npm run bench` runs it 1,000 times under chaos faults.
import * as tsray from 'tsray';

await tsray.init();
const double = tsray.remote((x) => x * 2, { maxRetries: 10 });
const parent = tsray.remote(async (x, child) => (await tsray.get(child.remote(x))) + 1, { maxRetries: 10 });
const fanned = await tsray.get(Array.from({ length: 80 }, (_, index) => double.remote(index)));
const nested = await tsray.get(Array.from({ length: 10 }, (_, index) => parent.remote(index, double)));
const total = fanned.reduce((a, b) => a + b, 0) + nested.reduce((a, b) => a + b, 0);
if (total !== 6320 + 100) throw new Error(`wrong total ${total}`);
