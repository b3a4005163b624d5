/**
 * The owner's config as `mergedConfig` builds it: what a spread of its parts gives, keys in the same
 * order, and (in a child with V8's natives syntax, since only V8 tells an object's hidden class) one
 * hidden class for every config a run of `owner/pipeline-depth-set` events makes, where spread copies
 * changed class as the code making them was compiled.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { mergedConfig } from '../../../core/owner/config.js';
import { defaultOwnerConfig } from '../../../core/owner/index.js';
import type { OwnerConfig } from '../../../core/owner/index.js';

void test('mergedConfig gives what a spread of its parts gives: the same keys, in the same order, with the same values', () => {
  const started = { ...defaultOwnerConfig, leaseIdleMs: 50, maxTasksInFlightPerLease: 1 };
  const cases: [OwnerConfig, Partial<OwnerConfig>][] = [
    [defaultOwnerConfig, started],
    [{ ...defaultOwnerConfig, ...started }, { maxTasksInFlightPerLease: 4 }],
    [defaultOwnerConfig, {}],
    [defaultOwnerConfig, { inlineThresholdBytes: 10, maxTasksInFlightPerLease: undefined }],
  ];
  for (const [base, changes] of cases) {
    const merged = mergedConfig(base, changes);
    const spread = { ...base, ...changes };
    assert.deepEqual(merged, spread);
    assert.deepEqual(Object.keys(merged), Object.keys(spread));
    assert.notEqual(merged, base, 'a new record: configs may be shared between states');
  }
});

void test('every config a run of pipeline depths makes has the hidden class of the one before it; spread copies did not', () => {
  const ownerModule = new URL('../../../core/owner/index.js', import.meta.url).href;
  const script = `
    const { ownerCore, defaultOwnerConfig } = await import(${JSON.stringify(ownerModule)});
    const state = ownerCore.initial();
    ownerCore.apply(state, { type: 'owner/started', workerId: 'n1.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: { ...defaultOwnerConfig, leaseIdleMs: 50, maxTasksInFlightPerLease: 1 } });
    ownerCore.apply(state, { type: 'job/registration-replied', jobId: 'j1', via: { from: 'gcs', incarnation: 0, seq: 1 } });
    // Enough depths for the code that makes configs to be compiled, as a long burst's are.
    const depths = 20000;
    let changed = 0;
    let previous = state.config;
    for (let index = 0; index < depths; index += 1) {
      ownerCore.apply(state, { type: 'owner/pipeline-depth-set', depth: 1 << (1 + (index % 4)) });
      if (!%HaveSameMap(previous, state.config)) changed += 1;
      previous = state.config;
    }
    // The same configs as spread copies, as the owner made them before.
    let spreadChanged = 0;
    let config = { ...defaultOwnerConfig, leaseIdleMs: 50, maxTasksInFlightPerLease: 1 };
    for (let index = 0; index < depths; index += 1) {
      const next = { ...config, maxTasksInFlightPerLease: 1 << (1 + (index % 4)) };
      if (!%HaveSameMap(config, next)) spreadChanged += 1;
      config = next;
    }
    console.log(JSON.stringify({ changed, spreadChanged, depth: state.config.maxTasksInFlightPerLease, keys: Object.keys(state.config) }));
  `;
  const result = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const { changed, spreadChanged, depth, keys } = JSON.parse(result.stdout) as { changed: number; spreadChanged: number; depth: number; keys: string[] };
  assert.equal(changed, 0, `the config changed hidden class ${changed} times`);
  assert.equal(depth, 16, 'the last depth set holds');
  assert.deepEqual(keys, [...Object.keys(defaultOwnerConfig), 'maxTasksInFlightPerLease']);
  // What mergedConfig is for: spread copies changed class as they were compiled.
  assert.ok(spreadChanged > 0, 'spread copies kept one hidden class: V8 no longer needs mergedConfig');
});
