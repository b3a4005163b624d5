/**
 * Cancel is prompt: every get of a cancelled task rejects with TaskCancelledError at once, wherever its
 * body is (spinning, awaiting a timer); the body's signal is aborted; its worker serves other tasks
 * only once the body settles, and is ended when the body runs past the grace period.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { taskOfObject } from '../../../../core/ids.js';
import * as tsray from '../../../../node/index.js';
import { useEmbeddedCluster } from '../../../support/embedded-cluster.js';
import { eventually } from '../../../support/eventually.js';
import { patientParent, patientRemote as patient } from '../../../support/remote-module.js';

class Notes {
  readonly seen: string[] = [];
  note(text: string): number {
    return this.seen.push(text);
  }
  read(): string[] {
    return this.seen;
  }
}

/**
 * Spins for `ms`, or until the file `stopPath` exists: the test then decides when the body ends, so a
 * slow machine cannot let it end before the test cancels it.
 */
const spin = tsray.remote(async (ms: number, notes: tsray.ActorHandle<Notes>, stopPath?: string) => {
  const { existsSync } = process.getBuiltinModule('node:fs');
  notes.note.remote(`spinning on ${tsray.getRuntimeContext().workerId}`);
  // Let the note go out before the body stops yielding.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const end = Date.now() + ms;
  while (Date.now() < end && (stopPath === undefined || !existsSync(stopPath)));
  return 'late result';
});

/** Reads its signal only after the cancel: its get of `blocker` rejects first. */
const lateReader = tsray.remote(async (blocker: tsray.ObjectRef[], notes: tsray.ActorHandle<Notes>) => {
  notes.note.remote('started');
  try {
    await tsray.get(blocker);
  } catch (error) {
    const { signal } = tsray.getRuntimeContext();
    notes.note.remote(`get: ${(error as Error).name}, signal aborted: ${String(signal?.aborted)}, reason: ${(signal?.reason as Error | undefined)?.name ?? 'none'}`);
  }
  return 'done';
});

const whoami = tsray.remote(async (ms: number) => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return tsray.getRuntimeContext().workerId;
});

/** A detached notes actor that is up: calls made to it from a body that then stops yielding still go out. */
async function liveNotes(): Promise<tsray.ActorHandle<Notes>> {
  const notes = tsray.remote(Notes).options({ lifetime: 'detached' }).remote();
  await tsray.get(notes.read.remote());
  return notes;
}

async function cancelled(ref: tsray.ObjectRef): Promise<{ name: string; ms: number }> {
  const started = performance.now();
  tsray.cancel(ref);
  try {
    await tsray.get(ref);
    return { name: 'resolved', ms: performance.now() - started };
  } catch (error) {
    return { name: (error as Error).name, ms: performance.now() - started };
  }
}

