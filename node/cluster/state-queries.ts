/**
 * How a cluster node answers state queries and log requests at its state address (`state:<node>`).
 *
 * Listings (`tsray list tasks|actors|objects`, `tsray memory`): a tool asks the head (a driver asks
 * the node it is attached to, which passes the query on to the head); the head asks
 * every live node, itself included, and each node asks its live owners (its worker threads and the
 * drivers attached to it), since tasks and objects live in their owners. Every wait is bounded:
 * an owner has `ownerAnswerTimeoutMs`, a node `nodeAnswerTimeoutMs`, and the reply names the nodes
 * and owners that did not answer instead of waiting on them.
 *
 * Logs (`tsray trace collect --address`, `tsray timeline --address`): a node commits its logs and
 * lists them, then serves one log's events in bounded chunks (log-serving.ts). A node reads only its
 * own session's files.
 */
import type { GcsState } from '../../core/gcs/index.js';
import type { Address, NodeId, ObjectId } from '../../core/ids.js';
import type { ClusterStateReport, Delivered, LogIndexEntry, Message, MessageOf, NodeStateReport, OwnerStateReport, StateFilters } from '../../core/protocol.js';
import type { RayletState } from '../../core/raylet/index.js';
import type { WorkerListing } from '../runtime/embedded.js';
import { listActors } from '../runtime/listing.js';
import type { Router } from '../runtime/router.js';
import type { WorkerThreads } from '../runtime/worker-threads.js';
import { EventLog, openSessionLogs } from '../store/event-log.js';
import type { SessionLogs } from '../store/session-logs.js';
import { indexEntry, LogServer, type OpenedLog } from './log-serving.js';
import { clampLimit, isNodeStateReport, isOwnerStateReport, matches, nodesWithinLimit, ownerReport, withinLimit } from './state-reports.js';

/**
 * How long a node waits for each of its owners (a worker thread, an attached driver) to report what
 * it owns: long enough for a busy thread of a loaded machine, short of the head's wait for the node.
 */
export const ownerAnswerTimeoutMs = 2000;

/** How long the head waits for every node's report; a tool waits longer than this for the head's. */
export const nodeAnswerTimeoutMs = 4000;

/** The address at which a node answers state queries and log requests. */
export function stateAddress(nodeId: NodeId): Address {
  return `state:${nodeId}`;
}

/** What a node's state queries read. */
export interface StateSources {
  readonly nodeId: NodeId;
  readonly router: Router;
  readonly sessionDir: string;
  readonly logs: SessionLogs;
  readonly threads: WorkerThreads;
  readonly raylet: () => RayletState;
  /** The GCS's state on the head; undefined on other nodes. */
  readonly gcs: () => GcsState | undefined;
  /** The worker addresses of the drivers attached to this node. */
  readonly drivers: () => readonly Address[];
  /** The head's node id on other nodes (while connected to it); undefined on the head. */
  readonly head?: () => NodeId | undefined;
  /** Records the hash of each main-thread component's live state at its log's last event. */
  readonly recordStateHashes: () => void;
}

/** The messages a state address takes; anything else sent there is dropped. */
type StateMessage = MessageOf<'state/cluster-requested' | 'state/node-requested' | 'state/node-replied' | 'state/owner-replied' | 'logs/index-requested' | 'logs/events-requested'>;

const stateMessageTypes: ReadonlySet<string> = new Set<StateMessage['type']>(['state/cluster-requested', 'state/node-requested', 'state/node-replied', 'state/owner-replied', 'logs/index-requested', 'logs/events-requested']);

function isStateMessage(message: Message): message is StateMessage {
  return stateMessageTypes.has(message.type);
}

/** A listing the head is gathering from the nodes. */
interface Gathering {
  readonly query: MessageOf<'state/cluster-requested'>;
  readonly waiting: Set<NodeId>;
  readonly reports: NodeStateReport[];
  readonly timer: NodeJS.Timeout;
}

/** Answers the state queries and log requests that reach one node's state address. */
export class StateQueries {
  private counter = 0;
  private readonly gatherings = new Map<string, Gathering>();
  /** Owner reports this node waits for, by request id. */
  private readonly owners = new Map<string, (report: OwnerStateReport) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The logs being served to tools, each kept open across the chunks of one collection. */
  private readonly served = new LogServer();

  constructor(private readonly sources: StateSources) {}

  private get address(): Address {
    return stateAddress(this.sources.nodeId);
  }

  /** Handles a message delivered to this node's state address; anything else is ignored. */
  deliver(message: Delivered<Message>): void {
    if (!isStateMessage(message)) return;
    switch (message.type) {
      case 'state/cluster-requested':
        this.gather(message);
        return;
      case 'state/node-requested':
        this.answerNode(message).catch((error: unknown) => this.failed('a state query', error));
        return;
      case 'state/node-replied':
        this.onNodeReport(message);
        return;
      case 'state/owner-replied':
        if (isOwnerStateReport(message.report)) this.owners.get(message.requestId)?.(message.report);
        return;
      case 'logs/index-requested':
        this.answerIndex(message).catch((error: unknown) => this.failed('a log index request', error));
        return;
      case 'logs/events-requested':
        this.answerEvents(message);
        return;
    }
  }

