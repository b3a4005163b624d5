/**
 * One node of a multi-node cluster, as the process that `tsray start` runs. The head runs the GCS,
 * a raylet and the transport server that other nodes, drivers and tools connect to; any other node
 * runs a raylet that connects to the head with the cluster token. Each component is a ComponentShell
 * with its event log in the node's session dir, as in the embedded cluster, and the node owns its
 * raylet's worker threads and shared-memory store the way embedded.ts does.
 *
 * Routing is a star: a node's router sends every address it does not hold to the head, and the
 * head's router sends each address to the peer of its node (node-routing.ts). The exception is the
 * chunks of objects between two non-head nodes, which go over a direct link between them
 * (peer-links.ts) while one can be had.
 *
 * Drivers attach to the head over its server, or to another node over that node's own port (the
 * one its direct links use), as a Ray driver attaches to the raylet of its machine (driver-link.ts).
 * A driver attached to node n2 is worker `n2.d<k>`, so the star routing brings every message for it
 * to n2, whose router sends it on over the driver's connection; whatever the driver sends that is not
 * n2's goes on to the head like any of n2's own messages. Either way, a driver on the node's host
 * moves its large values through the node's handoff folder in /dev/shm.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { aliveNodeIds, defaultGcsConfig } from '../../core/gcs/index.js';
import type { GcsConfig, GcsEvent, GcsRestarted, GcsState } from '../../core/gcs/index.js';
import { gcsAddress, nodeOfWorker, rayletAddress, workerAddress } from '../../core/ids.js';
import type { NodeId, WorkerId } from '../../core/ids.js';
import { defaultOwnerConfig } from '../../core/owner/index.js';
import { isWaitingForPlacement } from '../../core/gcs/actors.js';
import type { Delivered, JobReport, Message, MessageOf, NodeReport, ResourceDemand } from '../../core/protocol.js';
import { shapeKey } from '../../core/resources.js';
import { defaultRayletConfig, rayletCore } from '../../core/raylet/index.js';
import type { RayletEffect, RayletEvent, RayletState } from '../../core/raylet/index.js';
import { hashState } from '../../core/hash.js';
import { liveIdleWorkerExitMs, maxActorWorkers } from '../runtime/embedded.js';
import { NodeStore } from '../runtime/node-store.js';
import type { PlacedData, PutRequest } from '../runtime/node-store.js';
import { Router } from '../runtime/router.js';
import type { Port } from '../runtime/router.js';
import { markSessionEnded } from '../runtime/session-marker.js';
import type { SessionMarker } from '../runtime/session-marker.js';
import { startSession } from '../runtime/sessions.js';
import { ComponentShell } from '../runtime/shell.js';
import { isMappedData, isRemoteStoredData, isSpilledData } from '../runtime/stored-values.js';
import { SpillSpace, spillCapacityBytes, spillDir } from '../store/spill-space.js';
import type { StoredData } from '../runtime/stored-values.js';
import { setStoreBuffer } from '../runtime/values.js';
import { WorkerThreads } from '../runtime/worker-threads.js';
import type { EventLog } from '../store/event-log.js';
import { withLogPort, type ForwardedLog } from '../store/forwarded-log.js';
import { SessionLogs } from '../store/session-logs.js';
import { ShmHandoff, driverKeyOf, handoffLimitBytes, sweepStaleHandoffs } from '../store/shm-handoff.js';
import type { Peer, RawLanding, RoutedMessage } from '../transport/index.js';
import { TransportClient, TransportServer, routerPort } from '../transport/index.js';
import { gcsResendWindowMs, openGcsShell } from './gcs-shell.js';
import type { GcsShell } from './gcs-shell.js';
import { HeldRelays } from './held-relays.js';
import { NodeObjects } from './node-objects.js';
import { nodeOfAddress, peerRoutingPort, withRemoteStoredData } from './node-routing.js';
import { objectsAddress } from './object-transfer.js';
import { PeerLinks } from './peer-links.js';
import { StateQueries, stateAddress } from './state-queries.js';

/** The node store's size when not given (as the embedded cluster's default). */
const defaultObjectStoreBytes = 512 * 1024 * 1024;

/**
 * How many health checks in a row a node of a real cluster may miss before the head declares it
 * dead, when `--health-check-failure-threshold` is not given: 30 of 100 ms, so a node is declared
 * dead after 3 s of silence. The GCS reducer's own default (5, half a second) suits the simulator,
 * whose nodes are never starved; a real node's heartbeats come from its main thread, which a
 * busy machine, a long collection or a large copy into fresh memory (0.3 to 0.7 s for 64 MiB on
 * this machine's VM) can hold up for that long, and a node declared dead stops, its work redone
 * elsewhere. At load 13 on 2 cores, live nodes of the cluster tests were declared dead with 5.
 * Ray allows 5 checks of 3 s.
 */
export const liveHealthCheckFailureThreshold = 30;

/** How long a starting node waits for the GCS to acknowledge it (a cluster view that includes it). */
export const joinTimeoutMs = 20_000;

/** How long a joining node tries to reach the head before it gives up. */
export const firstConnectTimeoutMs = 5000;

/**
 * How long a resumed GCS waits for the nodes its log knows to reconnect before it resumes its health
 * checks (which would declare a node dead that has not reconnected yet). A node retries at least
 * every 2 s (the transport's reconnect maxDelayMs), so this covers its next attempt with room to spare.
 */
