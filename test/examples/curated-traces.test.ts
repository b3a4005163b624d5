/**
 * The curated traces in traces/ (written by `npm run traces`, never by hand) replay with `--verify`
 * on this tsray: a recipe change that alters them must bump the reducer's version and regenerate
 * them. traces/README.md says what to look at in each.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../support/driver-script.js';

const tracesDir = join(packageRoot, 'traces');
const cli = join(packageRoot, 'dist/node/cli/main.js');
const traceFiles = readdirSync(tracesDir).filter((name) => name.endsWith('.trace.jsonl')).sort();

void test('traces/ holds the six curated traces, each described in its README', () => {
  assert.deepEqual(traceFiles, [
    'live-actor-restart.trace.jsonl',
    'live-cancel.trace.jsonl',
    'live-task-retry.trace.jsonl',
    'sim-mutant-double-release.trace.jsonl',
    'sim-node-death-lineage.trace.jsonl',
    'sim-owner-died.trace.jsonl',
  ]);
  const readme = readFileSync(join(tracesDir, 'README.md'), 'utf8');
  for (const file of traceFiles) assert.ok(readme.includes(`\`${file}\``), `traces/README.md describes ${file}`);
});

for (const file of traceFiles) {
  void test(`tsray replay --verify ${file}`, () => {
    const result = spawnSync(process.execPath, [cli, 'replay', '--verify', join(tracesDir, file)], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /replayed \d+ events; [1-9]\d* recorded state hashes reproduced/);
  });
}
