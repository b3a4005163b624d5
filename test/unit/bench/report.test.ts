/**
 * The bench's verdicts: each target's ratio is the median of its figure over the median of its
 * baseline (or a constant), met on the right side of the threshold for higher- and lower-is-better
 * targets; a missing or failed figure is never met; results.json carries the machine, every figure's
 * samples and summary, and the verdicts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildResults, evaluate, formatTables, issueTargets, summarise, writeResults, type Figure, type Results } from '../../../bench/report.js';

const figure = (id: string, samples: number[]): Figure => ({ id, label: id, unit: 'x', samples });
const verdict = (figures: Figure[], id: string) => evaluate(figures).find((found) => found.id === id);

void test('summarise gives the median of the samples, not their mean, with min and max', () => {
  assert.deepEqual(summarise([5, 1, 100]), { median: 5, min: 1, max: 100 });
  assert.throws(() => summarise([]), /at least one sample/);
});

void test('a higher-is-better target is met at or above its threshold, from the medians of both figures', () => {
  // Medians 25k and 10k: 2.5×, although one tsray sample is far below.
  const met = verdict([figure('p1.tsray', [25_000, 1_000, 30_000]), figure('p1.piscina', [10_000, 9_000, 11_000])], 'P1');
  assert.equal(met?.ratio, 2.5);
  assert.equal(met?.met, true);
  const missed = verdict([figure('p1.tsray', [15_000]), figure('p1.piscina', [10_000])], 'P1');
  assert.equal(missed?.ratio, 1.5);
  assert.equal(missed?.met, false);
});

void test('a lower-is-better target is met at or below its threshold', () => {
  assert.equal(verdict([figure('p2.tsray', [60]), figure('p2.piscina', [70])], 'P2')?.met, true);
  assert.equal(verdict([figure('p2.tsray', [200]), figure('p2.piscina', [70])], 'P2')?.met, false);
  assert.equal(verdict([figure('p5.tsray.bytes', [1024])], 'P5a')?.met, true);
  assert.equal(verdict([figure('p5.tsray.bytes', [1025])], 'P5a')?.met, false);
});

void test('a constant denominator turns an absolute goal into a ratio', () => {
  const direct = verdict([figure('p7.direct', [1_200_000])], 'P7a');
  assert.equal(direct?.ratio, 1.2);
  assert.equal(direct?.met, true);
});

void test('a target whose figure is missing or failed is not met, and says why', () => {
  const missing = verdict([figure('p1.tsray', [1])], 'P1');
  assert.equal(missing?.met, false);
  assert.equal(missing?.ratio, undefined);
  assert.match(missing?.missing ?? '', /p1\.piscina was not measured/);
  const failed = verdict([figure('p1.tsray', [1]), { id: 'p1.piscina', label: 'p', unit: 'x', samples: [], error: 'boom' }], 'P1');
  assert.match(failed?.missing ?? '', /p1\.piscina failed: boom/);
  assert.equal(evaluate([]).filter((found) => found.met).length, 0);
  assert.equal(evaluate([]).length, issueTargets.length);
});

void test('results.json holds the machine, each figure with its samples and summary, and the verdicts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-bench-report-'));
  try {
    const machine = { nproc: 2, node: 'v20.0.0', date: '2026-01-01T00:00:00.000Z', loadAverage: [1, 2, 3], quick: true };
    const results = buildResults(machine, [figure('p4.tsray', [5, 7, 6]), figure('raw.memcpy', [10, 12, 11]), figure('p4.tsray.paired', [0.5, 0.7, 0.6])]);
    const path = join(dir, 'results.json');
    writeResults(path, results);
    const read = JSON.parse(readFileSync(path, 'utf8')) as Results;
    assert.deepEqual(read.machine, machine);
    assert.deepEqual(read.figures[0]?.samples, [5, 7, 6]);
    assert.deepEqual(read.figures[0]?.summary, { median: 6, min: 5, max: 7 });
    const p4 = read.verdicts.find((found) => found.id === 'P4');
    // Judged by the laps paired with a memcpy in their own process, not by the memcpy process's median.
    assert.equal(p4?.ratio, 0.6);
    assert.equal(p4?.met, true);
    assert.match(formatTables(read), /\| P4 \|.*\| met \|/);
    assert.match(formatTables(read), /\| P1 \|.*\| NOT met \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("P3 is judged by each repeat's ratio to a yardstick timed just before it, not by the run's own yardstick", () => {
  // The run's raw figure would make 40k calls/s read 0.29× (missed); the paired repeats say 0.55×.
  const figures = [figure('p3.tsray', [40_000, 41_000, 39_000]), figure('raw.pipelined', [139_000]), figure('p3.tsray.paired', [0.5, 0.55, 0.6])];
  const p3 = verdict(figures, 'P3');
  assert.equal(p3?.ratio, 0.55);
  assert.equal(p3?.met, true);
  assert.equal(verdict([figure('p3.tsray', [40_000]), figure('raw.pipelined', [60_000])], 'P3')?.met, false);
});

void test('a ratio far below 1 is printed with its digits, not as zero', () => {
  const results = buildResults({ nproc: 2, node: 'v20', date: 'd', loadAverage: [0], quick: true }, [figure('p7.immer100k', [2.7])]);
  assert.match(formatTables(results), /\| P7b \|.*\| 0\.000054× \|/);
});
