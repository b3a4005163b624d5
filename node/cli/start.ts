/**
 * `tsray start --head ...` and `tsray start --address HOST:PORT ...`: start a cluster node on this
 * machine. Without `--block` the node runs as a daemon (a detached process whose output goes to
 * node.log in its session dir; for the head, a supervisor that starts it again when it crashes) and
 * the command returns once the node reports it is up; with `--block` the node runs in this process
 * until SIGTERM or Ctrl-C. After a crash of the head, the same `start --head --port P` resumes its
 * cluster from the GCS log.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultGcsConfig } from '../../core/gcs/index.js';
import { gcsAddress } from '../../core/ids.js';
import { defaultRayletConfig } from '../../core/raylet/index.js';
import { sessionRetention } from '../runtime/sessions.js';
import { logDirFor } from '../store/event-log.js';
import { generateClusterToken, tokenProblem } from '../transport/index.js';
import { addressFilePath, forgetNode, isNodeProcess, parseAddress, readAddressFile } from '../cluster/local-nodes.js';
import type { AddressFile } from '../cluster/local-nodes.js';
import type { NodeProcessConfig, NodeStartReport } from '../cluster/node-process.js';
import { runNodeProcess } from '../cluster/node-process.js';
import { liveHealthCheckFailureThreshold } from '../cluster/cluster-node.js';
import { UsageError, firstLine, wholeNumber } from './usage.js';

/** The head's port when `--port` is not given (Ray's GCS takes 6379; this one is next to it). */
export const defaultHeadPort = 6380;

/** How long `start` waits for the node to report it is up. */
export const startTimeoutMs = 30_000;

const usage = [
  'usage: tsray start --head [--port 6380] [--host 127.0.0.1] [--num-cpus N] [--resources JSON] [--block]',
  '       tsray start --address HOST:PORT|auto [--token T] [--num-cpus N] [--resources JSON] [--block]',
  '',
  '  --head                 start the head node: the GCS, a raylet, and the port others connect to;',
  '                         after a crash of the head, the same command resumes its cluster (same',
  '                         token and session; the GCS replays its log; nodes and drivers reconnect)',
  '  --port P               the head\'s port (default 6380; 0 picks a free one)',
  '  --host H               the address the head binds (default 127.0.0.1: this machine only)',
  '  --address HOST:PORT    join the cluster whose head is there (auto: the head this machine started)',
  '  --token T              the cluster token (default: read from this machine\'s address file)',
  '  --num-cpus N           the node\'s CPU resource (default: this machine\'s CPUs)',
  '  --resources JSON       custom resources of the node, such as \'{"GPU":1}\'',
  '  --block                run the node in this process until SIGTERM or Ctrl-C',
  '  --health-check-period-ms MS, --health-check-failure-threshold K',
  '                         the head\'s node health checks (default 100 ms, 30 missed checks: 3 s)',
  '',
  'environment:',
  '  TSRAY_SHM_STORE_BYTES  bound of the folder in /dev/shm through which the drivers attached to the',
  '                         node on its host move large objects instead of TCP (default 1 GiB; 0: TCP)',
  '  TSRAY_SHM_DIR          where that folder goes (default /dev/shm)',
  '',
  'A driver (TSRAY_ADDRESS=HOST:PORT of the head) attaches to the head when the head runs on its',
  'machine, else to the one node of that cluster started there; TSRAY_NODE_ID=<node id> picks a node',
  'of its machine. `tsray status` lists the node ids.',
].join('\n');

/** How many raylet heartbeat periods a node may stay silent before it is declared dead, at the least. */
export const minHealthWindowHeartbeats = 3;

/**
 * A node is declared dead after `threshold` health checks in a row saw no heartbeat from it: that
 * window must span several heartbeats, or a live node whose heartbeat is a little late (a busy
 * machine) is declared dead and its work redone.
 */
function checkHealthWindow(periodMs: number, threshold: number): void {
  const minWindowMs = minHealthWindowHeartbeats * defaultRayletConfig.heartbeatPeriodMs;
  if (periodMs * threshold >= minWindowMs) return;
  throw new UsageError(
    `--health-check-period-ms ${periodMs} × --health-check-failure-threshold ${threshold} = ${periodMs * threshold} ms is under ${minWindowMs} ms (minHealthWindowHeartbeats: ${minHealthWindowHeartbeats} raylet heartbeats of ${defaultRayletConfig.heartbeatPeriodMs} ms); live nodes would be declared dead, so raise one of them`,
  );
}

