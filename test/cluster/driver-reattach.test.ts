/**
 * A driver rides out a restart of the head (issue 10 item 6), with real processes on 127.0.0.1: a
 * supervised head and a node with a custom resource. One driver process holds a named actor on that
 * node, has a long task running there and keeps calling the actor while the head's node process is
 * `kill -9`ed. Once the supervisor has started the head again, the same driver reconnects by itself:
 * its pending get returns, the task ran once, each actor call (maxTaskRetries 0) ran exactly once and
 * the actor kept its state, values only the dead head's store held are lost (a put) or rebuilt by
 * lineage (a task's result), new tasks run, and the driver exits 0.
 *
 * A driver that does not come back within the reconnect window (here shortened with
 * TSRAY_DRIVER_RECONNECT_MS, which the head reads too) is counted dead by the resumed head: its job
 * ends and the actor it owned dies. One that comes back after that (it was frozen) is refused, and
 * its pending get fails with one line saying so.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ProcessRun } from '../support/cluster.js';
import { isRunning } from '../../node/process-liveness.js';
import { queryJobs } from '../../node/cluster/query.js';
import { ScriptProcess, killPids, recordedNodePids, runnerIn } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';
import { eventually } from '../support/eventually.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-driver-reattach-'));
const clusterDir = join(root, 'cluster');
const run = runnerIn(root);

/** How many actor calls the driver makes, about one every 10 ms, from before the kill until after it. */
const calls = 300;

/** How long the task on the other node runs: it begins before the kill and ends after the restart. */
const taskMs = 8000;

const script = `
import * as tsray from 'tsray';
import { existsSync } from 'node:fs';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const info = await tsray.init();
class Counter {
  n = 0;
  add(k) { this.n += k; return this.n; }
  where() { return tsray.getRuntimeContext().nodeId; }
}
const counter = tsray.remote(Counter).options({ name: 'kept', resources: { worker: 1 }, maxTaskRetries: 0 }).remote();
console.log('COUNT', await tsray.get(counter.add.remote(5)));
console.log('WHERE', await tsray.get(counter.where.remote()));
const slow = tsray.remote(async (ms, mark) => {
  (await import('node:fs')).appendFileSync(mark, 'began\\n');
  await new Promise((resolve) => setTimeout(resolve, ms));
  return 'slow-done';
});
const running = slow.options({ schedulingStrategy: { nodeId: process.env.NODE, soft: false } }).remote(Number(process.env.TASK_MS), process.env.MARK);
// The get waits through the kill and the restart.
const pending = tsray.get(running);
// Two values only the head's store holds: a put (no lineage) and a task's result (rebuilt by lineage).
const lostPut = tsray.put(new Float64Array(64 * 1024).fill(1));
const ramp = tsray.remote((n) => Float64Array.from({ length: n }, (_, i) => i));
const onHead = ramp.options({ schedulingStrategy: { nodeId: info.nodeId, soft: true } }).remote(64 * 1024);
await tsray.wait([onHead]);
while (!existsSync(process.env.MARK)) await sleep(20);
const replies = [];
for (let i = 0; i < Number(process.env.CALLS); i += 1) {
  replies.push(counter.add.remote(1));
  if (i === 50) console.log('STARTED yes');
  await sleep(10);
}
console.log('TASK', await pending);
const values = await tsray.get(replies);
console.log('REPLIES', JSON.stringify({ distinct: new Set(values).size, min: Math.min(...values), max: Math.max(...values) }));
try {
  await tsray.get(lostPut);
  console.log('PUT kept');
} catch (error) {
  console.log('PUT', error.name);
}
const rebuilt = await tsray.get(onHead);
console.log('REBUILT', rebuilt.length, rebuilt[65535]);
const found = await tsray.getActor('kept');
console.log('AFTER', await tsray.get(found.add.remote(0)));
const square = tsray.remote((x) => x * x);
console.log('SQUARES', JSON.stringify(await tsray.get([1, 2, 3].map((x) => square.remote(x)))));
// A large put after the restart lands in the new head's store (through its handoff folder on this host).
const fresh = new Float64Array(256 * 1024).fill(7);
const freshRef = tsray.put(fresh);
fresh.fill(0);
const sum = tsray.remote((array) => array.reduce((total, x) => total + x, 0));
const back = await tsray.get(freshRef);
console.log('FRESH', back.length, back[0], await tsray.get(sum.remote(freshRef)));
await tsray.shutdown();
`;

