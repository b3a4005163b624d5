/**
 * The object store's spill space: puts and task returns that do not fit in a small store (8 MiB) go
 * to files under the session dir instead of failing, every reader gets them back intact as private
 * copies (the driver, a task's argument, an actor call's argument, a nested ref), freeing them
 * deletes their files, and only a put that fits in neither fails, naming both limits.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { collectGarbage } from '../../../../node/runtime/collect.js';
import { spillBytesVariable } from '../../../../node/store/spill-space.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';

const mib = 1024 * 1024;
const storeBytes = 8 * mib;
const valueBytes = 4 * mib;
/** Room for ten values of 4 MiB and a little more, not for fourteen. */
const spillBytes = 46 * mib;

/** A 4 MiB array whose every element says which value it is. */
function valueOf(index: number): Float64Array {
  return new Float64Array(valueBytes / 8).fill(index + 0.5);
}

/** Whether `array` is value `index`, whole. */
function isValue(array: unknown, index: number): boolean {
  return array instanceof Float64Array && array.length === valueBytes / 8 && array.every((element) => element === index + 0.5);
}

/** Waits until `check` holds, collecting garbage between tries; whether it did within `timeoutMs`. */
async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

let previous: string | undefined;
before(() => {
  previous = process.env[spillBytesVariable];
  process.env[spillBytesVariable] = String(spillBytes);
});
after(() => {
  if (previous === undefined) delete process.env[spillBytesVariable];
  else process.env[spillBytesVariable] = previous;
});
const sessionDir = useEmbeddedCluster('spill', { objectStoreMemory: storeBytes });
const spillFolder = join(sessionDir, 'spill', 'n1');

/** The spill files there are now. */
function spillFiles(): string[] {
  return existsSync(spillFolder) ? readdirSync(spillFolder) : [];
}

/**
 * Reads the values of `refs` (value i at index i) in a task, in a task through a nested ref and in an
 * actor call, and checks that a get of a spilled value is private and writable. A function of its own,
 * so that none of the refs it took stays reachable from the test once it returns.
 */
async function readEverywhere(refs: readonly tsray.ObjectRef<Float64Array>[]): Promise<void> {
  // Each get waits for its put to land, and reads it from memory or from its file.
  for (const [index, ref] of refs.entries()) assert.ok(isValue(await tsray.get(ref), index), `value ${index} in the driver`);
  assert.ok(spillFiles().length >= 8, `at most one value fits in memory beside the others; spill files: ${spillFiles().length}`);
    // The values on disk, by their files' names; the others are in the store's memory, which no test may write.
    const spilled = refs.map((ref, index) => ({ ref, index })).filter(({ ref }) => spillFiles().includes(`${encodeURIComponent(ref.id)}.spill`));
    assert.equal(spilled.length, spillFiles().length);
    const [one, two] = spilled.slice(-2);
    assert.ok(one !== undefined && two !== undefined);
    // A get gives a private, writable copy: writing it changes no later get.
    const first = await tsray.get(two.ref);
    first.fill(-1);
    assert.ok(isValue(await tsray.get(two.ref), two.index), 'a write to one get does not reach the next');

    // A task's argument, a nested ref read in a task, and an actor call's argument.
    const check = tsray.remote((array: Float64Array, index: number) => array.length === (4 * 1024 * 1024) / 8 && array.every((element) => element === index + 0.5));
    const checkNested = tsray.remote(async (holder: { ref: tsray.ObjectRef }, index: number) => {
      const array = (await tsray.get(holder.ref)) as Float64Array;
      array[0] = -1;
      const again = (await tsray.get(holder.ref)) as Float64Array;
      return again.every((element) => element === index + 0.5);
    });
    const results = await tsray.get(refs.map((ref, index) => check.remote(ref, index)));
    assert.deepEqual(results, refs.map(() => true), 'every value reads back intact as a task argument');
    assert.deepEqual(await tsray.get([checkNested.remote({ ref: one.ref }, one.index), checkNested.remote({ ref: two.ref }, two.index)]), [true, true], 'nested refs, read in a task');
    class Checker {
      sum(array: Float64Array): number {
        let total = 0;
        for (const element of array) total += element;
        return total;
      }
    }
    const checker = tsray.remote(Checker).remote();
    assert.equal(await tsray.get(checker.sum.remote(one.ref)), (one.index + 0.5) * (valueBytes / 8), "an actor call's argument");
    tsray.kill(checker);

}

void describe('the spill space', () => {
  void test('ten 4 MiB puts into an 8 MiB store all land, most on disk, and read back intact everywhere', async () => {
    let refs: tsray.ObjectRef<Float64Array>[] = [];
    for (let index = 0; index < 10; index += 1) refs.push(tsray.put(valueOf(index)));

    await readEverywhere(refs);

    // Freed: the owner lets go of them, and their files go.
    assert.ok(spillFiles().length > 0);
    refs = [];
    assert.ok(await eventually(() => spillFiles().length === 0), `the spill files of freed objects are deleted; left: ${spillFiles().join(', ')}`);
    assert.equal(refs.length, 0);
  });

  void test('a large task return that does not fit in memory is spilled, and read back', async () => {
    assert.ok(await eventually(() => spillFiles().length === 0));
    const held = [tsray.put(valueOf(0))];
    const make = tsray.remote((index: number) => new Float64Array((4 * 1024 * 1024) / 8).fill(index + 0.5));
    const returned = [make.remote(1), make.remote(2), make.remote(3)];
    for (const [offset, ref] of returned.entries()) assert.ok(isValue(await tsray.get(ref), offset + 1), `return ${offset + 1}`);
    assert.ok(spillFiles().length >= 2, `returns past the store's room are spilled; files: ${spillFiles().length}`);
    assert.ok(isValue(await tsray.get(held[0] as tsray.ObjectRef), 0));
  });

  void test('a put that fits neither in the store nor in the spill space fails, naming both limits', async () => {
    // The objects of the tests before are freed first (their refs are gone), so that only these count.
    assert.ok(await eventually(() => spillFiles().length === 0));
    const refs: tsray.ObjectRef[] = [];
    for (let index = 0; index < 14; index += 1) refs.push(tsray.put(valueOf(index)));
    const outcomes = await Promise.allSettled(refs.map((ref) => tsray.get(ref)));
    const failed = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    assert.ok(failed.length >= 1 && failed.length <= 4, `some of 14 puts do not fit in 8 MiB of memory and 46 MiB of disk: ${failed.length} failed`);
    for (const { reason } of failed) {
      assert.ok(reason instanceof tsray.ObjectStoreFullError, String(reason));
      assert.match(reason.message, /8388608 bytes \(objectStoreMemory\)/);
      assert.match(reason.message, /spill space on disk \d+ of 48234496 bytes/);
      assert.match(reason.message, /raise objectStoreMemory/);
    }
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') assert.ok(isValue(outcome.value, index), `value ${index}`);
    });
  });

  void test('a value larger than the whole store, but not the spill space, is put and read back', async () => {
    const big = new Uint8Array(12 * mib).fill(7);
    const ref = tsray.put(big);
    const back = (await tsray.get(ref)) as Uint8Array;
    assert.equal(back.length, 12 * mib);
    assert.ok(back.every((byte) => byte === 7));
    // Larger than both: at the call, naming both.
    assert.throws(
      () => tsray.put(new Uint8Array(60 * mib)),
      (error: unknown) => error instanceof tsray.ObjectStoreFullError && /objectStoreMemory/.test(error.message) && /spill space on disk of 48234496 bytes/.test(error.message),
    );
  });
});
