/**
 * What a task's error carries back (fields, cause chains, aggregate errors) and what becomes of a
 * task's stray errors (unhandled rejections, throws in callbacks), on the real runtime.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { BrokenConfigActor, readMissing, throwsAggregate, throwsChain } from '../../../support/error-remotes.js';

/** The error `promise` rejects with (failing when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, 'rejects with an Error');
    return error;
  }
  assert.fail('expected a rejection');
}

/** A counter actor: counts each run of a body, so a retried body shows up. */
class Counter {
  counts: Record<string, number> = {};
  bump(key: string): number {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    return this.counts[key];
  }
  count(key: string): number {
    return this.counts[key] ?? 0;
  }
}

void describe('task errors', () => {
  const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-task-errors-'));
  let stderrText = '';
  const realWrite = process.stderr.write.bind(process.stderr);
  before(async () => {
    // Worker threads pipe their stderr into this process's: capture what reaches it.
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      stderrText += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return realWrite(chunk, ...rest);
    });
    await tsray.init({ numCpus: 2, sessionDir });
  });
  after(async () => {
    process.stderr.write = realWrite;
    await tsray.shutdown();
    rmSync(sessionDir, { recursive: true, force: true });
  });

  /** Waits (up to 10 s) for a stderr line that matches `pattern`, and returns it. */
  async function stderrLine(pattern: RegExp): Promise<string> {
    for (let tries = 0; tries < 400; tries += 1) {
      const line = stderrText.split('\n').find((text) => pattern.test(text));
      if (line !== undefined) return line;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.fail(`no stderr line matched ${pattern}; stderr was:\n${stderrText}`);
  }

  void test('a system error keeps its code, errno, syscall and path', async () => {
    const path = join(sessionDir, 'no-such-file.txt');
    const error = await rejection(tsray.get(readMissing.remote(path)));
    assert.ok(error instanceof tsray.RayTaskError);
    const cause = error.cause as Error & Record<string, unknown>;
    assert.ok(cause instanceof Error);
    assert.match(cause.message, /ENOENT/);
    assert.equal(cause['code'], 'ENOENT');
    assert.equal(typeof cause['errno'], 'number');
    assert.equal(cause['syscall'], 'open');
    assert.equal(cause['path'], path);
  });

  void test('a custom error keeps its fields and its cause chain; what JSON cannot hold is converted or dropped', async () => {
    const error = await rejection(tsray.get(throwsChain.remote()));
    assert.ok(error instanceof tsray.RayTaskError);
    const outer = error.cause as Error & Record<string, unknown>;
    assert.equal(outer.message, 'outer');
    const inner = outer.cause as Error & Record<string, unknown>;
    assert.ok(inner instanceof Error, 'the cause of the cause is an error');
    assert.equal(inner.name, 'MyError');
    assert.equal(inner.message, 'inner');
    assert.equal(inner['code'], 'E_MINE');
    assert.deepEqual(inner['detail'], { a: 1 });
    assert.equal(inner['big'], '12', 'a bigint field comes back as its decimal string');
    assert.equal(inner['callback'], undefined, 'a function field is dropped');
    assert.match(inner.stack ?? '', /MyError: inner/);
    assert.equal(inner.cause, 'the root, as a string', 'a cause that is no error comes back as it was');
    assert.ok(!Object.keys(inner).includes('cause'), 'cause stays non-enumerable, as Error makes it');
  });

  void test("an AggregateError keeps its errors, with their fields", async () => {
    const error = await rejection(tsray.get(throwsAggregate.remote(join(sessionDir, 'absent'))));
    const aggregate = error.cause as Error & { errors?: (Error & Record<string, unknown>)[] };
    assert.equal(aggregate.name, 'AggregateError');
    assert.equal(aggregate.errors?.length, 2);
    assert.equal(aggregate.errors[0]?.['code'], 'E_MINE');
    assert.equal(aggregate.errors[1]?.['code'], 'ENOENT');
  });

  void test('a stray rejection after the body returned is reported against the task; the task ran once and its worker lives on', async () => {
    const counter = tsray.remote(Counter).remote();
    const leaves = tsray.remote(
      async function leavesStray(box: { counter: tsray.ActorHandle<Counter> }): Promise<string> {
        await tsray.get(box.counter.bump.remote('leavesStray'));
        void Promise.reject(new Error('stray after return'));
        return 'returned fine';
      },
      { name: 'leaves-stray' },
    );
    const ref = leaves.remote({ counter });
    assert.equal(await tsray.get(ref), 'returned fine');
    const line = await stderrLine(/stray after return/);
    const [task] = await tsray.state.listTasks({ name: 'leaves-stray' });
    assert.equal(task?.state, 'FINISHED');
    assert.equal(task.attempt, 1, 'the task was not retried');
    assert.equal(await tsray.get(counter.count.remote('leavesStray')), 1, 'the body ran once');
    assert.ok(line.startsWith(`tsray: task leaves-stray (${task.taskId}) left an unhandled rejection after it returned: Error: stray after return (at `), line);

    // An actor keeps its worker, and so its state, through a stray rejection of one of its calls.
    class Keeper {
      calls = 0;
      strays(): number {
        this.calls += 1;
        void Promise.reject(new Error('stray from an actor'));
        return this.calls;
      }
    }
    const keeper = tsray.remote(Keeper).remote();
    assert.equal(await tsray.get(keeper.strays.remote()), 1);
    await stderrLine(/stray from an actor/);
    assert.equal(await tsray.get(keeper.strays.remote()), 2, 'the actor kept its worker and its state');
  });

  void test('a stray rejection or a throw in a callback while the body runs fails the task with it as the cause, once', async () => {
    const counter = tsray.remote(Counter).remote();
    const rejectsWhileRunning = tsray.remote(async (box: { counter: tsray.ActorHandle<Counter> }) => {
      await tsray.get(box.counter.bump.remote('rejects'));
      void Promise.reject(new Error('stray while running'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      void Promise.reject(new Error('second stray'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      return 'late';
    }, { name: 'rejects-while-running' });
    const rejected = await rejection(tsray.get(rejectsWhileRunning.remote({ counter })));
    assert.ok(rejected instanceof tsray.RayTaskError, `a RayTaskError, not ${rejected.name}: ${rejected.message}`);
    assert.ok(rejected.cause instanceof Error);
    assert.equal(rejected.cause.message, 'stray while running');
    // The body runs on (JavaScript cannot stop it); a later stray of it is reported, not lost.
    assert.match(await stderrLine(/second stray/), /^tsray: task rejects-while-running \(\S+\) left an unhandled rejection after it had failed: Error: second stray/);

    const throwsInTimer = tsray.remote(async (box: { counter: tsray.ActorHandle<Counter> }) => {
      await tsray.get(box.counter.bump.remote('throws'));
      setTimeout(() => {
        throw new TypeError('timer threw');
      }, 10);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return 'late';
    });
    const thrown = await rejection(tsray.get(throwsInTimer.remote({ counter })));
    assert.ok(thrown instanceof tsray.RayTaskError, `a RayTaskError, not ${thrown.name}: ${thrown.message}`);
    assert.ok(thrown.cause instanceof Error);
    assert.equal(thrown.cause.name, 'TypeError');
    assert.equal(thrown.cause.message, 'timer threw');
    assert.equal(await tsray.get(counter.count.remote('rejects')), 1, 'the rejecting body ran once');
    assert.equal(await tsray.get(counter.count.remote('throws')), 1, 'the throwing body ran once');
  });

  void test("an actor constructor's error keeps its fields and cause under ActorDiedError", async () => {
    const broken = BrokenConfigActor.remote();
    const error = await rejection(tsray.get(broken.read.remote()));
    assert.ok(error instanceof tsray.ActorDiedError);
    assert.ok(error.cause instanceof Error);
    assert.match(error.cause.message, /constructor threw: no config/);
    const thrown = error.cause.cause as Error & Record<string, unknown>;
    assert.ok(thrown instanceof Error, "the death cause's cause is the constructor's error");
    assert.equal(thrown.name, 'MyError');
    assert.equal(thrown['code'], 'E_MINE');
    assert.equal((thrown.cause as Error).message, 'file missing');
  });
});
