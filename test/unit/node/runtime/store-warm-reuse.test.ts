/**
 * A loop of put and get of one large array, as a user writes it, keeps reusing the store memory of
 * the objects it dropped instead of writing ever more of the store: each large put headed for memory
 * never written has the main thread collect, so the last lap's ref and view release their object by
 * the next put. Seen from outside as the process's resident memory, which grows by every page of
 * the store written once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

const mib = 1024 * 1024;

// No --expose-gc: the node collects by itself. The default store (512 MiB) has room for 16 laps.
const script = writeDriverScript('store-warm-reuse-check', `import * as tsray from 'tsray';
await tsray.init({ numCpus: 1, sessionDir: process.argv[2] });
const array = new Float64Array(4 * ${mib}).fill(1.5); // 32 MiB
const roundTrip = async () => (await tsray.get(tsray.put(array)))[7];
let sum = await roundTrip();
const rssBefore = process.memoryUsage().rss;
for (let lap = 0; lap < 12; lap += 1) sum += await roundTrip();
console.log(JSON.stringify({ sum, rssGrowthBytes: process.memoryUsage().rss - rssBefore }));
await tsray.shutdown();
`);
after(() => script.remove());

void test('a put+get loop of a 32 MiB array reuses the memory of the objects it dropped rather than writing more of the store', () => {
  const result = spawnSync(process.execPath, [script.path, script.sessionDir], { cwd: packageRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, result.stderr);
  const outcome = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { sum: number; rssGrowthBytes: number };
  assert.equal(outcome.sum, 13 * 1.5, 'every lap read the value back');
  // 12 laps into fresh memory would write 384 MiB of the store; reuse keeps it to two or three objects.
  assert.ok(outcome.rssGrowthBytes < 160 * mib, `the resident memory grew by ${Math.round(outcome.rssGrowthBytes / mib)} MiB over 12 laps of 32 MiB`);
});