void describe('a driver connected when the head is killed', () => {
  const pids = new Set<number>();
  let written: DriverScript | undefined;
  let driver: ScriptProcess | undefined;
  let address = '';
  let token = '';
  let headPid = 0;
  let headNodeId = '';
  let workerNode = '';

  before(async () => {
    const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '1']);
    assert.equal(started.code, 0, started.stderr);
    const file = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { address: string; token: string; nodeId: string; pid: number; supervisorPid?: number };
    ({ address, token, nodeId: headNodeId } = file);
    headPid = file.pid;
    pids.add(file.pid);
    if (file.supervisorPid !== undefined) pids.add(file.supervisorPid);
    const joined = await run([cli, 'start', '--address', address, '--num-cpus', '2', '--resources', '{"worker":1}']);
    assert.equal(joined.code, 0, joined.stderr);
    workerNode = /node (n[0-9a-f]+) joined/.exec(joined.stdout)?.[1] ?? '';
    pids.add(Number(/pid (\d+)/.exec(joined.stdout)?.[1]));
    assert.notEqual(workerNode, '');
  });

  after(() => {
    // Every process this test started ends, whatever happened: the daemons are detached.
    driver?.kill();
    killPids([...pids, ...recordedNodePids(clusterDir)]);
    written?.remove();
    rmSync(root, { recursive: true, force: true });
  });

  void test('reconnects by itself: its pending get returns, the named actor keeps its state and runs each call once, what only the dead head stored is lost or rebuilt, and new tasks run', async () => {
    written = writeDriverScript('driver-reattach', script);
    const mark = join(root, 'task-starts.txt');
    driver = new ScriptProcess(written.path, { TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: address, TSRAY_TOKEN: '', NODE: workerNode, MARK: mark, TASK_MS: String(taskMs), CALLS: String(calls) });
    assert.equal(await driver.waitFor('COUNT'), '5');
    assert.equal(await driver.waitFor('WHERE'), workerNode);
    assert.equal(await driver.waitFor('STARTED'), 'yes');

    // In the middle of the calls and of the task: the head's node process dies, and its supervisor starts it again.
    process.kill(headPid, 'SIGKILL');
    const restarted = await eventually(
      () => Promise.resolve(JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { pid: number; nodeId: string }),
      (file) => file.pid !== headPid && isRunning(file.pid),
    );
    pids.add(restarted.pid);
    assert.notEqual(restarted.nodeId, headNodeId, 'the head came back under a new node id');

    assert.equal(await driver.waitFor('TASK', 60_000), 'slow-done', 'the get made before the kill returns');
    assert.equal(readFileSync(mark, 'utf8'), 'began\n', 'the task ran once, through the restart');
    const replies = JSON.parse(await driver.waitFor('REPLIES')) as { distinct: number; min: number; max: number };
    assert.deepEqual(replies, { distinct: calls, min: 6, max: 5 + calls }, 'each actor call ran exactly once, in order');
    assert.equal(await driver.waitFor('PUT'), 'ObjectLostError', 'a put whose only copy was in the dead head\'s store is lost');
    assert.equal(await driver.waitFor('REBUILT'), '65536 65535', 'a task result whose only copy was there is rebuilt by lineage');
    assert.equal(await driver.waitFor('AFTER'), String(5 + calls), 'the named actor kept its state and is found by name');
    assert.equal(await driver.waitFor('SQUARES'), '[1,4,9]', 'new tasks run');
    assert.equal(await driver.waitFor('FRESH'), `${256 * 1024} 7 ${7 * 256 * 1024}`, 'a large put after the restart reaches the new head and reads back');
    assert.equal(await driver.exited, 0, driver.errors);
    assert.match(driver.errors, /reconnected after \d+ ms to the cluster/);

    // The driver's job lived through the restart and ended when the driver shut down.
    const jobs = await eventually(
      () => queryJobs(address, token),
      (listed) => listed.length === 1 && listed[0]?.alive === false,
    );
    assert.equal(jobs[0]?.jobId, 'j1');
    assert.ok(existsSync(mark));
  });
});

/** A driver that owns a named actor and then waits, with a get that never returns by itself. */
const ownerScript = `
import * as tsray from 'tsray';
await tsray.init();
class Holder { ping() { return 'pong'; } }
const holder = tsray.remote(Holder).options({ name: process.env.ACTOR, resources: { worker: 1 } }).remote();
console.log('PING', await tsray.get(holder.ping.remote()));
const forever = tsray.remote(() => new Promise(() => undefined));
try {
  await tsray.get(forever.remote());
} catch (error) {
  console.log('LOST', JSON.stringify(error.message));
}
`;

const lookupScript = `
import * as tsray from 'tsray';
await tsray.init();
try {
  await tsray.getActor(process.env.ACTOR);
  console.log('FOUND yes');
} catch (error) {
  console.log('FOUND', error.message);
}
await tsray.shutdown();
`;

