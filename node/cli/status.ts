/**
 * `tsray status [--address A]`, `tsray list nodes|jobs|tasks|actors|objects [--address A] [--json]`
 * and `tsray memory [--address A]`: ask a running cluster. Nodes and jobs come from the head's GCS;
 * tasks, actors and objects from every live node's owners, as the head gathers them (see
 * node/cluster/state-queries.ts), with the nodes and owners that did not answer named on stderr. The
 * address and token come as node/cli/cluster-target.ts finds them.
 */
import { parseArgs } from 'node:util';
import type { ClusterStateReport, NodeReport, NodeStateReport, ResourceDemand, StateFilter, StateFilters } from '../../core/protocol.js';
import { ClusterTool } from '../cluster/cluster-tool.js';
import { queryJobs, queryNodeStatus, queryNodes } from '../cluster/query.js';
import { defaultListLimit, filterKeys, gathered, maxListLimit } from '../cluster/state-reports.js';
import { formatBytes } from '../runtime/sessions.js';
import { clusterTarget } from './cluster-target.js';
import type { Target } from './cluster-target.js';
import { UsageError, firstLine, wholeNumber } from './usage.js';
import { counted } from '../../core/counted.js';

/** What a cluster command was given. */
interface ClusterArgs {
  readonly positionals: string[];
  readonly target: Target | undefined;
  readonly json: boolean;
  readonly limit: number;
  /** `--filter KEY=VALUE`, as given. */
  readonly filters: readonly string[];
  readonly help: boolean;
}

