/**
 * The GCS's state: nodes and their health, jobs, actors with their names, leases and subscribers, and
 * the dead workers it must remember. Everything is plain JSON-able data keyed by id, so the same state
 * can be hashed, frozen by immer, and replayed.
 */
import type { ActorId, JobId, LeaseId, NodeId, WorkerId } from '../ids.js';
import type { Inbox } from '../inbox.js';
import type { ActorSpec, ActorState, ResourceDemand } from '../protocol.js';
import type { ThrownInfo } from '../values.js';
import type { Resources } from '../resources.js';

/** Tunables of the GCS; they arrive in `gcs/started` so that a replay uses the same ones. */
export interface GcsConfig {
  /** How often the health check runs. */
  readonly healthCheckPeriodMs: number;
  /** Consecutive checks without a heartbeat after which a node is declared dead. */
  readonly healthCheckFailureThreshold: number;
  /** How long to wait before asking again for a lease that a raylet turned down for now. */
  readonly actorRetryDelayMs: number;
  /** The most subscribers one actor keeps; more subscriptions still get the current state once. */
  readonly maxSubscribersPerActor: number;
  /** How many dead worker ids are remembered, oldest forgotten first. */
  readonly maxDeadWorkers: number;
  /**
   * How long an actor whose handles all went out of scope may run its dispose method before its
   * worker is ended anyway (absent in logs written before it existed: `defaultActorDisposeTimeoutMs`).
   */
  readonly actorDisposeTimeoutMs?: number;
}

/** How long an actor's `[Symbol.asyncDispose]()` / `[Symbol.dispose]()` may run by default (as Ray bounds `__ray_shutdown__`). */
export const defaultActorDisposeTimeoutMs = 5000;

/** The defaults, as Ray's health checks and actor manager use them scaled to a local cluster. */
export const defaultGcsConfig: GcsConfig = {
  healthCheckPeriodMs: 100,
  healthCheckFailureThreshold: 5,
  actorRetryDelayMs: 200,
  maxSubscribersPerActor: 1024,
  maxDeadWorkers: 65536,
  actorDisposeTimeoutMs: defaultActorDisposeTimeoutMs,
};

/** How many DEAD actors are kept for lookups by id before the oldest are forgotten (as Ray caps destroyed actors). */
export const maxDeadActors = 100_000;

/**
 * How many refused or redirected registrations are remembered, once no counted handle of them may be
 * left (or for detached ones), so that a duplicate or a late subscriber gets the same reply.
 */
export const maxRememberedRedirects = 4096;

/** How many replies to registrations that created nothing are held while their counted handles may live. */
export const maxHeldRedirects = 65_536;

/** A node as the GCS sees it. */
export interface NodeRecord {
  nodeId: NodeId;
  total: Resources;
  available: Resources;
  /** False once declared dead; a dead node never comes back under the same id. */
  alive: boolean;
  /** Health checks in a row that saw no heartbeat. */
  missedChecks: number;
  /** Heartbeats (and registrations) since the last health check. */
  heartbeatsSinceCheck: number;
  /** The leases waiting at its raylet, by shape, as its last heartbeat said (absent when none). */
  demand?: ResourceDemand[];
  /** Where other nodes connect directly to move its objects (`host:port`), as it registered; absent when they go through the head. */
  transferAddress?: string;
}

/** A job: one per driver. */
export interface JobRecord {
  jobId: JobId;
  driverId: WorkerId;
  namespace: string;
  alive: boolean;
}

/** A lease the GCS asked a raylet for and has not been granted yet. */
export interface PendingLease {
  leaseId: LeaseId;
  nodeId: NodeId;
  spillbackCount: number;
}

/** An actor and where it is in its life. */
export interface ActorRecord {
  actorId: ActorId;
  spec: ActorSpec;
  state: ActorState;
  /** Restarts spent so far, counted against `spec.maxRestarts`. */
  numRestarts: number;
  /** The incarnation the current (or next) constructor run belongs to; equals `numRestarts`. */
  restartCount: number;
  /** The lease request in flight, while the actor waits for a worker. */
  pendingLease?: PendingLease;
  /** The granted lease, the worker it leased and that worker's node, once creation was pushed. */
  leaseId?: LeaseId;
  workerId?: WorkerId;
  nodeId?: NodeId;
  deathCause?: string;
  /** What the constructor threw, when that is why the actor is dead. */
  deathError?: ThrownInfo;
  /** Workers that asked for this actor's state changes, besides the owner. */
  subscribers: WorkerId[];
  /** Set once every handle went out of scope: its worker runs the dispose method, then the actor ends. */
  disposing?: boolean;
  /** The incarnation whose owner was told that no alive node can ever host it (told once each). */
  toldInfeasible?: number;
}

