/**
 * The store recovers after an overflow: puts whose refs are dropped while they still wait for room
 * (the store collects garbage before it gives up on them) used to stay in the store for good once
 * they got in, so every later put failed with ObjectStoreFullError.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';

const storeBytes = 64 * 1024 * 1024;
const valueBytes = 200 * 1024;

useEmbeddedCluster('store-recovery', { objectStoreMemory: storeBytes });

/** Puts a fresh value and reads it back; the error if it does not fit. */
async function putAndGet(fill: number): Promise<Error | undefined> {
  try {
    const value = await tsray.get(tsray.put(new Uint8Array(valueBytes).fill(fill)), { timeout: 5_000 });
    assert.equal(value[0], fill);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

void test('after 400 puts of 200 KiB overflow a 64 MiB store with no refs kept, puts fit again', async () => {
  // 80 MB of puts into 64 MiB: the later ones wait for collections, during which their refs go.
  for (let index = 0; index < 400; index += 1) tsray.put(new Uint8Array(valueBytes).fill(index % 256));
  let failure = await putAndGet(1);
  for (let tries = 0; tries < 40 && failure !== undefined; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    failure = await putAndGet(2);
  }
  assert.equal(failure, undefined, `the store never recovered: ${failure?.message ?? ''}`);
  // And it keeps working: another full store's worth fits, 50 at a time.
  for (let round = 0; round < 8; round += 1) {
    const refs = Array.from({ length: 50 }, (_, index) => tsray.put(new Uint8Array(valueBytes).fill(index)));
    const values = await tsray.get(refs, { timeout: 10_000 });
    assert.equal(values.length, 50);
  }
});
