/**
 * `tsray why` through the real binary, on a trace the simulator wrote: a task retried after an
 * injected worker crash shows both attempts and the fault; an unknown id exits 1 naming close ids.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const cli = join(root, 'dist/node/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'tsray-why-'));
const tracePath = join(work, 'retried-1.jsonl');

function tsray(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const workload = `export default {
  name: 'retried',
  bodies: { *slow(ctx, x) { yield ctx.sleep(500); return x; } },
  actors: {},
  *driver(ctx) { return yield ctx.get(ctx.submit('slow', [1], { maxRetries: 2 })); },
};
`;

void describe('tsray why', () => {
  before(() => {
    const script = join(work, 'retried.mjs');
    writeFileSync(script, workload);
    const faults = JSON.stringify({ scheduled: [{ atMs: 100, kind: 'worker-crash', target: 0 }] });
    const sim = tsray('sim', script, '--faults', faults, '--fault-phase-ms', '1000', '-o', work);
    assert.equal(sim.status, 0, sim.stdout + sim.stderr);
    assert.match(sim.stdout, /1 faults/);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  void test('a task retried after a worker crash: every attempt, and the injected fault as the root', () => {
    const why = tsray('why', tracePath, 'n1.d1.t1');
    assert.equal(why.status, 0, why.stderr);
    const lines = why.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^task n1\.d1\.t1 \(slow\): 2 attempts; \d+ events, seq \d+ to \d+$/);
    assert.match(why.stdout, /^ {2}attempt 1 on worker n1\.w\d+ \(node n1\), pushed at seq \d+: worker n1\.w\d+ died: crashed \(seq \d+\)$/m);
    assert.match(why.stdout, /^ {4}seq +\d+ {2}raylet:n1 {2}worker\/exited: worker n1\.w\d+ ended: crashed$/m);
    assert.match(why.stdout, /^ {4}root \(injected fault\): injected: fault: worker n1\.w\d+ crashed \(noted after seq \d+\)$/m);
    assert.match(why.stdout, /^ {2}attempt 2 on worker n1\.w\d+ \(node n1\), pushed at seq \d+: returned \(seq \d+\)$/m);
  });

  void test('any entity: the crashed worker, its node, an event seq', () => {
    const crashed = /fault: worker (n1\.w\d+) crashed/.exec(readFileSync(tracePath, 'utf8'))?.[1] ?? '';
    const worker = tsray('why', tracePath, crashed);
    assert.equal(worker.status, 0, worker.stderr);
    assert.match(worker.stdout, new RegExp(`^worker ${crashed.replace('.', '\\.')}: \\d+ events`));
    assert.match(worker.stdout, /why seq \d+ \(worker\/exited\):/);
    const node = tsray('why', tracePath, 'raylet:n1');
    assert.equal(node.status, 0, node.stderr);
    assert.match(node.stdout, /^node n1: \d+ events/);
    const seq = tsray('why', tracePath, '12');
    assert.equal(seq.status, 0, seq.stderr);
    assert.match(seq.stdout, /^event seq 12:\n {2}seq 12 /);
  });

  void test('an unknown id exits 1 with one line naming the closest ids present', () => {
    const why = tsray('why', tracePath, 'n1.d1.t11');
    assert.equal(why.status, 1);
    assert.equal(why.stdout, '');
    assert.equal(why.stderr.trim().split('\n').length, 1);
    assert.match(why.stderr, /^tsray why: \S+retried-1\.jsonl has no entity 'n1\.d1\.t11'; the closest ids present: n1\.d1\.t1, /);
    const seq = tsray('why', tracePath, '999999');
    assert.equal(seq.status, 1);
    assert.match(seq.stderr, /^tsray why: \S+ has no event seq 999999; its events are seq 1 to \d+\n$/);
  });

  void test('a damaged or missing trace is one line and exit 1; a missing id is a usage error', () => {
    const lines = readFileSync(tracePath, 'utf8').split('\n');
    const cut = join(work, 'cut.jsonl');
    writeFileSync(cut, lines.slice(0, 20).join('\n'));
    for (const path of [cut, join(work, 'none.jsonl')]) {
      const why = tsray('why', path, 'n1.d1.t1');
      assert.equal(why.status, 1);
      assert.equal(why.stderr.trim().split('\n').length, 1, why.stderr);
      assert.match(why.stderr, /^tsray: (cannot read trace|\S+cut\.jsonl is damaged: line \d+: )/);
    }
    const usage = tsray('why', tracePath);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /why takes a trace file and an id/);
  });
});
