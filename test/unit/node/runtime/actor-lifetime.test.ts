/**
 * Actor lifetime by handles, as Ray: a non-detached actor, named or not, ends once no handle to it is
 * reachable anywhere (the driver, tasks and calls in flight, other actors, stored objects). Its
 * `[Symbol.asyncDispose]()` or `[Symbol.dispose]()` runs first, bounded by a timeout; its thread ends;
 * `listActors` shows it DEAD with the cause. Detached actors stay; `kill` skips dispose.
 *
 * Collection decides when a handle is unreachable, so the script runs with `--expose-gc` and collects
 * in the driver, in the single task worker (numCpus 1) and, where an actor drops a handle, in that
 * actor's own thread.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

const script = writeDriverScript('actor-lifetime-check', `import * as tsray from 'tsray';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const marks = mkdtempSync(join(process.argv[2], 'marks-'));
await tsray.init({ numCpus: 1, sessionDir: join(process.argv[2], 'session') });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const collectHere = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await sleep(20); } };
const collectTask = tsray.remote(async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } return true; });
const settle = async () => { await collectHere(); await tsray.get(collectTask.remote()); await collectHere(); };
const actorById = async (actorId) => (await tsray.state.listActors({ actorId }))[0];
/** Polls (collecting in between) until the actor is in \`state\`, or gives up after a bound. */
const until = async (actorId, state, withTask = true) => {
  for (let i = 0; i < 80; i++) {
    const actor = await actorById(actorId);
    if (actor?.state === state) return actor;
    if (withTask) await settle(); else await collectHere();
  }
  return actorById(actorId);
};
const disposed = (label) => existsSync(join(marks, label));
const ownsObjects = async (workerId) => (await tsray.state.listObjects({ owner: workerId })).length > 0;

const Disposable = tsray.remote(class Disposable {
  constructor(marks, label) { this.marks = marks; this.label = label; this.mark = tsray.put('owned by the actor while its thread lives'); }
  where() { return tsray.getRuntimeContext().workerId; }
  ping() { return 'pong'; }
  async [Symbol.asyncDispose]() {
    await new Promise((r) => setTimeout(r, 10));
    process.getBuiltinModule('node:fs').writeFileSync(this.marks + '/' + this.label, 'disposed');
  }
});
const SyncDisposable = tsray.remote(class SyncDisposable {
  constructor(marks, label) { this.marks = marks; this.label = label; }
  ping() { return 'pong'; }
  [Symbol.dispose]() { process.getBuiltinModule('node:fs').writeFileSync(this.marks + '/' + this.label, 'disposed'); }
});
const Hangs = tsray.remote(class Hangs {
  ping() { return 'pong'; }
  async [Symbol.asyncDispose]() { await new Promise(() => undefined); }
});
const Holder = tsray.remote(class Holder {
  keep(box) { this.box = box; return 'kept'; }
  async callKept() { return tsray.get(this.box.actor.ping.remote()); }
  async drop() { this.box = undefined; for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } return 'dropped'; }
});
const Slow = tsray.remote(class Slow {
  async slow() { await new Promise((r) => setTimeout(r, 300)); return 'slow done'; }
});
const out = {};

// 1. The only handle is dropped in the driver.
{
  let actor = Disposable.remote(marks, 'dropped');
  const workerId = await tsray.get(actor.where.remote());
  const actorId = actor.actorId;
  out.ownsBefore = await ownsObjects(workerId);
  actor = undefined;
  const dead = await until(actorId, 'DEAD');
  out.dropped = { state: dead?.state, cause: dead?.deathCause, disposed: disposed('dropped'), ownsAfter: await ownsObjects(workerId) };
}
{
  let actor = SyncDisposable.remote(marks, 'sync');
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  actor = undefined;
  const dead = await until(actorId, 'DEAD');
  out.sync = { state: dead?.state, disposed: disposed('sync') };
}

// A call in flight keeps the actor whose handle was never kept.
{
  const pending = Slow.remote().slow.remote();
  await collectHere();
  try { out.pendingCall = await tsray.get(pending); } catch (error) { out.pendingCall = error.name + ': ' + error.message; }
}

