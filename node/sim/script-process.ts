/**
 * A simulated process that runs a user's ordinary code: the driver of `tsray sim SCRIPT`, or a
 * worker that runs task bodies, actor constructors and methods as ordinary async functions in the
 * simulator's thread. Its owner is the real OwnerRuntime (the same API code as live) on a host that
 * hands its events to the simulator; its bodies run in the live Executor, each in the process's async
 * context (so `getRuntimeContext` and nested calls are this process's). Once the process dies, its
 * code may still run (JavaScript cannot be stopped from outside) but nothing it does reaches the
 * cluster: its calls throw, its results and timers are dropped, as a dead process's would be.
 */
import type { OwnerEffect, OwnerEvent, OwnerState } from '../../core/owner/index.js';
import { explainTask, getRefs } from '../../core/owner/index.js';
import { taskOfObject } from '../../core/ids.js';
import { explainHostedWait, hostedIndex, hostedTasks, maxHostedListed } from '../../core/owner/wait-chain.js';
import type { SimInstance, SimProcess, Simulator } from '../../core/sim/index.js';
import { processContext, taskContext } from '../runtime/context.js';
import { Executor } from '../runtime/executor.js';
import type { StrayKind } from '../runtime/executor.js';
import { OwnerRuntime } from '../runtime/owner-runtime.js';
import type { OwnerHost } from '../runtime/owner-runtime.js';
import { withoutRunTag } from '../runtime/shipping.js';
import type { SimValues } from './sim-values.js';
import { tableGet, tableValues } from '../../core/table.js';

/** Thrown by an API call of a process that has died, inside code the simulation can no longer stop. */
export class ProcessEndedError extends Error {
  override readonly name = 'ProcessEndedError';
}

/** `event` with the run tags of module URLs taken out of the error it may carry. */
function untagged<E extends OwnerEvent>(event: E): E {
  const text = JSON.stringify(event);
  return text.includes('tsray-sim-run=') ? (JSON.parse(withoutRunTag(text)) as E) : event;
}

/** The API events whose callers need the ids the owner mints (refs, actor ids). */
const mintsIds = new Set<OwnerEvent['type']>(['task/submitted', 'actor/creation-submitted', 'actor-task/submitted', 'object/put']);

/** What a script process needs from the run it belongs to. */
export interface ScriptRunLink {
  readonly values: SimValues;
  /** What by-source functions see as `tsray`. */
  readonly tsray: unknown;
  /** Something may have resolved a promise or started code: the run lets microtasks drain. */
  markDirty(): void;
}

/** The driver's or a worker's process. */
export class ScriptProcess implements SimProcess {
  readonly runtime: OwnerRuntime;
  private readonly executor: Executor | undefined;
  private effectHandler: (effect: OwnerEffect) => void = () => undefined;
  /** The seq of the event that started each running body, by `taskId#attempt`: the cause of how it ends. */
  private readonly startedBy = new Map<string, number>();
  /** Refs each running task holds (its arguments, what it made or got), released when it ends. */
  private readonly holds = new Map<string, string[]>();
  private jobWaiters: (() => void)[] = [];
  alive = true;

  /** Makes the process of `instance`; `driverIndex` is undefined for a worker. */
  constructor(
    private readonly sim: Simulator,
    private readonly instance: SimInstance,
    readonly driverIndex: number | undefined,
    private readonly link: ScriptRunLink,
  ) {
    const state = (): OwnerState => instance.state as OwnerState;
    const host = (onEffect: (effect: OwnerEffect) => void): OwnerHost => {
      this.effectHandler = onEffect;
      return { get state() { return state(); }, apply: (event) => this.apply(event), stop: () => undefined };
    };
    this.runtime = new OwnerRuntime({
      workerId: instance.address.slice('worker:'.length),
      nodeId: instance.nodeId,
      isDriver: driverIndex !== undefined,
      namespace: 'default',
      host,
      values: link.values,
      holdRef: (objectId) => this.hold(objectId),
    });
    this.executor = driverIndex === undefined ? new Executor(() => this.runtime, link.tsray) : undefined;
  }

  private get state(): OwnerState {
    return this.instance.state as OwnerState;
  }

  /** The task bodies of this process that are running, as `taskId#attempt`. */
  runningBodies(): string[] {
    return this.executor?.runningBodies() ?? [];
  }

  /** Resolves once the GCS gave this driver its job id. */
  whenJobAssigned(): Promise<void> {
    if (this.state.jobId !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.jobWaiters.push(resolve));
  }

