/**
 * The state API and hangs that explain themselves, the CPU hand-back of a worker blocked in get, and
 * the replay check: the LMDB logs a live run recorded, replayed under immer, reproduce its state.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AnyEvent, ComponentCore } from '../../../../core/component.js';
import { gcsCore } from '../../../../core/gcs/index.js';
import { hashState } from '../../../../core/hash.js';
import { ownerCore } from '../../../../core/owner/index.js';
import { rayletCore } from '../../../../core/raylet/index.js';
import { applyUnderImmer } from '../../../../core/step.js';
import * as tsray from '../../../../node/index.js';
import { setRuntime } from '../../../../node/runtime/context.js';
import { EmbeddedCluster } from '../../../../node/runtime/embedded.js';
import { EventLog, openSessionLogs } from '../../../../node/store/event-log.js';
import { eventually } from '../../../support/eventually.js';
import { Peer } from '../../../support/peer-ring.js';

const dirs: string[] = [];
/** Disk blocks the files of a folder take (LMDB files may be sparse). */
function diskBytesOf(dir: string): number {
  return readdirSync(dir).reduce((total, name) => total + statSync(join(dir, name)).blocks * 512, 0);
}
// Every test of the file may make session folders, so they are removed once the file is done.
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-state-'));
  dirs.push(dir);
  return dir;
}

