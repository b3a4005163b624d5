/**
 * Runs, in a worker, what its owner component asks: task bodies, actor constructors and methods. A
 * body's thrown value becomes a RayTaskError record (showing non-Error values too); a return value
 * that cannot travel becomes one naming its path. Each body runs inside the task context, so calls it
 * makes name their parent task and its gets yield the worker's CPU. An unhandled rejection or
 * uncaught exception raised by a task's code (see `onStray`) fails that task while its body runs and
 * is reported once it has returned; it never ends the worker.
 */
import { inspect } from 'node:util';
import type { ActorSpec, TaskSpec } from '../../core/protocol.js';
import type { ExecutionResult, OwnerEffect, ValueData } from '../../core/owner/index.js';
import type { ThrownInfo } from '../../core/values.js';
import { taskContext } from './context.js';
import type { TaskContext } from './context.js';
import type { OwnerRuntime } from './owner-runtime.js';
import type { FunctionDescriptor } from './shipping.js';
import { explainBySourceError, loadedFunction, loadFunction } from './shipping.js';
import { TaskCancelledError } from '../errors.js';
import { thrownInfo } from './thrown.js';
import { packedMap } from '../../core/packed-map.js';

/** `Symbol.asyncDispose` and `Symbol.dispose`, under the names Node gives them where the globals are missing. */
const asyncDisposeSymbol: symbol = (Symbol as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for('nodejs.asyncDispose');
const disposeSymbol: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

/** A body that is running: how to fail it with a stray error, and whether one already did. */
interface RunningBody {
  readonly fail: (error: unknown) => void;
  failed: boolean;
}

/** What a stray error was, as the reports name it. */
export type StrayKind = 'an unhandled rejection' | 'an uncaught exception';

function runningKey(context: TaskContext): string {
  return `${context.taskId}#${context.attempt}`;
}

/** The most function descriptors whose parsed form a worker keeps (each is one function's). */
const maxParsedDescriptors = 1024;
const parsedDescriptors = new Map<string, FunctionDescriptor>();

/** A task's function descriptor, parsed once per function rather than once per task. */
function descriptorOf(functionId: string): FunctionDescriptor {
  let descriptor = parsedDescriptors.get(functionId);
  if (descriptor === undefined) {
    descriptor = JSON.parse(functionId) as FunctionDescriptor;
    if (parsedDescriptors.size >= maxParsedDescriptors) parsedDescriptors.clear();
    parsedDescriptors.set(functionId, descriptor);
  }
  return descriptor;
}

/**
 * The context of one task attempt's body. Its abort signal is made when first read: most bodies
 * never read it, and an AbortController was a twentieth of a worker's time per tiny task. A cancel
 * that comes before the signal exists aborts it as it is made.
 */
class TaskRun implements TaskContext {
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;

  constructor(
    readonly taskId: string,
    readonly attempt: number,
    readonly taskName: string,
    readonly actorId: string | undefined,
  ) {}

  /** Aborted when the task is cancelled. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.abortReason !== undefined && !this.controller.signal.aborted) this.controller.abort(this.abortReason);
    return this.controller.signal;
  }

  /** Cancels the body: its signal (now, or once made) is aborted with `reason`. */
  abort(reason: Error): void {
    if (this.controller === undefined) this.abortReason ??= reason;
    else if (!this.controller.signal.aborted) this.controller.abort(reason);
  }
}

/** Whether `value` is a promise or another thenable, which a body's caller must wait for. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** An error on one line for a report: its name and message, and the first frame of its stack. */
function oneLine(error: unknown): string {
  if (!(error instanceof Error)) return inspect(error, { depth: 2, breakLength: Infinity });
  const frame = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  return `${error.name}: ${error.message.split('\n')[0] ?? ''}${frame === undefined ? '' : ` (${frame.trim()})`}`;
}

/** The worker side of task execution. */
export class Executor {
  private actor: Record<PropertyKey, unknown> | undefined;
  private actorDescriptor: FunctionDescriptor | undefined;
  /** The bodies running now, by task and attempt. */
  private readonly running = new Map<string, RunningBody>();
  /** The bodies running now, whose signals a cancel aborts. */
  private readonly runs = new Set<TaskRun>();
  /**
   * Tasks pushed and not yet started, as spec, attempt and args one after another: they start
   * together on the next microtask (`startQueued`), not each after a promise of its own.
   */
  private queued: unknown[] = [];
  /** How many pushed tasks are being executed (started and not yet reported executed). */
  private executing = 0;
  /** How many pushed tasks and actor calls this worker has started, ever: tells an idle worker whether anything ran since it last looked. */
  bodiesStarted = 0;
  /** Called when this worker starts executing something after executing nothing (see work-polling.ts). */
  onBusy: (() => void) | undefined;
  /** Called once the last body being executed was reported (an idle worker polls for more: see work-polling.ts). */
  onIdle: (() => void) | undefined;

  /** @param tsrayNamespace what by-source functions see as `tsray`. */
  constructor(
    private readonly runtime: () => OwnerRuntime,
    private readonly tsrayNamespace: unknown,
  ) {}

  /** How many pushed tasks and actor calls are being executed now (started and not yet reported). */
  get executingCount(): number {
    return this.executing;
  }

  /** The task bodies running now (their code has not settled), as `taskId#attempt`. */
  runningBodies(): string[] {
    return [...this.running.keys()];
  }

  /** Handles a worker effect of the owner recipe. */
  handle(effect: OwnerEffect): void {
    switch (effect.type) {
      case 'task/execute':
        if (this.executing++ === 0) this.onBusy?.();
        this.bodiesStarted += 1;
        this.queued.push(effect.spec, effect.attempt, effect.args);
        if (this.queued.length === 3) queueMicrotask(this.startQueued);
        return;
      case 'actor/construct':
        void this.construct(effect.spec, effect.restartCount, effect.args);
        return;
      case 'actor/dispose':
        void this.dispose(effect.actorId, effect.restartCount);
        return;
      case 'process/exit':
        process.exit(0);
        return;
      case 'task/interrupt':
        this.abort(effect.taskId);
        this.runtime().interruptTask(effect.taskId);
        return;
      case 'actor-lookup/settled':
      case 'get/failed':
      case 'get/settled':
      case 'ids/minted':
      case 'message/sent':
      case 'objects/freed':
      case 'timer/armed':
      case 'wait/settled':
        return;
    }
  }

  /** A cancel reached a running task: its signal is aborted (its owner has failed it already). */
  private abort(taskId: string): void {
    for (const run of this.runs.values()) if (run.taskId === taskId) run.abort(new TaskCancelledError(`task ${taskId} was cancelled`));
  }

  private decodeArgs(args: readonly ValueData[]): unknown[] {
    // The owner counted every ref inside the arguments as held here: one ObjectRef each.
    const runtime = this.runtime();
    return packedMap(args, (arg) => runtime.decodeValue(arg));
  }

  /**
   * An unhandled rejection or uncaught exception in this worker. The task whose code raised it is the
   * one in the async context it was raised in (Node runs these handlers in the context of the
   * rejected promise or the throwing callback). A body still running fails with it as the cause; a
   * task that already returned has it reported on stderr, which a worker thread pipes to its
   * process's. False when no task's code raised it.
   */
  onStray(error: unknown, kind: StrayKind): boolean {
    const context = taskContext.getStore();
    if (context === undefined) return false;
    const body = this.running.get(runningKey(context));
    if (body !== undefined && !body.failed) {
      body.failed = true;
      body.fail(error);
      return true;
    }
    const when = body === undefined ? 'after it returned' : 'after it had failed';
    process.stderr.write(`tsray: task ${context.taskName ?? 'unnamed'} (${context.taskId}) left ${kind} ${when}: ${oneLine(error)}\n`);
    return true;
  }

  /**
   * Starts the tasks pushed since the last microtask, in the order pushed. A body starts on a later
   * microtask, never inside the apply that pushed its task (its own calls apply events); one microtask
   * for all of them, where each task used to await a resolved promise of its own in an async
   * function: with the task context's async hooks on, those promises were about a tenth of what a
   * worker allocated per tiny task.
   */
  private readonly startQueued = (): void => {
    const queued = this.queued;
    this.queued = [];
    for (let index = 0; index < queued.length; index += 3) {
      try {
        this.execute(queued[index] as TaskSpec, queued[index + 1] as number, queued[index + 2] as readonly ValueData[]);
      } catch (error) {
        // A failure of the runtime itself (a body's own errors are its task's result): it is thrown
        // where the worker's handlers of uncaught errors see it, and the tasks after it still start.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  };

  /**
   * Runs a pushed task: a body that returns a plain value at once, and reports it; any other goes on
   * in `executeLater`.
   */
  private execute(spec: TaskSpec, attempt: number, args: readonly ValueData[]): void {
    let later = false;
    try {
      const runtime = this.runtime();
      const descriptor = spec.actor === undefined ? descriptorOf(spec.functionId) : this.actorDescriptor;
      const context = new TaskRun(spec.taskId, attempt, spec.name, spec.actor?.actorId);
      // What to call at once: a function this worker has loaded, or a method the hosted actor has (a
      // missing one takes the way of awaitBody, which says so).
      let callee: ((...a: unknown[]) => unknown) | undefined;
      let self: unknown;
      if (spec.actor === undefined) callee = descriptor === undefined ? undefined : (loadedFunction(descriptor) as ((...a: unknown[]) => unknown) | undefined);
      else {
        const method = this.actor?.[spec.actor.method];
        if (typeof method === 'function') {
          callee = method as (...a: unknown[]) => unknown;
          self = this.actor;
        }
      }
      let result: ExecutionResult | undefined;
      let pending: PromiseLike<unknown> | undefined;
      if (callee !== undefined) {
        // A loaded function or an actor's method is called at once; a body that returns a plain value
        // needs no wait for strays and no async context beyond its call (for a 1:1 actor call, the
        // promises of that wait were a fifth of the actor worker's time).
        this.runs.add(context);
        try {
          const values = this.decodeArgs(args);
          const call = callee;
          const output = taskContext.run(context, () => call.apply(self, values));
          if (isThenable(output)) pending = output;
          else result = this.encodeReturns(spec, output);
        } catch (error) {
          const explained = descriptor === undefined ? undefined : explainBySourceError(descriptor, error);
          result = { kind: 'threw', thrown: thrownInfo(explained ?? error) };
        } finally {
          if (pending === undefined) this.runs.delete(context);
        }
      }
      if (result === undefined) {
        later = true;
        void this.executeLater(spec, attempt, context, args, descriptor, pending);
        return;
      }
      runtime.shell.apply({ type: 'task/executed', taskId: spec.taskId, attempt, result });
    } finally {
      if (!later) this.executed();
    }
  }

  /** The rest of `execute` for a body that must be waited for (see `awaitBody`). */
  private async executeLater(spec: TaskSpec, attempt: number, context: TaskRun, args: readonly ValueData[], descriptor: FunctionDescriptor | undefined, pending: PromiseLike<unknown> | undefined): Promise<void> {
    try {
      const result = await this.awaitBody(spec, context, args, descriptor, pending);
      this.runtime().shell.apply({ type: 'task/executed', taskId: spec.taskId, attempt, result });
    } finally {
      this.executed();
    }
  }

  /**
   * A pushed task was reported executed (or failed to be). Once no other pushed task is being
   * executed here, what the reports sent (this reply, and those of the tasks before it that the
   * turn's end would have posted with it) goes at once: a task awaited alone reaches its owner
   * without waiting for this worker's turn to end, while the replies of a batch of pushed tasks
   * still go together.
   */
  private executed(): void {
    this.executing -= 1;
    if (this.executing > 0) return;
    this.runtime().postQueuedNow();
    this.onIdle?.();
  }

  /**
   * Runs a body that must be waited for (an actor method, a function still to load, or a body that
   * returned a promise: `started`), until it settles or a stray error of its own code fails it.
   */
  private async awaitBody(spec: TaskSpec, context: TaskRun, args: readonly ValueData[], descriptor: FunctionDescriptor | undefined, started: PromiseLike<unknown> | undefined): Promise<ExecutionResult> {
    const key = runningKey(context);
    this.runs.add(context);
    // A stray error of the body's own code ends the wait for it with that error (see onStray); the
    // body's eventual return is then ignored.
    let fail: (error: unknown) => void = () => undefined;
    const stray = new Promise<never>((_resolve, reject) => {
      fail = reject;
    });
    const running: RunningBody = { fail, failed: false };
    this.running.set(key, running);
    let body: Promise<unknown> | undefined;
    try {
      if (started !== undefined) body = Promise.resolve(started);
      else {
        const values = this.decodeArgs(args);
        body = taskContext.run(context, async () => {
          if (spec.actor !== undefined) {
            const method = this.actor?.[spec.actor.method];
            if (typeof method !== 'function') throw new TypeError(`actor ${spec.actor.actorId} has no method '${spec.actor.method}'`);
            const called: unknown = await (method as (...a: unknown[]) => unknown).apply(this.actor, values);
            return called;
          }
          const fn = await loadFunction(descriptor as FunctionDescriptor, this.tsrayNamespace);
          return (await (fn as (...a: unknown[]) => unknown)(...values));
        });
      }
      const output = await Promise.race([body, stray]);
      return this.encodeReturns(spec, output);
    } catch (error) {
      const explained = descriptor === undefined ? undefined : explainBySourceError(descriptor, error);
      return { kind: 'threw', thrown: thrownInfo(explained ?? error) };
    } finally {
      this.runs.delete(context);
      // A body failed by a stray error may still run: its later strays are reported as such.
      const forget = (): void => void this.running.delete(key);
      if (running.failed && body !== undefined) void body.then(forget, forget);
      else forget();
    }
  }

  private encodeReturns(spec: TaskSpec, output: unknown): ExecutionResult {
    const runtime = this.runtime();
    const count = spec.returnIds.length;
    try {
      // Returns are captured (their arrays copied) at return: code still running afterwards, a timer
      // say, may write to a returned array before it reaches the store.
      if (count === 1) return { kind: 'returned', values: [runtime.encodeValue(output, 'return value')] };
      if (!Array.isArray(output) || output.length !== count) {
        return { kind: 'threw', thrown: { name: 'TypeError', message: `task ${spec.name} has numReturns ${count} but returned ${Array.isArray(output) ? `an array of ${output.length}` : typeof output}; return an array of ${count} values` } };
      }
      return { kind: 'returned', values: packedMap(output as unknown[], (item, index) => runtime.encodeValue(item, `return value[${index}]`)) };
    } catch (error) {
      return { kind: 'threw', thrown: thrownInfo(error) };
    }
  }

  /**
   * Every handle to the hosted actor went out of scope: its `[Symbol.asyncDispose]()` (or else
   * `[Symbol.dispose]()`) runs, as Ray's `__ray_shutdown__`. The GCS bounds it (actorDisposeTimeoutMs)
   * and ends the worker either way; what it throws is reported, not raised.
   */
  private async dispose(actorId: string, restartCount: number): Promise<void> {
    const instance = this.actor;
    const method = instance?.[asyncDisposeSymbol] ?? instance?.[disposeSymbol];
    if (typeof method === 'function') {
      try {
        await taskContext.run({ taskId: `${actorId}.dispose`, attempt: restartCount + 1, actorId, taskName: 'dispose' }, async () => {
          await (method as () => unknown).call(instance);
        });
      } catch (error) {
        process.stderr.write(`tsray: the dispose method of actor ${actorId} threw: ${oneLine(error)}\n`);
      }
    }
    this.runtime().shell.apply({ type: 'actor/disposed', actorId, restartCount });
  }

  private async construct(spec: ActorSpec, restartCount: number, args: readonly ValueData[]): Promise<void> {
    const runtime = this.runtime();
    let error: ThrownInfo | undefined;
    try {
      const descriptor = JSON.parse(spec.functionId) as FunctionDescriptor;
      this.actorDescriptor = descriptor;
      const values = this.decodeArgs(args);
      const Class = (await loadFunction(descriptor, this.tsrayNamespace)) as new (...a: unknown[]) => Record<string, unknown>;
      this.actor = taskContext.run({ taskId: `${spec.actorId}.constructor`, attempt: restartCount + 1, actorId: spec.actorId, taskName: `${spec.className}.constructor` }, () => new Class(...values));
    } catch (thrown) {
      error = thrownInfo(thrown);
    }
    runtime.shell.apply({ type: 'actor/constructed', actorId: spec.actorId, restartCount, ...(error === undefined ? {} : { error }) });
  }
}