  private apply(event: OwnerEvent): OwnerEffect[] {
    if (!this.alive || !this.instance.alive) {
      // A call that must hand back a ref cannot go on; anything else of a dead process is dropped.
      if (mintsIds.has(event.type)) throw new ProcessEndedError(`simulated process ${this.instance.address} has ended; what its code still does is dropped, as a dead process's would be`);
      return [];
    }
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- every other event is an API call, applied now
    switch (event.type) {
      case 'task/executed':
      case 'actor/constructed':
      case 'actor/disposed': {
        // A body's outcome reaches the owner after its simulated running time, from the agenda, so a
        // crash in between drops it.
        // A thrown error's stack names the run's module URLs; the trace must not depend on the run.
        event = untagged(event);
        const key = event.type === 'task/executed' ? `${event.taskId}#${event.attempt}` : `${event.actorId}#${event.restartCount}:${event.type}`;
        const parent = this.startedBy.get(key) ?? this.sim.currentSeq();
        this.startedBy.delete(key);
        this.sim.later(this.instance.address, this.sim.bodyMs, () => {
          const executed = this.sim.currentSeq() + 1;
          this.sim.applyEvent(this.instance, event, parent);
          // What the task held goes out of scope with it, as garbage collection would end it.
          const held = event.type === 'task/executed' ? this.holds.get(key) : undefined;
          this.holds.delete(key);
          if (held !== undefined && held.length > 0) {
            const released: OwnerEvent = { type: 'refs/released', objectIds: held };
            this.sim.applyEvent(this.instance, released, executed);
          }
        });
        return [];
      }
      default: {
        // A call from a body is caused by the push that started the body; one from the driver's
        // script is a root of its own (a user call), whatever the simulator did last.
        const task = taskContext.getStore();
        const parent = task === undefined ? 0 : (this.startedBy.get(`${task.taskId}#${task.attempt}`) ?? 0);
        return this.sim.applyGuarded(this.instance, event, parent) as OwnerEffect[];
      }
    }
  }

  /**
   * A ref this process came to hold. A plain task's holds end with it; the driver's and an actor's
   * last as long as the process (an actor may keep them in its fields), as no collection runs here.
   */
  private hold(objectId: string): void {
    const task = taskContext.getStore();
    if (task === undefined || task.actorId !== undefined || this.driverIndex !== undefined) return;
    this.holds.get(`${task.taskId}#${task.attempt}`)?.push(objectId);
  }

  onEffect(effect: OwnerEffect, seq: number): unknown[] {
    if (effect.type === 'ids/minted') return [effect];
    this.link.markDirty();
    switch (effect.type) {
      case 'task/execute': {
        const key = `${effect.spec.taskId}#${effect.attempt}`;
        this.startedBy.set(key, seq);
        // The owner counted each ref inside the arguments as held by this task.
        if (effect.spec.actor === undefined) this.holds.set(key, effect.args.flatMap((arg) => arg.refs.map((ref) => ref.objectId)));
        this.runLater(effect);
        return [];
      }
      case 'actor/construct':
        this.startedBy.set(`${effect.spec.actorId}#${effect.restartCount}:actor/constructed`, seq);
        this.runLater(effect);
        return [];
      case 'actor/dispose':
        this.startedBy.set(`${effect.actorId}#${effect.restartCount}:actor/disposed`, seq);
        this.runLater(effect);
        return [];
      case 'process/exit':
        this.sim.killWorker(this.state.workerId, 'exited', seq);
        return [];
      case 'task/interrupt':
        this.executor?.handle(effect);
        return [];
      case 'get/settled':
      case 'get/failed':
      case 'wait/settled':
      case 'actor-lookup/settled':
        this.effectHandler(effect);
        return [];
      case 'message/sent':
      case 'timer/armed':
      case 'objects/freed':
        return [];
    }
  }

  /** Starts what the owner pushed on a later agenda item, in this process's async context. */
  private runLater(effect: OwnerEffect): void {
    const executor = this.executor;
    if (executor === undefined) return;
    this.sim.later(this.instance.address, 0, () => {
      this.link.markDirty();
      processContext.run(this.runtime, () => executor.handle(effect));
    });
  }

  afterStep(): void {
    if (this.jobWaiters.length > 0 && this.state.jobId !== undefined) {
      for (const waiter of this.jobWaiters.splice(0)) waiter();
      this.link.markDirty();
    }
  }

  stop(): void {
    this.alive = false;
  }

  /** `process.exit` in this worker's code: the simulated process ends, as the worker's thread does live. */
  exitProcess(): void {
    this.sim.killWorker(this.state.workerId, 'exited', this.sim.currentSeq());
  }

  /** A stray error of this process's code (see Executor.onStray); false when no task's code raised it. */
  onStray(error: unknown, kind: StrayKind): boolean {
    return this.executor?.onStray(error, kind) ?? false;
  }

  describeWaiting(): string {
    const gets = tableValues(this.state.gets);
    if (gets.length === 0) return 'the script waits, but not in a get of tsray (on its own timers, or on something outside the simulation)';
    // What every live worker hosts, to follow a running task's wait on (core/owner/wait-chain.ts).
    const owners = [...this.sim.instances.values()].filter((instance) => instance.kind === 'owner' && instance.alive);
    const hosted = hostedIndex(owners.map((instance) => hostedTasks(instance.state as OwnerState, maxHostedListed)));
    return gets
      .map((get) => {
        const waits = getRefs(get).map((ref) => {
          const taskId = taskOfObject(ref.objectId);
          const task = taskId === undefined ? undefined : tableGet(this.state.tasks, taskId);
          if (task === undefined) return ref.objectId;
          const further = task.state === 'RUNNING' ? explainHostedWait(task.spec.taskId, task.attempt, hosted) : undefined;
          return `${ref.objectId}, which ${explainTask({ s: this.state, out: [] }, task)}${further === undefined ? '' : `; ${further}`}`;
        });
        return `the script waits in get for ${waits.join('; ')}`;
      })
      .join('; ');
  }
}