/** The reply to a registration that did not create its actor: another actor's id, or an error. */
export interface RegistrationRedirect {
  actorId?: ActorId;
  error?: string;
}

/** A redirect held while counted handles of its creation may live, with the creator that tells when none is left. */
export interface HeldRedirect {
  owner: WorkerId;
  redirect: RegistrationRedirect;
}

/** The whole state of the GCS. */
export interface GcsState {
  /** False until `gcs/started`. */
  started: boolean;
  incarnation: number;
  config: GcsConfig;
  inbox: Inbox;
  nodes: Record<NodeId, NodeRecord>;
  /** A key of the cluster view last published, to publish only changes. */
  publishedViewKey: string;
  jobs: Record<JobId, JobRecord>;
  jobOfDriver: Record<WorkerId, JobId>;
  jobCounter: number;
  actors: Record<ActorId, ActorRecord>;
  /** `${namespace}/${name}` to the non-DEAD actor holding that name. */
  names: Record<string, ActorId>;
  /** The worker of every non-DEAD actor that has one, to its actor. */
  actorOfWorker: Record<WorkerId, ActorId>;
  /** Every lease requested or held by a non-DEAD actor, to that actor. */
  leaseOwners: Record<LeaseId, ActorId>;
  leaseCounter: number;
  /** Round-robin position for SPREAD placement. */
  spreadCursor: number;
  deadWorkers: Record<WorkerId, true>;
  /** `deadWorkers` in the order they died, for forgetting the oldest. */
  deadWorkerOrder: WorkerId[];
  /** DEAD actors in the order they died, for forgetting the oldest. */
  deadActorOrder: ActorId[];
  /** The latest replies to registrations that created nothing, once not held (see core/gcs/redirects.ts). */
  redirects: Record<ActorId, RegistrationRedirect>;
  redirectOrder: ActorId[];
  /** Replies to registrations that created nothing, held while counted handles of the creation may live. */
  heldRedirects: Record<ActorId, HeldRedirect>;
  /** How many `heldRedirects` there are, bounded by maxHeldRedirects. */
  heldRedirectCount: number;
  /**
   * Subscriptions that reached the GCS before their actor's registration did (a worker that got a
   * handle can subscribe before the owner's registration arrives): they become subscribers when it
   * does. Bounded by maxEarlySubscribedActors actors and maxSubscribersPerActor each.
   */
  earlySubscribers: Record<ActorId, WorkerId[]>;
}

/** A bound on actors with early subscriptions (see `earlySubscribers`); later ones are dropped. */
export const maxEarlySubscribedActors = 65_536;

/** An un-started GCS: nothing known, default configuration until `gcs/started` brings the real one. */
export function initialGcsState(): GcsState {
  return {
    started: false,
    incarnation: 0,
    config: { ...defaultGcsConfig },
    inbox: {},
    nodes: {},
    publishedViewKey: '',
    jobs: {},
    jobOfDriver: {},
    jobCounter: 0,
    actors: {},
    names: {},
    actorOfWorker: {},
    leaseOwners: {},
    leaseCounter: 0,
    spreadCursor: 0,
    deadWorkers: {},
    deadWorkerOrder: [],
    deadActorOrder: [],
    redirects: {},
    redirectOrder: [],
    heldRedirects: {},
    heldRedirectCount: 0,
    earlySubscribers: {},
  };
}

/** The name-table key of a named actor. */
export function nameKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Alive node ids in sorted order, so that every walk over nodes is deterministic. */
export function aliveNodeIds(state: GcsState): NodeId[] {
  return Object.keys(state.nodes)
    .filter((nodeId) => state.nodes[nodeId]?.alive === true)
    .sort();
}
