/**
 * Nested tasks blocked in `get` grow a node's pool past its CPUs; once they are done, the workers past
 * the soft limit (the CPU count) end after a second of rest, as Ray ends idle workers past
 * `num_workers_soft_limit` (core/raylet/idle-exit.ts). The run is a driver in a child process on one
 * CPU; its trace, collected from the session, must show every surplus worker ended as `idle` (after
 * its own idle collection gave back the refs its finished bodies dropped), none of them while it
 * owned anything (no task of the run failed or was retried), and the pool serving tasks afterwards,
 * also after a tree cancelled while its tasks waited in gets. `replay --verify` accepts the trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { decodeTrace } from '../../../../core/trace/decode.js';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');

const script = writeDriverScript(
  'idle-workers-check',
  `import * as tsray from 'tsray';
const sessionDir = process.argv[2];
await tsray.init({ numCpus: 1, sessionDir });
// Each inner node of the tree waits in a get for its two children: its worker lends its CPU out, and
// the pool starts another worker for them.
// Its leaves wait leafMs first.
const tree = tsray.remote(async function tree(depth, leafMs = 0) {
  if (depth === 0) {
    if (leafMs > 0) await new Promise((resolve) => setTimeout(resolve, leafMs));
    return 1;
  }
  const again = tsray.remote(tree);
  const [left, right] = await tsray.get([again.remote(depth - 1, leafMs), again.remote(depth - 1, leafMs)]);
  return left + right;
});
const leaves = await tsray.get(tree.remote(3));
// A tree cancelled while its tasks wait in gets (its slow leaves keep it running past the cancel):
// the workers whose gets failed must go on, or the next tree never runs.
const doomed = tree.remote(5, 3000);
await new Promise((resolve) => setTimeout(resolve, 800));
tsray.cancel(doomed, { recursive: true });
let cancelled = '';
try { await tsray.get(doomed, { timeout: 20000 }); } catch (error) { cancelled = error.name; }
const afterCancel = await tsray.get(tree.remote(2), { timeout: 20000 });
// Long enough for an idle collection and the raylet's second ask (1 s apart).
await new Promise((resolve) => setTimeout(resolve, 4500));
const after = await tsray.get(tree.remote(1));
console.log(JSON.stringify({ leaves, after, cancelled, afterCancel }));
await tsray.shutdown();
`,
);
const sessionDir = join(script.sessionDir, 'session');
const tracePath = join(script.sessionDir, 'run.trace.jsonl');
after(() => script.remove());

void test('workers that nested gets added end once idle past the soft limit, and only those that own nothing', () => {
  const run = spawnSync(process.execPath, [script.path, sessionDir], { encoding: 'utf8', timeout: 90_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}'), { leaves: 8, after: 2, cancelled: 'TaskCancelledError', afterCancel: 4 });
  const collected = spawnSync(process.execPath, [cli, 'trace', 'collect', '--session', sessionDir, '-o', tracePath], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(collected.status, 0, collected.stderr);
  const verified = spawnSync(process.execPath, [cli, 'replay', tracePath, '--verify'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(verified.status, 0, verified.stderr);

  const decoded = decodeTrace(readFileSync(tracePath, 'utf8'));
  assert.ok(E.isRight(decoded), 'the trace decodes');
  const raylet = decoded.right.entries.filter((entry) => entry.address === 'raylet:n1').map((entry) => entry.event as { type: string; workerId?: string; reason?: string; timerId?: string });
  const started = raylet.filter((event) => event.type === 'worker/started').map((event) => event.workerId);
  const exitedIdle = raylet.filter((event) => event.type === 'worker/exited' && event.reason === 'idle').map((event) => event.workerId);
  const agreed = raylet.filter((event) => event.type === 'worker/exit-agreed').map((event) => event.workerId);
  assert.ok(started.length >= 4, `the blocked gets grew the pool past its one CPU (${started.length} workers started)`);
  // Both trees ran before the pause; at most the soft limit (one) and the workers started for the
  // tree after it are left.
  const beforePause = started.length;
  assert.ok(exitedIdle.length >= beforePause - 3, `surplus workers ended idle: ${exitedIdle.length} of ${beforePause} started`);
  for (const workerId of exitedIdle) assert.ok(agreed.includes(workerId), `${workerId} agreed before it was ended`);
  const failures = decoded.right.entries.filter((entry) => entry.address === 'worker:n1.d1' && (entry.event as { type: string }).type === 'task/replied' && JSON.stringify(entry.event).includes('"threw"'));
  assert.deepEqual(failures, [], 'no task failed');
});
