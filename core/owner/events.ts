/**
 * The owner (CoreWorker) component: one per driver and per worker. It owns what its process submits
 * and puts, resolves dependencies, leases workers, pushes tasks, counts references, rebuilds lost
 * objects from lineage, and (as a worker) runs what is pushed to it. This file lists what can happen
 * to it (`OwnerEvent`) and what it asks the shell to do (`OwnerEffect`).
 */
import type { CommonEffect, TimerFired } from '../effects.js';
import type { ActorId, NodeId, ObjectId, TaskId, WorkerId } from '../ids.js';
import type { ActorSpec, Delivered, MessageOf, ResolvedArg, SchedulingStrategy, TaskArg, TaskSpec } from '../protocol.js';
import type { Resources } from '../resources.js';
import type { ErrorInfo, InlinePayload, RefMarker, ThrownInfo } from '../values.js';
import type { OwnerConfig } from './state.js';

/** A value as the shell hands it over: encoded data, its size, and the refs it contains (once per occurrence). */
export interface ValueData {
  readonly data: unknown;
  readonly sizeBytes: number;
  readonly refs: readonly RefMarker[];
}

/** Options of a task submission, already validated by the shell. */
export interface TaskSubmission {
  readonly name: string;
  readonly functionId: string;
  readonly args: readonly TaskArg[];
  readonly numReturns: number;
  readonly resources: Resources;
  readonly maxRetries: number;
  readonly retryExceptions: boolean | readonly string[];
  readonly strategy: SchedulingStrategy;
}

/**
 * Options of an actor creation, already validated by the shell: the ActorSpec's fields that the
 * caller chooses, with the args still unresolved and the namespace defaulting to the owner's.
 */
export type ActorCreation = Pick<
  ActorSpec,
  'className' | 'functionId' | 'name' | 'detached' | 'getIfExists' | 'maxRestarts' | 'maxTaskRetries' | 'maxConcurrency' | 'resources' | 'placementResources' | 'strategy'
> & {
  readonly args: readonly TaskArg[];
  readonly namespace?: string;
};

/** What a body run by this worker produced. */
export type ExecutionResult =
  | { readonly kind: 'returned'; readonly values: readonly ValueData[] }
  | { readonly kind: 'threw'; readonly thrown: ThrownInfo; readonly errorClass?: ErrorInfo['errorClass'] };

/** API calls and local happenings of the owner's process. */
export type OwnerLocalEvent =
  | { readonly type: 'owner/started'; readonly workerId: WorkerId; readonly nodeId: NodeId; readonly isDriver: boolean; readonly namespace: string; readonly config: OwnerConfig }
  | ({ readonly type: 'task/submitted'; readonly parentTaskId?: TaskId } & TaskSubmission)
  | {
      readonly type: 'actor-task/submitted';
      readonly actorId: ActorId;
      readonly method: string;
      readonly name: string;
      readonly args: readonly TaskArg[];
      readonly numReturns: number;
      readonly parentTaskId?: TaskId;
      /** The handle object of the actor when its handles are counted (non-detached): the call holds it until it ends. */
      readonly handle?: RefMarker;
    }
  | ({ readonly type: 'actor/creation-submitted' } & ActorCreation)
  | { readonly type: 'object/put'; readonly value: ValueData }
  | { readonly type: 'refs/released'; readonly objectIds: readonly ObjectId[] }
  /** The process now holds a handle to an actor it did not create (deserialized from a value). */
  | { readonly type: 'actor/handle-acquired'; readonly actorId: ActorId }
  | { readonly type: 'get/requested'; readonly getId: string; readonly refs: readonly RefMarker[]; readonly timeoutMs?: number; readonly inTaskId?: TaskId }
  | { readonly type: 'wait/requested'; readonly waitId: string; readonly refs: readonly RefMarker[]; readonly numReturns: number; readonly timeoutMs?: number; readonly inTaskId?: TaskId }
  | { readonly type: 'cancel/requested'; readonly ref: RefMarker; readonly force: boolean; readonly recursive: boolean }
  | { readonly type: 'kill/requested'; readonly actorId: ActorId; readonly noRestart: boolean }
  | { readonly type: 'actor-lookup/requested'; readonly requestId: string; readonly name: string; readonly namespace?: string }
  | { readonly type: 'task/executed'; readonly taskId: TaskId; readonly attempt: number; readonly result: ExecutionResult }
  | { readonly type: 'actor/constructed'; readonly actorId: ActorId; readonly restartCount: number; readonly error?: ThrownInfo }
  /** The shell ran the hosted actor's dispose method (or it had none, or it threw or timed out). */
  | { readonly type: 'actor/disposed'; readonly actorId: ActorId; readonly restartCount: number }
  /** The driver ends its job (shutdown). */
  | { readonly type: 'owner/stopping' }
  /**
   * The shell measured how long this owner's tasks take and sets how many it pipelines to one leased
   * worker from now on (`OwnerConfig.maxTasksInFlightPerLease`): tasks already pushed stay where they are.
   */
  | { readonly type: 'owner/pipeline-depth-set'; readonly depth: number }
  /**
   * The driver's connection to the cluster moved to node `nodeId`: the head it was attached to died
   * and came back under a new node id. The former node is dead (its raylet, workers and store died
   * with its process), and the driver now leases, puts and fetches through `nodeId`.
   */
  | { readonly type: 'owner/reattached'; readonly nodeId: NodeId }
  | TimerFired;

