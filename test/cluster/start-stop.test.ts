/**
 * A cluster of real processes on 127.0.0.1, started and stopped with the CLI as a user does: a head
 * and two nodes join over TCP with the cluster token (one with `--address auto`) and `status` / `list nodes` show them with their
 * resources; a node killed with SIGKILL is declared dead by the head's health checks; a joiner with a
 * wrong token is refused and does not join; `stop` ends them all; bad arguments get one line and exit 2.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { NodeReport } from '../../core/protocol.js';
import { isRunning } from '../../node/process-liveness.js';
import { queryNodes } from '../../node/cluster/query.js';
import { recordedNodePids, runNode } from '../support/cluster.js';
import type { ProcessRun } from '../support/cluster.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(packageRoot, 'dist/node/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'tsray-cluster-'));
const clusterDir = join(root, 'cluster');

type Run = ProcessRun;

/** Runs the CLI with this test's sessions root (so it finds only this test's nodes). */
function tsray(args: string[], sessionsRoot = root): Promise<Run> {
  return runNode([cli, ...args], { TSRAY_SESSIONS_ROOT: sessionsRoot, TSRAY_ADDRESS: '' });
}

function addressFile(): { address: string; token: string; pid: number } {
  return JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { address: string; token: string; pid: number };
}

/** The pids of the node processes recorded under this test's root. */
function recordedPids(): number[] {
  return recordedNodePids(clusterDir);
}


/** The node id a `start --address` printed. */
function joinedNodeId(run: Run): string {
  const match = /node (n[0-9a-f]+) joined/.exec(run.stdout);
  assert.ok(match?.[1] !== undefined, `no node id in: ${run.stdout}${run.stderr}`);
  return match[1];
}

