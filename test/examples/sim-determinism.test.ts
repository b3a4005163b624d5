/**
 * The examples, unchanged, in the simulator: for 20 seeds each under chaos faults, two runs of the
 * same seed and plan give byte-identical traces. An example that reaches real randomness (a temp
 * folder's random name) is named by the first line where its runs differ.
 */
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { firstDifference } from '../../node/cli/sim-script.js';
import { faultPlanOf } from '../../node/cli/sim.js';
import { simulate } from '../../node/sim/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const seeds = 20;

const examples: { readonly file: string; readonly argv?: readonly string[] }[] = [
  { file: 'examples/fault-demo.mjs' },
  { file: 'examples/parameter-server.mjs' },
  { file: 'examples/pi.mjs', argv: ['20000'] },
  { file: 'examples/word-count.mjs', argv: ['README.md', 'examples/word-count.mjs'] },
  { file: 'examples/sim/bank.mjs' },
];

for (const example of examples) {
  void test(`${example.file}: ${seeds} seeds under chaos, each run twice, give identical traces`, async () => {
    for (let seed = 1; seed <= seeds; seed++) {
      const options = { seed, faults: faultPlanOf('chaos', seed, 1000), captureOutput: true, argv: example.argv ?? [] };
      const first = await simulate(join(root, example.file), options);
      const second = await simulate(join(root, example.file), options);
      const difference = firstDifference(first.trace, second.trace);
      assert.equal(difference, undefined, `seed ${seed}: ${difference ?? ''}`);
      assert.ok(first.events > 0);
      assert.equal(first.ok, second.ok);
      assert.deepEqual(first.output, second.output);
    }
  });
}

void test('word-count.mjs without files writes samples into a temp folder of random name: the runs differ there, and that is named', async () => {
  const first = await simulate(join(root, 'examples/word-count.mjs'), { seed: 1, captureOutput: true });
  const second = await simulate(join(root, 'examples/word-count.mjs'), { seed: 1, captureOutput: true });
  const difference = firstDifference(first.trace, second.trace);
  assert.ok(difference !== undefined);
  assert.match(difference, /tsray-word-count-/);
});
