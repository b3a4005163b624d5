/**
 * `node dist/bench/recipes-ab.js OTHER_DIST [ROUNDS]`: P7's recipes applied directly, this build
 * against another build of tsray (its `dist` directory, e.g. a copy of the build before a change),
 * weighed on a machine shared with other work. The wall clock of `p7.js` moved by 3x between runs at
 * a load of 8 on two cores, and CPU time still by 2x between passes; so both builds run in one
 * process, one pass each in turn over the same recorded events, each pass timed by the CPU time of
 * the process, and the ratio of each pair of neighbouring passes is what is reported (its median
 * and quartiles), so that the load of the moment weighs on both sides alike.
 *
 * Each pass starts from fresh states, as p7.js does, each kept as the live shell keeps its own (tables
 * in Maps, with the build's own `keepTablesInMaps`; a build from before it keeps its tables as trees);
 * the states of the last pass of each build are
 * kept until its next pass, so that the hidden classes they use stay alive between passes as they
 * do in a live process (a state there lives as long as its component).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyEvent, ComponentCore } from '../core/component.js';
import { gcsCore } from '../core/gcs/index.js';
import { ownerCore } from '../core/owner/index.js';
import { rayletCore } from '../core/raylet/index.js';
import { keepTablesInMaps } from '../core/table.js';
import type { TraceEntry } from '../core/trace/format.js';
import { median } from './harness.js';
import { recordRun } from './recipes.js';

/** A build's cores, and how it keeps a live state's tables (absent in builds from before `keepTablesInMaps`). */
type Cores = Record<TraceEntry['component'], ComponentCore<unknown, AnyEvent, unknown>> & { readonly keepTablesInMaps?: (state: unknown) => void };

/** Passes of each build before any is timed (V8 takes about ten to optimise the recipes). */
const warmUpPasses = 20;

/** The cores of the build whose `dist` directory is `dist`. */
async function coresOf(dist: string): Promise<Cores> {
  const load = async (path: string, name: string): Promise<ComponentCore<unknown, AnyEvent, unknown>> => {
    const module = (await import(pathToFileURL(resolve(dist, path)).href)) as Record<string, unknown>;
    const core = module[name];
    if (typeof core !== 'object' || core === null || typeof (core as { apply?: unknown }).apply !== 'function') throw new Error(`${dist} has no ${name} in ${path}; pass the dist directory of a tsray build`);
    return core as ComponentCore<unknown, AnyEvent, unknown>;
  };
  const table = (await import(pathToFileURL(resolve(dist, 'core/table.js')).href)) as { keepTablesInMaps?: unknown };
  const keep = typeof table.keepTablesInMaps === 'function' ? (table.keepTablesInMaps as (state: unknown) => void) : undefined;
  return {
    gcs: await load('core/gcs/index.js', 'gcsCore'),
    raylet: await load('core/raylet/index.js', 'rayletCore'),
    owner: await load('core/owner/index.js', 'ownerCore'),
    ...(keep === undefined ? {} : { keepTablesInMaps: keep }),
  };
}

/** A timer of passes of `cores` over `entries`: each call runs one pass and returns its events per CPU second. */
function passes(cores: Cores, entries: readonly TraceEntry[]): () => number {
  let kept: Map<string, unknown> | undefined;
  return () => {
    const states = new Map<string, unknown>();
    const started = process.cpuUsage();
    for (const entry of entries) {
      const core = cores[entry.component];
      let state = states.get(entry.address);
      if (state === undefined) {
        states.set(entry.address, (state = core.initial()));
        cores.keepTablesInMaps?.(state);
      }
      core.apply(state, entry.event);
    }
    const cpu = process.cpuUsage(started);
    kept = states;
    void kept;
    return entries.length / ((cpu.user + cpu.system) / 1e6);
  };
}

const [other, roundsText] = process.argv.slice(2);
if (other === undefined) throw new Error('usage: node dist/bench/recipes-ab.js OTHER_DIST [ROUNDS]; OTHER_DIST is the dist directory of the build to compare with');
const rounds = Number(roundsText ?? 100);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`ROUNDS must be a positive whole number, not '${roundsText}'`);

const entries = recordRun(2_000, 50);
const thisBuild = passes({ gcs: gcsCore, raylet: rayletCore, owner: ownerCore, keepTablesInMaps } as unknown as Cores, entries);
const otherBuild = passes(await coresOf(other), entries);
for (let pass = 0; pass < warmUpPasses; pass++) {
  otherBuild();
  thisBuild();
}
const mine: number[] = [];
const theirs: number[] = [];
const ratios: number[] = [];
for (let round = 0; round < rounds; round++) {
  // Alternating which goes first, so that neither always runs just after a collection of the other's garbage.
  let theirRate: number;
  let myRate: number;
  if (round % 2 === 0) {
    theirRate = otherBuild();
    myRate = thisBuild();
  } else {
    myRate = thisBuild();
    theirRate = otherBuild();
  }
  theirs.push(theirRate);
  mine.push(myRate);
  ratios.push(myRate / theirRate);
}
const sorted = [...ratios].sort((x, y) => x - y);
const quartile = (q: number): string => (sorted[Math.floor((sorted.length - 1) * q)] ?? Number.NaN).toFixed(3);
const rate = (values: number[]): string => Math.round(median(values)).toLocaleString('en');
console.log(`recipes applied directly, ${entries.length.toLocaleString('en')} events a pass, ${rounds} rounds`);
console.log(`  ${other}: median ${rate(theirs)} events per CPU second`);
console.log(`  this build: median ${rate(mine)} events per CPU second`);
console.log(`  this build / ${other}, pass by pass: median ${quartile(0.5)} (quartiles ${quartile(0.25)} to ${quartile(0.75)})`);