/** Runs `tsray start`; resolves to the exit code. */
export async function startCommand(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      allowPositionals: false,
      options: {
        head: { type: 'boolean', default: false },
        address: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        'num-cpus': { type: 'string' },
        resources: { type: 'string' },
        block: { type: 'boolean', default: false },
        'health-check-period-ms': { type: 'string' },
        'health-check-failure-threshold': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`start: ${firstLine((error as Error).message)}; see tsray start --help`);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const config = configOf(values);
  if (values.block) return runNodeProcess(config, (report) => printReport(report, config, undefined));
  const report = await startDaemon(config);
  printReport(report, config, join(config.sessionDir, 'node.log'));
  return report.kind === 'ready' ? 0 : 1;
}

type StartValues = {
  head: boolean;
  address?: string | undefined;
  port?: string | undefined;
  host?: string | undefined;
  token?: string | undefined;
  'num-cpus'?: string | undefined;
  resources?: string | undefined;
  'health-check-period-ms'?: string | undefined;
  'health-check-failure-threshold'?: string | undefined;
};

/** Checks the options and makes the node's configuration (with a new session dir). */
function configOf(values: StartValues): NodeProcessConfig {
  if (values.head === (values.address !== undefined)) throw new UsageError('start needs exactly one of --head (start a cluster) or --address HOST:PORT (join one); see tsray start --help');
  const numCpus = values['num-cpus'] === undefined ? undefined : wholeNumber('--num-cpus', values['num-cpus'], 0, 0);
  const resources = values.resources === undefined ? undefined : parseResources(values.resources);
  const sized = { ...(numCpus === undefined ? {} : { numCpus }), ...(resources === undefined ? {} : { resources }) };
  if (values.head) {
    if (values.token !== undefined) throw new UsageError('--token is for joining nodes; `start --head` makes a new token');
    const existing = readAddressFile();
    if (existing !== undefined && isNodeProcess(existing.pid)) {
      throw new UsageError(`a head started on this machine runs already at ${existing.address} (pid ${existing.pid}); run \`tsray stop\` first, or join it with --address`);
    }
    if (existing?.supervisorPid !== undefined && isNodeProcess(existing.supervisorPid)) {
      throw new UsageError(`the head at ${existing.address} died and its supervisor (pid ${existing.supervisorPid}) is starting it again; wait for it, or run \`tsray stop\` first`);
    }
    const port = wholeNumber('--port', values.port, defaultHeadPort, 0);
    if (port > 65535) throw new UsageError(`--port takes a port number up to 65535, not '${values.port ?? ''}'`);
    const period = values['health-check-period-ms'] === undefined ? undefined : wholeNumber('--health-check-period-ms', values['health-check-period-ms'], 0, 1);
    const threshold = values['health-check-failure-threshold'] === undefined ? undefined : wholeNumber('--health-check-failure-threshold', values['health-check-failure-threshold'], 0, 1);
    checkHealthWindow(period ?? defaultGcsConfig.healthCheckPeriodMs, threshold ?? liveHealthCheckFailureThreshold);
    const previous = existing === undefined ? undefined : resumableHead(existing, port);
    if (existing !== undefined) forgetNode(existing.pid);
    if (previous !== undefined) {
      // The dead head's cluster goes on: its token, its session (where the GCS log is), its host; the
      // GCS keeps the health-check settings its log started with.
      return { head: true, host: values.host ?? previous.host, port, token: previous.token, ...sized, sessionDir: previous.sessionDir, resume: { previousNodeId: previous.nodeId } };
    }
    return {
      head: true,
      host: values.host ?? '127.0.0.1',
      port,
      token: generateClusterToken(),
      ...sized,
      sessionDir: newSessionDir(),
      ...(period === undefined ? {} : { healthCheckPeriodMs: period }),
      ...(threshold === undefined ? {} : { healthCheckFailureThreshold: threshold }),
    };
  }
  for (const option of ['port', 'host', 'health-check-period-ms', 'health-check-failure-threshold'] as const) {
    if (values[option] !== undefined) throw new UsageError(`--${option} is for --head; a joining node connects to --address`);
  }
  const file = readAddressFile();
  let address = values.address ?? '';
  if (address === 'auto') {
    // As a driver's `auto`: the head this machine started, as its address file names it.
    if (file === undefined) throw new UsageError(`start --address auto found no head started on this machine (no ${addressFilePath()}); start one with \`tsray start --head\`, or pass --address HOST:PORT`);
    if (!isNodeProcess(file.pid) && (file.supervisorPid === undefined || !isNodeProcess(file.supervisorPid))) {
      throw new UsageError(`start --address auto: the head this machine started at ${file.address} (pid ${file.pid}) is not running; start it again with \`tsray start --head\`, or pass --address HOST:PORT`);
    }
    address = file.address;
  }
  let target;
  try {
    target = parseAddress(address);
  } catch (error) {
    throw new UsageError(`--address: ${(error as Error).message}`);
  }
  const token = values.token ?? file?.token;
  if (token === undefined) throw new UsageError('no cluster token: pass --token T (the one `tsray start --head` printed), or run this on the head\'s machine, where it is read from the address file');
  const problem = tokenProblem(token);
  if (problem !== undefined) throw new UsageError(`--token: ${problem}`);
  return { head: false, host: target.host, port: target.port, token, ...sized, sessionDir: newSessionDir() };
}

