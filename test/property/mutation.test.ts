import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mutants } from '../support/mutants.js';
import { propertySeed } from '../support/property-harness.js';
import type { RunOptions, RunSample } from '../support/property-run.js';
import { PropertyFailure, checkRun, runSampleArbitrary } from '../support/property-run.js';

/** The bound on runs a mutant may survive; each is expected to fail long before. */
const maxRuns = 300;

/** The property of `simulated-runs.test.ts`, on the given cores. */
const property = (options: RunOptions): fc.IProperty<[RunSample]> =>
  fc.property(runSampleArbitrary(), (sample) => {
    checkRun(sample, options);
  });

void describe('mutation', () => {
  for (const mutant of mutants) {
    void it(`the property suite catches ${mutant.name}`, () => {
      const seed = propertySeed();
      console.log('property seed', seed);
      const broken = fc.check(property({ cores: { owner: mutant.owner } }), { seed, numRuns: maxRuns, endOnFailure: true });
      assert.equal(broken.failed, true, `the mutant survived ${maxRuns} runs`);
      const error = broken.errorInstance;
      const check = error instanceof PropertyFailure ? error.check : 'an exception outside the checks';
      const message = error instanceof Error ? error.message : String(error);
      // Most runs go unrecorded; a failing one is run again recorded, so its failure carries its trace.
      if (error instanceof PropertyFailure) assert.match(error.traceText.split('\n')[0] ?? '', /^\{"kind":"tsray-trace"/, 'the failure carries the recorded trace');
      console.log(`mutant "${mutant.name}": caught by the ${check} check after ${broken.numRuns} runs: ${message.slice(0, 240)}`);
      // The same seed and runs pass on the real core, so it is the mutation that was caught.
      const real = fc.check(property({}), { seed, numRuns: broken.numRuns });
      assert.equal(real.failed, false, `the real core fails the same runs: ${real.errorInstance instanceof Error ? real.errorInstance.message : ''}`);
    });
  }
});