function parse(command: string, args: string[], accepts: { json: boolean; limit: boolean; positionals: boolean; filter?: boolean }): ClusterArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: accepts.positionals,
      options: {
        address: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean', default: false },
        limit: { type: 'string' },
        filter: { type: 'string', short: 'f', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${command}: ${firstLine((error as Error).message)}; see tsray ${command} --help`);
  }
  const { values, positionals } = parsed;
  if (values.json && !accepts.json) throw new UsageError(`${command} has no --json; see tsray ${command} --help`);
  if (values.limit !== undefined && !accepts.limit) throw new UsageError(`${command} has no --limit; see tsray ${command} --help`);
  if (values.filter !== undefined && accepts.filter !== true) throw new UsageError(`${command} has no --filter; see tsray ${command} --help`);
  const limit = wholeNumber('--limit', values.limit, defaultListLimit, 1);
  if (limit > maxListLimit) throw new UsageError(`--limit takes at most ${maxListLimit}, not ${limit}`);
  const filters = values.filter ?? [];
  if (values.help) return { positionals, target: undefined, json: false, limit, filters, help: true };
  return { positionals, target: clusterTarget(command, values), json: values.json, limit, filters, help: false };
}

/** `--filter KEY=VALUE` options for listing `kind`, checked against its fields. */
function filtersFor(kind: ListKind, given: readonly string[]): StateFilters | undefined {
  if (given.length === 0) return undefined;
  if (kind !== 'tasks' && kind !== 'actors' && kind !== 'objects') throw new UsageError(`list: --filter goes with tasks, actors or objects, not ${kind}`);
  const keys: readonly string[] = filterKeys[kind];
  const filters = given.map((text): StateFilter => {
    const equals = text.indexOf('=');
    const key = equals < 0 ? '' : text.slice(0, equals).trim();
    if (equals < 0 || !keys.includes(key)) throw new UsageError(`list: --filter takes KEY=VALUE with KEY one of ${keys.join(', ')} for ${kind}, not '${text}'`);
    return { key, value: text.slice(equals + 1).trim() };
  });
  return { [kind]: filters };
}

/** Runs `tsray status`; resolves to the exit code. */
export async function statusCommand(args: string[]): Promise<number> {
  const { target, help } = parse('status', args, { json: false, limit: false, positionals: false });
  if (help || target === undefined) {
    process.stdout.write('usage: tsray status [--address HOST:PORT] [--token T]   the nodes of a cluster, its resources (used and total) and its pending demand\n');
    return 0;
  }
  const { nodes, pendingActors } = await queryNodeStatus(target.address, target.token);
  const alive = nodes.filter((node) => node.alive);
  process.stdout.write(`cluster at ${target.address}: ${counted(alive.length, 'node')} alive, ${nodes.length - alive.length} dead\n\n`);
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

const listKinds = ['nodes', 'jobs', 'tasks', 'actors', 'objects'] as const;
type ListKind = (typeof listKinds)[number];

/** Runs `tsray list KIND`; resolves to the exit code. */
export async function listCommand(args: string[]): Promise<number> {
  const { positionals, target, json, limit, filters: filterTexts, help } = parse('list', args, { json: true, limit: true, positionals: true, filter: true });
  if (help || target === undefined) {
    process.stdout.write(
      [
        'usage: tsray list nodes|jobs|tasks|actors|objects [--address HOST:PORT|auto] [--token T] [--json] [--limit N] [-f KEY=VALUE ...]',
        '  nodes    the nodes of a cluster, alive and dead, with their resources',
        '  jobs     the jobs of a cluster (one per driver that connected), running and ended',
        '  tasks    tasks of every owner on every live node: state, name, node, attempt',
        '  actors   actors the GCS knows: state, class, name, node, restarts',
        '  objects  objects of every owner: id, size, owner, the nodes that hold it, its reference kinds',
        `  --limit N  list at most N tasks, actors or objects (default ${defaultListLimit}, at most ${maxListLimit}); the total is said on stderr`,
        '  -f, --filter KEY=VALUE  list only the entries whose field KEY is VALUE (a list field: holds it); repeat to require several,',
        `             e.g. -f state=FAILED; the fields: tasks ${filterKeys.tasks.join(',')}; actors ${filterKeys.actors.join(',')}; objects ${filterKeys.objects.join(',')}`,
        'Nodes and owners that do not answer within their bound are named on stderr; the others are listed.',
        '',
      ].join('\n'),
    );
    return 0;
  }
  const [kind, ...extra] = positionals;
  if (!listKinds.includes(kind as ListKind) || extra.length > 0) {
    throw new UsageError(`list: ${kind === undefined ? 'say what to list' : `cannot list '${[kind, ...extra].join(' ')}'`}; a cluster lists ${listKinds.join(', ')} (tsray list tasks, say)`);
  }
  const filters = filtersFor(kind as ListKind, filterTexts);
  if (kind === 'jobs') {
    const jobs = await queryJobs(target.address, target.token);
    if (json) process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
    else process.stdout.write(table([['JOB', 'STATE', 'DRIVER', 'NAMESPACE'], ...jobs.map((job) => [job.jobId, job.alive ? 'RUNNING' : 'ENDED', job.driverId, job.namespace])]));
    return 0;
  }
  if (kind === 'nodes') {
    const nodes = await queryNodes(target.address, target.token);
    if (json) process.stdout.write(`${JSON.stringify(nodes, null, 2)}\n`);
    else process.stdout.write(nodeTable(nodes));
    return 0;
  }
  const report = await askState(target, limit, filters);
  const { tasks, taskCount, objects, objectCount } = gathered(report.nodes);
  let shown: number;
  let total: number;
  if (kind === 'tasks') {
    [shown, total] = [tasks.length, taskCount];
    if (json) process.stdout.write(`${JSON.stringify(tasks, null, 2)}\n`);
    else process.stdout.write(table([['TASK', 'NAME', 'STATE', 'ATTEMPT', 'NODE', 'ERROR', 'WAITING FOR'], ...tasks.map((task) => [task.taskId, task.name, task.state, String(task.attempt), task.nodeId ?? '-', task.error ?? '', task.waitingFor ?? ''])]));
  } else if (kind === 'actors') {
    [shown, total] = [report.actors.length, report.actorCount];
    if (json) process.stdout.write(`${JSON.stringify(report.actors, null, 2)}\n`);
    else process.stdout.write(table([['ACTOR', 'CLASS', 'NAME', 'STATE', 'NODE', 'RESTARTS'], ...report.actors.map((actor) => [actor.actorId, actor.className, actor.name ?? '', actor.state, actor.nodeId ?? '-', String(actor.restarts)])]));
  } else {
    [shown, total] = [objects.length, objectCount];
    if (json) process.stdout.write(`${JSON.stringify(objects, null, 2)}\n`);
    else {
      const nodesOf = objectNodes(report.nodes);
      process.stdout.write(table([['OBJECT', 'SIZE', 'OWNER', 'NODES', 'REFERENCES'], ...objects.map((object) => [object.objectId, object.size === null ? '?' : formatBytes(object.size), object.owner, nodesOf(object), object.refTypes.join(',') || 'NONE'])]));
    }
  }
  if (shown < total) process.stderr.write(`showing ${shown} of ${total} ${kind} (--limit ${limit})\n`);
  warnUnanswered(report);
  return 0;
}

/** Runs `tsray memory`; resolves to the exit code. */
export async function memoryCommand(args: string[]): Promise<number> {
  const { target, json, limit, help } = parse('memory', args, { json: true, limit: true, positionals: false });
  if (help || target === undefined) {
    process.stdout.write(
      [
        'usage: tsray memory [--address HOST:PORT|auto] [--token T] [--json] [--limit N]',
        '  the store usage of every live node, the objects of every owner summed by reference kind',
        `  (LOCAL_REFERENCE, USED_BY_PENDING_TASK, CAPTURED_IN_OBJECT, BORROWED, LINEAGE), and up to N objects (default ${defaultListLimit})`,
        '',
      ].join('\n'),
    );
    return 0;
  }
  const report = await askState(target, limit);
  if (json) {
    const nodes = report.nodes.map((node) => ({ nodeId: node.nodeId, store: node.store, owners: node.owners.map((owner) => ({ owner: owner.owner, objectCount: owner.objectCount, references: owner.references, objects: owner.objects })), silentOwners: node.silentOwners }));
    process.stdout.write(`${JSON.stringify({ nodes, unanswered: report.unanswered }, null, 2)}\n`);
    warnUnanswered(report);
    return 0;
  }
  const used = report.nodes.reduce((sum, node) => sum + node.store.usedBytes, 0);
  const capacity = report.nodes.reduce((sum, node) => sum + node.store.capacityBytes, 0);
  const spilled = report.nodes.reduce((sum, node) => sum + (node.store.spilledBytes ?? 0), 0);
  const spillCapacity = report.nodes.reduce((sum, node) => sum + (node.store.spillCapacityBytes ?? 0), 0);
  process.stdout.write(
    `object store of ${counted(report.nodes.length, 'node')}: ${formatBytes(used)} of ${formatBytes(capacity)} used (${percent(used, capacity)}); ` +
      `spilled to disk: ${formatBytes(spilled)} of ${formatBytes(spillCapacity)}\n\n`,
  );
  process.stdout.write(
    table([
      ['NODE', 'USED', 'CAPACITY', 'FULL', 'OBJECTS', 'SPILLED', 'SPILL CAPACITY'],
      ...report.nodes.map((node) => [
        node.nodeId,
        formatBytes(node.store.usedBytes),
        formatBytes(node.store.capacityBytes),
        percent(node.store.usedBytes, node.store.capacityBytes),
        String(node.store.objectCount),
        `${formatBytes(node.store.spilledBytes ?? 0)} (${node.store.spilledObjectIds?.length ?? 0} objects)`,
        formatBytes(node.store.spillCapacityBytes ?? 0),
      ]),
    ]),
  );
  const rows = report.nodes.flatMap((node) => node.owners.flatMap((owner) => owner.references.map((summary) => [owner.owner, node.nodeId, summary.refType, String(summary.count), formatBytes(summary.sizeBytes)])));
  process.stdout.write('\nobjects by owner and reference kind:\n');
  process.stdout.write(table([['OWNER', 'NODE', 'REFERENCE', 'OBJECTS', 'SIZE'], ...rows]));
  const { objects, objectCount } = gathered(report.nodes);
  process.stdout.write(`\nobjects (${objects.length} of ${objectCount}):\n`);
  const nodesOf = objectNodes(report.nodes);
  process.stdout.write(table([['OBJECT', 'SIZE', 'OWNER', 'REFERENCES', 'NODES'], ...objects.map((object) => [object.objectId, object.size === null ? '?' : formatBytes(object.size), object.owner, object.refTypes.join(',') || 'NONE', nodesOf(object)])]));
  warnUnanswered(report);
  return 0;
}

async function askState(target: Target, limit: number, filters?: StateFilters): Promise<ClusterStateReport> {
  const tool = await ClusterTool.connect(target.address, target.token);
  try {
    return await tool.clusterState(limit, filters);
  } finally {
    await tool.close();
  }
}

/** Names on stderr the nodes and owners that did not answer, so a partial listing is never taken for a whole one. */
function warnUnanswered(report: ClusterStateReport): void {
  for (const { nodeId, reason } of report.unanswered) process.stderr.write(`node ${nodeId} did not answer (${reason}); its tasks and objects are not listed\n`);
  for (const node of report.nodes) {
    if (node.silentOwners.length > 0) process.stderr.write(`on node ${node.nodeId}, ${node.silentOwners.join(', ')} did not answer in time; their tasks and objects are not listed\n`);
  }
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(1)}%`;
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

/**
 * The NODES column of an object listing: the nodes that hold the object, each marked `(spilled)`
 * where that node holds it in its spill space on disk rather than in memory.
 */
export function objectNodes(nodes: readonly NodeStateReport[]): (object: { readonly objectId: string; readonly nodeIds: readonly string[] }) => string {
  const spilledAt = new Map<string, Set<string>>();
  for (const node of nodes) for (const objectId of node.store.spilledObjectIds ?? []) spilledAt.set(objectId, (spilledAt.get(objectId) ?? new Set()).add(node.nodeId));
  return (object) => object.nodeIds.map((nodeId) => (spilledAt.get(object.objectId)?.has(nodeId) === true ? `${nodeId}(spilled)` : nodeId)).join(',') || '-';
}
