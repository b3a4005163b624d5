/**
 * Issue 10's closing figures, measured in one run on real clusters of processes on 127.0.0.1:
 *
 * - (a) a 256 MiB object between two nodes, against raw TCP loopback (bench/object-transfer.ts,
 *   whose cluster is its own: a head and two nodes of one CPU each);
 * - (b) node-death detection at the default health checks: from the SIGKILL of a joined node's
 *   process until the head's GCS, asked every `detectionPollMs` over one connection held open, first
 *   answers that the node is not alive;
 * - (c) GCS restart: opening and replaying a 100k-event GCS log in this process (bench/gcs-restart.ts),
 *   and the whole process: from the SIGKILL of the head's node process until the head its supervisor
 *   started again has replayed its log and every other node has reconnected (the line
 *   "the GCS resumed as incarnation …" in the head's node.log), on the cluster of (d) (a log of about
 *   a thousand events) and on a head whose 1 ms health check has filled its log to 100k events;
 * - (d) tiny tasks (`x => x + 1`) from a driver attached to a head and one node (two CPUs each),
 *   against the embedded runtime (`init({ numCpus: 2 })`) in this process, alternating round by round
 *   so that both meet the machine's load alike.
 *
 * A step that fails prints one line and the others still run. Every node process is stopped by its
 * pid at the end (also on an error or Ctrl-C), with the /dev/shm folders of killed nodes. Prints a
 * table and writes bench/cluster-results.json. Run:
 * `npm run bench:cluster` (`npm run build && node --expose-gc dist/bench/cluster.js [--quick]`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { defaultGcsConfig } from '../core/gcs/index.js';
import { ClusterTool } from '../node/cluster/cluster-tool.js';
import { liveHealthCheckFailureThreshold } from '../node/cluster/cluster-node.js';
import type { AddressFile } from '../node/cluster/local-nodes.js';
import * as tsray from '../node/index.js';
import { isRunning } from '../node/process-liveness.js';
import { logDataFileName, logDirFor } from '../node/store/event-log-dir.js';
import { sweepStaleHandoffs } from '../node/store/shm-handoff.js';
import { replayGcsLog, writeGcsLog } from './gcs-restart.js';
import { median, Recorder, scaleFor, section } from './harness.js';
import { benchObjectTransfer } from './object-transfer.js';
import { buildResults, formatValue, writeResults } from './report.js';
import { rawLoopback } from './tcp-loopback.js';

const quick = process.argv.includes('--quick');
const benchScale = scaleFor(quick);
const repeats = benchScale.repeats;
/** (d): tiny tasks submitted at once, then awaited, per sample. */
const tinyTasks = quick ? 5_000 : 20_000;
/** (d): the CPUs of the head, of the other node and of the embedded runtime. */
const cpusPerNode = 2;
/** (c): the GCS log's events, as issue 10 names them. */
const logEvents = 100_000;
/** (c): whole-process restarts; the supervisor gives up after 5 within a minute (node-supervisor.ts). */
const processRestarts = 3;
/** (b): how often the GCS is asked whether the killed node is alive. */
const detectionPollMs = 10;
/** (b), (c): the longest wait for a node to be declared dead, or for a head to resume. */
const waitBoundMs = 60_000;

const cli = fileURLToPath(new URL('../node/cli/main.js', import.meta.url));
const resultsPath = fileURLToPath(new URL('../../bench/cluster-results.json', import.meta.url));

const increment = tsray.remote((x: number) => x + 1);
const whereRuns = tsray.remote(() => tsray.getRuntimeContext().nodeId);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const errorLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

/**
 * A cluster this bench started with the CLI under its own sessions root. It remembers every node
 * pid it saw, so that `stop` ends them all by pid, whatever `tsray stop` could not.
 */
class BenchCluster {
  /** The clusters started and not stopped yet, for an exit on a signal. */
  static readonly live = new Set<BenchCluster>();
  readonly pids = new Set<number>();
  private constructor(
    readonly root: string,
    readonly address: string,
    readonly token: string,
  ) {}

