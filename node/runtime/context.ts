/**
 * Which runtime this thread talks to (the driver's, or this worker's), and which task of it is running
 * the current code, so that nested submissions name their parent and gets inside tasks yield the CPU.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { OwnerRuntime } from './owner-runtime.js';

let current: OwnerRuntime | undefined;

/** Makes `runtime` the one the API calls of this thread use (undefined after shutdown). */
export function setRuntime(runtime: OwnerRuntime | undefined): void {
  current = runtime;
}

/**
 * The runtime of the simulated process whose code is running, under `tsray sim`: many simulated
 * workers share this thread, and each body runs in its process's async context.
 */
export const processContext = new AsyncLocalStorage<OwnerRuntime>();

/** The runtime of this thread (or of the simulated process running), or a TypeError saying to call `tsray.init()` first. */
export function runtime(): OwnerRuntime {
  const simulated = processContext.getStore();
  if (simulated !== undefined) return simulated;
  if (current === undefined) throw new TypeError('tsray is not initialized: call `await tsray.init()` first');
  return current;
}

/** Whether a runtime is set. */
export function hasRuntime(): boolean {
  return current !== undefined || processContext.getStore() !== undefined;
}

/** The task whose code is running, in a worker. */
export interface TaskContext {
  readonly taskId: string;
  readonly attempt: number;
  readonly actorId?: string;
  /** The name the task was submitted under, for reports about it. */
  readonly taskName?: string;
  /** Aborted when the task is cancelled, so that well-behaved code can stop. */
  readonly signal?: AbortSignal;
}

/** Carries the running task through the async calls of its body. */
export const taskContext = new AsyncLocalStorage<TaskContext>();
