/**
 * A driver connected to a running cluster (`init({ address })`, or TSRAY_ADDRESS): this process's
 * owner component talks to the cluster over one TransportClient (role `driver`) to the node it
 * attaches to, whose raylet takes its leases, puts and fetches first (spillback as usual), and whose
 * router relays the rest on (star routing, node-routing.ts). `address` is always the head's; which
 * node of this machine the driver attaches to is `attachNodeFor`'s choice (local-nodes.ts), as a Ray
 * driver attaches to the raylet of its machine:
 *
 * - The head (the default when the head was started on this machine): the driver connects to the
 *   head's server, and its identity is its own: its worker id is `<connection name>.d<random>`, whose
 *   node part is the name its connection goes by, so that the head routes its address back over this
 *   connection and a death of the head's node is not its death.
 * - Another node (`TSRAY_NODE_ID=<node id>`, or the only node of this cluster started on this machine
 *   when the head was not): the driver connects to that node's own port (the one its direct links
 *   use, recorded with the node), and its worker id is `<node id>.d<random>`, so that the head routes
 *   every message for it to that node like those of the node's own workers. The driver lives and
 *   dies with that node, as a Ray driver with its raylet: when the connection to it breaks (the node
 *   stopped or died) the driver stops at once with the lost error, naming the node, and does not
 *   reconnect or move to the head (the cluster counts its objects and job gone with the node).
 *
 * A driver attached to another node rides out a restart of the head as that node's workers do: the
 * node reconnects to the resumed head, and the driver's own connection never broke. The identity of
 * a driver attached to the head is what lets it ride out the restart (issue 10 item 6): the connection
 * reconnects by itself for up to `driverReconnectWindowMs`, sending first what it wrote in the last
 * `nodeResendWindowMs` before the break and what it sent meanwhile (the receivers drop repeats, so
 * calls keep their at-most-once and at-least-once rules). On the resumed head, whose raylet runs under
 * a new node id, the owner is told to reattach (`owner/reattached`): the former node is dead to it
 * (leases there are asked again, copies only there are rebuilt by lineage or lost), and it registers
 * its job again, which the GCS answers with the same job id. Its first message attaches it to the new
 * head's raylet. A head that counted the driver gone (its connection broke while the head lived)
 * keeps its node id, and the driver then stops with the lost error.
 *
 * The driver has no node store in its process. On its node's host (which a node other than the head
 * always is: the driver found it in this machine's records), its large puts and arguments and the
 * large values it reads go through that node's handoff folder in /dev/shm: an object made on another
 * node is pulled into its node's store first and staged from there, so its bytes cross TCP once,
 * between the nodes, never to the driver. Elsewhere its puts are pulled by the node into its store,
 * and a large value it reads is pulled into its memory, over TCP (driver-objects.ts).
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
import { ShmHandoff, driverKeyOf } from '../store/shm-handoff.js';
import { QueueLimitError, TransportClient, routerPort, tokenProblem } from '../transport/index.js';
import { driverReconnectMs, firstConnectTimeoutMs, joinTimeoutMs, nodeResendWindowMs } from './cluster-node.js';
import { attachNodeFor, driverNodeEnv, noAddressFileHere, parseAddress, readAddressFile } from './local-nodes.js';
import { indexEntry, LogServer } from './log-serving.js';
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
  /**
   * `HOST:PORT` of the head, or `auto` for the head this machine started (its address file). The
   * node the driver attaches to is chosen by `attachNodeFor` (TSRAY_NODE_ID).
   */
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
    if (file === undefined) throw new Error(`init({ address: 'auto' }) found no cluster started on this machine (${noAddressFileHere()}): run \`tsray start --head\` first, or pass address: 'HOST:PORT'`);
    resolved = file.address;
  }
  parseAddress(resolved);
  const token = envToken !== undefined && envToken !== '' ? envToken : file?.token;
  if (token === undefined) throw new Error(`no cluster token to connect to ${resolved}: set TSRAY_TOKEN to the token \`tsray start --head\` printed, or run the driver on the head's machine`);
  const problem = tokenProblem(token);
  if (problem !== undefined) throw new Error(`TSRAY_TOKEN: ${problem}`);
  return { address: resolved, token };
}

/** The bound a driver's reconnect runs under, as its lost error names it. */
function reconnectBoundText(windowMs: number): string {
  return process.env['TSRAY_DRIVER_RECONNECT_MS'] === undefined || process.env['TSRAY_DRIVER_RECONNECT_MS'].trim() === '' ? `${windowMs} ms (driverReconnectWindowMs)` : `${windowMs} ms (TSRAY_DRIVER_RECONNECT_MS)`;
}

/**
 * Opens the handoff folder of the node a driver attaches to, when that node runs on this host, and
 * marks the driver's use of it (the node reads the mark when the driver's first message arrives, so
 * it is made before the driver sends anything). Elsewhere, says once why large objects go over TCP.
 */