export const rejoinWaitMs = 5000;

/**
 * A node sends again, on its next connection to the head, the frames it wrote this recently before
 * the connection broke: a killed head takes with it the messages in its socket and those it read but
 * had not handled or relayed yet, and their senders would otherwise wait for their answers forever.
 * Receivers drop the repeats (core/inbox.ts).
 */
export const nodeResendWindowMs = 3000;

/**
 * How long a driver whose connection to the head broke tries to reconnect before it gives up (its
 * calls then fail with the lost error). It covers the supervisor starting the head again, the GCS
 * replaying a large log and the head's wait for its nodes (`rejoinWaitMs`), with a wide margin, as
 * the raylets' own reconnect bound does. A resumed head waits as long for a driver of an alive job to
 * come back before it counts the driver dead.
 */
export const driverReconnectWindowMs = 60_000;

/**
 * The driver reconnect window in use: `TSRAY_DRIVER_RECONNECT_MS`, or `driverReconnectWindowMs`. A
 * driver tries this long to reconnect to a head it lost; a resumed head waits this long for the
 * drivers of alive jobs (give the head at least the drivers' value). It may be shorter, to fail sooner
 * when the head is gone for good, not longer.
 */
export function driverReconnectMs(): number {
  const text = process.env['TSRAY_DRIVER_RECONNECT_MS'];
  if (text === undefined || text.trim() === '') return driverReconnectWindowMs;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > driverReconnectWindowMs) {
    throw new RangeError(`TSRAY_DRIVER_RECONNECT_MS must be a whole number of ms from 0 to ${driverReconnectWindowMs} (driverReconnectWindowMs: how long a driver tries to reconnect to a head it lost), not '${text}'`);
  }
  return value;
}

/** What a node is started with. */
export interface ClusterNodeOptions {
  /** The head listens on host:port; any other node connects to the head at host:port. */
  readonly head: boolean;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly numCpus?: number;
  readonly resources?: Record<string, number>;
  readonly objectStoreBytes?: number;
  /**
   * The bound of the folder in /dev/shm through which drivers on this host move large objects
   * (default: TSRAY_SHM_STORE_BYTES, else 1 GiB; 0 sends them over TCP).
   */
  readonly handoffBytes?: number;
  /** The session dir (made if missing); default a new one under the sessions root. */
  readonly sessionDir?: string;
  /**
   * The head resumes the cluster of `sessionDir` after its process died: the GCS replays its log
   * there and comes back under its next incarnation. `previousNodeId` is the dead head's node, which
   * will not reconnect (this head runs a new raylet under a new node id).
   */
  readonly resume?: { readonly previousNodeId: string };
  /** The head's health checks (default: the GCS reducer's period, and `liveHealthCheckFailureThreshold`). */
  readonly healthCheckPeriodMs?: number;
  readonly healthCheckFailureThreshold?: number;
  /** The node stopped by itself: the GCS declared it dead, or it lost the head for good. */
  readonly onFatal?: (reason: string) => void;
}

/** The file in a head's session dir that lists the node ids its heads ran under, one a line. */
export const headNodesFileName = 'head-nodes';

/**
 * The node ids of the heads that ran this session before (read from its session dir), after which
 * this head's own is recorded: their raylets died with their processes and never reconnect, so a
 * resumed GCS does not wait for them.
 */
function recordHeadNode(sessionDir: string, nodeId: NodeId): Set<NodeId> {
  const path = join(sessionDir, headNodesFileName);
  let former: NodeId[] = [];
  try {
    former = readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');
  } catch {
    // The first head of the session.
  }
  appendFileSync(path, `${nodeId}\n`);
  return new Set(former);
}

/** Mints a node id that no other node of the cluster has: a dead node never comes back under its id. */
function newNodeId(): NodeId {
  return `n${randomBytes(4).toString('hex')}`;
}

/**
 * The actors the GCS holds unplaced (no alive node can ever fit them, so no raylet has their lease),
 * grouped by what each needs to be placed: pending demand that no raylet's heartbeat reports.
 */
function unplacedActors(state: GcsState): ResourceDemand[] {
  const byShape = new Map<string, ResourceDemand>();
  for (const actorId of Object.keys(state.actors).sort()) {
    const actor = state.actors[actorId];
    if (actor === undefined || !isWaitingForPlacement(actor)) continue;
    const resources: Record<string, number> = { ...actor.spec.placementResources };
    for (const [name, amount] of Object.entries(actor.spec.resources)) resources[name] = Math.max(resources[name] ?? 0, amount);
    const key = shapeKey(resources);
    const known = byShape.get(key);
    byShape.set(key, { resources, count: (known?.count ?? 0) + 1, infeasible: true });
  }
  return [...byShape.keys()].sort().flatMap((key) => byShape.get(key) ?? []);
}

/** The drivers of the jobs still alive: each attached to the head when it died, and expected back. */
function aliveDrivers(state: GcsState): WorkerId[] {
  return Object.values(state.jobs)
    .filter((job) => job.alive && state.nodes[nodeOfWorker(job.driverId)] === undefined)
    .map((job) => job.driverId)
    .sort();
}

