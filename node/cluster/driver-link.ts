/**
 * A driver connected to a running cluster (`init({ address })`, or TSRAY_ADDRESS): this process's
 * owner component talks to the cluster over one TransportClient (role `driver`) to the head, whose
 * router relays its messages on (star routing, node-routing.ts). The driver attaches to the head's
 * raylet: its worker id is `<head node>.d<random>`, so that the head routes its address back over
 * this connection and the cluster counts it among the head's processes.
 *
 * The driver has no node store in its process: its large puts and arguments are pulled by the head's
 * node into its store, and a large value it reads is pulled into its memory (driver-objects.ts).
 */
import { randomBytes } from 'node:crypto';
import { hashState } from '../../core/hash.js';
import { gcsAddress } from '../../core/ids.js';
import type { ClusterStateReport, Message, MessageOf, NodeReport } from '../../core/protocol.js';
import { listOwnerObjects, listOwnerTasks } from '../runtime/listing.js';
import { OwnerRuntime } from '../runtime/owner-runtime.js';
import { Router } from '../runtime/router.js';
import type { Port } from '../runtime/router.js';
import { markSessionEnded } from '../runtime/session-marker.js';
import type { SessionMarker } from '../runtime/session-marker.js';
import { startSession } from '../runtime/sessions.js';
import { EventLog, logDirFor } from '../store/event-log.js';
import { TransportClient, routerPort, tokenProblem } from '../transport/index.js';
import { firstConnectTimeoutMs, joinTimeoutMs } from './cluster-node.js';
import { parseAddress, readAddressFile } from './local-nodes.js';
import { indexEntry, readEvents } from './log-serving.js';
import { defaultQueryTimeoutMs } from './query.js';
import { DriverObjects } from './driver-objects.js';
import { nodeAnswerTimeoutMs, stateAddress } from './state-queries.js';
import { clampLimit, maxListLimit, ownerReport } from './state-reports.js';

/** The requests a driver answers itself: what it owns (for `tsray list`), and its event log (for `trace collect`). */
type DriverQuery = MessageOf<'state/owner-requested' | 'logs/index-requested' | 'logs/events-requested'>;

function isDriverQuery(message: Message): message is DriverQuery {
  return message.type === 'state/owner-requested' || message.type === 'logs/index-requested' || message.type === 'logs/events-requested';
}

/** What a driver connects with. */
export interface DriverLinkOptions {
  /** `HOST:PORT` of the head, or `auto` for the head this machine started (its address file). */
  readonly address: string;
  readonly namespace: string;
  /** Where the driver's own event log goes (default: a new session dir). */
  readonly sessionDir?: string;
  /** The connection was lost for good (the driver has stopped); `reason` is one line. */
  readonly onLost?: (reason: string) => void;
}

/** Where to connect and with which token: from the address, TSRAY_TOKEN and this machine's address file. */
function target(address: string): { address: string; token: string } {
  const file = readAddressFile();
  const envToken = process.env['TSRAY_TOKEN'];
  let resolved = address;
  if (address === 'auto') {
    if (file === undefined) throw new Error("init({ address: 'auto' }) found no cluster started on this machine: run `tsray start --head` first, or pass address: 'HOST:PORT'");
    resolved = file.address;
  }
  parseAddress(resolved);
  const token = envToken !== undefined && envToken !== '' ? envToken : file?.token;
  if (token === undefined) throw new Error(`no cluster token to connect to ${resolved}: set TSRAY_TOKEN to the token \`tsray start --head\` printed, or run the driver on the head's machine`);
  const problem = tokenProblem(token);
  if (problem !== undefined) throw new Error(`TSRAY_TOKEN: ${problem}`);
  return { address: resolved, token };
}

/** A driver connected to a cluster. */
export class DriverLink {
  private stopped = false;
  private queryCounter = 0;
  private onLost: ((reason: string) => void) | undefined;

  private constructor(
    /** The head's `HOST:PORT`. */
    readonly address: string,
    /** The node this driver is attached to (the head's). */
    readonly nodeId: string,
    readonly sessionDir: string,
    readonly driver: OwnerRuntime,
    private readonly router: Router,
    private readonly client: TransportClient,
    private readonly log: EventLog,
    private readonly marker: SessionMarker,
    /** The state queries waiting for their answer, by request id. */
    private readonly queries: Map<string, (nodes: NodeReport[]) => void>,
    /** This driver's large values on their way to and from the cluster. */
    readonly objects: DriverObjects,
    /** The cluster state queries waiting for their answer, by request id. */
    private readonly stateQueries: Map<string, (report: ClusterStateReport) => void>,
  ) {}