void describe('a cluster of processes started with tsray start', () => {
  const started = new Set<number>();
  after(() => {
    // Every process this test started ends, whatever happened: the daemons are detached.
    for (const pid of [...started, ...recordedPids()]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  void test('bad arguments get one line and exit 2', async () => {
    const cases = [
      ['start'],
      ['start', '--head', '--address', '127.0.0.1:1'],
      ['start', '--head', '--port', 'abc'],
      ['start', '--head', '--port', '70000'],
      ['start', '--head', '--resources', '[1]'],
      ['start', '--head', '--resources', '{"CPU":2}'],
      ['start', '--head', '--bogus'],
      // A node silent for two heartbeats would be declared dead: the window is too short.
      ['start', '--head', '--port', '0', '--health-check-period-ms', '50', '--health-check-failure-threshold', '2'],
      ['start', '--address', 'no-port'],
      ['start', '--address', '127.0.0.1:1', '--port', '5'],
      ['start', '--address', '127.0.0.1:1', '--token', 'not-hex'],
      ['start', '--address'],
      // No head was started on this machine yet, so `auto` has nothing to join.
      ['start', '--address', 'auto'],
      ['stop', 'now'],
      ['status', '--bogus'],
      ['list', 'widgets', '--address', '127.0.0.1:1', '--token', 'a'.repeat(64)],
    ];
    const runs = await Promise.all(cases.map((args) => tsray(args)));
    runs.forEach((run, index) => {
      const shown = (cases[index] ?? []).join(' ');
      assert.equal(run.code, 2, `tsray ${shown}: ${run.stderr}`);
      assert.match(run.stderr, /^tsray: [^\n]+\n$/, `tsray ${shown} should say one line, said: ${run.stderr}`);
    });
    assert.match(runs[cases.findIndex((args) => args.join(' ') === 'start --address auto')]?.stderr ?? '', /--address auto found no head started on this machine[^\n]*tsray start --head/);
    // Nothing was started by any of them.
    assert.deepEqual(recordedPids(), []);
    for (const args of [['start', '--help'], ['stop', '--help'], ['status', '--help'], ['list', '--help']]) {
      const run = await tsray(args);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^usage: tsray /);
    }
  });

  void test('a node or a tool that cannot reach the head fails with one line saying so', async () => {
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((done) => probe.close(() => done()));
    const token = 'a'.repeat(64);
    const [joiner, status] = await Promise.all([tsray(['start', '--address', `127.0.0.1:${port}`, '--token', token]), tsray(['status', '--address', `127.0.0.1:${port}`, '--token', token])]);
    for (const run of [joiner, status]) {
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^tsray: [^\\n]*could not reach the cluster at 127\\.0\\.0\\.1:${port}[^\\n]*\\n$`));
    }
    assert.deepEqual(recordedPids(), []);
  });

  let head: { address: string; token: string; pid: number };
  let victim = '';

  void test('a head and two nodes join and show with their resources', async () => {
    const up = await tsray(['start', '--head', '--port', '0', '--num-cpus', '1', '--resources', '{"GPU":1}']);
    assert.equal(up.code, 0, up.stderr);
    head = addressFile();
    started.add(head.pid);
    assert.match(up.stdout, new RegExp(`TSRAY_ADDRESS=${head.address}`));
    assert.match(up.stdout, new RegExp(`init\\(\\{ address: '${head.address}' \\}\\)`));
    // The token is for this user's eyes only, in the address file and in the session dir.
    assert.equal(statSync(join(clusterDir, 'address.json')).mode & 0o777, 0o600);
    const sessionDir = (JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { sessionDir: string }).sessionDir;
    assert.equal(readFileSync(join(sessionDir, 'token'), 'utf8').trim(), head.token);
    assert.equal(statSync(join(sessionDir, 'token')).mode & 0o777, 0o600);

    const [first, second] = await Promise.all([
      // This one joins the head this machine started, as a driver's `auto` does.
      tsray(['start', '--address', 'auto', '--num-cpus', '1']),
      // This one passes the token, as a node on another machine does.
      tsray(['start', '--address', head.address, '--token', head.token, '--num-cpus', '2', '--resources', '{"worker_node":1}']),
    ]);
    assert.equal(first?.code, 0, first?.stderr);
    assert.equal(second?.code, 0, second?.stderr);
    for (const pid of recordedPids()) started.add(pid);
    const firstId = joinedNodeId(first);
    const secondId = joinedNodeId(second);
    victim = secondId;

    const listed = await tsray(['list', 'nodes', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const nodes = JSON.parse(listed.stdout) as NodeReport[];
    assert.equal(nodes.length, 3);
    assert.ok(nodes.every((node) => node.alive));
    const byId = new Map(nodes.map((node) => [node.nodeId, node]));
    assert.deepEqual(byId.get(firstId)?.total, { CPU: 1 });
    assert.deepEqual(byId.get(secondId)?.total, { CPU: 2, worker_node: 1 });
    const headNode = nodes.find((node) => node.nodeId !== firstId && node.nodeId !== secondId);
    assert.deepEqual(headNode?.total, { CPU: 1, GPU: 1 });

    const status = await tsray(['status', '--address', head.address]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /3 nodes alive, 0 dead/);
    assert.match(status.stdout, /0\/4 CPU/);
    assert.match(status.stdout, /0\/1 GPU/);
    assert.match(status.stdout, new RegExp(`${secondId}\\s+ALIVE\\s+2/2`));
  });

  void test('a second head on a port in use fails with one line naming it', async () => {
    const otherRoot = mkdtempSync(join(tmpdir(), 'tsray-cluster-other-'));
    try {
      const port = head.address.slice(head.address.lastIndexOf(':') + 1);
      const run = await tsray(['start', '--head', '--port', port], otherRoot);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^tsray: [^\n]*EADDRINUSE[^\n]*--port[^\n]*\n$/);
    } finally {
      rmSync(otherRoot, { recursive: true, force: true });
    }
    // And a head on this machine's sessions root refuses to start beside the running one.
    const again = await tsray(['start', '--head', '--port', '0']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /runs already/);
  });

  void test('a joiner with a wrong token is refused, says why in one line, and does not join', async () => {
    const wrong = head.token.replace(/^./, (digit) => (digit === '0' ? '1' : '0'));
    const before = recordedPids();
    const run = await tsray(['start', '--address', head.address, '--token', wrong]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^tsray: [^\n]*wrong cluster token[^\n]*\n$/);
    assert.deepEqual(recordedPids().sort(), before.sort());
    const nodes = await queryNodes(head.address, head.token);
    assert.equal(nodes.length, 3);
  });

  void test('a node killed with SIGKILL is declared dead by the health checks', async (t) => {
    const records = recordedPids().map((pid) => ({ pid, ...(JSON.parse(readFileSync(join(clusterDir, 'nodes', `${pid}.json`), 'utf8')) as { nodeId: string }) }));
    const record = records.find((candidate) => candidate.nodeId === victim);
    assert.ok(record !== undefined, `no record of node ${victim}`);
    process.kill(record.pid, 'SIGKILL');
    const killedAtMs = performance.now();
    let nodes: NodeReport[] = [];
    for (let probe = 0; probe < 1000; probe += 1) {
      nodes = await queryNodes(head.address, head.token);
      if (nodes.some((node) => node.nodeId === victim && !node.alive)) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const detectedAfterMs = performance.now() - killedAtMs;
    assert.equal(nodes.find((node) => node.nodeId === victim)?.alive, false, 'the killed node is never declared dead');
    assert.equal(nodes.filter((node) => node.alive).length, 2);
    t.diagnostic(`node death detected ${Math.round(detectedAfterMs)} ms after SIGKILL (default health checks)`);
  });

  void test('stop ends every node this machine started and removes their files, and signals no other program', async () => {
    const pids = recordedPids().filter(isRunning);
    // The head, its supervisor, and the node that was not killed.
    assert.equal(pids.length, 3);
    // A stale record whose pid now belongs to another program: stop must leave that program alone.
    const bystander = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const bystanderPid = bystander.pid ?? 0;
    started.add(bystanderPid);
    writeFileSync(join(clusterDir, 'nodes', `${bystanderPid}.json`), JSON.stringify({ pid: bystanderPid, nodeId: 'nstale', head: false, address: head.address, sessionDir: '' }));
    const run = await tsray(['stop']);
    assert.equal(isRunning(bystanderPid), true, 'stop signalled a program that is no tsray node');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /stopped 3 node processes/);
    for (const pid of pids) assert.equal(isRunning(pid), false, `pid ${pid} still runs`);
    assert.deepEqual(recordedPids(), []);
    assert.equal(existsSync(join(clusterDir, 'address.json')), false);
    const status = await tsray(['status']);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /^tsray: status: no cluster to ask[^\n]*\n$/);
    assert.ok(status.stderr.includes(`(no ${join(clusterDir, 'address.json')}; a head started with TSRAY_SESSIONS_ROOT set`), `it says where it looked: ${status.stderr}`);
  });
});

void describe('a node the head declared dead while it was only frozen', () => {
  const frozenRoot = mkdtempSync(join(tmpdir(), 'tsray-cluster-fenced-'));
  const frozenClusterDir = join(frozenRoot, 'cluster');
  const pids = new Set<number>();
  after(() => {
    for (const pid of pids) {
      try {
        // SIGCONT first: a stopped process takes SIGKILL anyway, but leaves no stopped job behind.
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(frozenRoot, { recursive: true, force: true });
  });

  void test('is fenced: once it runs again it hears of its death and stops by itself', async () => {
    // Health checks configured tighter than the defaults (the reducer's config takes them).
    const up = await tsray(['start', '--head', '--port', '0', '--num-cpus', '1', '--health-check-period-ms', '50', '--health-check-failure-threshold', '6'], frozenRoot);
    assert.equal(up.code, 0, up.stderr);
    const file = JSON.parse(readFileSync(join(frozenClusterDir, 'address.json'), 'utf8')) as { address: string; token: string; pid: number; supervisorPid?: number };
    // The supervisor first, so that it is gone before the head it would start again.
    if (file.supervisorPid !== undefined) pids.add(file.supervisorPid);
    pids.add(file.pid);
    const joined = await tsray(['start', '--address', file.address, '--num-cpus', '1'], frozenRoot);
    assert.equal(joined.code, 0, joined.stderr);
    const nodeId = joinedNodeId(joined);
    const record = readdirSync(join(frozenClusterDir, 'nodes'))
      .map((name) => JSON.parse(readFileSync(join(frozenClusterDir, 'nodes', name), 'utf8')) as { pid: number; nodeId: string; sessionDir: string })
      .find((candidate) => candidate.nodeId === nodeId);
    assert.ok(record !== undefined);
    pids.add(record.pid);
    process.kill(record.pid, 'SIGSTOP');
    let nodes: NodeReport[] = [];
    for (let probe = 0; probe < 1000 && nodes.find((node) => node.nodeId === nodeId)?.alive !== false; probe += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      nodes = await queryNodes(file.address, file.token);
    }
    assert.equal(nodes.find((node) => node.nodeId === nodeId)?.alive, false, 'the frozen node is never declared dead');
    process.kill(record.pid, 'SIGCONT');
    for (let probe = 0; probe < 1000 && isRunning(record.pid); probe += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(isRunning(record.pid), false, 'the fenced node still runs');
    assert.match(readFileSync(join(record.sessionDir, 'node.log'), 'utf8'), /the GCS declared this node dead/);
    // It removed its own record on the way out; the head still runs.
    assert.equal(existsSync(join(frozenClusterDir, 'nodes', `${record.pid}.json`)), false);
    assert.equal(isRunning(file.pid), true);
    const stop = await tsray(['stop'], frozenRoot);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(isRunning(file.pid), false);
  });
});

void describe('tsray start --block', () => {
  const blockRoot = mkdtempSync(join(tmpdir(), 'tsray-cluster-block-'));
  let pid: number | undefined;
  after(() => {
    try {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(blockRoot, { recursive: true, force: true });
  });

  void test('runs the head in the command itself until Ctrl-C, then stops cleanly and removes its files', async () => {
    const child = spawn(process.execPath, [cli, 'start', '--head', '--port', '0', '--num-cpus', '1', '--block'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSRAY_SESSIONS_ROOT: blockRoot } });
    pid = child.pid;
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    let stdout = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((done, fail) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('TSRAY_ADDRESS=')) done();
      });
      void exited.then((code) => fail(new Error(`start --block exited (${String(code)}) before it was up`)));
    });
    const file = JSON.parse(readFileSync(join(blockRoot, 'cluster', 'address.json'), 'utf8')) as { address: string; token: string; pid: number };
    assert.equal(file.pid, child.pid);
    const nodes = await queryNodes(file.address, file.token);
    assert.equal(nodes.length, 1);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.equal(existsSync(join(blockRoot, 'cluster', 'address.json')), false);
    assert.deepEqual(readdirSync(join(blockRoot, 'cluster', 'nodes')), []);
  });
});