void describe('state, hangs and the CPU hand-back', () => {
  after(async () => {
    await tsray.shutdown();
  });

  void test('nodes, resources, listings, and what a pending task waits for', async () => {
    await tsray.init({ numCpus: 1, resources: { disk: 2 }, sessionDir: tempDir() });
    assert.deepEqual(await tsray.clusterResources(), { CPU: 1, disk: 2 });
    const [node] = await tsray.nodes();
    assert.equal(node?.alive, true);
    const needsGpu = tsray.remote(() => 1, { resources: { GPU: 1 }, name: 'needs-gpu' });
    const ref = needsGpu.remote();
    await assert.rejects(tsray.get(ref, { timeout: 200 }), (error: unknown) => error instanceof tsray.GetTimeoutError && /GPU/.test(error.message));
    const pending = await tsray.state.listTasks({ name: 'needs-gpu' });
    assert.equal(pending.length, 1);
    assert.equal(pending[0]?.state, 'PENDING_NODE');
    assert.match(pending[0]?.waitingFor ?? '', /GPU/);
    const context = tsray.remote(() => tsray.getRuntimeContext());
    const inside = await tsray.get(context.remote());
    assert.match(inside.taskId ?? '', /\.t\d+$/);
    assert.match(inside.workerId, /^n1\.w\d+$/);
    class Named {
      ping(): string {
        return 'pong';
      }
    }
    const actor = tsray.remote(Named, { name: 'named' }).remote();
    assert.equal(await tsray.get(actor.ping.remote()), 'pong');
    const listed = await tsray.state.listActors({ name: 'named' });
    assert.equal(listed[0]?.state, 'ALIVE');
    const found = (await tsray.getActor('named')) as tsray.ActorHandle<Named>;
    assert.equal(await tsray.get(found.ping.remote()), 'pong');
    tsray.kill(found);
    // Calls after kill() fail at once here; the listing says DEAD once the GCS has carried it out.
    for (let tries = 0; tries < 100 && (await tsray.state.listActors({ name: 'named' }))[0]?.state !== 'DEAD'; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    await assert.rejects(tsray.get(actor.ping.remote()), tsray.ActorDiedError);
    const objects = await tsray.state.listObjects();
    assert.ok(objects.some((object) => object.objectId === ref.id && object.refTypes.includes('LOCAL_REFERENCE')));
  });

  void test('a task waiting in get gives its CPU back, so nested tasks finish on one CPU', async () => {
    const child = tsray.remote((x: number) => x + 1);
    // The child function travels as an argument: a by-source function sees only its arguments.
    const parent = tsray.remote(async (make: typeof child, x: number) => {
      const inner = make.remote(x);
      return (await tsray.get(inner)) * 10;
    });
    assert.equal(await tsray.get(parent.remote(child, 4)), 50);
    await tsray.shutdown();
  });

  void test('a pending task says whether it waits for arguments, behind other tasks, or for an actor to restart', async () => {
    await tsray.init({ numCpus: 1, sessionDir: tempDir() });
    const waitingFor = async (name: string): Promise<string> => (await tsray.state.listTasks({ name })).find((task) => task.waitingFor !== undefined)?.waitingFor ?? '';
    const sleep = tsray.remote(async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    });
    const hold = sleep.options({ name: 'hold' }).remote(1500);
    const after = tsray.remote((x: number) => x + 1, { name: 'after-hold' }).remote(hold);
    const queued = [1, 2, 3].map((ms) => sleep.options({ name: `queued-${ms}` }).remote(ms));
    while ((await tsray.state.listTasks({ name: 'hold' }))[0]?.state !== 'RUNNING') await new Promise((resolve) => setTimeout(resolve, 10));
    assert.match(await waitingFor('after-hold'), /arguments are not ready: .*\.t\d+\.r0/);
    assert.match(await waitingFor('queued-3'), /queued behind 2 tasks for a worker lease of \{CPU: 1\}/);
    assert.match(await waitingFor('queued-2'), /queued behind 1 task for a worker lease of \{CPU: 1\} \(\d+ lease requests? outstanding/);
    await assert.rejects(tsray.get(queued[2] as tsray.ObjectRef<number>, { timeout: 100 }), (error: unknown) => error instanceof tsray.GetTimeoutError && /queued behind/.test(error.message));
    assert.deepEqual(await tsray.get([after, ...queued] as tsray.ObjectRef<number>[]), [1501, 1, 2, 3]);

    class SlowStart {
      constructor() {
        // The constructor (run again on restart) takes a while, so the restart can be seen.
        const until = Date.now() + 600;
        while (Date.now() < until);
      }
      ping(): string {
        return 'pong';
      }
      crash(): never {
        process.exit(1);
      }
    }
    const actor = tsray.remote(SlowStart, { maxRestarts: 1 }).remote();
    assert.equal(await tsray.get(actor.ping.remote()), 'pong');
    await assert.rejects(tsray.get(actor.crash.remote()), tsray.ActorUnavailableError);
    const ping = actor.ping.remote();
    assert.match(await waitingFor('ping'), /actor .* is restarting/);
    assert.equal(await tsray.get(ping), 'pong');
    await tsray.shutdown();
  });

  void test('a running task says what its code waits for in turn, and a cycle of actors waiting on each other is named a deadlock', async () => {
    await tsray.init({ numCpus: 2, sessionDir: tempDir() });
    const PeerActor = tsray.remote(Peer);
    const a = PeerActor.remote();
    const b = PeerActor.remote();
    await tsray.get([a.setPeer.remote(b), b.setPeer.remote(a)]);
    const stuck = a.ping.remote(3);
    const pings = await eventually(
      () => tsray.state.listTasks({ name: 'ping' }),
      (listed) => listed.length === 3 && listed.every((task) => /a deadlock/.test(task.waitingFor ?? '')),
    );
    const driverPing = pings.find((task) => task.taskId === stuck.id.replace(/\.r0$/, ''));
    const [first, second] = pings.filter((task) => task !== driverPing).map((task) => task.taskId);
    assert.equal(pings.length, 3, JSON.stringify(pings));
    // The driver's call waits in get for b's call, which waits for a's second call, which queues behind the driver's.
    assert.match(driverPing?.waitingFor ?? '', new RegExp(`it waits in get for ${first}\\.r0; ${first} \\(ping\\) runs on worker \\S+ and waits in get for ${second}\\.r0; ${second} \\(ping\\) is queued on worker \\S+ behind ${driverPing?.taskId}: a deadlock \\(${driverPing?.taskId} → ${first} → ${second} → ${driverPing?.taskId}\\)`));
    await assert.rejects(tsray.get(stuck, { timeout: 50 }), (error: unknown) => error instanceof tsray.GetTimeoutError && /running on node .*; tsray\.state\.listTasks\(\) .* says what a running task waits for in turn/.test(error.message));
    await tsray.shutdown();
  });
});

void test('workers that talk to each other get a channel of their own, so their messages skip the main thread', async () => {
  const cluster = await EmbeddedCluster.start({ namespace: 'default', numCpus: 2, sessionDir: tempDir() });
  setRuntime(cluster.driver);
  try {
    class Counter {
      total = 0;
      add(amount: number): number {
        this.total += amount;
        return this.total;
      }
    }
    const counter = tsray.remote(Counter).remote();
    const caller = tsray.remote(async (target: tsray.ActorHandle<Counter>, calls: number) => {
      let last = 0;
      for (let index = 0; index < calls; index += 1) last = await tsray.get(target.add.remote(1));
      return last;
    });
    assert.equal(await tsray.get(caller.remote(counter, 300)), 300);
    // 300 calls and 300 replies between the task's worker and the actor's: only the first few are relayed.
    assert.ok(cluster.threads.relayedBetweenWorkers < 20, `${cluster.threads.relayedBetweenWorkers} worker-to-worker messages went through the main thread`);
    assert.ok(cluster.threads.relayedBetweenWorkers > 0, 'the first ones show the two workers the way');
  } finally {
    setRuntime(undefined);
    await cluster.stop();
  }
});

const cores: Record<string, ComponentCore<unknown, AnyEvent, unknown>> = {
  gcs: gcsCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  raylet: rayletCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  owner: ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
};

void test('the live logs, replayed under immer, reproduce the live state of every main-thread component', async () => {
  const sessionDir = tempDir();
  const cluster = await EmbeddedCluster.start({ namespace: 'default', numCpus: 2, sessionDir });
  setRuntime(cluster.driver);
  try {
    const square = tsray.remote((x: number) => x * x);
    const refs = Array.from({ length: 20 }, (_, index) => square.remote(index));
    assert.equal((await tsray.get(refs)).length, 20);
    const big = tsray.put(new Float64Array(300_000));
    assert.equal((await tsray.get(big)).length, 300_000);
    // Large values are logged by id, size and hash: puts, arguments, puts in a worker and returns.
    const sum = tsray.remote((values: Float64Array) => values.reduce((total, value) => total + value, 0));
    assert.equal(await tsray.get(sum.remote(new Float64Array(200_000).fill(1))), 200_000);
    const makeBig = tsray.remote((length: number) => [new Float64Array(length).fill(2), tsray.put(new Uint8Array(length).fill(3))] as const);
    const [returned, putInWorker] = await tsray.get(makeBig.remote(300_000));
    assert.equal(returned[299_999], 2);
    assert.equal((await tsray.get(putInWorker))[299_999], 3);
    const largeInline = tsray.put({ text: 'x'.repeat(150_000) });
    assert.equal((await tsray.get(largeInline)).text.length, 150_000);
  } finally {
    setRuntime(undefined);
    await cluster.stop();
  }
  const live: Record<string, string> = { gcs: hashState(cluster.gcs.state), 'raylet:n1': hashState(cluster.raylet.state), 'worker:n1.d1': hashState(cluster.driver.state) };
  const logs = openSessionLogs(sessionDir);
  assert.ok(logs.length >= 3, 'the GCS, the raylet, the driver and the workers each kept a log');
  for (const { address, component, dir } of logs) {
    const log = EventLog.open(dir);
    const core = cores[component];
    assert.ok(core !== undefined);
    let state = core.initial();
    let events = 0;
    for (const record of log.read()) {
      assert.ok(!('corrupt' in record), `a record of ${address} could not be read`);
      state = applyUnderImmer(core, state, record.event as AnyEvent).state;
      assert.deepEqual(core.invariants(state), [], `invariants of ${address} after event ${record.seq}`);
      events += 1;
    }
    await log.close();
    assert.ok(events > 0, `${address} logged events`);
    assert.ok(diskBytesOf(dir) < 1024 * 1024, `${address}'s log holds no large values`);
    const expected = live[address];
    if (expected !== undefined && hashState(state) !== expected) {
      const liveState = address === 'gcs' ? cluster.gcs.state : address === 'raylet:n1' ? cluster.raylet.state : cluster.driver.state;
      const replayed = state as Record<string, unknown>;
      const differing = Object.keys(liveState).filter((key) => hashState((liveState as unknown as Record<string, unknown>)[key]) !== hashState(replayed[key]));
      assert.fail(`${address} replays to a state that differs from its live state in: ${differing.join(', ')}`);
    }
  }
});