  /** Starts a head with `headArgs` in a fresh sessions root. */
  static async start(headArgs: string[]): Promise<BenchCluster> {
    const root = mkdtempSync(join(tmpdir(), 'tsray-bench-cluster-'));
    const clusterDir = join(root, 'cluster');
    try {
      await tsrayCli(['start', '--head', '--port', '0', ...headArgs], root);
      const file = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as AddressFile;
      const cluster = new BenchCluster(root, file.address, file.token);
      BenchCluster.live.add(cluster);
      cluster.noteHead();
      return cluster;
    } catch (error) {
      stopRoot(root, []);
      throw error;
    }
  }

  /** The head's address file as it is now. */
  head(): AddressFile {
    return JSON.parse(readFileSync(join(this.root, 'cluster', 'address.json'), 'utf8')) as AddressFile;
  }

  /** Remembers the current head's pids (its node process and its supervisor). */
  noteHead(): AddressFile {
    const file = this.head();
    this.pids.add(file.pid);
    if (file.supervisorPid !== undefined) this.pids.add(file.supervisorPid);
    return file;
  }

  /** Joins a node with `args`; its id and pid. */
  async join(args: string[]): Promise<{ nodeId: string; pid: number }> {
    const out = await tsrayCli(['start', '--address', this.address, '--token', this.token, ...args], this.root);
    const nodeId = /node (n[0-9a-f]+) joined/.exec(out)?.[1];
    const pid = Number(/pid (\d+)/.exec(out)?.[1]);
    if (nodeId === undefined || !(pid > 0)) throw new Error(`a joining node did not say its id and pid: ${out.trim()}`);
    this.pids.add(pid);
    return { nodeId, pid };
  }

  /** `tsray stop`, then SIGKILL of every pid seen or recorded, then the root and the killed nodes' /dev/shm folders. */
  async stop(): Promise<void> {
    await tsrayCli(['stop'], this.root).catch(() => undefined);
    stopRoot(this.root, [...this.pids]);
    BenchCluster.live.delete(this);
  }

  /** The same without `tsray stop`, for an exit on a signal. */
  stopNow(): void {
    stopRoot(this.root, [...this.pids]);
  }
}

