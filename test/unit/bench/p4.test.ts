/**
 * P4's sides each run in a process of their own (bench/p4.ts): the child's last line of output is its
 * samples as JSON, which the bench reads whatever the child printed before it, and refuses with a
 * clear message when the line is missing or is not the asked side's; a library side also reports
 * each lap against a memcpy timed just before it; a child that fails names why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureP4Side, parseSamples, spawnSide, type P4Side } from '../../../bench/p4.js';
import { scaleFor } from '../../../bench/harness.js';

void test("a side's samples are read from its last line, after anything else it printed", () => {
  const line = JSON.stringify({ side: 'tsray', gbPerSecond: [2.5, 3], cpuMsPerLap: [20, 21], pairedRatios: [0.4, 0.5] });
  assert.deepEqual(parseSamples('tsray', `a warning from a library\n${line}\n`), { side: 'tsray', gbPerSecond: [2.5, 3], cpuMsPerLap: [20, 21], pairedRatios: [0.4, 0.5] });
  assert.deepEqual(parseSamples('memcpy', JSON.stringify({ side: 'memcpy', gbPerSecond: [7], cpuMsPerLap: [9] })), { side: 'memcpy', gbPerSecond: [7], cpuMsPerLap: [9] });
});

void test('output without a JSON line, or with the samples of another side or none, is refused naming the side', () => {
  assert.throws(() => parseSamples('piscina', 'Segmentation fault\n'), /the piscina process printed no JSON line at the end; its output ended with: Segmentation fault/);
  assert.throws(() => parseSamples('piscina', JSON.stringify({ side: 'tinypool', gbPerSecond: [1], cpuMsPerLap: [1] })), /the piscina process printed JSON without its samples/);
  assert.throws(() => parseSamples('memcpy', JSON.stringify({ side: 'memcpy', gbPerSecond: [], cpuMsPerLap: [] })), /without its samples/);
  assert.throws(() => parseSamples('tsray', JSON.stringify({ side: 'tsray', gbPerSecond: [1], cpuMsPerLap: [1] })), /without its ratios to a paired memcpy/);
});

void test('the memcpy side copies 64 MiB once per repeat and reports GB/s and CPU time for each', async () => {
  const samples = await measureP4Side('memcpy', 2);
  assert.equal(samples.side, 'memcpy');
  assert.equal(samples.gbPerSecond.length, 2);
  assert.equal(samples.cpuMsPerLap.length, 2);
  for (const value of samples.gbPerSecond) assert.ok(value > 0 && Number.isFinite(value));
  assert.equal(samples.pairedRatios, undefined);
});

void test('a library side measured in a process of its own reports each lap and its ratio to a memcpy timed just before it', async () => {
  const samples = await spawnSide('piscina', scaleFor(true));
  assert.equal(samples.gbPerSecond.length, scaleFor(true).repeats);
  assert.equal(samples.pairedRatios?.length, scaleFor(true).repeats);
  for (const ratio of samples.pairedRatios ?? []) assert.ok(ratio > 0 && Number.isFinite(ratio));
});

void test('a side measured in a process of its own comes back as one sample per quick repeat', async () => {
  const samples = await spawnSide('memcpy', scaleFor(true));
  assert.equal(samples.gbPerSecond.length, scaleFor(true).repeats);
  for (const value of samples.gbPerSecond) assert.ok(value > 0 && Number.isFinite(value));
});

void test("a side's process that fails is reported with the command and its error", async () => {
  await assert.rejects(spawnSide('bogus' as P4Side, scaleFor(true)), /the bogus process \(node --expose-gc .*p4\.js bogus --json --quick\) failed: Error: usage: node --expose-gc dist\/bench\/p4\.js <memcpy\|tsray\|piscina\|tinypool>/);
});
