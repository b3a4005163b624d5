/**
 * How the property files run fast-check: the base seed (env TSRAY_SEED, else a fixed default, always
 * printed), the run count (env TSRAY_RUNS overrides), a replay path (env TSRAY_PATH), timing, and
 * failure reports that leave the failing run's trace on disk.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PropertyFailure } from './property-run.js';

/** The default base seed, so that `npm test` is reproducible. */
export const defaultSeed = 20_240_601;

/** The base seed of this process's property runs. */
export function propertySeed(): number {
  const text = process.env['TSRAY_SEED'];
  if (text === undefined || text.trim() === '') return defaultSeed;
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new RangeError(`TSRAY_SEED should be an integer but is '${text}'`);
  return seed;
}

/** `runs`, unless env TSRAY_RUNS gives another count (for every property of the process). */
export function numRuns(runs: number): number {
  const text = process.env['TSRAY_RUNS'];
  if (text === undefined || text.trim() === '') return runs;
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`TSRAY_RUNS should be a positive integer but is '${text}'`);
  return count;
}

/** The folder failing traces go to. */
export const failureDir = join(tmpdir(), 'tsray-failures');

/**
 * Writes a failing run's trace and a summary next to it; returns the trace's path. The same name is
 * overwritten by each failure while fast-check shrinks, so what remains is the shrunk counterexample.
 */
export function writeFailure(name: string, traceText: string, summary: string): string {
  mkdirSync(failureDir, { recursive: true });
  const path = join(failureDir, `${name}.trace`);
  writeFileSync(path, traceText);
  writeFileSync(join(failureDir, `${name}.txt`), `${summary}\n`);
  return path;
}

/** The last failure a property met (while shrinking, the last is the smallest), and its trace file. */
export interface LastFailure {
  message?: string;
  tracePath?: string;
}

/**
 * Wraps a check so that a failure writes its trace (see `writeFailure`) and is remembered in `last`
 * before it propagates. `describe` says what ran, in words, for the summary file.
 */
export function keepingTraces<T>(name: string, describe: (input: T) => string, check: (input: T) => void, last: LastFailure): (input: T) => void {
  return (input) => {
    try {
      check(input);
    } catch (error) {
      last.message = error instanceof Error ? error.message : String(error);
      if (error instanceof PropertyFailure) last.tracePath = writeFailure(name, error.traceText, `${error.message}\n\n${describe(input)}`);
      throw error;
    }
  };
}

/**
 * Runs `property` with the base seed and prints the seed, the runs made and the wall time; on
 * failure also prints fast-check's path, the failure and the trace file, then rethrows fast-check's
 * report.
 */
export function assertProperty<T>(label: string, property: fc.IProperty<T>, runs: number, last: LastFailure = {}): void {
  const seed = propertySeed();
  const path = process.env['TSRAY_PATH'];
  console.log('property seed', seed);
  const started = performance.now();
  let made = runs;
  try {
    fc.assert(property, { seed, numRuns: runs, verbose: fc.VerbosityLevel.Verbose, ...(path === undefined || path === '' ? {} : { path }) });
  } catch (error) {
    const report = error instanceof Error ? error.message : '';
    const failedPath = /path: "([^"]+)"/.exec(report)?.[1];
    made = Number(/failed after (\d+) tests/.exec(report)?.[1] ?? runs);
    console.log(`${label}: FAILED at run ${made} with property seed ${seed}${failedPath === undefined ? '' : `, path ${failedPath}`}`);
    console.log(`${label}: replay with TSRAY_SEED=${seed}${failedPath === undefined ? '' : ` TSRAY_PATH=${failedPath}`}`);
    if (last.message !== undefined) console.log(`${label}: shrunk failure: ${last.message}`);
    if (last.tracePath !== undefined) console.log(`${label}: its trace: ${last.tracePath}`);
    throw error;
  } finally {
    console.log(`${label}: ${made} runs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}