/** SIGKILL of `pids` and of every node the root recorded; removes the root and the /dev/shm folders of nodes no longer running. */
function stopRoot(root: string, pids: readonly number[]): void {
  let recorded: number[] = [];
  try {
    recorded = readdirSync(join(root, 'cluster', 'nodes'))
      .filter((name) => name.endsWith('.json'))
      .map((name) => Number(name.slice(0, -5)));
  } catch {
    // No node was recorded.
  }
  const killed = [...new Set([...pids, ...recorded])];
  for (const pid of killed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  // Only folders whose node process is gone are removed (a killed node cannot remove its own), so
  // the kills are waited for: briefly, and synchronously, since a signal handler calls this too.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waitedMs = 0; waitedMs < 2000 && killed.some(isRunning); waitedMs += 10) Atomics.wait(pause, 0, 0, 10);
  sweepStaleHandoffs();
  rmSync(root, { recursive: true, force: true });
}

/** Runs the CLI with the sessions root `root`; rejects with its stderr's first line when it fails. */
function tsrayCli(args: string[], root: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: '', TSRAY_TOKEN: '' } }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`tsray ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
    });
  });
}

/** Polls `probe` every `everyMs` until it returns a value, for at most `boundMs` (then rejects naming `what`). */
async function until<T>(what: string, everyMs: number, boundMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadlineMs = performance.now() + boundMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadlineMs) throw new Error(`${what} did not happen within ${boundMs} ms`);
    await sleep(everyMs);
  }
}

/** (a): raw TCP, then bench/object-transfer.ts's P9 on its own cluster. */
async function objectTransfer(recorder: Recorder): Promise<void> {
  section('(a) a 256 MiB object between two nodes, against raw TCP loopback');
  const payload = Buffer.alloc(256 * 1024 * 1024);
  await recorder.repeat('raw.tcp', 'raw: TCP loopback, 256 MiB in 1 MiB writes', 'GB/s', repeats, async () => payload.byteLength / 1e9 / ((await rawLoopback(payload)) / 1000));
  await benchObjectTransfer(recorder, benchScale);
}

/** (c), in this process: open and replay a GCS log of `logEvents` events. */
async function gcsReplay(recorder: Recorder): Promise<void> {
  section(`(c) GCS restart: open and replay a ${logEvents.toLocaleString('en')}-event GCS log`);
  const dir = mkdtempSync(join(tmpdir(), 'tsray-bench-gcs-log-'));
  try {
    await writeGcsLog(dir, logEvents);
    const replayed: number[] = [];
    await recorder.repeat('gcs.replay', `(c) GCS restart: open and replay a ${logEvents.toLocaleString('en')}-event log (in process)`, 'ms', repeats, async () => {
      const replay = await replayGcsLog(dir);
      replayed.push(replay.replayedEvents);
      return replay.elapsedMs;
    });
    if (replayed.some((count) => count < logEvents)) console.log(`  the log replayed only ${replayed.join(', ')} events`);
  } catch (error) {
    recorder.fail('gcs.replay', '(c) GCS restart: open and replay a 100k-event log', 'ms', error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One sample of (d): `tinyTasks` tiny tasks submitted at once, then awaited, in whatever runtime `init` starts; tasks/s. */
async function tinyTaskRate(init: () => Promise<unknown>): Promise<number> {
  await init();
  try {
    // A warm-up: workers started and the function shipped before the clock runs.
    await tsray.get(Array.from({ length: 200 }, (_, index) => increment.remote(index)));
    const startedMs = performance.now();
    const results = await tsray.get(Array.from({ length: tinyTasks }, (_, index) => increment.remote(index)));
    const elapsedMs = performance.now() - startedMs;
    if (results.some((value, index) => value !== index + 1)) throw new Error('a tiny task returned a wrong value');
    return tinyTasks / (elapsedMs / 1000);
  } finally {
    await tsray.shutdown();
  }
}

/** (d): the cluster's driver against the embedded runtime, alternating; each pair's ratio too. */
async function tinyTasksBoth(recorder: Recorder, cluster: BenchCluster): Promise<void> {
  section(`(d) ${tinyTasks.toLocaleString('en')} tiny tasks: a driver on a two-node cluster against the embedded runtime`);
  const previousToken = process.env['TSRAY_TOKEN'];
  process.env['TSRAY_TOKEN'] = cluster.token;
  const samples: Record<'embedded' | 'cluster' | 'paired', number[]> = { embedded: [], cluster: [], paired: [] };
  const labelEmbedded = `(d) embedded runtime (numCpus ${cpusPerNode}): ${tinyTasks.toLocaleString('en')} tiny tasks submitted, then awaited`;
  const labelCluster = `(d) driver attached to a head + 1 node (${cpusPerNode} CPUs each): the same`;
  try {
    for (let round = 0; round < repeats; round += 1) {
      const embedded = await tinyTaskRate(() => tsray.init({ numCpus: cpusPerNode }));
      const attached = await tinyTaskRate(() => tsray.init({ address: cluster.address }));
      samples.embedded.push(embedded);
      samples.cluster.push(attached);
      samples.paired.push(attached / embedded);
    }
    recorder.add('tiny.embedded', labelEmbedded, 'tasks/s', samples.embedded);
    recorder.add('tiny.cluster', labelCluster, 'tasks/s', samples.cluster);
    recorder.add('tiny.paired', '(d) cluster driver against embedded, paired round by round', '×', samples.paired);
    // Where the cluster's tasks ran, for reading the ratio (not a figure).
    await tsray.init({ address: cluster.address });
    try {
      const nodes = await tsray.get(Array.from({ length: 400 }, () => whereRuns.remote()));
      const counts = new Map<string, number>();
      for (const nodeId of nodes.map(String)) counts.set(nodeId, (counts.get(nodeId) ?? 0) + 1);
      console.log(`  400 tasks from the attached driver ran on: ${[...counts].map(([nodeId, count]) => `${nodeId} ${count}`).join(', ')} (head ${cluster.head().nodeId})`);
    } finally {
      await tsray.shutdown();
    }
  } catch (error) {
    if (samples.embedded.length === 0) recorder.fail('tiny.embedded', labelEmbedded, 'tasks/s', error);
    else recorder.add('tiny.embedded', labelEmbedded, 'tasks/s', samples.embedded);
    if (samples.cluster.length === 0) recorder.fail('tiny.cluster', labelCluster, 'tasks/s', error);
    else {
      recorder.add('tiny.cluster', labelCluster, 'tasks/s', samples.cluster);
      recorder.add('tiny.paired', '(d) cluster driver against embedded, paired round by round', '×', samples.paired);
      console.log(`  (d) stopped after ${samples.cluster.length} rounds: ${errorLine(error)}`);
    }
  } finally {
    if (previousToken === undefined) delete process.env['TSRAY_TOKEN'];
    else process.env['TSRAY_TOKEN'] = previousToken;
  }
}

/** (b): a node joined, alive a while, then SIGKILL; ms until the GCS first answers that it is not alive. */
async function deathDetection(recorder: Recorder, cluster: BenchCluster): Promise<void> {
  const windowMs = defaultGcsConfig.healthCheckPeriodMs * liveHealthCheckFailureThreshold;
  section(`(b) node-death detection at the default health checks (${defaultGcsConfig.healthCheckPeriodMs} ms × ${liveHealthCheckFailureThreshold} missed)`);
  const label = `(b) node death: SIGKILL of a node's process until the GCS reports it not alive (defaults ${defaultGcsConfig.healthCheckPeriodMs} ms × ${liveHealthCheckFailureThreshold} = ${windowMs} ms window; polled every ${detectionPollMs} ms)`;
  let tool: ClusterTool | undefined;
  const roundTrips: number[] = [];
  try {
    tool = await ClusterTool.connect(cluster.address, cluster.token);
    const asked = tool;
    await recorder.repeat('death.detect', label, 'ms', repeats, async () => {
      const { nodeId, pid } = await cluster.join(['--num-cpus', '1']);
      await until(`node ${nodeId} showing alive`, 50, 20_000, async () => ((await asked.nodes()).some((node) => node.nodeId === nodeId && node.alive) ? true : undefined));
      // Heartbeats flow steadily before the kill, as in a cluster that has run a while.
      await sleep(1000);
      const killedMs = performance.now();
      process.kill(pid, 'SIGKILL');
      const declaredMs = await until(`the GCS declaring node ${nodeId} dead`, detectionPollMs, waitBoundMs, async () => {
        const askedMs = performance.now();
        const nodes = await asked.nodes();
        const answeredMs = performance.now();
        roundTrips.push(answeredMs - askedMs);
        return nodes.some((node) => node.nodeId === nodeId && !node.alive) ? answeredMs : undefined;
      });
      return declaredMs - killedMs;
    });
    recorder.add('death.poll', '(b) one GCS node query round trip while polling (the resolution of (b), with the poll spacing)', 'ms', roundTrips);
  } catch (error) {
    recorder.fail('death.detect', label, 'ms', error);
  } finally {
    await tool?.close();
    sweepStaleHandoffs();
  }
}