// 2a. A task holding the handle keeps the actor while it runs; once it is over, the actor ends.
{
  let actor = Disposable.remote(marks, 'in-task');
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  const gate = join(marks, 'gate');
  const usesLater = tsray.remote(async (box, gatePath) => {
    const fs = process.getBuiltinModule('node:fs');
    while (!fs.existsSync(gatePath)) await new Promise((r) => setTimeout(r, 10));
    return tsray.get(box.actor.ping.remote());
  });
  const result = usesLater.remote({ actor }, gate);
  actor = undefined;
  for (let i = 0; i < 5; i++) await collectHere();
  const whileRunning = (await actorById(actorId))?.state;
  writeFileSync(gate, 'go');
  const answer = await tsray.get(result);
  const dead = await until(actorId, 'DEAD');
  out.inTask = { whileRunning, answer, state: dead?.state, disposed: disposed('in-task') };
}

// 2b. A handle stored in an object keeps the actor until the object goes.
{
  let actor = Disposable.remote(marks, 'stored');
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  let stored = tsray.put({ actor });
  actor = undefined;
  await settle();
  await settle();
  const whileStored = (await actorById(actorId))?.state;
  const answer = await tsray.get((await tsray.get(stored)).actor.ping.remote());
  stored = undefined;
  const dead = await until(actorId, 'DEAD');
  out.stored = { whileStored, answer, state: dead?.state, disposed: disposed('stored') };
}

// 2c. A handle kept in another actor's state keeps the actor until that actor drops it.
{
  let actor = Disposable.remote(marks, 'kept-by-actor');
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  const holder = Holder.remote();
  await tsray.get(holder.keep.remote({ actor }));
  actor = undefined;
  await settle();
  await settle();
  const whileKept = (await actorById(actorId))?.state;
  const answer = await tsray.get(holder.callKept.remote());
  await tsray.get(holder.drop.remote());
  const dead = await until(actorId, 'DEAD');
  out.keptByActor = { whileKept, answer, state: dead?.state, disposed: disposed('kept-by-actor') };
}

// 3. Named non-detached actors follow the rule, and so does a handle from getActor; detached ones stay.
{
  let actor = Disposable.options({ name: 'named-dropped' }).remote(marks, 'named');
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  actor = undefined;
  const dead = await until(actorId, 'DEAD');
  let lookup = 'found';
  try { await tsray.getActor('named-dropped'); } catch (error) { lookup = error.message; }
  out.named = { state: dead?.state, disposed: disposed('named'), lookup };
}
{
  let actor = Disposable.options({ name: 'named-looked-up' }).remote(marks, 'looked-up');
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  let again = await tsray.getActor('named-looked-up');
  actor = undefined;
  await settle();
  await settle();
  const whileLookedUp = (await actorById(actorId))?.state;
  const answer = await tsray.get(again.ping.remote());
  again = undefined;
  const dead = await until(actorId, 'DEAD');
  out.lookedUp = { whileLookedUp, answer, state: dead?.state, disposed: disposed('looked-up') };
}
{
  let first = Disposable.options({ name: 'shared-name' }).remote(marks, 'shared');
  let second = Disposable.options({ name: 'shared-name', getIfExists: true }).remote(marks, 'not-made');
  await tsray.get(first.ping.remote());
  const actorId = first.actorId;
  first = undefined;
  await settle();
  await settle();
  const whileSecondLives = (await actorById(actorId))?.state;
  const answer = await tsray.get(second.ping.remote());
  second = undefined;
  const dead = await until(actorId, 'DEAD');
  out.getIfExists = { whileSecondLives, answer, state: dead?.state, disposed: disposed('shared') };
}
{
  let actor = Disposable.options({ name: 'detached-kept', lifetime: 'detached' }).remote(marks, 'detached');
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  actor = undefined;
  for (let i = 0; i < 5; i++) await settle();
  const found = await tsray.getActor('detached-kept');
  out.detached = { state: (await actorById(actorId))?.state, answer: await tsray.get(found.ping.remote()), disposed: disposed('detached') };
  tsray.kill(found);
}

