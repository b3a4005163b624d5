/**
 * `tsray status [--address A]` and `tsray list nodes [--address A] [--json]`: ask a running cluster's
 * GCS for its nodes and their resources. The address comes from `--address`, else TSRAY_ADDRESS,
 * else this machine's address file; the token from `--token`, else the address file.
 */
import { parseArgs } from 'node:util';
import type { NodeReport, ResourceDemand } from '../../core/protocol.js';
import { readAddressFile } from '../cluster/local-nodes.js';
import { queryJobs, queryNodeStatus, queryNodes } from '../cluster/query.js';
import { UsageError, firstLine } from './usage.js';

interface Target {
  readonly address: string;
  readonly token: string;
}

function parse(command: string, args: string[], withJson: boolean): { positionals: string[]; target: Target | undefined; json: boolean; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: command === 'list',
      options: { address: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    throw new UsageError(`${command}: ${firstLine((error as Error).message)}; see tsray ${command} --help`);
  }
  const { values, positionals } = parsed;
  if (values.json && !withJson) throw new UsageError(`${command} has no --json; see tsray ${command} --help`);
  if (values.help) return { positionals, target: undefined, json: false, help: true };
  const file = readAddressFile();
  const envAddress = process.env['TSRAY_ADDRESS'];
  const address = values.address ?? (envAddress === undefined || envAddress === '' || envAddress === 'auto' ? undefined : envAddress) ?? file?.address;
  if (address === undefined) throw new UsageError(`${command}: no cluster to ask: pass --address HOST:PORT, set TSRAY_ADDRESS, or start one with \`tsray start --head\``);
  const token = values.token ?? file?.token;
  if (token === undefined) throw new UsageError(`${command}: no cluster token: pass --token T (the one \`tsray start --head\` printed), or run this on the head's machine`);
  return { positionals, target: { address, token }, json: values.json, help: false };
}

/** Runs `tsray status`; resolves to the exit code. */
export async function statusCommand(args: string[]): Promise<number> {
  const { target, help } = parse('status', args, false);
  if (help || target === undefined) {
    process.stdout.write('usage: tsray status [--address HOST:PORT] [--token T]   the nodes of a cluster, its resources (used and total) and its pending demand\n');
    return 0;
  }
  const { nodes, pendingActors } = await queryNodeStatus(target.address, target.token);
  const alive = nodes.filter((node) => node.alive);
  process.stdout.write(`cluster at ${target.address}: ${alive.length} node${alive.length === 1 ? '' : 's'} alive, ${nodes.length - alive.length} dead\n\n`);
  process.stdout.write(nodeTable(nodes));
  const names = resourceNames(alive);
  process.stdout.write('\nresources (alive nodes, used/total):\n');
  for (const name of names) {
    const total = alive.reduce((sum, node) => sum + (node.total[name] ?? 0), 0);
    const available = alive.reduce((sum, node) => sum + (node.available[name] ?? 0), 0);
    process.stdout.write(`  ${formatAmount(total - available)}/${formatAmount(total)} ${name}\n`);
  }
  process.stdout.write(demandText([...alive.flatMap((node) => node.demand ?? []), ...pendingActors]));
  return 0;
}

/**
 * The leases waiting at the alive nodes' raylets (as of their last heartbeats) and the actors the GCS
 * could not place, by shape, as Ray's status shows its demands: an infeasible shape is one no alive
 * node can ever fit.
 */
function demandText(demands: readonly ResourceDemand[]): string {
  const byKey = new Map<string, { shape: string; count: number; infeasible: boolean }>();
  for (const demand of demands) {
    const shape = `{${Object.keys(demand.resources)
      .sort()
      .map((name) => `${name}: ${formatAmount(demand.resources[name] ?? 0)}`)
      .join(', ')}}`;
    const key = `${shape}|${String(demand.infeasible)}`;
    const known = byKey.get(key);
    if (known === undefined) byKey.set(key, { shape, count: demand.count, infeasible: demand.infeasible });
    else known.count += demand.count;
  }
  if (byKey.size === 0) return '\npending demand: none\n';
  const lines = [...byKey.keys()].sort().map((key) => {
    const { shape, count, infeasible } = byKey.get(key) ?? { shape: '', count: 0, infeasible: false };
    return infeasible ? `  ${shape}: ${count} infeasible (no alive node can ever fit it; add a node that has these resources)` : `  ${shape}: ${count} waiting for resources`;
  });
  return `\npending demand (tasks and actors waiting for resources):\n${lines.join('\n')}\n`;
}

/** Runs `tsray list KIND`; resolves to the exit code. */
export async function listCommand(args: string[]): Promise<number> {
  const { positionals, target, json, help } = parse('list', args, true);
  if (help || target === undefined) {
    process.stdout.write(
      [
        'usage: tsray list nodes|jobs [--address HOST:PORT] [--token T] [--json]',
        '  nodes   the nodes of a cluster, alive and dead, with their resources',
        '  jobs    the jobs of a cluster (one per driver that connected), running and ended',
        '',
      ].join('\n'),
    );
    return 0;
  }
  const [kind, ...extra] = positionals;
  if ((kind !== 'nodes' && kind !== 'jobs') || extra.length > 0) {
    throw new UsageError(`list: ${kind === undefined ? 'say what to list' : `cannot list '${[kind, ...extra].join(' ')}'`}; a cluster lists its nodes and jobs (tsray list nodes, tsray list jobs); tasks, actors and objects are not listed by a cluster in this version`);
  }
  if (kind === 'jobs') {
    const jobs = await queryJobs(target.address, target.token);
    if (json) process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
    else process.stdout.write(table([['JOB', 'STATE', 'DRIVER', 'NAMESPACE'], ...jobs.map((job) => [job.jobId, job.alive ? 'RUNNING' : 'ENDED', job.driverId, job.namespace])]));
    return 0;
  }
  const nodes = await queryNodes(target.address, target.token);
  if (json) process.stdout.write(`${JSON.stringify(nodes, null, 2)}\n`);
  else process.stdout.write(nodeTable(nodes));
  return 0;
}

function resourceNames(nodes: readonly NodeReport[]): string[] {
  const names = new Set<string>();
  for (const node of nodes) for (const name of Object.keys(node.total)) names.add(name);
  return [...names].sort((a, b) => (a === 'CPU' ? -1 : b === 'CPU' ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

function formatAmount(amount: number): string {
  return Number.isInteger(amount) ? String(amount) : amount.toFixed(2);
}

/** One row per node: its id, state, and each resource as available/total. */
function nodeTable(nodes: readonly NodeReport[]): string {
  const names = resourceNames(nodes);
  const rows = [['NODE', 'STATE', ...names.map((name) => `${name} (avail/total)`)]];
  for (const node of nodes) {
    rows.push([node.nodeId, node.alive ? 'ALIVE' : 'DEAD', ...names.map((name) => (node.total[name] === undefined ? '-' : `${formatAmount(node.available[name] ?? 0)}/${formatAmount(node.total[name] ?? 0)}`))]);
  }
  return table(rows);
}

/** Rows as columns padded to their widest cell. */
function table(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => `${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()}\n`).join('');
}
