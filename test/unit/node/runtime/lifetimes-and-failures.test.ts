/**
 * Actor lifetimes and failure semantics on the real runtime: detached actors outlive the worker that
 * made them while owned ones die with it; maxTaskRetries re-runs a call across a restart (and without
 * it the call fails with ActorUnavailableError); ActorDiedError says why; a failed object fails the
 * tasks that depend on it; hard affinity that can never fit is TaskUnschedulableError.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';
import { eventually } from '../../../support/eventually.js';

class Box {
  value = 0;
  set(value: number): number {
    this.value = value;
    return value;
  }
  read(): number {
    return this.value;
  }
}

class Tally {
  count = 0;
  bump(): number {
    this.count += 1;
    return this.count;
  }
}

class Flaky {
  /** Crashes its process on the first attempt the tally sees, then answers. */
  async call(tally: tsray.ActorHandle<Tally>): Promise<number> {
    const attempt = await tsray.get(tally.bump.remote());
    if (attempt === 1) process.exit(1);
    return attempt;
  }
}

void describe('lifetimes and failures', () => {
  useEmbeddedCluster('lifetimes');

  void test('a detached actor outlives the worker that created it; an owned one dies with it', async () => {
    const BoxActor = tsray.remote(Box);
    const makesAndDies = tsray.remote(
      async (actorClass: tsray.ActorClass<Box>) => {
        const owned = actorClass.options({ name: 'owned-by-task' }).remote();
        const detached = actorClass.options({ name: 'detached-one', lifetime: 'detached' }).remote();
        await tsray.get([owned.set.remote(1), detached.set.remote(2)]);
        process.exit(0);
      },
      { maxRetries: 0 },
    );
    await assert.rejects(tsray.get(makesAndDies.remote(BoxActor)), tsray.WorkerCrashedError);
    const detached = (await tsray.getActor('detached-one')) as tsray.ActorHandle<Box>;
    assert.equal(await tsray.get(detached.read.remote()), 2, 'the detached actor kept its state');
    const ownedState = await eventually(
      async () => (await tsray.state.listActors()).find((actor) => actor.name === 'owned-by-task')?.state,
      (state) => state === 'DEAD',
    );
    assert.equal(ownedState, 'DEAD', 'the owned actor died with its owner');
    await assert.rejects(tsray.getActor('owned-by-task'), /no live actor named 'owned-by-task'/);
    tsray.kill(detached);
  });

  void test('maxTaskRetries re-runs a call across a restart; without it the call fails with ActorUnavailableError', async () => {
    const TallyActor = tsray.remote(Tally);
    const retried = tsray.remote(Flaky, { maxRestarts: 1, maxTaskRetries: 1 }).remote();
    const tally = TallyActor.remote();
    assert.equal(await tsray.get(retried.call.remote(tally)), 2, 'the second attempt ran on the restarted actor, with a handle passed to it');
    const notRetried = tsray.remote(Flaky, { maxRestarts: 1 }).remote();
    const freshTally = TallyActor.remote();
    await assert.rejects(tsray.get(notRetried.call.remote(freshTally)), (error: unknown) => error instanceof tsray.ActorUnavailableError && /calls run at most once \(maxTaskRetries 0\); set maxTaskRetries/.test(error.message));
    assert.equal(await tsray.get(notRetried.call.remote(freshTally)), 2, 'the restarted actor serves the next call');
  });

  void test('a call whose retries are spent says so, and is not told to set the maxTaskRetries it set', async () => {
    class Crasher {
      crash(): never {
        process.exit(7);
      }
    }
    const crasher = tsray.remote(Crasher, { maxRestarts: 2, maxTaskRetries: 1 }).remote();
    await assert.rejects(tsray.get(crasher.crash.remote()), (error: unknown) => {
      assert.ok(error instanceof tsray.ActorUnavailableError, String(error));
      assert.match(error.message, /call crash cannot be retried: the actor died during each of its 2 runs \(maxTaskRetries 1\)$/);
      return true;
    });
  });

  void test("a call on an actor whose creator died before registering it fails at once, saying so, instead of waiting for ever", async () => {
    // The task's actor waits for its constructor's argument, so it is not registered yet when the
    // task hands its handle back and its worker ends.
    const BoxFrom = tsray.remote(Box);
    const slowValue = tsray.remote(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return 1;
    });
    const makesAndDies = tsray.remote(
      (actorClass: tsray.ActorClass<Box>, slow: typeof slowValue) => {
        const handle = actorClass.options({ lifetime: 'detached' }).remote(slow.remote());
        setTimeout(() => process.exit(1), 100);
        return [handle];
      },
      { maxRetries: 0 },
    );
    const [handle] = await tsray.get(makesAndDies.remote(BoxFrom, slowValue));
    assert.ok(handle !== undefined);
    await eventually(
      async () => (await tsray.state.listTasks()).some((task) => task.state === 'FAILED' || task.state === 'FINISHED'),
      (ended) => ended,
    );
    await assert.rejects(tsray.get(handle.read.remote(), { timeout: 20_000 }), (error: unknown) => {
      assert.ok(error instanceof tsray.ActorDiedError, String(error));
      assert.match(error.message, /is not known to the GCS: its creator \S+ died before registering it/);
      return true;
    });
  });

  void test('ActorDiedError says whether the actor was killed or its constructor threw', async () => {
    const killed = tsray.remote(Box).remote();
    await tsray.get(killed.set.remote(1));
    tsray.kill(killed);
    await assert.rejects(tsray.get(killed.read.remote()), (error: unknown) => error instanceof tsray.ActorDiedError && error.cause instanceof Error && /killed via tsray\.kill/.test(error.cause.message));
    class Broken {
      constructor() {
        throw new Error('no config');
      }
      read(): number {
        return 1;
      }
    }
    const broken = tsray.remote(Broken).remote();
    await assert.rejects(tsray.get(broken.read.remote()), (error: unknown) => error instanceof tsray.ActorDiedError && error.cause instanceof Error && /no config/.test(error.cause.message));
  });

  void test('a task that depends on a failed object fails with the same error; RayTaskError names the task and node', async () => {
    const fails = tsray.remote(function failsOnPurpose(): number {
      throw new TypeError('upstream broke');
    });
    const plusOne = tsray.remote((x: number) => x + 1);
    const upstream = fails.remote();
    const downstream = plusOne.remote(upstream);
    const error = await tsray.get(downstream).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof tsray.RayTaskError, 'the downstream task fails with the upstream error');
    assert.equal(error.taskName, 'failsOnPurpose');
    assert.equal(error.nodeId, 'n1');
    assert.ok(error.cause instanceof Error && error.cause.name === 'TypeError' && /upstream broke/.test(error.cause.message));
  });

  void test('hard node affinity that can never fit the task is TaskUnschedulableError', async () => {
    const big = tsray.remote(() => 1, { numCpus: 64, schedulingStrategy: { nodeId: 'n1', soft: false } });
    await assert.rejects(tsray.get(big.remote(), { timeout: 10_000 }), tsray.TaskUnschedulableError);
  });
});
