/**
 * Every example in examples/ runs as a user runs it (`node examples/NAME.mjs` from the package root,
 * a real process on the embedded cluster), exits 0 by itself, and prints what it promises.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

/** The package root (dist/test/examples → ../../..). */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const timeoutMs = 60_000;

// The examples' session folders and temporary files go to a temporary folder removed at the end.
const scratch = mkdtempSync(join(tmpdir(), 'tsray-examples-'));
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node examples/<name>.mjs ...args` and resolves when it exits (or is killed at the timeout). */
function runExample(name: string, ...args: string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join('examples', `${name}.mjs`), ...args], { cwd: root, env: { ...process.env, TMPDIR: scratch }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

function assertExitedCleanly(run: Run): void {
  assert.equal(run.code, 0, `exit code ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
}

void test('pi.mjs estimates π within 0.05 and shows its progress', { timeout: timeoutMs + 5_000 }, async () => {
  const run = await runExample('pi');
  assertExitedCleanly(run);
  const estimate = /^π ≈ (\d+\.\d+) \(error /m.exec(run.stdout)?.[1];
  assert.ok(estimate !== undefined, run.stdout);
  assert.ok(Math.abs(Number(estimate) - Math.PI) < 0.05, `π ≈ ${estimate}`);
  // Not a terminal: the progress comes as lines, the last one at 100%.
  assert.match(run.stdout, /^100% of 100,000,000 samples/m);
});

void test('pi.mjs takes the number of samples as its argument', { timeout: timeoutMs + 5_000 }, async () => {
  const run = await runExample('pi', '1000000');
  assertExitedCleanly(run);
  assert.match(run.stdout, /from 1,000,000 samples/);
});

void test('word-count.mjs counts the words of the texts it writes', { timeout: timeoutMs + 5_000 }, async () => {
  const run = await runExample('word-count');
  assertExitedCleanly(run);
  assert.match(run.stdout, /^2550 words \(55 distinct\) in 4 files/m);
  // The most frequent words of the sample texts, counted by hand once.
  const top = run.stdout.split('\n').slice(1, 4).map((line) => line.trim().split(/\s+/));
  assert.deepEqual(top, [
    ['330', 'the'],
    ['160', 'a'],
    ['120', 'worker'],
  ]);
});

void test('parameter-server.mjs brings the loss down', { timeout: timeoutMs + 5_000 }, async () => {
  const run = await runExample('parameter-server');
  assertExitedCleanly(run);
  const losses = [...run.stdout.matchAll(/^iteration +\d+: loss (\S+)$/gm)].map((match) => Number(match[1]));
  assert.equal(losses.length, 10, run.stdout);
  // Stale gradients may slow a step down but never reverse the descent at this learning rate.
  for (let index = 1; index < losses.length; index += 1) assert.ok((losses[index] ?? 0) < (losses[index - 1] ?? 0), `losses ${losses.join(', ')}`);
  assert.ok((losses.at(-1) ?? 1) < (losses[0] ?? 0) / 10, `losses ${losses.join(', ')}`);
});

void test('fault-demo.mjs retries a crashed task and reports WorkerCrashedError without retries', { timeout: timeoutMs + 5_000 }, async () => {
  const run = await runExample('fault-demo');
  assertExitedCleanly(run);
  assert.match(run.stdout, /finished on attempt 2; the first attempt crashed its worker/);
  assert.match(run.stdout, /^ {3}WorkerCrashedError: /m);
});
