/**
 * Runs, in a worker, what its owner component asks: task bodies, actor constructors and methods. A
 * body's thrown value becomes a RayTaskError record (showing non-Error values too); a return value
 * that cannot travel becomes one naming its path. Each body runs inside the task context, so calls it
 * makes name their parent task and its gets yield the worker's CPU.
 */
import { inspect } from 'node:util';
import type { ActorSpec, TaskSpec } from '../../core/protocol.js';
import type { ExecutionResult, OwnerEffect, ValueData } from '../../core/owner/index.js';
import type { ThrownInfo } from '../../core/values.js';
import { taskContext } from './context.js';
import type { OwnerRuntime } from './owner-runtime.js';
import type { FunctionDescriptor } from './shipping.js';
import { explainMissingName, loadFunction } from './shipping.js';
import { capturedValueData, fromValueData } from './values.js';

function thrownInfo(error: unknown): ThrownInfo {
  if (error instanceof Error) return { name: error.name, message: error.message, ...(error.stack === undefined ? {} : { stack: error.stack }) };
  return { name: 'NonErrorThrown', message: `the task threw a non-Error value: ${inspect(error, { depth: 4, breakLength: Infinity })}` };
}

/** The worker side of task execution. */
export class Executor {
  private actor: Record<string, unknown> | undefined;
  private actorDescriptor: FunctionDescriptor | undefined;

  /** @param tsrayNamespace what by-source functions see as `tsray`. */
  constructor(
    private readonly runtime: () => OwnerRuntime,
    private readonly tsrayNamespace: unknown,
  ) {}

  /** Handles a worker effect of the owner recipe. */
  handle(effect: OwnerEffect): void {
    switch (effect.type) {
      case 'task/execute':
        void this.execute(effect.spec, effect.attempt, effect.args);
        return;
      case 'actor/construct':
        void this.construct(effect.spec, effect.restartCount, effect.args);
        return;
      case 'process/exit':
        process.exit(0);
        return;
      case 'task/interrupt':
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

  private decodeArgs(args: readonly ValueData[]): unknown[] {
    // The owner counted every ref inside the arguments as held here: one ObjectRef each.
    const hooks = this.runtime().heldHooks;
    return args.map((arg) => fromValueData(arg, hooks));
  }

  private async execute(spec: TaskSpec, attempt: number, args: readonly ValueData[]): Promise<void> {
    const runtime = this.runtime();
    let result: ExecutionResult;
    const descriptor = spec.actor === undefined ? (JSON.parse(spec.functionId) as FunctionDescriptor) : this.actorDescriptor;
    try {
      const values = this.decodeArgs(args);
      const output = await taskContext.run({ taskId: spec.taskId, attempt, ...(spec.actor === undefined ? {} : { actorId: spec.actor.actorId }) }, async () => {
        if (spec.actor !== undefined) {
          const method = this.actor?.[spec.actor.method];
          if (typeof method !== 'function') throw new TypeError(`actor ${spec.actor.actorId} has no method '${spec.actor.method}'`);
          const called: unknown = await (method as (...a: unknown[]) => unknown).apply(this.actor, values);
          return called;
        }
        const fn = await loadFunction(descriptor as FunctionDescriptor, this.tsrayNamespace);
        return (await (fn as (...a: unknown[]) => unknown)(...values));
      });
      result = this.encodeReturns(spec, output);
    } catch (error) {
      const explained = descriptor === undefined ? undefined : explainMissingName(descriptor, error);
      result = { kind: 'threw', thrown: thrownInfo(explained ?? error) };
    }
    runtime.shell.apply({ type: 'task/executed', taskId: spec.taskId, attempt, result });
  }

  private encodeReturns(spec: TaskSpec, output: unknown): ExecutionResult {
    const hooks = this.runtime().heldHooks;
    const count = spec.returnIds.length;
    try {
      // Returns are captured (their arrays copied) at return: code still running afterwards, a timer
      // say, may write to a returned array before it reaches the store.
      if (count === 1) return { kind: 'returned', values: [capturedValueData(output, hooks, 'return value')] };
      if (!Array.isArray(output) || output.length !== count) {
        return { kind: 'threw', thrown: { name: 'TypeError', message: `task ${spec.name} has numReturns ${count} but returned ${Array.isArray(output) ? `an array of ${output.length}` : typeof output}; return an array of ${count} values` } };
      }
      return { kind: 'returned', values: output.map((item, index) => capturedValueData(item, hooks, `return value[${index}]`)) };
    } catch (error) {
      return { kind: 'threw', thrown: thrownInfo(error) };
    }
  }

  private async construct(spec: ActorSpec, restartCount: number, args: readonly ValueData[]): Promise<void> {
    const runtime = this.runtime();
    let error: ThrownInfo | undefined;
    try {
      const descriptor = JSON.parse(spec.functionId) as FunctionDescriptor;
      this.actorDescriptor = descriptor;
      const values = this.decodeArgs(args);
      const Class = (await loadFunction(descriptor, this.tsrayNamespace)) as new (...a: unknown[]) => Record<string, unknown>;
      this.actor = taskContext.run({ taskId: `${spec.actorId}.constructor`, attempt: restartCount + 1, actorId: spec.actorId }, () => new Class(...values));
    } catch (thrown) {
      error = thrownInfo(thrown);
    }
    runtime.shell.apply({ type: 'actor/constructed', actorId: spec.actorId, restartCount, ...(error === undefined ? {} : { error }) });
  }
}
