/**
 * Values as the core sees them. The core never encodes or decodes user data: a payload is opaque
 * `data` (bytes in the live runtime, a JSON value in the simulator) plus what the core must know
 * about it: its size, where it is stored, and the object refs it contains.
 */
import type { NodeId, ObjectId, WorkerId } from './ids.js';

/** An object ref as it travels inside a value: the object and the worker that owns it. */
export interface RefMarker {
  readonly objectId: ObjectId;
  readonly owner: WorkerId;
}

/** A value small enough to travel inline, in messages and in the owner's memory store. */
export interface InlinePayload {
  readonly kind: 'inline';
  readonly data: unknown;
  readonly sizeBytes: number;
  readonly refs: readonly RefMarker[];
}

/** A value kept in the shared-memory store of one or more nodes; readers fetch it from there. */
export interface StoredPayload {
  readonly kind: 'stored';
  readonly nodeIds: readonly NodeId[];
  readonly sizeBytes: number;
  readonly refs: readonly RefMarker[];
}

/** Either form of an object's value. */
export type Payload = InlinePayload | StoredPayload;

/** The error classes of API.md; `get` rethrows the matching class. */
export type ErrorClass =
  | 'RayTaskError'
  | 'WorkerCrashedError'
  | 'ActorDiedError'
  | 'ActorUnavailableError'
  | 'ObjectLostError'
  | 'OwnerDiedError'
  | 'ObjectReconstructionFailedError'
  | 'GetTimeoutError'
  | 'TaskCancelledError'
  | 'TaskUnschedulableError'
  | 'ObjectStoreFullError';

/** A thrown value as data: what a user's error carried (name, message, remote stack). */
export interface ThrownInfo {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /**
   * The error's own enumerable fields other than the above (`code`, `errno`, custom ones), as JSON
   * data; a `cause` that is not an error is kept here too.
   */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** The error's `cause`, when that is an error (the chain is bounded by the shell that records it). */
  readonly cause?: ThrownInfo;
  /** An AggregateError's `errors` (bounded by the shell that records them). */
  readonly errors?: readonly ThrownInfo[];
}

/** An error as data, as it is stored in an object and rethrown by `get`. */
export interface ErrorInfo {
  readonly errorClass: ErrorClass;
  readonly message: string;
  readonly cause?: ThrownInfo;
  readonly taskName?: string;
  readonly nodeId?: NodeId;
  readonly objectId?: ObjectId;
}

/** How an object ended: with a value or with an error. */
export type Outcome = { readonly kind: 'value'; readonly payload: Payload } | { readonly kind: 'error'; readonly error: ErrorInfo };