  /**
   * Tasks, actors and objects of the whole cluster, as the head gathers them from every live node
   * (this driver answers for itself meanwhile), up to `maxListLimit` of each; nodes that did not
   * answer within their bound are in `unanswered`.
   */
  async queryState(limit = maxListLimit): Promise<ClusterStateReport> {
    if (this.stopped) throw new TypeError('this driver is no longer connected to the cluster; call init() again');
    const requestId = `${this.driver.options.workerId}.state${++this.queryCounter}`;
    const requester = `worker:${this.driver.options.workerId}`;
    const timeoutMs = nodeAnswerTimeoutMs + defaultQueryTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<ClusterStateReport>((resolve, reject) => {
        this.stateQueries.set(requestId, resolve);
        timer = setTimeout(() => reject(new Error(`the cluster at ${this.address} did not answer a state query within ${timeoutMs} ms`)), timeoutMs);
        this.client.send([{ type: 'state/cluster-requested', requestId, requester, limit, via: { from: `cli:${requestId}`, incarnation: 0, seq: 0 }, to: stateAddress(this.nodeId) }]);
      });
    } finally {
      clearTimeout(timer);
      this.stateQueries.delete(requestId);
    }
  }

  /** Every node the GCS knows, alive or dead, with its resources (asked of the head now). */
  async queryNodes(timeoutMs = defaultQueryTimeoutMs): Promise<NodeReport[]> {
    if (this.stopped) throw new TypeError('this driver is no longer connected to the cluster; call init() again');
    const requestId = `${this.driver.options.workerId}.nodes${++this.queryCounter}`;
    const requester = `worker:${this.driver.options.workerId}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<NodeReport[]>((resolve, reject) => {
        this.queries.set(requestId, resolve);
        timer = setTimeout(() => reject(new Error(`the cluster at ${this.address} did not answer a nodes query within ${timeoutMs} ms`)), timeoutMs);
        this.client.send([{ type: 'cluster/nodes-requested', requestId, requester, via: { from: `cli:${requestId}`, incarnation: 0, seq: 0 }, to: gcsAddress }]);
      });
    } finally {
      clearTimeout(timer);
      this.queries.delete(requestId);
    }
  }

  /**
   * Connects, registers the driver's job with the GCS, and resolves once the job has its id. A
   * refused token, an unreachable head or a GCS that does not answer rejects with one line.
   */
  static async connect(options: DriverLinkOptions): Promise<DriverLink> {
    const { address, token } = target(options.address);
    const { host, port } = parseAddress(address);
    // Made once the connection is up; the client's callbacks may run before then.
    const made: { link?: DriverLink; router?: Router; objects?: DriverObjects } = {};
    const queries = new Map<string, (nodes: NodeReport[]) => void>();
    const stateQueries = new Map<string, (report: ClusterStateReport) => void>();
    const client = await TransportClient.connect({
      host,
      port,
      token,
      identity: { nodeId: `driver-${process.pid}-${randomBytes(3).toString('hex')}`, role: 'driver' },
      // The head counts a driver whose connection closed as gone (its raylet ends its leases), so a
      // lost connection ends this driver at once rather than coming back as a process the cluster buried.
      reconnect: { firstConnectGiveUpAfterMs: firstConnectTimeoutMs, giveUpAfterMs: 0 },
      log: () => undefined,
      onConnected: (peer) => peer.unref(),
      onMessages: (messages) => {
        for (const message of messages) {
          // A state query's answer is for this link, not for the owner component.
          if (message.type === 'cluster/nodes-replied') queries.get(message.requestId)?.([...message.nodes]);
          else if (message.type === 'state/cluster-replied') stateQueries.get(message.requestId)?.(message.report);
          else if (isDriverQuery(message)) void made.link?.answer(message);
          else made.objects?.onMessage(message, message.to);
        }
      },
      landRaw: (message, lengthBytes) => made.objects?.landRaw(message, lengthBytes),
      onFailed: (error) => made.link?.lost(error.message),
    }).catch((error: unknown) => {
      throw new Error(`cannot connect a driver to the cluster at ${address}: ${error instanceof Error ? error.message : String(error)}`);
    });
    const headNodeId = client.peer?.identity.nodeId ?? '';
    const workerId = `${headNodeId}.d${randomBytes(4).toString('hex')}`;
    const upstream: { port?: Port } = {};
    const linkRouter = new Router({ postMessage: (value: unknown) => upstream.port?.postMessage(value) });
    const objects = new DriverObjects(`worker:${workerId}`, linkRouter);
    upstream.port = objects.outbound(routerPort(client, (error) => process.stderr.write(`tsray: a batch of messages to the cluster could not be sent: ${error.message}\n`)));
    made.router = linkRouter;
    made.objects = objects;
    const session = startSession(options.sessionDir);
    const log = EventLog.open(logDirFor(session.dir, `worker:${workerId}`), { component: 'owner', address: `worker:${workerId}`, durable: false, batching: 'lagging' });
    const driver = new OwnerRuntime({
      workerId,
      nodeId: headNodeId,
      isDriver: true,
      namespace: options.namespace,
      router: linkRouter,
      log,
    });
    // A value is kept while the owner holds it, or while its fetch is still on the way to the owner.
    objects.stillHeld = (objectId) => driver.state.fetchedData[objectId] !== undefined || driver.state.fetches[objectId] !== undefined;
    const link = new DriverLink(address, headNodeId, session.dir, driver, linkRouter, client, log, session.marker, queries, objects, stateQueries);
    link.onLost = options.onLost;
    made.link = link;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        driver.whenJobAssigned(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the GCS at ${address} did not register this driver's job within ${joinTimeoutMs} ms (joinTimeoutMs); see the head's log`)), joinTimeoutMs);
        }),
      ]);
    } catch (error) {
      await link.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return link;
  }

  /**
   * Answers a node's or a tool's request about this driver: what it owns, or its event log (committed
   * first, with the hash of the driver's live state at its last event, which a replay is checked against).
   */
  private async answer(query: DriverQuery): Promise<void> {
    if (this.stopped) return;
    const self = `state:${this.driver.options.workerId}`;
    const reply = (message: Message): void => {
      this.client.send([{ ...message, via: { from: self, incarnation: 0, seq: ++this.queryCounter }, to: query.requester }]);
    };
    switch (query.type) {
      case 'state/owner-requested': {
        const state = this.driver.state;
        reply({ type: 'state/owner-replied', requestId: query.requestId, report: ownerReport(this.driver.options.workerId, listOwnerTasks(state), listOwnerObjects(state), clampLimit(query.limit), query.filters ?? {}) });
        return;
      }
      case 'logs/index-requested':
        try {
          if (this.log.lastSeq > 0) this.log.recordStateHash(this.log.lastSeq, hashState(this.driver.state));
          await this.log.flush();
          reply({ type: 'logs/index-replied', requestId: query.requestId, source: self, logs: [indexEntry(this.log)] });
        } catch (error) {
          reply({ type: 'logs/index-replied', requestId: query.requestId, source: self, logs: [], error: `driver ${this.driver.options.workerId} could not commit its log: ${(error as Error).message}` });
        }
        return;
      case 'logs/events-requested':
        try {
          if (query.address !== this.log.address) throw new Error(`driver ${this.driver.options.workerId} keeps no log of ${query.address}`);
          reply({ type: 'logs/events-replied', requestId: query.requestId, address: query.address, events: readEvents(this.log, query.fromSeq, query.toSeq, query.maxBytes) });
        } catch (error) {
          reply({ type: 'logs/events-replied', requestId: query.requestId, address: query.address, events: [], error: (error as Error).message });
        }
        return;
    }
  }

  /** The connection is gone for good: pending calls fail, later calls find no runtime to run on. */
  private lost(reason: string): void {
    if (this.stopped) return;
    const said = `the driver lost its connection to the cluster at ${this.address} (${reason})`;
    process.stderr.write(`tsray: ${said}; its calls fail from now on\n`);
    void this.stop(said);
    this.onLost?.(said);
  }

  /** Ends the job (owner/stopping reaches the GCS before the connection closes) and disconnects; pending calls fail naming `reason`. */
  async stop(reason = 'shutdown'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.driver.stop(reason);
    this.objects.close();
    this.router.flush();
    // The transport writes what this turn queued on the next one; closing first would drop it.
    await new Promise((resolve) => setImmediate(resolve));
    await this.client.close();
    this.router.close();
    await this.log.close();
    markSessionEnded(this.sessionDir, this.marker, Date.now());
  }
}