void describe('a driver that does not come back to the restarted head', () => {
  const windowMs = 2000;
  const root2 = mkdtempSync(join(tmpdir(), 'tsray-driver-gone-'));
  const clusterDir2 = join(root2, 'cluster');
  const env = { TSRAY_DRIVER_RECONNECT_MS: String(windowMs) };
  const run2 = (args: string[], extra: Record<string, string> = {}): Promise<ProcessRun> => runnerIn(root2)(args, { ...env, ...extra });
  const pids = new Set<number>();
  const drivers: ScriptProcess[] = [];
  const written: DriverScript[] = [];
  let address = '';
  let token = '';

  const head = (): { pid: number; nodeId: string } => JSON.parse(readFileSync(join(clusterDir2, 'address.json'), 'utf8')) as { pid: number; nodeId: string };
  const restartedAfter = (pid: number): Promise<{ pid: number; nodeId: string }> => eventually(() => Promise.resolve(head()), (file) => file.pid !== pid && isRunning(file.pid), 2000);
  const lookup = async (actor: string): Promise<string | undefined> => {
    const found = await run2([written[1]?.path ?? ''], { TSRAY_ADDRESS: address, ACTOR: actor });
    assert.equal(found.code, 0, found.stderr);
    return /^FOUND (.*)$/m.exec(found.stdout)?.[1];
  };

  before(async () => {
    const started = await run2([cli, 'start', '--head', '--port', '0', '--num-cpus', '1']);
    assert.equal(started.code, 0, started.stderr);
    const file = JSON.parse(readFileSync(join(clusterDir2, 'address.json'), 'utf8')) as { address: string; token: string; pid: number; supervisorPid?: number };
    ({ address, token } = file);
    pids.add(file.pid);
    if (file.supervisorPid !== undefined) pids.add(file.supervisorPid);
    const joined = await run2([cli, 'start', '--address', address, '--num-cpus', '2', '--resources', '{"worker":2}']);
    assert.equal(joined.code, 0, joined.stderr);
    pids.add(Number(/pid (\d+)/.exec(joined.stdout)?.[1]));
    written.push(writeDriverScript('driver-gone-owner', ownerScript), writeDriverScript('driver-gone-lookup', lookupScript));
  });

  after(() => {
    for (const driver of drivers) {
      driver.child.kill('SIGCONT');
      driver.kill();
    }
    killPids([...pids, ...recordedNodePids(clusterDir2)]);
    for (const script of written) script.remove();
    rmSync(root2, { recursive: true, force: true });
  });

  void test('one killed with the head is counted dead once the window passes: its job ends and its actor dies', async () => {
    const driver = new ScriptProcess(written[0]?.path ?? '', { TSRAY_SESSIONS_ROOT: root2, TSRAY_ADDRESS: address, TSRAY_TOKEN: '', ACTOR: 'orphan', ...env });
    drivers.push(driver);
    assert.equal(await driver.waitFor('PING'), 'pong');
    const killed = head();
    process.kill(killed.pid, 'SIGKILL');
    driver.kill();
    pids.add((await restartedAfter(killed.pid)).pid);
    const jobs = await eventually(
      () => queryJobs(address, token),
      (listed) => listed.length === 1 && listed[0]?.alive === false,
      1200,
    );
    assert.deepEqual(jobs.map((job) => [job.jobId, job.alive]), [['j1', false]], 'the job of the driver that never came back ended');
    assert.equal(await lookup('orphan'), "no live actor named 'orphan' in namespace 'default'", 'the actor it owned died with its job');
  });

  void test('one that comes back after it was counted dead is refused, and its pending get fails with one line', async () => {
    const driver = new ScriptProcess(written[0]?.path ?? '', { TSRAY_SESSIONS_ROOT: root2, TSRAY_ADDRESS: address, TSRAY_TOKEN: '', ACTOR: 'frozen', TSRAY_DRIVER_RECONNECT_MS: '' });
    drivers.push(driver);
    assert.equal(await driver.waitFor('PING'), 'pong');
    const jobId = `j${(await queryJobs(address, token)).length}`;
    // Frozen, the driver neither sees the head die nor reconnects until the head has counted it dead.
    driver.child.kill('SIGSTOP');
    const killed = head();
    process.kill(killed.pid, 'SIGKILL');
    pids.add((await restartedAfter(killed.pid)).pid);
    await eventually(
      () => queryJobs(address, token),
      (listed) => listed.find((job) => job.jobId === jobId)?.alive === false,
      1200,
    );
    driver.child.kill('SIGCONT');
    const lost = JSON.parse(await driver.waitFor('LOST', 60_000)) as string;
    assert.match(lost, new RegExp(`^[^\\n]*the head refused it: the cluster counts driver [^ ]+ gone \\(its job ${jobId} ended\\)[^\\n]*$`));
    assert.equal(await driver.exited, 0, driver.errors);
  });
});
