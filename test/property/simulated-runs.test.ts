import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LastFailure } from '../support/property-harness.js';
import { assertProperty, keepingTraces, numRuns, propertySeed } from '../support/property-harness.js';
import type { RunSample } from '../support/property-run.js';
import { checkRun, describeSample, runSampleArbitrary } from '../support/property-run.js';

void describe('simulated runs', () => {
  void it('complete, keep every invariant, and give what the reference allows under their faults', () => {
    const last: LastFailure = {};
    const check = keepingTraces(
      `simulated-runs-${propertySeed()}`,
      describeSample,
      (sample: RunSample) => {
        checkRun(sample);
      },
      last,
    );
    assertProperty('simulated runs', fc.property(runSampleArbitrary(), check), numRuns(10_000), last);
  });
});