/** Whether a message is a state query the head's shell answers (not a GCS event). */
function isStateQuery(message: Delivered<Message>): message is Delivered<MessageOf<'cluster/nodes-requested' | 'cluster/jobs-requested'>> {
  return message.type === 'cluster/nodes-requested' || message.type === 'cluster/jobs-requested';
}

/** A driver attached to this node, with its connection and what moved through the handoff folder. */
interface AttachedDriver {
  readonly peer: Peer;
  readonly port: Port;
  /** How its files in the handoff folder are named; undefined when it is not on this host (TCP). */
  readonly driverKey: string | undefined;
  /** Objects taken from its puts and staged for its reads through the folder, and their bytes. */
  mappedObjects: number;
  mappedBytes: number;
}

/** A running cluster node. */
export class ClusterNode {
  readonly router: Router;
  readonly sessionDir: string;
  readonly raylet: ComponentShell<RayletState, RayletEvent, RayletEffect>;
  /** The head's GCS; undefined on other nodes. */
  readonly gcs: GcsShell | undefined;
  /** How many events a resumed GCS replayed from its log (0 for a fresh cluster). */
  readonly replayedEvents: number;
  readonly threads: WorkerThreads;
  readonly nodeStore: NodeStore;
  /** Objects moving to and from other processes (node-objects.ts). */
  readonly objects: NodeObjects;
  private server: TransportServer | undefined;
  private client: TransportClient | undefined;
  /** A non-head node's direct links to other nodes, for moving objects (peer-links.ts); undefined on the head, or if its port could not be opened. */
  private links: PeerLinks | undefined;
  private readonly logs: SessionLogs;
  /** The drivers attached to this node, by address, with their connection. */
  private readonly drivers = new Map<string, AttachedDriver>();
  /** The folder in /dev/shm shared with the drivers on this host; undefined when it could not be made. */
  readonly handoff: ShmHandoff | undefined;
  private readonly mainLogs: { readonly log: EventLog; readonly state: () => unknown }[] = [];
  /** The raylet's log, encoded here and written by the log thread, which it sends its state's hash with. */
  private readonly rayletLog: ForwardedLog;
  private readonly sessionMarker: SessionMarker;
  /** Answers `tsray list tasks|actors|objects`, `tsray memory` and the log requests of `trace collect` at `state:<node>`. */
  private readonly stateQueries: StateQueries;
  private stopped = false;
  /** Settles once the GCS has published a cluster view to this raylet (the node has joined), or the node failed first. */
  private joining: { readonly resolve: () => void; readonly reject: (error: Error) => void } | undefined;
  /** A resumed GCS's `gcs/restarted`, until it is applied. */
  private gcsRestart: GcsRestarted | undefined;
  /** Messages for a resumed GCS that arrive before `gcs/restarted`, applied after it (as the simulator holds them while the GCS is down). */
  private heldForGcs: GcsEvent[] | undefined;
  /** The connections of other nodes to the head, by node id. */
  private peers: ReadonlyMap<NodeId, Peer> = new Map();
  /** Called when a node (re)connects to the head. */
  private onPeerJoined: (() => void) | undefined;
  /** A resumed head's messages for nodes that have not reconnected yet, until the GCS resumes. */
  private heldRelays: HeldRelays | undefined;
  /** The nodes of the heads that ran this session before this one. */
  private formerHeadNodes = new Set<NodeId>();
  /** A resumed head's bound on the return of the drivers of alive jobs, until it runs out. */
  private driverWait: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: ClusterNodeOptions,
    /** This node's id, new at every start. */
    readonly nodeId: NodeId,
    upstream: Port,
  ) {
    const session = startSession(options.sessionDir);
    this.sessionDir = session.dir;
    this.logs = new SessionLogs(this.sessionDir);
    this.sessionMarker = session.marker;
    this.router = new Router(upstream);
    if (options.head) {
      this.formerHeadNodes = recordHeadNode(this.sessionDir, nodeId);
      const gcsLog = this.logs.open(gcsAddress, 'gcs', true);
      const config: GcsConfig = {
        ...defaultGcsConfig,
        healthCheckPeriodMs: options.healthCheckPeriodMs ?? defaultGcsConfig.healthCheckPeriodMs,
        healthCheckFailureThreshold: options.healthCheckFailureThreshold ?? liveHealthCheckFailureThreshold,
      };
      // Messages for the GCS are delivered on a later turn, so the handler is in place before any arrives.
      this.router.addLocal(gcsAddress, (message) => this.onGcsMessage(message));
      const opened = openGcsShell({ router: this.router, log: gcsLog, config, resume: options.resume !== undefined });
      const gcs = opened.shell;
      this.gcs = gcs;
      this.replayedEvents = opened.replayedEvents;
      this.gcsRestart = opened.restart;
      if (opened.restart !== undefined) this.heldForGcs = [];
      if (opened.resend.length > 0) {
        // Ahead of anything the resumed GCS sends; those for nodes and drivers not back yet wait for them (HeldRelays).
        process.stderr.write(`tsray: the GCS sends again the ${opened.resend.length} messages of its last ${gcsResendWindowMs} ms before the restart (their receivers drop those they had)\n`);
        for (const { to, message } of opened.resend) this.router.forward(message, to);
      }
      this.mainLogs.push({ log: gcsLog, state: () => gcs.state });
    } else {
      this.gcs = undefined;
      this.replayedEvents = 0;
    }
    const storeBytes = options.objectStoreBytes ?? defaultObjectStoreBytes;
    const spill = new SpillSpace(spillDir(this.sessionDir, nodeId), spillCapacityBytes(this.sessionDir, storeBytes));
    this.threads = new WorkerThreads({
      router: this.router,
      boot: (workerId, readerSlot) => {
        if (readerSlot !== undefined) this.nodeStore.nameReader(readerSlot, `worker ${workerId}`);
        return { workerId, nodeId: this.nodeId, namespace: 'default', inlineThresholdBytes: defaultOwnerConfig.inlineThresholdBytes, storeBuffer: this.nodeStore.store.buffer, spillCapacityBytes: spill.capacityBytes, sessionDir: this.sessionDir, ...(readerSlot === undefined ? {} : { readerSlot }), ...withLogPort(this.logs.workerLogPort(workerId)) };
      },
      onReady: (workerId) => this.raylet.apply({ type: 'worker/started', workerId }),
      onLogRecords: (workerId, batch) => this.logs.appendWorker(workerId, batch),
      onExit: (workerId, reason, readerSlot, killedBy) => {
        if (readerSlot !== undefined) this.nodeStore.store.dropReaderSlot(readerSlot);
        this.logs.closeWorker(workerId);
        // A kill's exit names the raylet event that asked for it, so `why` can follow it there.
        this.raylet.apply({ type: 'worker/exited', workerId, reason }, killedBy);
      },
    });
    this.nodeStore = new NodeStore(storeBytes, () => this.threads.ask('tsray/collect', 'tsray/collected'), undefined, spill);
    setStoreBuffer(this.nodeStore.store.buffer, spill.capacityBytes);
    const handoff = ShmHandoff.create(nodeId, options.handoffBytes ?? handoffLimitBytes());
    if (typeof handoff === 'string') process.stderr.write(`tsray: debug: node ${nodeId} has no shared mapping for its drivers (${handoff}); their large objects move over TCP\n`);
    this.handoff = typeof handoff === 'string' ? undefined : handoff;
    const address = rayletAddress(this.nodeId);
    // Encoded here, written by the log thread (see session-logs.ts).
    const rayletLog = this.logs.openForwarded(address, 'raylet');
    this.raylet = new ComponentShell({ core: rayletCore, address, router: this.router, log: rayletLog, onEffect: (effect, seq) => this.onRayletEffect(effect, seq) });
    rayletLog.hashStateWith(() => hashState(this.raylet.state));
    this.rayletLog = rayletLog;
    this.router.addLocal(address, (message) => this.onRayletMessage(message as RayletEvent));
    this.objects = new NodeObjects({
      nodeId: this.nodeId,
      router: this.router,
      nodeStore: this.nodeStore,
      rayletState: () => this.raylet.state,
      applyRaylet: (event) => this.raylet.apply(event),
      ...(this.handoff === undefined ? {} : { handoff: this.handoff }),
      directLink: (nodeId) => this.directLink(nodeId),
    });
    this.stateQueries = new StateQueries({
      nodeId,
      router: this.router,
      sessionDir: this.sessionDir,
      logs: this.logs,
      threads: this.threads,
      raylet: () => this.raylet.state,
      gcs: () => this.gcs?.state,
      drivers: () => [...this.drivers.keys()],
      head: () => this.client?.peer?.identity.nodeId,
      recordStateHashes: () => this.recordFinalHashes(),
    });
    this.router.addLocal(stateAddress(nodeId), (message) => this.stateQueries.deliver(message));
  }

  /**
   * Starts a node. The head listens first (an address in use fails here, before anything else runs);
   * another node connects first, so that a refused token leaves nothing started and nothing joined.
   */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    // The folders of nodes killed before they could remove theirs go now.
    sweepStaleHandoffs();
    let node: ClusterNode | undefined;
    const onLinkError = (error: Error): void => {
      process.stderr.write(`tsray: a batch of messages could not be sent: ${error.message}\n`);
    };
    const nodeId = newNodeId();
    // The connections of other nodes and tools to the head, by node id.
    const peers = new Map<NodeId, Peer>();
    let relays: HeldRelays | undefined;
    if (options.head) {
      const server = await TransportServer.listen({
        token: options.token,
        // The welcome names the head's node, which a driver attaches to.
        identity: { nodeId, role: 'gcs' },
        host: options.host,
        port: options.port,
        onPeer: (peer) => {
          peers.set(peer.identity.nodeId, peer);
          relays?.release(peer.identity.nodeId);
          node?.onPeerJoined?.();
        },
        onPeerClosed: (peer) => {
          if (peers.get(peer.identity.nodeId) === peer) peers.delete(peer.identity.nodeId);
          node?.onPeerClosed(peer);
        },
        onMessages: (messages, peer) => node?.deliver(messages, peer),
        landRaw: (message, lengthBytes) => node?.landRaw(message, lengthBytes),
      });
      // Chunks of objects between two other nodes pass here only when those nodes have no direct
      // link (peer-links.ts): the first chunk of each is logged, which tells the two ways apart.
      const routing = peerRoutingPort(
        peers,
        (error, to) => onLinkError(new Error(`to node ${to}: ${error.message}`)),
        (message, to) => {
          if (message.type === 'object/chunk-sent' && message.offset === 0 && message.via.from !== objectsAddress(nodeId)) process.stderr.write(`tsray: the head relays object ${message.objectId} from ${message.via.from} to node ${to}\n`);
        },
      );
      relays = options.resume === undefined ? undefined : new HeldRelays(routing, peers, (line) => process.stderr.write(`tsray: ${line}\n`));
      node = new ClusterNode(options, nodeId, withRemoteStoredData(relays?.port ?? routing, nodeId));
      node.server = server;
      node.peers = peers;
      node.heldRelays = relays;
    } else {
      const client = await TransportClient.connect({
        host: options.host,
        port: options.port,
        token: options.token,
        identity: { nodeId, role: 'raylet' },
        // A wrong address is reported soon; once joined, the node rides out a restart of the head.
        reconnect: { firstConnectGiveUpAfterMs: firstConnectTimeoutMs, resendWindowMs: nodeResendWindowMs },
        onMessages: (messages) => node?.deliver(messages),
        landRaw: (message, lengthBytes) => node?.landRaw(message, lengthBytes),
        onFailed: (error) => node?.fatal(error.message),
      });
      node = new ClusterNode(options, nodeId, withRemoteStoredData(routerPort(client, onLinkError), nodeId));
      node.client = client;
      await node.openLinks(client.peer?.localHost ?? options.host);
    }
    const started = node;
    let timer: NodeJS.Timeout | undefined;
    const joined = new Promise<void>((resolve, reject) => {
      started.joining = { resolve, reject };
      timer = setTimeout(() => reject(new Error(`the GCS did not acknowledge this node within ${joinTimeoutMs} ms (joinTimeoutMs); see the head's log`)), joinTimeoutMs);
    });
    started.startRaylet();
    // Ready means registered: the GCS saw this node and published it a view (at its next health check).
    try {
      await started.resumeGcs();
      await joined;
    } catch (error) {
      await started.stop();
      throw error;
    } finally {
      clearTimeout(timer);
      started.joining = undefined;
    }
    return started;
  }

  /**
   * Opens this node's port for direct links from other nodes, on the interface through which it
   * reaches the head; its address goes to the GCS with the node's registration. A port that cannot
   * be opened leaves the node pulling through the head, as before.
   */
  private async openLinks(host: string): Promise<void> {
    try {
      const links = await PeerLinks.start({
        nodeId: this.nodeId,
        token: this.options.token,
        router: this.router,
        host,
        transferAddressOf: (nodeId) => this.raylet.state.cluster[nodeId]?.transferAddress,
        landRaw: (message, lengthBytes) => this.landRaw(message, lengthBytes),
        onLost: (nodeId, reason) => this.objects.onLinkLost(nodeId, reason),
        log: (line) => process.stderr.write(`tsray: ${line}\n`),
        drivers: { deliver: (messages, peer) => this.deliver(messages, peer), closed: (peer) => this.onPeerClosed(peer) },
      });
      if (this.stopped) await links.close();
      else this.links = links;
    } catch (error) {
      process.stderr.write(`tsray: node ${this.nodeId} takes no direct links from other nodes (${error instanceof Error ? error.message : String(error)}); its objects go through the head\n`);
    }
  }

  /**
   * A non-head node's own `host:port`, where drivers on its host attach to it (and other nodes link to
   * it for objects); undefined on the head, whose drivers connect to `address`.
   */
  get driverAddress(): string | undefined {
    return this.links?.address;
  }

  /** The address others connect to (the head's bound `host:port`). */
  get address(): string {
    const bound = this.server?.address;
    return bound === undefined ? `${this.options.host}:${this.options.port}` : `${this.options.host}:${bound.port}`;
  }

  private startRaylet(): void {
    const numCpus = this.options.numCpus ?? availableParallelism();
    this.raylet.apply({
      type: 'node/started',
      nodeId: this.nodeId,
      resources: { CPU: numCpus, ...this.options.resources },
      config: { ...defaultRayletConfig, objectStoreCapacityBytes: this.options.objectStoreBytes ?? defaultObjectStoreBytes, spillCapacityBytes: this.nodeStore.spill?.capacityBytes ?? 0, prestartWorkers: numCpus, maxActorWorkers: maxActorWorkers(), idleWorkerExitMs: liveIdleWorkerExitMs },
      ...(this.links === undefined ? {} : { transferAddress: this.links.address }),
    });
  }

  /** A message for the GCS: a state query is answered now; an event is applied, or held while a resumed GCS waits to restart. */
  private onGcsMessage(message: Delivered<Message>): void {
    const gcs = this.gcs;
    if (gcs === undefined) return;
    if (isStateQuery(message)) this.answerStateQuery(gcs.state, message);
    else if (this.heldForGcs !== undefined) this.heldForGcs.push(message as GcsEvent);
    else gcs.apply(message as GcsEvent);
  }

  /**
   * Resumes a GCS that replayed its log: waits (at most `rejoinWaitMs`) until every node its state
   * counts alive has reconnected, except those of the dead heads (which never come back), so that the resumed health checks do not
   * declare a node dead for having been cut off by the restart and so that what `gcs/restarted`
   * sends again reaches them; then applies `gcs/restarted` and the messages held meanwhile. Nodes
   * that do not come back are declared dead by the health checks, and the dead head's work is redone
   * by the rules of any node death. Does nothing for a fresh GCS.
   */
  private async resumeGcs(): Promise<void> {
    const gcs = this.gcs;
    const restart = this.gcsRestart;
    if (gcs === undefined || restart === undefined) return;
    const previousNodeId = this.options.resume?.previousNodeId;
    const awaited = aliveNodeIds(gcs.state).filter((id) => id !== previousNodeId && id !== this.nodeId && !this.formerHeadNodes.has(id));
    // The drivers of alive jobs reconnect too (each under its connection's name, its worker id's node part).
    const drivers = aliveDrivers(gcs.state);
    const awaitedDrivers = drivers.map(nodeOfWorker);
    const missing = (): NodeId[] => [...awaited, ...awaitedDrivers].filter((id) => !this.peers.has(id));
    if (missing().length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, rejoinWaitMs);
        this.onPeerJoined = () => {
          if (missing().length === 0 || this.stopped) resolve();
        };
      });
      clearTimeout(timer);
      this.onPeerJoined = undefined;
    }
    if (this.stopped) return;
    const absent = missing().filter((id) => !awaitedDrivers.includes(id));
    const absentDrivers = drivers.filter((workerId) => !this.peers.has(nodeOfWorker(workerId)));
    process.stderr.write(
      `tsray: the GCS resumed as incarnation ${restart.incarnation} after replaying ${this.replayedEvents} events; ${awaited.length - absent.length} of ${awaited.length} nodes reconnected${absent.length === 0 ? '' : ` (not ${absent.join(', ')}: the health checks decide)`}; ${drivers.length - absentDrivers.length} of ${drivers.length} drivers of alive jobs reconnected\n`,
    );
    this.gcsRestart = undefined;
    this.heldRelays?.stop();
    gcs.apply(restart);
    const held = this.heldForGcs ?? [];
    this.heldForGcs = undefined;
    for (const event of held) gcs.apply(event);
    if (absentDrivers.length > 0) {
      const waitMs = driverReconnectMs();
      this.driverWait = setTimeout(() => this.buryAbsentDrivers(absentDrivers, waitMs), waitMs);
      this.driverWait.unref();
    }
  }

  /**
   * The drivers of alive jobs that did not come back to the resumed head within their reconnect bound
   * have given up (or died meanwhile): this node's raylet reports each one's death, as it does for a
   * driver whose connection closes, so that the GCS ends its job and its owned actors, and the
   * borrowers of its objects hear that their owner died.
   */
  private buryAbsentDrivers(workerIds: readonly string[], waitMs: number): void {
    this.driverWait = undefined;
    if (this.stopped) return;
    const gone = workerIds.filter((workerId) => !this.drivers.has(workerAddress(workerId)));
    if (gone.length === 0) return;
    process.stderr.write(`tsray: ${gone.length} drivers did not reconnect within ${waitMs} ms (the driver reconnect window) of the head's restart; their jobs end (${gone.join(', ')})\n`);
    for (const workerId of gone) {
      this.raylet.apply({ type: 'driver/connected', workerId });
      this.raylet.apply({ type: 'worker/exited', workerId, reason: 'exited' });
    }
  }

  /** Hands messages that arrived over the network to this node's router; a driver's first one attaches it here. */
  private deliver(messages: readonly RoutedMessage[], peer?: Peer): void {
    if (peer?.identity.role === 'driver') {
      for (const message of messages) this.attachDriver(message.via.from, peer);
      // A driver the cluster buried was refused: nothing it says is taken.
      if (peer.isClosed) return;
    }
    for (const message of messages) {
      // A stored value from another process, for a reader of this node: it reads this node's copy.
      // A driver on this host reads it too (through the handoff folder) when this store has room for
      // the copy; a driver elsewhere, or one this store has no room for, pulls it itself over TCP.
      const driver = this.drivers.get(message.to);
      const viaStore = driver === undefined || (driver.driverKey !== undefined && message.type === 'object/fetched' && this.objects.hasRoomFor(message.sizeBytes));
      if (message.type === 'object/fetched' && isRemoteStoredData(message.data) && nodeOfAddress(message.to) === this.nodeId && viaStore) {
        const { to, ...fetched } = message;
        this.objects.onRemoteFetched({ ...fetched, data: message.data }, to);
      } else this.router.forward(message, message.to);
    }
  }

  /**
   * Whether the chunks of `nodeId`'s objects come over a connection straight from it: always on the
   * head (every node and driver is connected to it), from the head itself on any node, and from
   * another node once a direct link to it is up (made now if need be, peer-links.ts).
   */
  private directLink(nodeId: string): Promise<boolean> {
    if (this.gcs !== undefined || nodeId === this.client?.peer?.identity.nodeId) return Promise.resolve(true);
    return this.links?.ensure(nodeId) ?? Promise.resolve(false);
  }

  /** Where the raw bytes of a chunk for this node's pulls land: in the store, at the object's range (NodeObjects). */
  private landRaw(message: RoutedMessage, lengthBytes: number): RawLanding | undefined {
    return message.to === this.objects.address ? this.objects.puller.landingFor(message, lengthBytes) : undefined;
  }

  /**
   * A driver speaks first over its connection (and again after it reconnected to a resumed head): its
   * address is routed back over that connection, and this node's raylet tracks it as a connected
   * driver, as the embedded cluster's does. On the head the address is `worker:<its connection's
   * name>.d<k>`, and only addresses named after the connection are taken, so a driver cannot claim
   * another's; on any other node it is `worker:<this node>.d<k>`, which the head routes here.
   */
  private attachDriver(from: string, peer: Peer): void {
    if (this.drivers.has(from) || !from.startsWith('worker:') || peer.isClosed) return;
    const workerId = from.slice('worker:'.length);
    const nodePart = this.gcs === undefined ? this.nodeId : peer.identity.nodeId;
    if (nodeOfWorker(workerId) !== nodePart || !/^[^.]+\.d[0-9a-f]+$/.test(workerId)) return;
    const buried = this.buriedDriver(workerId);
    if (buried !== undefined) {
      // Taken back, it would run on as a process the cluster buried (its job ended, its actors died).
      peer.close(buried);
      return;
    }
    // A driver on this host marked the handoff folder before it sent anything.
    const key = driverKeyOf(workerId);
    const driverKey = this.handoff?.has(`d-${key}`) === true ? key : undefined;
    const stage =
      driverKey === undefined
        ? undefined
        : (objectId: string, data: StoredData) =>
            this.objects.stageFor(driverKey, objectId, data)?.then((mapped) => {
              const attached = this.drivers.get(from);
              if (mapped === undefined || attached !== undefined) {
                if (mapped !== undefined && attached !== undefined) this.countMapped(attached, mapped.totalBytes);
                return mapped;
              }
              // The driver left while its copy was being staged: nobody will read or remove the file.
              this.handoff?.remove(mapped.file);
              return undefined;
            });
    const port = withRemoteStoredData(routerPort(peer, (error) => process.stderr.write(`tsray: messages to driver ${workerId} could not be sent: ${error.message}\n`)), this.nodeId, stage);
    this.drivers.set(from, { peer, port, driverKey, mappedObjects: 0, mappedBytes: 0 });
    this.router.addRemote(from, port);
    this.raylet.apply({ type: 'driver/connected', workerId });
  }

  /** Why the GCS counts a reconnecting driver gone, if it does: a driver that comes back after that cannot go on. */
  private buriedDriver(workerId: WorkerId): string | undefined {
    const state = this.gcs?.state;
    if (state === undefined) return undefined;
    const jobId = state.jobOfDriver[workerId];
    const job = jobId === undefined ? undefined : state.jobs[jobId];
    if (state.deadWorkers[workerId] !== true && job?.alive !== false) return undefined;
    return `the cluster counts driver ${workerId} gone${job === undefined ? '' : ` (its job ${job.jobId} ended)`}; call init() again for a new job`;
  }

  /** A driver's connection closed: the driver is gone, and its raylet ends what it held (as for any dead owner). */
  private onPeerClosed(peer: Peer): void {
    for (const [address, driver] of this.drivers) {
      if (driver.peer !== peer) continue;
      this.drivers.delete(address);
      this.router.removeRemote(address, driver.port);
      if (driver.driverKey !== undefined) {
        this.handoff?.removeDriver(driver.driverKey);
        process.stderr.write(`tsray: driver ${address.slice('worker:'.length)} left; ${driver.mappedObjects} objects (${driver.mappedBytes} bytes) moved between it and node ${this.nodeId} through the shared mapping\n`);
      }
      this.raylet.apply({ type: 'worker/exited', workerId: address.slice('worker:'.length), reason: 'exited' });
    }
  }

  /**
   * Answers `tsray status`, `tsray list nodes` and `tsray list jobs` from the GCS's state as it is now.
   * The answers come from this node's state address, not the GCS's: the GCS's own messages are
   * numbered by what its log holds, which a resumed GCS works out again to resend them (gcs-shell.ts).
   */
  private answerStateQuery(state: GcsState, query: MessageOf<'cluster/nodes-requested' | 'cluster/jobs-requested'>): void {
    if (query.type === 'cluster/jobs-requested') {
      const jobs: JobReport[] = Object.values(state.jobs)
        .sort((a, b) => Number(a.jobId.slice(1)) - Number(b.jobId.slice(1)))
        .map((job) => ({ jobId: job.jobId, driverId: job.driverId, namespace: job.namespace, alive: job.alive }));
      this.router.send(stateAddress(this.nodeId), 0, query.requester, { type: 'cluster/jobs-replied', requestId: query.requestId, jobs });
      return;
    }
    const nodes: NodeReport[] = Object.keys(state.nodes)
      .sort()
      .flatMap((nodeId) => {
        const node = state.nodes[nodeId];
        if (node === undefined) return [];
        // A dead node's last heartbeat said what was free then; nothing of it is available now.
        const available = node.alive ? { ...node.available } : Object.fromEntries(Object.keys(node.total).map((name) => [name, 0]));
        const demand = node.alive && node.demand !== undefined ? { demand: node.demand.map((shape) => ({ ...shape, resources: { ...shape.resources } })) } : {};
        return [{ nodeId, alive: node.alive, total: { ...node.total }, available, ...demand }];
      });
    const pendingActors = unplacedActors(state);
    this.router.send(stateAddress(this.nodeId), 0, query.requester, { type: 'cluster/nodes-replied', requestId: query.requestId, nodes, ...(pendingActors.length === 0 ? {} : { pendingActors }) });
  }

  /** The node stops for good, for `reason` (logged), and the owner hears of it. */
  private fatal(reason: string): void {
    if (this.stopped) return;
    if (this.joining !== undefined) {
      // Not up yet: `start` fails with the reason instead.
      this.joining.reject(new Error(reason));
      return;
    }
    process.stderr.write(`tsray: node ${this.nodeId} stops: ${reason}\n`);
    this.options.onFatal?.(reason);
  }


  /** A large value arrives as bytes: it goes into the store once, and the raylet sees its descriptor (as embedded.ts). */
  private onRayletMessage(event: RayletEvent): void {
    // Pulls from a node the GCS declared dead end now, not after their chunk timeouts.
    if (event.type === 'node/died' && event.nodeId !== this.nodeId) {
      this.links?.drop(event.nodeId, `node ${event.nodeId} died`);
      this.objects.onNodeDied(event.nodeId);
    }
    if (event.type !== 'object/put-requested') {
      this.raylet.apply(event);
      if (event.type === 'cluster/view-published' && this.raylet.state.viewReceived) this.joining?.resolve();
      return;
    }
    if (isMappedData(event.data)) {
      // A put of a driver on this host: its bytes are read from the handoff folder into the store.
      const driver = this.drivers.get(event.via.from);
      const { totalBytes } = event.data;
      this.objects.takeMapped(event.objectId, event.data).then(
        (data) => {
          if (driver !== undefined) this.countMapped(driver, totalBytes);
          this.nodeStore.landPut(event, data, (stored) => this.applyStoredPut(event, stored));
        },
        (error: unknown) => this.router.send(this.raylet.address, 0, event.via.from, { type: 'object/put-rejected', objectId: event.objectId, reason: error instanceof Error ? error.message : String(error) }),
      );
      return;
    }
    if (isRemoteStoredData(event.data)) {
      // A driver's put over TCP: its bytes are pulled from the driver into the store first.
      this.objects.pullPut(event.objectId, event.data).then(
        (data) => this.nodeStore.landPut(event, data, (stored) => this.applyStoredPut(event, stored)),
        (error: unknown) => this.router.send(this.raylet.address, 0, event.via.from, { type: 'object/put-rejected', objectId: event.objectId, reason: error instanceof Error ? error.message : String(error) }),
      );
      return;
    }
    this.nodeStore.receivePut(
      event,
      (data) => this.applyStoredPut(event, data),
      (reason) => this.router.send(this.raylet.address, 0, event.via.from, { type: 'object/put-rejected', objectId: event.objectId, reason }),
    );
  }

  private countMapped(driver: AttachedDriver, bytes: number): void {
    driver.mappedObjects += 1;
    driver.mappedBytes += bytes;
  }

  /**
   * Hands a stored put to the raylet's recipe, or a spilled one as `object/spilled`; whether the
   * recipe kept it where it lies (a spilled put of an object already in memory is not kept).
   */
  private applyStoredPut(event: PutRequest, data: PlacedData): boolean {
    if (isSpilledData(data)) {
      this.raylet.apply({ type: 'object/spilled', objectId: event.objectId, owner: event.owner, requester: event.via.from, data, sizeBytes: event.sizeBytes, refs: event.refs });
      return this.raylet.state.objects[event.objectId]?.spilled === true;
    }
    this.raylet.apply({ ...event, data });
    return this.raylet.state.objects[event.objectId] !== undefined;
  }

  private onRayletEffect(effect: RayletEffect, seq: number): void {
    switch (effect.type) {
      case 'worker/spawn':
        this.threads.spawn(effect.workerId);
        return;
      case 'worker/kill':
        this.threads.kill(effect.workerId, seq, effect.reason);
        return;
      case 'objects/deleted':
        this.nodeStore.delete(effect.objectIds);
        this.objects.onDeleted(effect.objectIds);
        return;
      case 'node/shutdown':
        // The GCS declared this node dead (it was silent too long): its work is being redone elsewhere.
        setImmediate(() => this.fatal('the GCS declared this node dead (it missed its health checks); start it again to rejoin as a new node'));
        return;
      case 'message/sent':
      case 'timer/armed':
        return;
    }
  }

  /**
   * Records each log's state hash now (at shutdown: its final one), so `trace collect` can check a
   * replay of it: the GCS's here, the raylet's sent to the log thread with its buffered records.
   */
  private recordFinalHashes(): void {
    this.rayletLog.flushFinal();
    for (const { log, state } of this.mainLogs) {
      if (log.lastSeq === 0) continue;
      try {
        log.recordStateHash(log.lastSeq, hashState(state()));
      } catch (error) {
        process.stderr.write(`tsray: the state hash of ${log.address} could not be recorded: ${(error as Error).message}\n`);
      }
    }
  }

  /** Stops the node: its connections, components, worker threads and logs. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.driverWait);
    this.stateQueries.stop();
    this.router.flush();
    await Promise.all([this.server?.close(), this.client?.close(), this.links?.close()]);
    this.objects.close();
    this.gcs?.stop();
    this.raylet.stop();
    this.router.close();
    this.recordFinalHashes();
    await this.threads.terminateAll();
    await this.logs.close();
    this.handoff?.close();
    this.nodeStore.close();
    setStoreBuffer(undefined);
    markSessionEnded(this.sessionDir, this.sessionMarker, Date.now());
  }
}
