/**
 * `node --expose-gc dist/bench/p7.js [--quick]`: P7's figures alone (recipes applied directly, under
 * immer, as plain Map mutation, and immer replay at 100k live tasks), over the same recorded run as
 * `npm run bench`, printed as a table; for working on the recipes without the rest of the bench.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Recorder, scaleFor, section } from './harness.js';
import { benchRecipes, recordRun } from './recipes.js';
import { buildResults, formatTables } from './report.js';

const scale = scaleFor(process.argv.includes('--quick'));
const recorder = new Recorder();
section('recording a simulated run for the recipe benches');
const entries = recordRun(scale.quick ? 500 : 2_000, scale.quick ? 20 : 50);
section('recipes (P7)');
await benchRecipes(recorder, scale, entries);
const results = buildResults({ nproc: availableParallelism(), node: process.version, date: new Date().toISOString(), loadAverage: loadavg(), quick: scale.quick }, recorder.figures);
console.log(`\n${formatTables(results)}`);
