/**
 * A tool's session with a running cluster (`tsray list tasks|actors|objects`, `tsray memory`,
 * `tsray trace collect --address`, `tsray timeline --address`): one connection to the head with the
 * cluster token as role `cli`, over which it asks the head, the nodes and the drivers (the head
 * relays) and takes their replies by request id. Every request waits at most its timeout and then
 * fails naming whom it asked, so a silent node is reported and never waited on for ever.
 */
import { randomBytes } from 'node:crypto';
import type { Address, NodeId } from '../../core/ids.js';
import { gcsAddress } from '../../core/ids.js';
import type { ClusterStateReport, JobReport, LogEventRecord, LogIndexEntry, Message, MessageOf, NodeReport, StateFilters } from '../../core/protocol.js';
import type { CollectedEvent, CollectedLog, LogSource } from '../trace/collect.js';
import type { LogSpool } from '../trace/spooled-log.js';
import { fetchedEvent, liveHashesOf } from '../trace/collect.js';
import { TransportClient } from '../transport/index.js';
import type { RoutedMessage } from '../transport/index.js';
import { parseAddress } from './local-nodes.js';
import { defaultLogChunkBytes } from './log-serving.js';
import { nodeAnswerTimeoutMs, stateAddress } from './state-queries.js';

/** A request as the tool builds it: a message whose request id and requester the session fills in. */
type Request = Message & { readonly requestId: string; readonly requester: Address };

/** How long a query of the GCS (`tsray status`, `tsray list nodes|jobs`) waits for the cluster, by default. */
export const defaultQueryTimeoutMs = 5000;

/** How long a tool waits for one reply from a node or driver (a chunk of a log, say). */
export const toolReplyTimeoutMs = 10_000;

/** What collecting a cluster's logs found. */
export interface ClusterLogs<L = CollectedLog> {
  readonly logs: L[];
  /** The nodes and drivers that sent their logs. */
  readonly sources: readonly string[];
  /** The live nodes and drivers whose logs could not be fetched, and why. */
  readonly missing: readonly { readonly source: string; readonly reason: string }[];
  /** Nodes the GCS declared dead: they send nothing, their logs stayed on their hosts (see dead-node-logs.ts). */
  readonly deadNodes: readonly NodeId[];
  /** Every job the GCS registered: an ended one's driver sends nothing, its log stayed in its session (see ended-driver-logs.ts). */
  readonly jobs: readonly JobReport[];
}

/** One connection of a tool to a cluster. */
export class ClusterTool {
  private counter = 0;
  private readonly waiting = new Map<string, (message: RoutedMessage) => void>();

  private constructor(
    /** The head's `HOST:PORT`. */
    readonly address: string,
    /** The head's node id (its welcome names it). */
    readonly headNodeId: NodeId,
    private readonly requester: Address,
    private readonly client: TransportClient,
  ) {}

  /** Connects to the head at `address` with `token`; an unreachable head or a refused token rejects with one line. */
  static async connect(address: string, token: string, timeoutMs = defaultQueryTimeoutMs): Promise<ClusterTool> {
    const { host, port } = parseAddress(address);
    const id = `cli-${process.pid}-${randomBytes(3).toString('hex')}`;
    const made: { tool?: ClusterTool } = {};
    const client = await TransportClient.connect({
      host,
      port,
      token,
      identity: { nodeId: id, role: 'cli' },
      // A tool gives up at its own bound; it has no work that would outlive a restart of the head.
      reconnect: { giveUpAfterMs: timeoutMs },
      log: () => undefined,
      onMessages: (messages) => {
        for (const message of messages) made.tool?.onReply(message);
      },
    });
    const headNodeId = client.peer?.identity.nodeId;
    if (headNodeId === undefined) {
      await client.close();
      throw new Error(`the cluster at ${address} closed the connection at once; is it a tsray head?`);
    }
    made.tool = new ClusterTool(address, headNodeId, `cli:${id}`, client);
    return made.tool;
  }

  private onReply(message: RoutedMessage): void {
    const requestId = (message as { requestId?: unknown }).requestId;
    if (typeof requestId === 'string') this.waiting.get(requestId)?.(message);
  }

