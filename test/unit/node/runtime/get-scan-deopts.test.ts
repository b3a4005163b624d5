/**
 * A get of many refs is scanned for the outcomes that came each time one of its objects settles
 * (core/owner/retrieval.ts). V8 compiles such a long scan mid-loop; while the scan sat in
 * `trySettleGet`, that code had seen the get before its cursor was first set, and every later call
 * ran into it and was thrown back to the interpreter: hundreds of deoptimisations per get of 50,000
 * refs. Only V8 can tell, so a child runs two such gets with `--trace-deopt` and the test counts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const sessionsRoot = mkdtempSync(join(tmpdir(), 'tsray-get-scan-'));
after(() => rmSync(sessionsRoot, { recursive: true, force: true }));

void test('awaiting 50,000 tiny tasks with one get, twice, leaves the scan of the get compiled', () => {
  const index = new URL('../../../../node/index.js', import.meta.url).href;
  const script = `
    const tsray = await import(${JSON.stringify(index)});
    const inc = tsray.remote((x) => x + 1);
    await tsray.init({ numCpus: 2 });
    let wrong = 0;
    for (let round = 0; round < 2; round += 1) {
      const values = await tsray.get(Array.from({ length: 50000 }, (_, i) => inc.remote(i)));
      values.forEach((value, i) => { if (value !== i + 1) wrong += 1; });
    }
    await tsray.shutdown();
    console.log('wrong ' + wrong);
  `;
  const result = spawnSync(process.execPath, ['--trace-deopt', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, TSRAY_EVENT_LOG: 'off', TSRAY_SESSIONS_ROOT: sessionsRoot },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^wrong 0$/m);
  // The trace names the function thrown back to the interpreter on each bailout line.
  const bailouts = result.stdout.split('\n').filter((line) => line.startsWith('[bailout') && /<JSFunction (trySettleGet|firstUnavailable) /.test(line));
  // A few are V8 learning the types as the first objects come; before, there were 100 to 360 here.
  assert.ok(bailouts.length <= 5, `the scan of the get was deoptimised ${bailouts.length} times:\n${bailouts.slice(0, 3).join('\n')}`);
});
