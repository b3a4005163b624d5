/**
 * Everything that can happen to a raylet, and everything it can ask its shell to do. Variants are
 * named in the past tense; once shipped in a trace a variant is only ever added to.
 */
import type { CommonEffect, TimerFired } from '../effects.js';
import type { Address, NodeId, ObjectId, WorkerId } from '../ids.js';
import type { Delivered, MessageOf, WorkerExitReason } from '../protocol.js';
import type { Resources } from '../resources.js';
import type { RefMarker } from '../values.js';
import type { RayletConfig } from './state.js';

/** The messages a raylet receives. */
export type RayletInboundMessage = MessageOf<
  | 'lease/requested'
  | 'lease/cancelled'
  | 'lease/returned'
  | 'worker/blocked'
  | 'worker/unblocked'
  | 'worker/kill-requested'
  | 'worker/exit-agreed'
  | 'object/put-requested'
  | 'object/fetch-requested'
  | 'object/free-requested'
  | 'node/died'
  | 'worker/died'
  | 'cluster/view-published'
>;

/** The first event: the node is up with these resources and this configuration. */
export interface NodeStarted {
  readonly type: 'node/started';
  readonly nodeId: NodeId;
  readonly resources: Resources;
  readonly config: RayletConfig;
  /** Where other nodes connect directly to move objects (`host:port`), registered with the GCS; absent when they go through the head. */
  readonly transferAddress?: string;
}

/** A driver process on this node connected; its id was minted by the shell. */
export interface DriverConnected {
  readonly type: 'driver/connected';
  readonly workerId: WorkerId;
}

/** A worker the raylet asked to spawn is ready for work. */
export interface WorkerStarted {
  readonly type: 'worker/started';
  readonly workerId: WorkerId;
}

/** A worker or driver process/thread of this node ended. */
export interface WorkerExited {
  readonly type: 'worker/exited';
  readonly workerId: WorkerId;
  readonly reason: WorkerExitReason;
}

/**
 * The shell copied an object from another node's store into this one, for a reader here (a secondary
 * copy, as Ray's pull manager makes): the raylet counts its bytes and keeps it until it is freed
 * (the holder of the primary copy forwards its `object/free-requested`) or its owner dies. The shell
 * takes the memory back when the raylet turns it away (known already, owner dead, or no room).
 */
export interface CopyStored {
  readonly type: 'object/copy-stored';
  readonly objectId: ObjectId;
  readonly owner: WorkerId;
  /** The node the bytes came from. */
  readonly fromNodeId: NodeId;
  readonly data: unknown;
  readonly sizeBytes: number;
  readonly refs: readonly RefMarker[];
}

/**
 * A put (`object/put-requested`) did not fit in the shared-memory store, even after the garbage
 * collection the shell tries, so the shell wrote its bytes to a file of the node's spill space: the
 * raylet keeps it there if the spill space has room (counted against `spillCapacityBytes`) and its
 * owner lives, and answers the put's sender either way, as it answers a put. The shell deletes the
 * file when the raylet turns it away. `data` is the file's descriptor, which readers read from.
 */
export interface ObjectSpilled {
  readonly type: 'object/spilled';
  readonly objectId: ObjectId;
  readonly owner: WorkerId;
  /** Who sent the put, and is told `object/put-acked` or `object/put-rejected`. */
  readonly requester: Address;
  readonly data: unknown;
  readonly sizeBytes: number;
  readonly refs: readonly RefMarker[];
}

/** Every event of a raylet. */
export type RayletEvent = NodeStarted | DriverConnected | WorkerStarted | WorkerExited | CopyStored | ObjectSpilled | TimerFired | Delivered<RayletInboundMessage>;

/** Start a worker process/thread with this id; its `worker/started` (or `worker/exited`) follows. */
export interface WorkerSpawn {
  readonly type: 'worker/spawn';
  readonly workerId: WorkerId;
}

/** End this worker; its `worker/exited` follows. */
export interface WorkerKill {
  readonly type: 'worker/kill';
  readonly workerId: WorkerId;
  readonly reason: WorkerExitReason;
}

/** Release the memory of these objects in the shared-memory store, or their files in the spill space. */
export interface ObjectsDeleted {
  readonly type: 'objects/deleted';
  readonly objectIds: readonly ObjectId[];
}

/** The GCS declared this node dead: stop the raylet and all of its workers. */
export interface NodeShutdown {
  readonly type: 'node/shutdown';
}

/** Every effect a raylet may return. */
export type RayletEffect = CommonEffect | WorkerSpawn | WorkerKill | ObjectsDeleted | NodeShutdown;
