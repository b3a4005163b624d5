/**
 * `tsray sim SCRIPT` on ordinary scripts, as a user runs it: the bank example's bug found under
 * faults, its fault plan shrunk, its retry explained by `tsray why`, and the fix passing many seeds;
 * then the ways a script can fail and a nondeterministic script named by --check-determinism.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { whatIf, wholeTrace } from '../../../../node/cli/debug.js';
import { removeWhatIfTrace } from '../../../support/debugger-traces.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const cli = join(root, 'dist/node/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'tsray-sim-script-'));

function tsray(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Writes a script into the work folder (beside nothing: it imports tsray by its package name). */
function script(name: string, text: string): string {
  const path = join(root, 'test/fixtures/sim', name);
  writeFileSync(path, text);
  return path;
}

void describe('tsray sim SCRIPT', () => {
  const written: string[] = [];
  after(() => {
    rmSync(work, { recursive: true, force: true });
    for (const path of written) rmSync(path, { force: true });
  });

  void test('finds the bank example\'s double deposit, shrinks its plan, explains the retry, and the fix passes 200 seeds', async () => {
    const found = tsray(['sim', 'examples/sim/bank.mjs', '--runs', '40', '--faults', 'node-deaths', '-o', join(work, 'found')]);
    assert.equal(found.status, 1, found.stderr);
    const failing = /seed (\d+): FAILED: Error: the ledger holds (\d+), but the 24 payments add up to 516: a deposit was applied twice\n/.exec(found.stdout);
    assert.ok(failing, found.stdout);
    const seed = failing[1] ?? '';
    assert.ok(Number(failing[2]) > 516);
    assert.match(found.stdout, new RegExp(`  reproduce: tsray sim examples/sim/bank\\.mjs --seed ${seed} --faults '\\{.*\\}' --fault-phase-ms 1000 --nodes 3 --cpus 2\\n  debug:     tsray debug \\S+bank-${seed}\\.jsonl`));
    assert.match(found.stdout, /^40 runs, [1-9]\d* failed, \d+ faults injected, \d+ events; [\d.]+ s simulated in [\d.]+ s real/m);

    const shrunk = tsray(['sim', 'examples/sim/bank.mjs', '--seed', seed, '--faults', 'node-deaths', '--shrink', '-o', join(work, 'shrunk')]);
    assert.equal(shrunk.status, 1, shrunk.stderr);
    const plan = /seed \d+: shrunk the fault plan in \d+ runs[^:]*: (\{.*\})\n/.exec(shrunk.stdout);
    assert.ok(plan, shrunk.stdout);
    type Plan = { scheduled?: { kind: string }[] } & Record<string, unknown>;
    const original = JSON.parse(new RegExp(`--seed ${seed} --faults '(\\{.*?\\})'`).exec(found.stdout)?.[1] ?? '{}') as Plan;
    const shrunkPlan = JSON.parse(plan[1] ?? '{}') as Plan;
    // Smaller: fewer faults or fewer message faults, and a node death is still among them.
    const size = (candidate: Plan): number => (candidate.scheduled?.length ?? 0) + Object.keys(candidate).filter((key) => key !== 'scheduled').length;
    assert.ok(size(shrunkPlan) < size(original), `${plan[1] ?? ''} is not smaller than ${JSON.stringify(original)}`);
    assert.ok(shrunkPlan.scheduled?.some((fault) => fault.kind === 'node-death'), plan[1]);
    assert.match(shrunk.stdout, /FAILED: Error: the ledger holds \d+, but the 24 payments add up to 516/);

    // The shrunk trace replays, and `why` shows a payment that ran twice: once on the node that died.
    const trace = join(work, 'shrunk', `bank-${seed}.jsonl`);
    assert.equal(tsray(['replay', trace, '--verify']).status, 0);
    const retried = /"type":"task\/replied","attempt":2[^\n]*"taskId":"(n1\.d1\.t\d+)"/.exec(readFileSync(trace, 'utf8'))?.[1];
    assert.ok(retried !== undefined, 'a payment task was retried');
    const why = tsray(['why', trace, retried]);
    assert.equal(why.status, 0, why.stderr);
    assert.match(why.stdout, /^task n1\.d1\.t\d+ \(pay\): 2 attempts/);
    assert.match(why.stdout, /attempt 1 on worker n[23]\.w\d+ \(node n[23]\), pushed at seq \d+: its node n[23] died/);
    assert.match(why.stdout, /root \(injected fault\): injected: node n[23] died/);
    // The debugger's counterfactual runs the script again without a fault: a shrunk plan needs each
    // of its faults, so the failure is gone.
    const counterfactual = await whatIf(wholeTrace(trace, statSync(trace).size), trace, 'drop 0');
    assert.equal(counterfactual[0], 'the failure is gone: this change avoids it');
    assert.match(counterfactual.join('\n'), /changed plan: \{.*\}\nthe changed run's trace: \S+bank-\d+\.jsonl/);
    removeWhatIfTrace(counterfactual.join('\n'));

    const fixed = tsray(['sim', 'examples/sim/bank.mjs', '--runs', '200', '--faults', 'node-deaths'], { BANK_FIXED: '1' });
    assert.equal(fixed.status, 0, fixed.stdout);
    assert.match(fixed.stdout, /^200 runs, 0 failed, [1-9]\d* faults injected/m);
  });

  void test('a script gets its own argv, its unhandled rejection fails the run, and its output is shown for failing runs only', () => {
    const path = script(
      'argv-and-rejection.mjs',
      [
        "import * as tsray from 'tsray';",
        'await tsray.init();',
        "console.log('args', process.argv.slice(2).join(','));",
        "if (process.argv[2] === 'reject') void Promise.reject(new Error('nobody catches this'));",
        'await tsray.get(tsray.put(1));',
      ].join('\n'),
    );
    written.push(path);
    const passing = tsray(['sim', path, '--', 'hello', 'world']);
    assert.equal(passing.status, 0, passing.stdout);
    assert.doesNotMatch(passing.stdout, /args hello/);
    // Its failing run's trace goes to the test's own folder, not the default one in the temp dir.
    const failing = tsray(['sim', path, '-o', join(work, 'rejection'), '--', 'reject']);
    assert.equal(failing.status, 1);
    assert.match(failing.stdout, /seed 1: FAILED: Error: the script left an unhandled rejection: Error: nobody catches this at \d+ ms after \d+ events \(seed 1\)\n {2}the script printed:\n {4}args reject\n/);
    assert.match(failing.stdout, /reproduce: tsray sim \S+argv-and-rejection\.mjs --seed 1 .* -- reject\n/);
  });

  void test('--check-determinism names the first difference of a script that reads real randomness', () => {
    const path = script(
      'real-randomness.mjs',
      ["import { randomUUID } from 'node:crypto';", "import * as tsray from 'tsray';", 'await tsray.init();', 'await tsray.get(tsray.remote((id) => id.length).remote(randomUUID()));'].join('\n'),
    );
    written.push(path);
    const checked = tsray(['sim', path, '--runs', '2', '--check-determinism']);
    assert.equal(checked.status, 1);
    assert.match(checked.stdout, /seed 1: NOT DETERMINISTIC: two runs of the same seed and plan differ first at line \d+:\n {4}first run: {2}\{"seq":\d+,.*"task\/submitted".*\n {4}second run: \{"seq"/);
    const steady = tsray(['sim', 'examples/parameter-server.mjs', '--runs', '2', '--faults', 'chaos', '--check-determinism']);
    assert.equal(steady.status, 0, steady.stdout);
  });

  void test('--help says how to run a script', () => {
    const help = tsray(['sim', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: tsray sim SCRIPT \[options\] \[-- ARGS\]\n/);
    assert.match(help.stdout, /--check-determinism +run each seed twice/);
  });

  void test('progress is shown on long runs', () => {
    const run = tsray(['sim', 'examples/pi.mjs', '--runs', '3', '--', '2000'], { TSRAY_PROGRESS_EVERY_MS: '0' });
    assert.equal(run.status, 0, run.stdout);
    assert.match(run.stderr, /^… 1\/3 runs, 0 failed, [\d.]+ s\n… 2\/3 runs, 0 failed, [\d.]+ s\n$/);
  });
});