void describe('cancel', () => {
  useEmbeddedCluster('cancel');

  void test('a spinning body: its get rejects before the body could end, and its worker waits for it to settle', async () => {
    const notes = await liveNotes();
    const spinMs = 60_000;
    const stopPath = join(mkdtempSync(join(tmpdir(), 'tsray-spin-')), 'stop');
    const ref = spin.remote(spinMs, notes, stopPath);
    const seen = await eventually(() => tsray.get(notes.read.remote()), (list) => list.length > 0);
    const spinner = (seen[0] ?? '').replace('spinning on ', '');
    const outcome = await cancelled(ref);
    assert.equal(outcome.name, 'TaskCancelledError');
    assert.ok(outcome.ms < spinMs, `the get waited ${outcome.ms} ms, as long as the body`);
    // While the body spins its worker (and its CPU) serves nobody else.
    const during = await tsray.get([whoami.remote(10), whoami.remote(10), whoami.remote(10)]);
    assert.ok(!during.includes(spinner), `a task ran on ${spinner} while the cancelled body spun there`);
    // Once those tasks' idle lease goes back, the spinning body's CPU is still held.
    assert.deepEqual(await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 1), { CPU: 1 });
    const listed = await tsray.state.listTasks({ state: 'CANCELLED' });
    assert.equal(listed.length, 1);
    // Once the body settles, the worker and its CPU are free again; the late result was dropped.
    writeFileSync(stopPath, '');
    const free = await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 2);
    assert.deepEqual(free, { CPU: 2 });
    await assert.rejects(tsray.get(ref), tsray.TaskCancelledError);
    rmSync(dirname(stopPath), { recursive: true, force: true });
  });

  void test('an awaiting body: its get rejects at once and its signal is aborted', async () => {
    const notes = await liveNotes();
    const ref = patient.remote(notes);
    await eventually(() => tsray.get(notes.read.remote()), (list) => list.length > 0);
    const outcome = await cancelled(ref);
    assert.equal(outcome.name, 'TaskCancelledError');
    const seen = await eventually(() => tsray.get(notes.read.remote()), (list) => list.length > 1);
    assert.deepEqual(seen, ['started', 'aborted: TaskCancelledError']);
    // The body stopped, so its worker and CPU are free again (well before the grace period ends).
    assert.deepEqual(await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 2), { CPU: 2 });
  });

  void test('a body that reads its signal only after the cancel finds it aborted', async () => {
    const notes = await liveNotes();
    // The blocker is a ref inside a list, so the task starts without waiting for it.
    const blocker = whoami.remote(20_000);
    const ref = lateReader.remote([blocker], notes);
    await eventually(() => tsray.get(notes.read.remote()), (list) => list.length > 0);
    assert.equal((await cancelled(ref)).name, 'TaskCancelledError');
    const seen = await eventually(() => tsray.get(notes.read.remote()), (list) => list.length > 1);
    assert.deepEqual(seen, ['started', 'get: TaskCancelledError, signal aborted: true, reason: TaskCancelledError']);
    tsray.cancel(blocker, { force: true });
  });

  void test('a cancel reaches the task that the cancelled task submitted (recursive, the default): its body is aborted too', async () => {
    const notes = await liveNotes();
    // The tasks cancelled before, by id: a count of the listing also falls as earlier ones are forgotten.
    const before = new Set((await tsray.state.listTasks({ state: 'CANCELLED' })).map((task) => task.taskId));
    const ref = patientParent.remote(notes);
    const parentId = taskOfObject(ref.id);
    await eventually(() => tsray.get(notes.read.remote()), (list) => list.includes('started'));
    assert.equal((await cancelled(ref)).name, 'TaskCancelledError');
    const seen = await eventually(() => tsray.get(notes.read.remote()), (list) => list.length > 1);
    assert.deepEqual(seen, ['started', 'aborted: TaskCancelledError'], "the child's notes");
    const newlyCancelled = (tasks: { taskId: string }[]): string[] =>
      tasks
        .map((task) => task.taskId)
        .filter((taskId) => !before.has(taskId))
        .sort();
    const listed = newlyCancelled(await eventually(() => tsray.state.listTasks({ state: 'CANCELLED' }), (tasks) => newlyCancelled(tasks).length >= 2));
    assert.equal(listed.length, 2, `the parent, which the driver owns, and the child, which the parent's worker owns: ${listed.join(', ')}`);
    assert.ok(listed.includes(parentId ?? ''), `the parent ${parentId} is not listed as cancelled: ${listed.join(', ')}`);
    assert.deepEqual(await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 2), { CPU: 2 });
  });

  void test('a body that runs past the grace period has its worker ended, which frees its CPU', async () => {
    const notes = await liveNotes();
    const ref = spin.remote(60_000, notes);
    await eventually(() => tsray.get(notes.read.remote()), (list) => list.length > 0);
    assert.equal((await cancelled(ref)).name, 'TaskCancelledError');
    assert.deepEqual(await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 1), { CPU: 1 });
    // The grace period is 5 s; the spinning body would hold its CPU for a minute.
    const free = await eventually(() => tsray.availableResources(), (resources) => resources['CPU'] === 2, 600);
    assert.deepEqual(free, { CPU: 2 });
  });
});
