/**
 * Where an actor's resources decide its placement on the real runtime, as Ray places actors: one that
 * names no resources needs a CPU free to be placed (and then holds none), one created with
 * `numCpus: 0` or only custom resources needs exactly those, so it starts while every CPU is busy.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';

class Pinger {
  ping(): string {
    return 'pong';
  }
}

/**
 * Holds the one CPU: writes `started`, then waits (async, so the worker stays responsive) until the
 * driver writes `release`, or 30 s pass. A file is the gate because a task's arguments are copies.
 */
const holdCpu = tsray.remote(async (started: string, release: string) => {
  const { existsSync, writeFileSync } = await import('node:fs');
  writeFileSync(started, '');
  for (let waitedMs = 0; waitedMs < 30_000 && !existsSync(release); waitedMs += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  return existsSync(release);
});

/** Long enough for any placement on an idle local cluster. */
const timeout = 20_000;

void describe('actor placement by resources', () => {
  useEmbeddedCluster('actor-placement', { numCpus: 1, resources: { side: 2 } });

  void test('with the only CPU busy, numCpus: 0 and custom-resource actors start; a default actor waits for the CPU', async () => {
    const gate = mkdtempSync(join(tmpdir(), 'tsray-actor-placement-gate-'));
    const started = join(gate, 'started');
    const release = join(gate, 'release');
    try {
      const held = holdCpu.remote(started, release);
      for (let waitedMs = 0; !existsSync(started); waitedMs += 20) {
        assert.ok(waitedMs < timeout, 'the CPU-holding task started');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }

      const Actor = tsray.remote(Pinger);
      const zero = Actor.options({ numCpus: 0 }).remote();
      const custom = Actor.options({ resources: { side: 1 } }).remote();
      const plain = Actor.remote();
      assert.equal(await tsray.get(zero.ping.remote(), { timeout }), 'pong');
      assert.equal(await tsray.get(custom.ping.remote(), { timeout }), 'pong');
      const plainRef = plain.ping.remote();
      const [plainReady] = await tsray.wait([plainRef], { timeout: 500 });
      assert.equal(plainReady.length, 0, 'a default actor needs a free CPU to be placed');

      writeFileSync(release, '');
      assert.equal(await tsray.get(held, { timeout }), true);
      assert.equal(await tsray.get(plainRef, { timeout }), 'pong');
    } finally {
      // Free the CPU even when an assertion failed, so the cluster shuts down without waiting on the task.
      writeFileSync(release, '');
      rmSync(gate, { recursive: true, force: true });
    }
  });
});
