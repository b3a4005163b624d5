/**
 * Drivers connected to a cluster of real processes (issue 10): a head and a node started with the
 * CLI on 127.0.0.1, and user scripts in child processes that connect with TSRAY_ADDRESS or
 * `init({ address: 'auto' })`, run tasks and an actor on the nodes' worker threads, and meet the
 * one-line failures (a wrong token, no cluster there).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { queryNodes } from '../../node/cluster/query.js';
import { killPids, printedLines, recordedNodePids, runnerIn } from '../support/cluster.js';
import type { ProcessRun } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import { eventually } from '../support/eventually.js';
import type { DriverScript } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-drivers-'));
const clusterDir = join(root, 'cluster');

type Run = ProcessRun;

/** Runs node with `args` and this test's sessions root; `env` adds to (or blanks) the environment. */
const run = runnerIn(root);

/** The pids of the node processes recorded under this test's root. */
function recordedPids(): number[] {
  return recordedNodePids(clusterDir);
}

/** The lines a script printed as `KEY value`, by key. */
function printed(output: Run): Map<string, string> {
  return printedLines(output.stdout);
}

const mapScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
console.log('INFO', JSON.stringify(info));
const square = tsray.remote((x) => x * x);
console.log('SQUARES', JSON.stringify(await tsray.get(Array.from({ length: 20 }, (_, i) => square.remote(i)))));
const where = tsray.remote(() => tsray.getRuntimeContext().nodeId);
const on = (nodeId) => tsray.get(where.options({ schedulingStrategy: { nodeId, soft: false } }).remote());
console.log('ON_OTHER', await on(process.env.OTHER_NODE));
console.log('ON_HEAD', await on(info.nodeId));
console.log('DRIVER_NODE', tsray.getRuntimeContext().nodeId);
console.log('NODES', JSON.stringify((await tsray.nodes()).map((node) => node.nodeId).sort()));
console.log('CPUS', (await tsray.clusterResources()).CPU);
class Counter { n = 0; add(k) { this.n += k; return this.n; } }
const counter = tsray.remote(Counter).remote();
await Promise.all([1, 2, 3].map((k) => tsray.get(counter.add.remote(k))));
console.log('COUNTER', await tsray.get(counter.add.remote(0)));
try { console.log('PUT', (await tsray.get(tsray.put(new Uint8Array(200_000).fill(3))))[199_999]); } catch (error) { console.log('PUT', error.name, error.message); }
const large = tsray.remote(() => new Uint8Array(300_000).fill(5));
try { console.log('GET', (await tsray.get(large.remote())).length); } catch (error) { console.log('GET', error.name, error.message); }
// A large value in the head's store, as the argument of a task on the other node: that node's worker
// reads its own node's copy of it, not its own store at the head's offsets.
const length = tsray.remote((bytes) => bytes.length);
const onHead = large.options({ schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote();
console.log('SAME_NODE_ARG', await tsray.get(length.options({ schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote(onHead)));
try {
  console.log('OTHER_NODE_ARG read', await tsray.get(length.options({ schedulingStrategy: { nodeId: process.env.OTHER_NODE, soft: false } }).remote(onHead)));
} catch (error) {
  console.log('OTHER_NODE_ARG', error.name, error.cause?.name, error.message.split('\\n').length);
}
await tsray.shutdown();
console.log('DONE yes');
`;

const autoScript = `
import * as tsray from 'tsray';
const info = await tsray.init({ address: 'auto' });
const one = tsray.remote(() => 1);
console.log('AUTO', info.address, await tsray.get(one.remote()));
// No shutdown(): the script still ends, and its job with it (list jobs below).
`;

const stuckScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
const sleep = tsray.remote(() => new Promise((resolve) => setTimeout(resolve, 600_000)));
const refs = [sleep.options({ schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote()];
console.log('SUBMITTED yes');
await tsray.get(refs);
`;

const waitingScript = `
import * as tsray from 'tsray';
const info = await tsray.init();
const sleep = tsray.remote(() => new Promise((resolve) => setTimeout(resolve, 600_000)));
const ref = sleep.options({ schedulingStrategy: { nodeId: info.nodeId, soft: false } }).remote();
console.log('WAITING yes');
// Short gets until one times out while the connection is down: its message says so.
for (;;) {
  try {
    await tsray.get(ref, { timeout: 200 });
  } catch (error) {
    if (!(error instanceof tsray.GetTimeoutError)) break;
    if (error.message.includes('reconnecting')) {
      console.log('TROUBLE', JSON.stringify(error.message));
      break;
    }
  }
}
try {
  await tsray.get(ref);
  console.log('GOT yes');
} catch (error) {
  console.log('LOST', JSON.stringify(error.message));
  console.log('LOST_AS', error.name, error instanceof tsray.ObjectLostError, error instanceof tsray.TsrayError);
}
try {
  sleep.remote();
} catch (error) {
  console.log('AFTER', JSON.stringify(error.message));
}
`;

const failingScript = `
import * as tsray from 'tsray';
try {
  await tsray.init();
  console.log('CONNECTED yes');
} catch (error) {
  console.log('ERROR', JSON.stringify(error.message));
}
`;

void describe('a driver connected to a cluster of processes', () => {
  const scripts: DriverScript[] = [];
  let head: { address: string; token: string; nodeId: string };
  let otherNode = '';

  before(async () => {
    const started = await run([cli, 'start', '--head', '--port', '0', '--num-cpus', '2']);
    assert.equal(started.code, 0, started.stderr);
    head = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as typeof head;
    const joined = await run([cli, 'start', '--address', head.address, '--num-cpus', '2']);
    assert.equal(joined.code, 0, joined.stderr);
    otherNode = /node (n[0-9a-f]+) joined/.exec(joined.stdout)?.[1] ?? '';
    assert.notEqual(otherNode, '');
  });

  after(() => {
    // Every node process this test started ends, whatever happened: the daemons are detached.
    killPids(recordedPids());
    for (const script of scripts) script.remove();
    rmSync(root, { recursive: true, force: true });
  });

  function script(name: string, source: string): string {
    const written = writeDriverScript(name, source);
    scripts.push(written);
    return written.path;
  }

  void test('tasks and an actor of a TSRAY_ADDRESS driver run on the nodes; large values travel between the driver and the nodes', async () => {
    const output = await run([script('cluster-driver-map', mapScript)], { TSRAY_ADDRESS: head.address, OTHER_NODE: otherNode });
    assert.equal(output.code, 0, output.stderr);
    const lines = printed(output);
    const info = JSON.parse(lines.get('INFO') ?? '{}') as { address?: string; nodeId?: string; jobId?: string; sessionDir?: string };
    assert.equal(info.address, head.address);
    assert.equal(info.nodeId, head.nodeId, 'the driver attaches to the head node');
    assert.match(info.jobId ?? '', /^j\d+$/);
    assert.equal(lines.get('SQUARES'), JSON.stringify(Array.from({ length: 20 }, (_, i) => i * i)));
    assert.equal(lines.get('ON_OTHER'), otherNode);
    assert.notEqual(lines.get('ON_OTHER'), head.nodeId);
    assert.equal(lines.get('ON_HEAD'), head.nodeId);
    assert.equal(lines.get('DRIVER_NODE'), head.nodeId);
    assert.equal(lines.get('NODES'), JSON.stringify([head.nodeId, otherNode].sort()));
    assert.equal(lines.get('CPUS'), '4');
    assert.equal(lines.get('COUNTER'), '6');
    assert.equal(lines.get('PUT'), '3');
    assert.equal(lines.get('GET'), '300000');
    assert.equal(lines.get('SAME_NODE_ARG'), '300000');
    assert.equal(lines.get('OTHER_NODE_ARG'), 'read 300000');
    assert.equal(lines.get('DONE'), 'yes');
  });

  void test("init({ address: 'auto' }) finds the head this machine started; a script that forgets shutdown() still exits", async () => {
    const output = await run([script('cluster-driver-auto', autoScript)]);
    assert.equal(output.code, 0, output.stderr);
    assert.equal(printed(output).get('AUTO'), `${head.address} 1`);
  });

  void test('a driver killed without shutdown is ended by the head: the CPU its task held comes back', async () => {
    const headCpus = async (): Promise<number | undefined> => (await queryNodes(head.address, head.token)).find((node) => node.nodeId === head.nodeId)?.available['CPU'];
    // The drivers of earlier tests are gone first, so that only this one's task can hold a CPU.
    assert.equal(await eventually(headCpus, (cpus) => cpus === 2), 2);
    const child = spawn(process.execPath, [script('cluster-driver-stuck', stuckScript)], { stdio: 'ignore', env: { ...process.env, TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: head.address, TSRAY_TOKEN: '' } });
    try {
      assert.equal(await eventually(headCpus, (cpus) => cpus === 1), 1, 'the driver\'s task should hold one of the head\'s 2 CPUs');
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(await eventually(headCpus, (cpus) => cpus === 2), 2, 'the head should end the dead driver\'s lease');
  });

  void test('tsray list jobs shows one job per driver that connected, each ended once its driver left', async () => {
    const listed = await run([cli, 'list', 'jobs', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const jobs = JSON.parse(listed.stdout) as { jobId: string; driverId: string; namespace: string; alive: boolean }[];
    // The map, auto and killed drivers of the tests above (node:test runs them in order).
    assert.deepEqual(
      jobs.map((job) => job.jobId),
      ['j1', 'j2', 'j3'],
    );
    for (const job of jobs) {
      // A driver is named after its own connection, not after the head it attached to.
      assert.match(job.driverId, /^driver-\d+-[0-9a-f]+\.d[0-9a-f]+$/);
      assert.equal(job.namespace, 'default');
    }
    // An ended job's state reaches the GCS when its driver's connection closes, a moment after the test saw the CPU back.
    const ended = await eventually(
      async () => JSON.parse((await run([cli, 'list', 'jobs', '--json'])).stdout) as { alive: boolean }[],
      (all) => all.every((job) => !job.alive),
      40,
    );
    assert.deepEqual(
      ended.map((job) => job.alive),
      [false, false, false],
    );
    const text = await run([cli, 'list', 'jobs']);
    assert.match(text.stdout, /^JOB +STATE +DRIVER +NAMESPACE\nj1 +ENDED /);
  });

  void test('a wrong token, or no cluster at the address, fails init with one line', async () => {
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((done) => probe.close(() => done()));
    const path = script('cluster-driver-failing', failingScript);
    const [wrongToken, nobody] = await Promise.all([
      run([path], { TSRAY_ADDRESS: head.address, TSRAY_TOKEN: 'b'.repeat(64) }),
      run([path], { TSRAY_ADDRESS: `127.0.0.1:${port}` }),
    ]);
    for (const output of [wrongToken, nobody]) assert.equal(output.code, 0, output.stderr);
    const refused = JSON.parse(printed(wrongToken).get('ERROR') ?? '""') as string;
    assert.match(refused, /^cannot connect a driver to the cluster at [^\n]*token[^\n]*$/);
    const unreachable = JSON.parse(printed(nobody).get('ERROR') ?? '""') as string;
    assert.match(unreachable, new RegExp(`^cannot connect a driver to the cluster at 127\\.0\\.0\\.1:${port}: could not reach[^\\n]*$`));
  });

  // Last: it kills the head and its supervisor, so that no head comes back.
  void test('a driver whose head dies for good fails its pending get with one line, naming its reconnect bound, and exits', async () => {
    const child = spawn(process.execPath, [script('cluster-driver-waiting', waitingScript)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: head.address, TSRAY_TOKEN: '', TSRAY_DRIVER_RECONNECT_MS: '1500' },
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.resume();
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await eventually(() => Promise.resolve(stdout), (text) => text.includes('WAITING'), 400);
      assert.match(stdout, /WAITING/);
      const { pid, supervisorPid } = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { pid: number; supervisorPid?: number };
      if (supervisorPid !== undefined) process.kill(supervisorPid, 'SIGKILL');
      process.kill(pid, 'SIGKILL');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
    const lines = printed({ code: 0, stdout, stderr: '' });
    const lost = JSON.parse(lines.get('LOST') ?? '""') as string;
    assert.match(lost, new RegExp(`^[^\\n]*lost its connection to the cluster at ${head.address.replace(/\./g, '\\.')}[^\\n]*1500 ms \\(TSRAY_DRIVER_RECONNECT_MS\\)[^\\n]*$`));
    assert.equal(lines.get('LOST_AS'), 'ObjectLostError true true', 'the lost get failed as a tsray error, not as wrong use');
    assert.match(JSON.parse(lines.get('TROUBLE') ?? '""') as string, new RegExp(`^get timed out[^\\n]*; the driver lost its connection to the cluster at ${head.address.replace(/\./g, '\\.')} \\d+ ms ago and is reconnecting$`));
    assert.match(JSON.parse(lines.get('AFTER') ?? '""') as string, /not initialized/);
  });
});