// 4. kill skips dispose; a dispose that hangs is cut off by the timeout and the actor still ends.
{
  const actor = Disposable.remote(marks, 'killed');
  await tsray.get(actor.ping.remote());
  tsray.kill(actor);
  const dead = await until(actor.actorId, 'DEAD', false);
  await sleep(200);
  out.killed = { state: dead?.state, cause: dead?.deathCause, disposed: disposed('killed') };
}
{
  let actor = Hangs.remote();
  await tsray.get(actor.ping.remote());
  const actorId = actor.actorId;
  actor = undefined;
  const dead = await until(actorId, 'DEAD');
  out.hangs = { state: dead?.state, cause: dead?.deathCause };
}

console.log(JSON.stringify(out));
await tsray.shutdown();
rmSync(marks, { recursive: true, force: true });
`);
after(() => script.remove());

const outOfScope = 'all handles to the actor went out of scope';

void test('a non-detached actor ends, after its dispose method, once no handle to it is reachable', () => {
  const result = spawnSync(process.execPath, ['--expose-gc', script.path, script.sessionDir], { cwd: packageRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, result.stderr);
  const out = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, Record<string, unknown> | string | boolean>;

  assert.equal(out.ownsBefore, true, 'the actor thread answers state queries while it lives');
  assert.deepEqual(out.dropped, { state: 'DEAD', cause: outOfScope, disposed: true, ownsAfter: false }, 'dropped in the driver: disposed, DEAD, its thread gone');
  assert.deepEqual(out.sync, { state: 'DEAD', disposed: true }, 'Symbol.dispose runs when there is no Symbol.asyncDispose');
  assert.equal(out.pendingCall, 'slow done', 'a call in flight keeps the actor its handle was dropped from');

  assert.deepEqual(out.inTask, { whileRunning: 'ALIVE', answer: 'pong', state: 'DEAD', disposed: true }, 'a task holding the handle keeps the actor');
  assert.deepEqual(out.stored, { whileStored: 'ALIVE', answer: 'pong', state: 'DEAD', disposed: true }, 'a stored object holding the handle keeps the actor');
  assert.deepEqual(out.keptByActor, { whileKept: 'ALIVE', answer: 'pong', state: 'DEAD', disposed: true }, 'another actor keeping the handle keeps the actor');

  assert.deepEqual(out.named, { state: 'DEAD', disposed: true, lookup: "no live actor named 'named-dropped' in namespace 'default'" }, 'a named non-detached actor ends too');
  assert.deepEqual(out.lookedUp, { whileLookedUp: 'ALIVE', answer: 'pong', state: 'DEAD', disposed: true }, 'a handle from getActor holds the actor');
  assert.deepEqual(out.getIfExists, { whileSecondLives: 'ALIVE', answer: 'pong', state: 'DEAD', disposed: true }, 'a getIfExists handle to an existing actor holds it');
  assert.deepEqual(out.detached, { state: 'ALIVE', answer: 'pong', disposed: false }, 'a detached actor does not end');

  assert.deepEqual(out.killed, { state: 'DEAD', cause: 'killed via tsray.kill', disposed: false }, 'kill does not run dispose');
  const hangs = out.hangs as { state: string; cause: string };
  assert.equal(hangs.state, 'DEAD', 'a dispose that hangs is cut off');
  assert.match(hangs.cause, /went out of scope \(its dispose method did not finish within actorDisposeTimeoutMs, 5000 ms\)/);

  // The run's trace, with its dispose events, collects and replays whole (its owner's own
  // `actor/disposed` was once held to the fields of the GCS message of that name, and rejected).
  const cli = join(packageRoot, 'dist/node/cli/main.js');
  const tracePath = join(script.sessionDir, 'lifetime.trace');
  const collected = spawnSync(process.execPath, [cli, 'trace', 'collect', '--session', join(script.sessionDir, 'session'), '-o', tracePath], { encoding: 'utf8' });
  assert.equal(collected.status, 0, collected.stderr);
  const replayed = spawnSync(process.execPath, [cli, 'replay', tracePath, '--verify'], { encoding: 'utf8' });
  assert.equal(replayed.status, 0, `${replayed.stdout}${replayed.stderr}`);
  assert.doesNotMatch(replayed.stdout + replayed.stderr, /damaged/);
});