  /** Ends the waits (the node is stopping): nothing more is sent. */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const gathering of this.gatherings.values()) clearTimeout(gathering.timer);
    this.gatherings.clear();
    this.owners.clear();
    this.served.close();
  }

  /** A query this node could not answer goes unanswered (the asker names it after its bound); the node goes on. */
  private failed(what: string, error: unknown): void {
    process.stderr.write(`tsray: node ${this.sources.nodeId} could not answer ${what}: ${error instanceof Error ? error.message : String(error)}\n`);
  }

  private reply(to: Address, message: Message): void {
    this.sources.router.send(this.address, 0, to, message);
  }

  /** The head asks every live node (itself too) and answers once all have, or at nodeAnswerTimeoutMs. */
  private gather(query: MessageOf<'state/cluster-requested'>): void {
    const gcs = this.sources.gcs();
    const limit = clampLimit(query.limit);
    const head = gcs === undefined ? this.sources.head?.() : undefined;
    if (head !== undefined) {
      // A driver attached to this node asks here: the head gathers, and answers the driver itself.
      this.reply(stateAddress(head), { type: 'state/cluster-requested', requestId: query.requestId, requester: query.requester, limit, ...(query.filters === undefined ? {} : { filters: query.filters }) });
      return;
    }
    if (gcs === undefined) {
      const report: ClusterStateReport = { actors: [], actorCount: 0, nodes: [], unanswered: [{ nodeId: this.sources.nodeId, reason: 'this node is no head; ask the head' }] };
      this.reply(query.requester, { type: 'state/cluster-replied', requestId: query.requestId, report });
      return;
    }
    const alive = Object.keys(gcs.nodes)
      .filter((nodeId) => gcs.nodes[nodeId]?.alive === true)
      .sort();
    const gatheringId = `${this.sources.nodeId}.g${++this.counter}`;
    const timer = setTimeout(() => this.finishGathering(gatheringId), nodeAnswerTimeoutMs);
    this.gatherings.set(gatheringId, { query: { ...query, limit }, waiting: new Set(alive), reports: [], timer });
    const filters = query.filters === undefined ? {} : { filters: query.filters };
    for (const nodeId of alive) this.reply(stateAddress(nodeId), { type: 'state/node-requested', requestId: `${gatheringId}/${nodeId}`, requester: this.address, limit, ...filters });
    if (alive.length === 0) this.finishGathering(gatheringId);
  }

  private onNodeReport(message: MessageOf<'state/node-replied'>): void {
    const slash = message.requestId.lastIndexOf('/');
    const gathering = this.gatherings.get(message.requestId.slice(0, slash));
    const nodeId = message.requestId.slice(slash + 1);
    // A report this version cannot read leaves its node among those that did not answer.
    if (gathering === undefined || !isNodeStateReport(message.report) || !gathering.waiting.delete(nodeId)) return;
    gathering.reports.push(message.report);
    if (gathering.waiting.size === 0) this.finishGathering(message.requestId.slice(0, slash));
  }

  private finishGathering(gatheringId: string): void {
    const gathering = this.gatherings.get(gatheringId);
    if (gathering === undefined) return;
    this.gatherings.delete(gatheringId);
    clearTimeout(gathering.timer);
    const gcs = this.sources.gcs();
    const actors = gcs === undefined ? [] : listActors(gcs).filter((actor) => matches(actor, gathering.query.filters?.actors));
    const limit = gathering.query.limit;
    const reports = [...gathering.reports].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    const report: ClusterStateReport = {
      actors: actors.slice(-limit),
      actorCount: actors.length,
      nodes: nodesWithinLimit(reports, limit),
      unanswered: [...gathering.waiting].sort().map((nodeId) => ({ nodeId, reason: `no answer within ${nodeAnswerTimeoutMs} ms (nodeAnswerTimeoutMs)` })),
    };
    this.reply(gathering.query.requester, { type: 'state/cluster-replied', requestId: gathering.query.requestId, report });
  }

  /** This node's report: its store, and what each of its live owners holds (those silent past their bound are named). */
  private async answerNode(query: MessageOf<'state/node-requested'>): Promise<void> {
    const limit = clampLimit(query.limit);
    const filters: StateFilters = query.filters ?? {};
    const drivers = this.askDrivers(limit, filters);
    const replies = await this.sources.threads.ask<{ owner?: string; listing?: WorkerListing }>('tsray/state-query', 'tsray/state-reply', ownerAnswerTimeoutMs);
    const workers = replies.flatMap((reply) => (reply.listing === undefined || reply.owner === undefined ? [] : [ownerReport(reply.owner, reply.listing.tasks, reply.listing.objects, limit, filters, reply.listing.hosted)]));
    const fromDrivers = await drivers;
    const raylet = this.sources.raylet();
    const answered = new Set(workers.map((owner) => owner.owner));
    const silentWorkers = Object.values(raylet.workers)
      .filter((worker) => worker.kind === 'worker' && (worker.state === 'idle' || worker.state === 'leased') && !answered.has(worker.workerId))
      .map((worker) => worker.workerId);
    const report: NodeStateReport = {
      nodeId: this.sources.nodeId,
      store: {
        usedBytes: raylet.usedBytes,
        capacityBytes: raylet.config.objectStoreCapacityBytes,
        objectCount: Object.keys(raylet.objects).length,
        spilledBytes: raylet.spilledBytes,
        spillCapacityBytes: raylet.config.spillCapacityBytes,
        spilledObjectIds: spilledObjectIds(raylet, limit),
      },
      // Drivers first: their tasks are the ones users submitted.
      owners: withinLimit([...fromDrivers.reports, ...workers], limit),
      silentOwners: [...fromDrivers.silent, ...silentWorkers].sort(),
    };
    this.reply(query.requester, { type: 'state/node-replied', requestId: query.requestId, report });
  }

  /** Asks every attached driver for its report; resolves when all answered or at ownerAnswerTimeoutMs. */
  private askDrivers(limit: number, filters: StateFilters): Promise<{ reports: OwnerStateReport[]; silent: string[] }> {
    const drivers = this.sources.drivers();
    const reports: OwnerStateReport[] = [];
    const waiting = new Map<string, string>();
    return new Promise((resolve) => {
      const requestIds: string[] = [];
      const finish = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        for (const requestId of requestIds) this.owners.delete(requestId);
        resolve({ reports, silent: [...waiting.values()] });
      };
      const timer = setTimeout(finish, ownerAnswerTimeoutMs);
      this.timers.add(timer);
      for (const driver of drivers) {
        const requestId = `${this.sources.nodeId}.o${++this.counter}`;
        const workerId = driver.slice(driver.indexOf(':') + 1);
        requestIds.push(requestId);
        waiting.set(requestId, workerId);
        this.owners.set(requestId, (report) => {
          if (!waiting.delete(requestId)) return;
          reports.push(report);
          if (waiting.size === 0) finish();
        });
        this.reply(driver, { type: 'state/owner-requested', requestId, requester: this.address, limit, filters });
      }
      if (drivers.length === 0) finish();
    });
  }

  /**
   * Commits every log of this node (worker threads send theirs first, with the hash of their live
   * state; the main-thread components record theirs) and lists them, with the logs of threads that
   * have ended, from this node's session dir.
   */
  private async answerIndex(query: MessageOf<'logs/index-requested'>): Promise<void> {
    let logs: LogIndexEntry[];
    try {
      await this.sources.threads.ask('tsray/flush-logs', 'tsray/logs-flushed', ownerAnswerTimeoutMs);
      this.sources.recordStateHashes();
      await this.sources.logs.flushAll();
      logs = openSessionLogs(this.sources.sessionDir).map(({ address, dir }) => this.withLog(address, dir, indexEntry));
    } catch (error) {
      this.reply(query.requester, { type: 'logs/index-replied', requestId: query.requestId, source: this.address, logs: [], error: `node ${this.sources.nodeId} could not list its logs: ${(error as Error).message}` });
      return;
    }
    this.reply(query.requester, { type: 'logs/index-replied', requestId: query.requestId, source: this.address, logs });
  }

  private answerEvents(query: MessageOf<'logs/events-requested'>): void {
    const found = openSessionLogs(this.sources.sessionDir).find((log) => log.address === query.address);
    try {
      if (found === undefined) throw new Error(`node ${this.sources.nodeId} keeps no log of ${query.address}`);
      const events = this.served.events(found.address, () => this.openLog(found.address, found.dir), query.fromSeq, query.toSeq, query.maxBytes);
      this.reply(query.requester, { type: 'logs/events-replied', requestId: query.requestId, address: query.address, events });
    } catch (error) {
      this.reply(query.requester, { type: 'logs/events-replied', requestId: query.requestId, address: query.address, events: [], error: (error as Error).message });
    }
  }

  /** The log in `dir`: the open one when this process writes it, else opened from disk, with how to let go of it (closing what was opened here). */
  private openLog(address: Address, dir: string): OpenedLog & { readonly log: EventLog } {
    const open = this.sources.logs.openLogs.find((log) => log.address === address);
    if (open !== undefined) return { log: open, release: () => undefined };
    const log = EventLog.open(dir);
    // A log opened only to read commits nothing; its close settles at once.
    return { log, release: () => void log.close().catch(() => undefined) };
  }

  /** Runs `read` on the log in `dir` (see `openLog`), letting go of it after. */
  private withLog<T>(address: Address, dir: string, read: (log: EventLog) => T): T {
    const { log, release } = this.openLog(address, dir);
    try {
      return read(log);
    } finally {
      release();
    }
  }
}

/** The ids of the objects in a raylet's spill space, up to `limit`, for listings to mark them spilled. */
export function spilledObjectIds(raylet: RayletState, limit: number): ObjectId[] {
  const ids: ObjectId[] = [];
  for (const [objectId, stored] of Object.entries(raylet.objects)) {
    if (ids.length >= limit) break;
    if (stored.spilled === true) ids.push(objectId);
  }
  return ids;
}
