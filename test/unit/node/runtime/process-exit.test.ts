/**
 * A driver script ends by itself: with shutdown() it leaves no handle behind, and without it the
 * process still exits (worker threads and timers never keep it alive once nothing is pending).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeDriverScript } from '../../../support/driver-script.js';

const script = writeDriverScript('process-exit-check', `import * as tsray from 'tsray';
await tsray.init({ numCpus: 2, sessionDir: process.argv[3] });
const f = tsray.remote((x) => x + 1);
console.log('value', await tsray.get(f.remote(1)));
if (process.argv[2] === 'shutdown') {
  await tsray.shutdown();
  // The process's own stdio pipes are not ours to close.
  console.log('resources', JSON.stringify(process.getActiveResourcesInfo().filter((kind) => kind !== 'PipeWrap' && kind !== 'TTYWrap')));
}
`);
after(() => script.remove());

void test('with shutdown() nothing is left active', () => {
  const result = spawnSync(process.execPath, [script.path, 'shutdown', join(script.sessionDir, 'a')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /value 2/);
  assert.match(result.stdout, /resources \[\]/);
});

void test('without shutdown() the script still exits by itself', () => {
  const started = Date.now();
  const result = spawnSync(process.execPath, [script.path, 'no-shutdown', join(script.sessionDir, 'b')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /value 2/);
  assert.ok(Date.now() - started < 20_000, 'it did not hang');
});