/** The seq of the last event in the GCS log of the head session `sessionDir`, read from its LMDB file while the head writes it. */
function gcsLogLastSeq(sessionDir: string): number {
  const env = open<unknown, number>({ path: join(logDirFor(sessionDir, 'gcs'), logDataFileName), noSubdir: true, readOnly: true, maxDbs: 4 });
  try {
    const events = env.openDB<unknown, number>('events', {});
    for (const key of events.getKeys({ reverse: true, limit: 1 })) return Number(key);
    return 0;
  } finally {
    void env.close();
  }
}

/**
 * (c), the whole process: SIGKILL of the head's node process, `restarts` times, each timed until the
 * head its supervisor started again logged that its GCS resumed with every node reconnected.
 */
async function processRestart(recorder: Recorder, cluster: BenchCluster, id: string, label: string, restarts: number): Promise<void> {
  const resumedLine = 'the GCS resumed as incarnation';
  const replayed: string[] = [];
  await recorder.repeat(id, label, 'ms', restarts, async () => {
    const before = cluster.noteHead();
    if (before.supervisorPid === undefined) throw new Error('the head runs without a supervisor');
    const logPath = join(before.sessionDir, 'node.log');
    const resumedLines = (): string[] => (existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').filter((line) => line.includes(resumedLine)) : []);
    const seen = resumedLines().length;
    const killedMs = performance.now();
    process.kill(before.pid, 'SIGKILL');
    const line = await until('the head resuming', 20, waitBoundMs, () => resumedLines()[seen]);
    const elapsedMs = performance.now() - killedMs;
    const events = /after replaying (\d+) events/.exec(line)?.[1] ?? '?';
    const nodes = /; (\d+ of \d+) nodes reconnected/.exec(line)?.[1] ?? '?';
    replayed.push(`${events} events, ${nodes} nodes`);
    await until('the new head writing its address file', 20, waitBoundMs, () => (cluster.head().pid !== before.pid ? true : undefined));
    cluster.noteHead();
    // The dead head's raylet is buried by the health checks before the next kill.
    await sleep(2000);
    return elapsedMs;
  });
  if (replayed.length > 0) console.log(`  each restart replayed: ${replayed.join('; ')}`);
}

/**
 * (c), the whole process with a large GCS log: a head whose health check runs every 1 ms (threshold
 * 2000, the same 2 s window as the tests use), so that its own `timer/fired` events fill its log to
 * `logEvents` in a couple of minutes, and one node; then the restarts of `processRestart`.
 */
async function largeLogRestart(recorder: Recorder): Promise<void> {
  const target = quick ? 20_000 : logEvents;
  const id = 'restart.process.large';
  const label = `(c) head process with a GCS log of ≥ ${target.toLocaleString('en')} events (health check every 1 ms to fill it): the same`;
  section(`(c) the whole head process again, once its GCS log holds ${target.toLocaleString('en')} events`);
  let cluster: BenchCluster | undefined;
  try {
    cluster = await BenchCluster.start(['--num-cpus', '1', '--health-check-period-ms', '1', '--health-check-failure-threshold', '2000']);
    await cluster.join(['--num-cpus', '1']);
    const { sessionDir } = cluster.head();
    const filledFrom = performance.now();
    await until(`the GCS log reaching ${target} events`, 2000, 600_000, () => (gcsLogLastSeq(sessionDir) >= target ? true : undefined));
    console.log(`  the log reached ${target.toLocaleString('en')} events in ${((performance.now() - filledFrom) / 1000).toFixed(0)} s`);
    await processRestart(recorder, cluster, id, label, Math.min(processRestarts, repeats));
  } catch (error) {
    recorder.fail(id, label, 'ms', error);
  } finally {
    await cluster?.stop();
  }
}

/** The figures as a Markdown table, with the machine's load. */
function table(recorder: Recorder, loadStart: readonly number[], loadEnd: readonly number[]): string {
  const loads = (load: readonly number[]): string => load.map((value) => value.toFixed(2)).join(' ');
  const lines = [
    `${quick ? 'quick' : 'full'} run, ${new Date().toISOString().slice(0, 16)} UTC, ${availableParallelism()} cores, Node.js ${process.version}, load average ${loads(loadStart)} at the start and ${loads(loadEnd)} at the end`,
    '',
    '| figure | median | min–max | unit | samples |',
    '|---|---:|---:|---|---:|',
  ];
  for (const figure of recorder.figures) {
    if (figure.samples.length === 0) lines.push(`| ${figure.label} | failed: ${figure.error ?? 'no samples'} | | ${figure.unit} | 0 |`);
    else lines.push(`| ${figure.label} | ${formatValue(median(figure.samples))} | ${formatValue(Math.min(...figure.samples))}–${formatValue(Math.max(...figure.samples))} | ${figure.unit} | ${figure.samples.length} |`);
  }
  return lines.join('\n');
}

/** The four closing figures in one line each, from the table's medians. */
function closing(recorder: Recorder): string {
  const figure = (id: string): number => median(recorder.figures.find((found) => found.id === id)?.samples ?? []);
  const show = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'not measured');
  return [
    `(a) 256 MiB head → node: ${show(figure('p9.tsray'))} GB/s against raw TCP ${show(figure('raw.tcp'))} GB/s: ${show(figure('p9.tsray') / figure('raw.tcp'))}× (paired with raw TCP just before each transfer: ${show(figure('p9.paired'))}×)`,
    `(b) node-death detection at the defaults: ${show(figure('death.detect'), 0)} ms`,
    `(c) GCS restart, ${logEvents.toLocaleString('en')}-event log opened and replayed: ${show(figure('gcs.replay'), 0)} ms; whole head process until the nodes reconnected: ${show(figure('restart.process'), 0)} ms with a small log, ${show(figure('restart.process.large'), 0)} ms with a large one`,
    `(d) tiny tasks: driver on a two-node cluster ${show(figure('tiny.cluster'), 0)} tasks/s against embedded ${show(figure('tiny.embedded'), 0)} tasks/s: ${show(figure('tiny.cluster') / figure('tiny.embedded'))}× (paired: ${show(figure('tiny.paired'))}×)`,
  ].join('\n');
}