/**
 * The cluster a dead head left on `port`, which `start --head --port P` resumes: the address file
 * names its port, token and session, and the session still holds the GCS log. Undefined (a new
 * cluster starts) for another port, a `--port 0` start, or a session that is gone, with a note why.
 */
function resumableHead(file: AddressFile, port: number): { host: string; token: string; sessionDir: string; nodeId: string } | undefined {
  let previous;
  try {
    previous = parseAddress(file.address);
  } catch {
    return undefined;
  }
  if (port === 0 || previous.port !== port) {
    process.stderr.write(`tsray: the head that ran at ${file.address} died; a new cluster starts (start --head --port ${previous.port} would have resumed it)\n`);
    return undefined;
  }
  if (typeof file.sessionDir !== 'string' || typeof file.nodeId !== 'string' || !existsSync(logDirFor(file.sessionDir, gcsAddress))) {
    process.stderr.write(`tsray: the head that ran at ${file.address} died and its GCS log is gone (${String(file.sessionDir)}); a new cluster starts\n`);
    return undefined;
  }
  return { host: previous.host, token: file.token, sessionDir: file.sessionDir, nodeId: file.nodeId };
}

/** `--resources` as a map of non-negative numbers. */
function parseResources(text: string): Record<string, number> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--resources takes a JSON object such as '{"GPU":1}', not '${text}'`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--resources takes a JSON object such as '{"GPU":1}', not '${text}'`);
  const resources: Record<string, number> = {};
  for (const [name, amount] of Object.entries(value)) {
    if (name === 'CPU') throw new UsageError('--resources: give CPUs with --num-cpus');
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) throw new UsageError(`--resources: '${name}' must be a number ≥ 0, not ${JSON.stringify(amount)}`);
    resources[name] = amount;
  }
  return resources;
}

/** A new session dir under the sessions root, named as `tsray sessions` lists them. */
function newSessionDir(): string {
  const dir = join(sessionRetention().root, `session_${process.pid}_${Date.now()}_1`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Spawns the node daemon, hands it its configuration over IPC, and waits (at most `startTimeoutMs`)
 * for it to report. A daemon that does not report in time is killed.
 */
async function startDaemon(config: NodeProcessConfig): Promise<NodeStartReport> {
  const logPath = join(config.sessionDir, 'node.log');
  const log = openSync(logPath, 'a', 0o600);
  const entry = fileURLToPath(new URL('../cluster/node-main.js', import.meta.url));
  const child = spawn(process.execPath, [entry], { detached: true, stdio: ['ignore', log, log, 'ipc'] });
  closeSync(log);
  child.send(config);
  const report = await new Promise<NodeStartReport>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ kind: 'failed', reason: `the node did not report that it is up within ${startTimeoutMs} ms (startTimeoutMs); see ${logPath}` });
    }, startTimeoutMs);
    child.once('message', (message: NodeStartReport) => {
      clearTimeout(timer);
      resolve(message);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ kind: 'failed', reason: `the node exited (${signal ?? `code ${String(code)}`}) before it was up; see ${logPath}` });
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ kind: 'failed', reason: `cannot start the node process: ${error.message}` });
    });
  });
  if (child.connected) child.disconnect();
  child.unref();
  return report;
}

function printReport(report: NodeStartReport, config: NodeProcessConfig, logPath: string | undefined): void {
  if (report.kind === 'failed') {
    process.stderr.write(`tsray: ${report.reason}\n`);
    return;
  }
  const where = `pid ${report.pid}, session ${report.sessionDir}${logPath === undefined ? '' : `, log ${logPath}`}`;
  if (!config.head) {
    process.stdout.write(`tsray: node ${report.nodeId} joined the cluster at ${report.address} (${where})\n`);
    return;
  }
  const address = report.address;
  const began = report.replayedEvents === undefined ? `started at ${address}` : `resumed the cluster at ${address} (its GCS replayed ${report.replayedEvents} events)`;
  process.stdout.write(
    [
      `tsray: head node ${report.nodeId} ${began} (${where})`,
      `  add a node on this machine:  tsray start --address ${address}`,
      `  add a node elsewhere:        tsray start --address ${address} --token ${config.token}`,
      `  connect a driver:            TSRAY_ADDRESS=${address} node script.js   or   init({ address: '${address}' })`,
      `  connect a driver elsewhere:  TSRAY_ADDRESS=${address} TSRAY_TOKEN=${config.token} node script.js`,
      '  stop every node started here: tsray stop',
      '',
    ].join('\n'),
  );
}