  /**
   * Sends `build(requestId, requester)` to `to` and resolves to its reply of type `replyType`.
   *
   * @throws Error after `timeoutMs` without a reply, naming `what` was asked of whom.
   */
  async ask<T extends Message['type']>(to: Address, what: string, replyType: T, build: (requestId: string, requester: Address) => Request, timeoutMs = toolReplyTimeoutMs): Promise<MessageOf<T>> {
    const requestId = `${this.requester}.q${++this.counter}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<MessageOf<T>>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
        this.waiting.set(requestId, (message) => {
          if (message.type === replyType) resolve(message as unknown as MessageOf<T>);
        });
        this.client.send([{ ...build(requestId, this.requester), via: { from: this.requester, incarnation: 0, seq: this.counter }, to }]);
      });
    } finally {
      clearTimeout(timer);
      this.waiting.delete(requestId);
    }
  }

  /** Every node the GCS knows, alive or dead. */
  async nodes(): Promise<NodeReport[]> {
    const reply = await this.ask(gcsAddress, `the nodes of the cluster at ${this.address}`, 'cluster/nodes-replied', (requestId, requester) => ({ type: 'cluster/nodes-requested', requestId, requester }), defaultQueryTimeoutMs);
    return [...reply.nodes];
  }

  /** Every job the GCS registered. */
  async jobs(): Promise<JobReport[]> {
    const reply = await this.ask(gcsAddress, `the jobs of the cluster at ${this.address}`, 'cluster/jobs-replied', (requestId, requester) => ({ type: 'cluster/jobs-requested', requestId, requester }), defaultQueryTimeoutMs);
    return [...reply.jobs];
  }

  /** Tasks, actors and objects that meet `filters`, as the head gathered them from every live node, up to `limit` of each. */
  async clusterState(limit: number, filters?: StateFilters): Promise<ClusterStateReport> {
    const reply = await this.ask(
      stateAddress(this.headNodeId),
      `the state of the cluster at ${this.address}`,
      'state/cluster-replied',
      (requestId, requester) => ({ type: 'state/cluster-requested', requestId, requester, limit, ...(filters === undefined ? {} : { filters }) }),
      nodeAnswerTimeoutMs + defaultQueryTimeoutMs,
    );
    return reply.report;
  }

  /**
   * The event logs of every live node and driver, fetched over the cluster's connections in chunks
   * of about `chunkBytes`: each source commits and lists its logs, then hands out their events one
   * chunk per request. A source that fails or falls silent is reported in `missing`, with none of
   * its logs (a log cut short would fail the replay's checks for no fault of the run). Each log is
   * held whole, as objects; `spooledLogs` keeps them in files instead.
   */
  async logs(chunkBytes = defaultLogChunkBytes): Promise<ClusterLogs> {
    return this.fetchLogs(chunkBytes, (name, entry) => new WholeLog(name, entry));
  }

  /**
   * `logs`, with each log's events written to a file of `spool` as they arrive and read back as the
   * merge takes them (see node/trace/spooled-log.ts): what a trace of a long run needs, where the
   * logs held whole would not fit in memory.
   */
  async spooledLogs(spool: LogSpool, chunkBytes = defaultLogChunkBytes): Promise<ClusterLogs<LogSource>> {
    return this.fetchLogs(chunkBytes, (name, entry) => {
      const writer = spool.writer(name, entry);
      return { add: (record) => writer.add(record), finish: () => writer.finish(spool) };
    });
  }

  private async fetchLogs<L>(chunkBytes: number, keep: (name: string, entry: LogIndexEntry) => FetchedLog<L>): Promise<ClusterLogs<L>> {
    const [nodes, jobs] = await Promise.all([this.nodes(), this.jobs()]);
    const sources: { name: string; address: Address }[] = [
      ...nodes.filter((node) => node.alive).map((node) => ({ name: `node ${node.nodeId}`, address: stateAddress(node.nodeId) })),
      ...jobs.filter((job) => job.alive).map((job) => ({ name: `driver ${job.driverId} (job ${job.jobId})`, address: `worker:${job.driverId}` })),
    ];
    const results = await Promise.all(
      sources.map(async (source) => {
        try {
          return { source, logs: await this.logsOf(source.name, source.address, chunkBytes, keep) };
        } catch (error) {
          return { source, error: (error as Error).message };
        }
      }),
    );
    return {
      logs: results.flatMap((result) => result.logs ?? []),
      sources: results.flatMap((result) => (result.logs === undefined ? [] : [result.source.name])),
      missing: results.flatMap((result) => (result.error === undefined ? [] : [{ source: result.source.name, reason: result.error }])),
      deadNodes: nodes.filter((node) => !node.alive).map((node) => node.nodeId),
      jobs,
    };
  }

  private async logsOf<L>(name: string, address: Address, chunkBytes: number, keep: (name: string, entry: LogIndexEntry) => FetchedLog<L>): Promise<L[]> {
    const index = await this.ask(address, `the log index of ${name}`, 'logs/index-replied', (requestId, requester) => ({ type: 'logs/index-requested', requestId, requester }));
    if (index.error !== undefined) throw new Error(index.error);
    const logs: L[] = [];
    for (const entry of index.logs) logs.push(await this.logOf(name, address, entry, chunkBytes, keep(name, entry)));
    return logs;
  }

  private async logOf<L>(name: string, address: Address, entry: LogIndexEntry, chunkBytes: number, log: FetchedLog<L>): Promise<L> {
    let fromSeq = 1;
    while (fromSeq <= entry.lastSeq) {
      const from = fromSeq;
      const chunk = await this.ask(address, `events ${from}-${entry.lastSeq} of ${entry.address} from ${name}`, 'logs/events-replied', (requestId, requester) => ({
        type: 'logs/events-requested',
        requestId,
        requester,
        address: entry.address,
        fromSeq: from,
        toSeq: entry.lastSeq,
        maxBytes: chunkBytes,
      }));
      if (chunk.error !== undefined) throw new Error(chunk.error);
      const last = chunk.events[chunk.events.length - 1];
      if (last === undefined || last.seq < from) throw new Error(`${name} sent no events of ${entry.address} from ${from}, though its index lists them through ${entry.lastSeq}`);
      for (const record of chunk.events) log.add(record);
      fromSeq = last.seq + 1;
    }
    return log.finish();
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Where the events of one log go as they are fetched, and what the log becomes once all have. */
interface FetchedLog<L> {
  add(record: LogEventRecord): void;
  finish(): L;
}

/** A fetched log held whole, its events parsed as they arrive. */
class WholeLog implements FetchedLog<CollectedLog> {
  private readonly events: CollectedEvent[] = [];

  constructor(
    private readonly name: string,
    private readonly entry: LogIndexEntry,
  ) {}

  add(record: LogEventRecord): void {
    this.events.push(fetchedEvent(this.name, this.entry.address, record.seq, record.atMs, record.json, Number.isInteger(record.parent) ? record.parent : undefined));
  }

  finish(): CollectedLog {
    const { address, component } = this.entry;
    return { address, component, events: this.events, liveHashes: liveHashesOf(this.entry) };
  }
}