const recorder = new Recorder();
const loadStart = loadavg();
const startedMs = performance.now();
if (globalThis.gc === undefined) console.log("(run with node --expose-gc, so that each 256 MiB object is freed before the next; npm run bench:cluster does)");
console.log(`${quick ? 'quick' : 'full'} run on ${availableParallelism()} cores, Node.js ${process.version}, load average ${loadStart.map((load) => load.toFixed(2)).join(' ')}`);

// Ctrl-C ends this bench's clusters too (the daemons are detached); (a)'s cluster is object-transfer.ts's own.
const onSignal = (): void => {
  for (const live of BenchCluster.live) live.stopNow();
  process.exit(130);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

await objectTransfer(recorder);
await gcsReplay(recorder);

section(`a head and one node (${cpusPerNode} CPUs each) for (b), (c) and (d)`);
let cluster: BenchCluster | undefined;
try {
  cluster = await BenchCluster.start(['--num-cpus', String(cpusPerNode)]);
  await cluster.join(['--num-cpus', String(cpusPerNode)]);
  await tinyTasksBoth(recorder, cluster);
  await deathDetection(recorder, cluster);
  section('(c) the whole head process: kill -9 under its supervisor, until the GCS resumed and the nodes reconnected');
  const label = "(c) head process: SIGKILL of the head's node process until its supervisor's new head resumed from the GCS log with every node reconnected";
  await processRestart(recorder, cluster, 'restart.process', label, Math.min(processRestarts, repeats));
} catch (error) {
  recorder.fail('cluster', 'the cluster for (b), (c) and (d)', '', error);
} finally {
  await cluster?.stop();
}
await largeLogRestart(recorder);
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);

const loadEnd = loadavg();
console.log(`\n${table(recorder, loadStart, loadEnd)}\n\n${closing(recorder)}`);
const results = buildResults({ nproc: availableParallelism(), node: process.version, date: new Date().toISOString(), loadAverage: loadStart, quick }, recorder.figures, []);
const written = { ...results, loadAverageAtEnd: loadEnd };
writeResults(resultsPath, written);
console.log(`\nwritten to ${resultsPath}; ${((performance.now() - startedMs) / 1000).toFixed(0)} s`);