function attachHandoff(nodeId: string, workerId: string): { folder: ShmHandoff; driverKey: string } | undefined {
  const folder = ShmHandoff.attach(nodeId);
  if (typeof folder === 'string') {
    process.stderr.write(`tsray: debug: large objects of this driver move over TCP: ${folder}\n`);
    return undefined;
  }
  const driverKey = driverKeyOf(workerId);
  folder.mark(`d-${driverKey}`);
  return { folder, driverKey };
}

/** How long a driver's `shutdown()` waits for the GCS to say its job's end is durable. */
export const jobFinishAckTimeoutMs = 2_000;

/** Resolves when `done` does, or after `timeoutMs`, whichever is first. */
async function boundedWait(done: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}

/** A driver connected to a cluster. */
export class DriverLink {
  private stopped = false;
  private queryCounter = 0;
  /** This driver's log as it is served to a tool, kept at its read position across the chunks of one collection. */
  private readonly served = new LogServer();
  private onLost: ((reason: string) => void) | undefined;
  /** Settles once the GCS says this driver's job has ended durably (see `stop`). */
  private jobEnded: (() => void) | undefined;
  /** When the connection to the head broke, while the client reconnects. */
  private disconnectedAtMs: number | undefined;

  private constructor(
    /** The head's `HOST:PORT`. */
    readonly address: string,
    /** The node this driver is attached to (the head's, whose resumed head's is new, or another node's). */
    public nodeId: string,
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
  ) {
    driver.linkTrouble = () => this.disconnectedAtMs === undefined ? undefined : `the driver lost its connection to the cluster at ${this.address} ${Date.now() - this.disconnectedAtMs} ms ago and is reconnecting`;
  }

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
    const reconnectMs = driverReconnectMs();
    const node = attachNodeFor(address);
    const { host, port } = parseAddress(node?.address ?? address);
    // Made once the connection is up; the client's callbacks may run before then.
    const made: { link?: DriverLink; router?: Router; objects?: DriverObjects } = {};
    const connectionName = `driver-${process.pid}-${randomBytes(3).toString('hex')}`;
    const queries = new Map<string, (nodes: NodeReport[]) => void>();
    const stateQueries = new Map<string, (report: ClusterStateReport) => void>();
    const client = await TransportClient.connect({
      host,
      port,
      token,
      identity: { nodeId: connectionName, role: 'driver' },
      // A wrong address is reported soon; once connected, the driver rides out a restart of the head,
      // but not the end of another node, which never comes back under its id.
      reconnect: { firstConnectGiveUpAfterMs: firstConnectTimeoutMs, giveUpAfterMs: node === undefined ? reconnectMs : 0, resendWindowMs: node === undefined ? nodeResendWindowMs : 0 },
      log: () => undefined,
      onConnected: (peer) => {
        peer.unref();
        made.link?.reconnected(peer.identity.nodeId);
      },
      onDisconnected: (info) => {
        // A head that refuses this driver (it counts it gone) will refuse it again: stop rather than retry.
        if (info.initiator === 'peer-refused') made.link?.lost(`the head refused it: ${info.reason}`);
        else if (node !== undefined) made.link?.lost(`its node ${node.nodeId} is gone: ${info.reason}; a driver ends with its node, so call init() again to attach to another`);
        else made.link?.disconnected(info.reason, reconnectBoundText(reconnectMs));
      },
      onMessages: (messages) => {
        for (const message of messages) {
          // A state query's answer is for this link, not for the owner component.
          if (message.type === 'cluster/nodes-replied') queries.get(message.requestId)?.([...message.nodes]);
          else if (message.type === 'job/finish-acked') made.link?.jobFinishAcked();
          else if (message.type === 'state/cluster-replied') stateQueries.get(message.requestId)?.(message.report);
          else if (isDriverQuery(message)) void made.link?.answer(message);
          else made.objects?.onMessage(message, message.to);
        }
      },
      landRaw: (message, lengthBytes) => made.objects?.landRaw(message, lengthBytes),
      onFailed: (error) => made.link?.lost(`no head took it back within ${reconnectBoundText(reconnectMs)}: ${error.message}`),
    }).catch((error: unknown) => {
      const via = node === undefined ? '' : ` through its node ${node.nodeId} at ${node.address} (${driverNodeEnv})`;
      throw new Error(`cannot connect a driver to the cluster at ${address}${via}: ${error instanceof Error ? error.message : String(error)}`);
    });
    const attachedNodeId = client.peer?.identity.nodeId ?? '';
    if (node !== undefined && attachedNodeId !== node.nodeId) {
      // The port was taken by another process after the node's end (its record outlived it).
      await client.close();
      throw new Error(`cannot connect a driver to node ${node.nodeId} at ${node.address}: node ${attachedNodeId} answered there; the node is gone, unset ${driverNodeEnv} or run \`tsray status\``);
    }
    const workerId = `${node === undefined ? connectionName : attachedNodeId}.d${randomBytes(4).toString('hex')}`;
    const upstream: { port?: Port } = {};
    const linkRouter = new Router({ postMessage: (value: unknown) => upstream.port?.postMessage(value) });
    const objects = new DriverObjects(`worker:${workerId}`, linkRouter, {}, attachHandoff(attachedNodeId, workerId));
    upstream.port = objects.outbound(
      routerPort(client, (error) => {
        // Messages held while the head is away passed their bound: those dropped would leave calls waiting forever.
        if (error instanceof QueueLimitError) made.link?.lost(error.message);
        else process.stderr.write(`tsray: a batch of messages to the cluster could not be sent: ${error.message}\n`);
      }),
    );
    made.router = linkRouter;
    made.objects = objects;
    const session = startSession(options.sessionDir);
    const log = EventLog.open(logDirFor(session.dir, `worker:${workerId}`), { component: 'owner', address: `worker:${workerId}`, durable: false, batching: 'lagging' });
    const driver = new OwnerRuntime({
      workerId,
      nodeId: attachedNodeId,
      isDriver: true,
      namespace: options.namespace,
      router: linkRouter,
      log,
      // A large put is captured at the call in one copy: into the node's shared mapping on its host,
      // else laid out for the node to pull over TCP (and the same after a reattach changes which).
      store: { put: (objectId, data) => objects.putCaptured(objectId, data), delete: (objectId) => objects.dropCapturedPut(objectId) },
    });
    // A value is kept while the owner holds it, or while its fetch is still on the way to the owner.
    objects.stillHeld = (objectId) => driver.state.fetchedData[objectId] !== undefined || driver.state.fetches[objectId] !== undefined;
    const link = new DriverLink(address, attachedNodeId, session.dir, driver, linkRouter, client, log, session.marker, queries, objects, stateQueries);
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
          reply({ type: 'logs/events-replied', requestId: query.requestId, address: query.address, events: this.served.events(this.log.address, () => ({ log: this.log, release: () => undefined }), query.fromSeq, query.toSeq, query.maxBytes) });
        } catch (error) {
          reply({ type: 'logs/events-replied', requestId: query.requestId, address: query.address, events: [], error: (error as Error).message });
        }
        return;
    }
  }

  /** The connection to the head broke: the client reconnects by itself, and what the driver sends meanwhile waits. */
  private disconnected(reason: string, bound: string): void {
    if (this.stopped) return;
    this.disconnectedAtMs = Date.now();
    process.stderr.write(`tsray: the driver lost its connection to the cluster at ${this.address} (${reason}); reconnecting for up to ${bound}\n`);
  }

  /**
   * The connection is up again, to the head now running as `nodeId`. A head under a new node id is a
   * resumed one: the driver reattaches to it. The same head counted this driver gone when its
   * connection broke (its raylet reported the driver's death), so the driver cannot go on.
   */
  private reconnected(nodeId: string): void {
    if (this.stopped || this.disconnectedAtMs === undefined) return;
    const awayMs = Date.now() - this.disconnectedAtMs;
    this.disconnectedAtMs = undefined;
    if (nodeId === this.nodeId) {
      this.lost(`its connection broke for ${awayMs} ms while the head lived, and the head counted this driver gone`);
      return;
    }
    process.stderr.write(`tsray: the driver reconnected after ${awayMs} ms to the cluster at ${this.address}, whose head resumed as node ${nodeId}\n`);
    this.nodeId = nodeId;
    // Before the owner's first message to the new head, which reads the mark when it attaches the driver.
    this.objects.reattach(attachHandoff(nodeId, this.driver.options.workerId));
    this.driver.reattach(nodeId);
  }

  /** The connection is gone for good: pending calls fail, later calls find no runtime to run on. */
  private lost(reason: string): void {
    if (this.stopped) return;
    const said = `the driver lost its connection to the cluster at ${this.address} (${reason})`;
    process.stderr.write(`tsray: ${said}; its calls fail from now on\n`);
    void this.stop(said, true);
    this.onLost?.(said);
  }

  /** The GCS committed the end of this driver's job. */
  jobFinishAcked(): void {
    this.jobEnded?.();
    this.jobEnded = undefined;
  }

  /**
   * Ends the job (owner/stopping reaches the GCS before the connection closes) and disconnects; pending
   * calls fail naming `reason` (as a lost connection's errors when `lost`).
   */
  async stop(reason = 'shutdown', lost = false): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const ending = this.driver.state.jobId !== undefined && !lost;
    const jobEnded = ending ? new Promise<void>((resolve) => (this.jobEnded = resolve)) : Promise.resolve();
    this.driver.stop(reason, lost);
    this.objects.close();
    this.router.flush();
    // The transport writes what this turn queued on the next one; closing first would drop it.
    await new Promise((resolve) => setImmediate(resolve));
    // Its job's end is in the GCS's log before this driver goes: a head killed just after would
    // otherwise resume with the job alive, and count its driver dead only after
    // driverReconnectWindowMs. A head that does not answer in time (it is down or unreachable) is
    // not waited for longer.
    if (ending) await boundedWait(jobEnded, jobFinishAckTimeoutMs);
    await this.client.close();
    this.router.close();
    this.served.close();
    await this.log.close();
    markSessionEnded(this.sessionDir, this.marker, Date.now());
  }
}
