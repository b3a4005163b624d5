/**
 * `npm run bench` (`-- --quick` for a run of about a minute): tsray against piscina and tinypool and
 * against the raw limits, measured in one run, judged against issue 11's targets, printed as tables
 * and written to bench/results.json. Timings never gate tests; BENCHMARKS.md keeps the latest table.
 */
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchBaselines } from './baselines.js';
import { benchEventLog, cycled } from './event-log.js';
import { benchDriverObjects } from './driver-objects.js';
import { benchNonheadDriver } from './nonhead-driver.js';
import { benchObjectTransfer } from './object-transfer.js';
import { median, Recorder, scaleFor, section } from './harness.js';
import { benchPeers, peerVersions } from './peer.js';
import { benchRecipesApart, recordRun } from './recipes.js';
import { buildResults, formatTables, writeResults } from './report.js';
import { benchRuntime } from './runtime.js';
import { benchSimScripts } from './sim-scripts.js';

const scale = scaleFor(process.argv.includes('--quick'));
const recorder = new Recorder();
const startedMs = performance.now();
if (globalThis.gc === undefined) console.log('(run with node --expose-gc for exact P5 memory figures; npm run bench does)');
console.log(`${scale.quick ? 'quick' : 'full'} run on ${availableParallelism()} cores, Node.js ${process.version}, load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);

section('recording a simulated run for the event and recipe benches');
const entries = recordRun(scale.quick ? 500 : 2_000, scale.quick ? 20 : 50);
const events = cycled(
  entries.map((entry) => entry.event),
  scale.logEvents,
);

section('raw baselines');
await benchBaselines(recorder, scale);
section('event log (P6)');
await benchEventLog(recorder, scale, events);
section('recipes (P7), in a fresh process');
await benchRecipesApart(recorder, scale, entries);
await benchPeers(recorder, scale);
section('a 256 MiB object between two nodes (P9)');
await benchObjectTransfer(recorder, scale);
if (!scale.quick) {
  // A new head per sample (bench/driver-objects.ts): a few minutes, so only in the full run.
  section("a driver's 64 and 256 MiB puts and gets on its head's host: /dev/shm against TCP");
  await benchDriverObjects(recorder, scale);
  section('a driver on the second node reading a 256 MiB object made on the head, against head-attached drivers');
  await benchNonheadDriver(recorder, scale);
}

// P8: what event logging costs P1, as the time per task it adds against logging off (medians of the
// alternating clusters of bench/peer.ts).
const figure = (id: string): number => median(recorder.figures.find((found) => found.id === id)?.samples ?? []);
const cost = figure('p8.p1.off') / figure('p8.p1.on') - 1;
if (Number.isFinite(cost)) recorder.add('p8.cost', 'P8 tsray: time per tiny task that event logging adds, against logging off', 'fraction', [cost]);
else recorder.fail('p8.cost', 'P8 tsray: time per tiny task that event logging adds, against logging off', 'fraction', new Error('P1 with logging off or on was not measured'));

const results = buildResults({ nproc: availableParallelism(), node: process.version, date: new Date().toISOString(), loadAverage: loadavg(), quick: scale.quick }, recorder.figures);
console.log(`\n${formatTables(results)}`);
console.log(`\n¹ ${peerVersions()}: the pools have no actors; their P3 is calls to a pool of one thread whose state lives in its module.`);
console.log('P4: tsray puts (one copy into the shared store) and gets (read in place); the pools post the array to a worker and back.');
const path = fileURLToPath(new URL('../../bench/results.json', import.meta.url));
writeResults(path, results);
console.log(`\nwritten to ${path}; load average now ${loadavg().map((load) => load.toFixed(2)).join(' ')}; ${((performance.now() - startedMs) / 1000).toFixed(0)} s`);

// The full run also prints the runtime's other figures (actor start-up, cancel, log bytes) and the
// simulator's speed on ordinary scripts, untargeted.
if (!scale.quick) {
  console.log();
  await benchRuntime();
  console.log();
  await benchSimScripts();
}
