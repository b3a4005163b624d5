/**
 * `node --expose-gc dist/bench/p7.js [--quick]`: P7's figures alone (recipes applied directly, under
 * immer, as plain Map mutation, and immer replay at 100k live tasks), over the same recorded run as
 * `npm run bench`, printed as a table; for working on the recipes without the rest of the bench. As
 * in the full run, the run is recorded here and measured in fresh processes (see `benchRecipesApart`):
 * `p7.js ENTRIES_FILE --json [--quick]` for P7a's figures and `p7.js ENTRIES_FILE --json [--quick]
 * --at-scale` for P7b's, each printing its figures as one line of JSON.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import type { TraceEntry } from '../core/trace/format.js';
import { Recorder, scaleFor, section } from './harness.js';
import { benchImmerAtScale, benchRecipes, benchRecipesApart, recordRun } from './recipes.js';
import { buildResults, formatTables } from './report.js';

async function main(args: readonly string[]): Promise<void> {
  const scale = scaleFor(args.includes('--quick'));
  const recorder = new Recorder();
  const file = args.find((arg) => !arg.startsWith('--'));
  if (file !== undefined && args.includes('--json')) {
    const entries = JSON.parse(readFileSync(file, 'utf8')) as TraceEntry[];
    await (args.includes('--at-scale') ? benchImmerAtScale : benchRecipes)(recorder, scale, entries);
    console.log(JSON.stringify(recorder.figures));
    return;
  }
  section('recording a simulated run for the recipe benches');
  const entries = recordRun(scale.quick ? 500 : 2_000, scale.quick ? 20 : 50);
  section('recipes (P7), in a fresh process');
  await benchRecipesApart(recorder, scale, entries);
  const results = buildResults({ nproc: availableParallelism(), node: process.version, date: new Date().toISOString(), loadAverage: loadavg(), quick: scale.quick }, recorder.figures);
  console.log(`\n${formatTables(results)}`);
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
