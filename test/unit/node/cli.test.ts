/**
 * The `tsray` command as a user runs it: a real process, real files. Each case checks the exit code
 * and the one line a user reads.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { rechainTrace } from '../../support/debugger-traces.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const cli = join(root, 'dist/node/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'tsray-cli-'));

function tsray(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

void describe('tsray CLI', () => {
  after(() => rmSync(work, { recursive: true, force: true }));

  void test('sim runs a workload under chaos faults and writes traces that replay and verify', () => {
    const sim = tsray('sim', 'examples/sim/fan-out.mjs', '--seed', '5', '--runs', '2', '--faults', 'chaos', '-o', work);
    assert.equal(sim.status, 0, sim.stderr);
    assert.match(sim.stdout, /seed 5: ok, \d+ events/);
    assert.match(sim.stdout, /seed 6: ok/);
    assert.match(sim.stdout, /"total":204/);
    const replay = tsray('replay', join(work, 'fan-out-5.jsonl'), '--verify');
    assert.equal(replay.status, 0, replay.stderr);
    assert.match(replay.stdout, /replayed \d+ events; [1-9]\d* recorded state hashes reproduced/);
  });

  void test('replay --verify fails naming the first diverging event of a tampered trace', () => {
    const path = join(work, 'fan-out-5.jsonl');
    const lines = readFileSync(path, 'utf8').split('\n');
    const index = lines.findIndex((line) => line.includes('"hash":"'));
    assert.ok(index > 0, 'the trace records hashes');
    lines[index] = (lines[index] ?? '').replace(/"hash":"[0-9a-f]+"/, '"hash":"0000000000000000"');
    // Signed again, so that the checksum chain holds and only the state hash can tell.
    const tampered = join(work, 'tampered.jsonl');
    writeFileSync(tampered, rechainTrace(lines));
    const replay = tsray('replay', tampered, '--verify');
    assert.equal(replay.status, 1);
    assert.match(replay.stderr, /^tsray replay: diverged at seq \d+ \(\S+\): /);
  });

  void test('a file that is not a trace gets one line saying so', () => {
    const path = join(work, 'garbage.jsonl');
    writeFileSync(path, 'this is not json\n');
    const replay = tsray('replay', path);
    assert.equal(replay.status, 1);
    assert.equal(replay.stderr.trim().split('\n').length, 1);
    assert.match(replay.stderr, /^tsray: \S+garbage\.jsonl is not a trace this tsray can read: line 1: /);
    const missing = tsray('replay', join(work, 'missing.jsonl'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read trace .*ENOENT/);
  });

  void test('bad arguments exit 2 with a reason', () => {
    const unknown = tsray('launch');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'launch'; this version has: sim, replay/);
    const runs = tsray('sim', 'examples/sim/fan-out.mjs', '--runs', 'many');
    assert.equal(runs.status, 2);
    assert.match(runs.stderr, /--runs takes a whole number/);
    const faults = tsray('sim', 'examples/sim/fan-out.mjs', '--faults', 'storm');
    assert.equal(faults.status, 2);
    assert.match(faults.stderr, /--faults takes one of none, messages, crashes, node-deaths, chaos/);
    const invariants = tsray('replay', join(root, 'traces', 'sim-owner-died.trace.jsonl'), '--invariants', 'sometimes');
    assert.equal(invariants.status, 2);
    assert.match(invariants.stderr, /--invariants takes every or hashes, not 'sometimes'/);
    const script = join(work, 'not-a-program.mjs');
    writeFileSync(script, 'export const x = 1;\n');
    const bad = tsray('sim', script);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /not-a-program\.mjs never called tsray\.init\(\), so nothing ran in the simulated cluster/);
  });

  void test('a failing run writes its trace and exits 1', () => {
    const script = join(work, 'hangs.mjs');
    writeFileSync(
      script,
      `export default { name: 'hangs', bodies: { need: (_c, x) => x }, actors: {}, *driver(ctx) { const r = ctx.submit('need', [1], { resources: { GPU: 1 } }); return yield ctx.get(r); } };\n`,
    );
    const sim = tsray('sim', script, '-o', work, '--fault-phase-ms', '100');
    assert.equal(sim.status, 1);
    assert.match(sim.stdout, /seed 1: FAILED: liveness: .*waits in get/);
    assert.match(readFileSync(join(work, 'hangs-1.jsonl'), 'utf8'), /"kind":"tsray-trace"/);
    assert.match(sim.stdout, /reproduce: tsray sim .*hangs\.mjs --seed 1 --faults '\{\}'/);
    assert.match(sim.stdout, /debug: +tsray debug .*hangs-1\.jsonl/);
    // Under chaos the run fails too; --shrink finds that no fault is needed, and says so.
    const shrunk = tsray('sim', script, '-o', work, '--fault-phase-ms', '100', '--faults', 'chaos', '--shrink');
    assert.equal(shrunk.status, 1);
    assert.match(shrunk.stdout, /seed 1: shrunk the fault plan in \d+ runs: \{\}/);
    assert.match(shrunk.stdout, /reproduce: tsray sim .* --faults '\{\}'/);
  });

  void test('a failure that does not repeat when the run is recorded is named as nondeterminism', () => {
    // The module's own state changes between runs of the same seed: exactly what a real clock, real
    // randomness or I/O in a workload does.
    const script = join(work, 'leaky.mjs');
    writeFileSync(
      script,
      `let runs = 0;\nexport default { name: 'leaky', bodies: { need: (_c, x) => x }, actors: {}, *driver(ctx) { runs++; const r = ctx.submit('need', [1], runs === 1 ? { resources: { GPU: 1 } } : {}); return yield ctx.get(r); } };\n`,
    );
    const sim = tsray('sim', script, '--fault-phase-ms', '100');
    assert.equal(sim.status, 1);
    assert.match(sim.stderr, /^tsray: seed 1 failed with "liveness: .*" but run again it passed: the workload is not deterministic/);
    assert.equal(sim.stderr.trim().split('\n').length, 1);
  });

  void test('--nodes and --cpus shape the simulated cluster', () => {
    const script = join(work, 'pinned.mjs');
    writeFileSync(
      script,
      `export default { name: 'pinned', bodies: { where: (ctx) => ctx.nodeId }, actors: {}, *driver(ctx) { const r = ctx.submit('where', [], { numCpus: 4, schedulingStrategy: { nodeId: 'n2', soft: false } }); return yield ctx.get(r); } };\n`,
    );
    assert.match(tsray('sim', script, '--nodes', '2', '--cpus', '4').stdout, /seed 1: ok, .*result "n2"/);
    // One node: n2 is not in the cluster, so hard affinity to it fails (as Ray's); two nodes of 2 CPUs: n2 can never fit.
    assert.match(tsray('sim', script, '--nodes', '1', '--cpus', '4').stdout, /TaskUnschedulableError: .*hard node affinity to n2, which is not in the cluster/);
    assert.match(tsray('sim', script, '--nodes', '2').stdout, /TaskUnschedulableError: .*it lacks CPU \(needs 4, has 2\)/);
    const tooMany = tsray('sim', script, '--nodes', '1000');
    assert.equal(tooMany.status, 2);
    assert.match(tooMany.stderr, /--nodes takes at most 64 nodes, not 1000/);
  });
});

void describe('tsray CLI output', () => {
  void test('a reader that closes the pipe early ends the command quietly, with no stack', async () => {
    const child = spawn(process.execPath, [cli, '--help'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the command writes: its first write finds no reader (EPIPE).
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});

void describe('the package', () => {
  void test('imports from a plain .mjs script by its name, with the error classes of the contract', () => {
    const script = join(root, 'dist', 'import-check.mjs');
    writeFileSync(
      script,
      `import * as tsray from 'tsray';\nimport { simulate } from 'tsray/sim';\nconst e = new tsray.OwnerDiedError('gone', 'o1');\nconsole.log(JSON.stringify({ owner: e instanceof tsray.ObjectLostError && e instanceof tsray.TsrayError, name: e.name, objectId: e.objectId, sim: typeof simulate }));\n`,
    );
    const result = spawnSync(process.execPath, [script], { cwd: root, encoding: 'utf8' });
    rmSync(script);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { owner: true, name: 'OwnerDiedError', objectId: 'o1', sim: 'function' });
  });
});