/** The messages an owner receives. */
export type OwnerInbound = MessageOf<
  | 'lease/granted'
  | 'lease/spilled'
  | 'lease/rejected'
  | 'lease/infeasible'
  | 'lease/worker-died'
  | 'lease/return-requested'
  | 'worker/resumed'
  | 'worker/exit-requested'
  | 'object/put-acked'
  | 'object/put-rejected'
  | 'object/fetched'
  | 'object/fetch-failed'
  | 'object/copy-added'
  | 'task/pushed'
  | 'actor-task/pushed'
  | 'task/replied'
  | 'task/cancel-requested'
  | 'object/status-requested'
  | 'object/status-replied'
  | 'borrow/added'
  | 'borrow/add-acked'
  | 'borrow/released'
  | 'job/registration-replied'
  | 'job/finish-acked'
  | 'actor/registration-replied'
  | 'actor/lookup-replied'
  | 'actor/state-changed'
  | 'actor/infeasible'
  | 'actor/status-requested'
  | 'actor/creation-pushed'
  | 'actor/dispose-requested'
  | 'node/died'
  | 'worker/died'
>;

/** Everything that can happen to an owner. */
export type OwnerEvent = OwnerLocalEvent | Delivered<OwnerInbound>;

/** A settled `get`: one outcome per requested ref, in order. */
export type GetOutcome = { readonly kind: 'value'; readonly value: ValueData } | { readonly kind: 'error'; readonly error: ErrorInfo };

/** What the owner asks its shell to do, beyond sending messages and arming timers. */
export type OwnerEffect =
  | CommonEffect
  /** Ids the API call minted, so the shell can hand refs back synchronously. */
  | { readonly type: 'ids/minted'; readonly taskId?: TaskId; readonly actorId?: ActorId; readonly objectIds: readonly ObjectId[] }
  | { readonly type: 'task/execute'; readonly spec: TaskSpec; readonly attempt: number; readonly args: readonly ValueData[] }
  | { readonly type: 'actor/construct'; readonly spec: ActorSpec; readonly restartCount: number; readonly args: readonly ValueData[] }
  /** Run the hosted instance's `[Symbol.asyncDispose]()` or `[Symbol.dispose]()`, then apply `actor/disposed`. */
  | { readonly type: 'actor/dispose'; readonly actorId: ActorId; readonly restartCount: number }
  | { readonly type: 'task/interrupt'; readonly taskId: TaskId }
  | { readonly type: 'get/settled'; readonly getId: string; readonly outcomes: readonly GetOutcome[] }
  | { readonly type: 'get/failed'; readonly getId: string; readonly error: ErrorInfo }
  | { readonly type: 'wait/settled'; readonly waitId: string; readonly ready: readonly ObjectId[]; readonly notReady: readonly ObjectId[] }
  | { readonly type: 'actor-lookup/settled'; readonly requestId: string; readonly actorId?: ActorId; readonly spec?: ActorSpec }
  | { readonly type: 'objects/freed'; readonly objectIds: readonly ObjectId[] }
  /** A worker whose job or owner is gone, or a driver that finished: the shell ends the process. */
  | { readonly type: 'process/exit'; readonly reason: string };

/** Re-exported for the shell: the payload form of an inline value. */
export type { InlinePayload, ResolvedArg };
