/**
 * One simulated run of a user's ordinary tsray code: `simulate(main)` and `tsray sim SCRIPT`.
 *
 * The run installs virtual time (timers, clocks and `Math.random`, seeded), plugs a simulated
 * cluster of the real reducers into the public API (`init()` attaches the script to it), and drives
 * both from one loop: it takes whichever comes first, the simulator's next agenda item or the next
 * virtual timer (timers first at the same time), and after anything that may have resolved a
 * promise or started code, it lets the microtasks drain (one real `setImmediate`), as Node does
 * between callbacks. Everything that happens is a function of the seed and the plan.
 *
 * The run fails when the script throws or rejects, leaves an unhandled rejection, breaks an
 * invariant, or waits for ever: a get still pending once faults have stopped (liveness), or a stall
 * with nothing simulated left to happen (a leak of real nondeterminism: real I/O, a timer captured
 * before the run, a promise settled from outside).
 */
import { format } from 'node:util';
import type { FaultPlan, SimInstance } from '../../core/sim/index.js';
import { SimFailure, Simulator } from '../../core/sim/index.js';
import type { Resources } from '../../core/resources.js';
import { listOwnerObjects, listOwnerTasks } from '../runtime/listing.js';
import { hostedTasks, maxHostedListed } from '../../core/owner/wait-chain.js';
import type { GcsState } from '../../core/gcs/index.js';
import type { RayletState } from '../../core/raylet/index.js';
import { processContext, setRuntime } from '../runtime/context.js';
import type { OwnerRuntime } from '../runtime/owner-runtime.js';
import { setSimulation } from '../runtime/simulation-slot.js';
import type { AttachedCluster, ClusterView, Simulation } from '../runtime/simulation-slot.js';
import { ScriptProcess } from './script-process.js';
import type { ScriptRunLink } from './script-process.js';
import { shows, SimValues } from './sim-values.js';
import { installVirtualTime } from './virtual-time.js';
import type { VirtualTimeController } from './virtual-time.js';

/** Real functions, taken before any run patches them. */
const realSetTimeout = setTimeout;
const realSetImmediate = setImmediate;
const realExit = process.exit.bind(process);
const realNowMs = performance.now.bind(performance);

/** How one simulated run is set up. */
export interface ScriptRunOptions {
  /** Seeds the scheduler, the fault plan's choices, `Math.random` and the clock. Default 1. */
  readonly seed?: number | string;
  readonly faults?: FaultPlan;
  /** Faults happen only before this simulated time; after it, every get must settle. Default 1,000. */
  readonly faultPhaseMs?: number;
  /** The nodes (the first is the head); default 3 nodes of `cpus` CPUs. */
  readonly nodes?: number | readonly { readonly resources: Resources }[];
  /** CPUs per node when `nodes` is a count. Default 2. */
  readonly cpus?: number;
  /** The run fails if the script has not finished by this simulated time. Default 120,000. */
  readonly maxTimeMs?: number;
  /** Keep the trace (default true); a run that records nothing is about twice as fast. */
  readonly record?: boolean;
  /** The name the trace gives the workload. */
  readonly name?: string;
  /** How long, in real ms, a stalled run waits for something outside the simulation before it fails. Default 1,000. */
  readonly stallGraceMs?: number;
  /**
   * Keep what the code prints with `console` in `output` instead of printing it (default false):
   * `tsray sim` shows the output of failing runs only.
   */
  readonly captureOutput?: boolean;
  /** Runs a named broken recipe of core/sim/mutations.ts, to prove the checks catch it (tests only). */
  readonly mutation?: string;
  /**
   * Where the script is, as the trace's header records it for the debugger's counterfactual:
   * `PATH#script` (PATH relative to where the trace is written), then `#ARGV` as JSON if it has arguments.
   */
  readonly workloadModule?: string;
  /** For a script: what it finds after its path in process.argv, as `node SCRIPT ARGS` gives it. */
  readonly argv?: readonly string[];
}

/** What a simulated run gives back. */
export interface ScriptRunResult<T> {
  /** Whether the script finished, returned and left every invariant and liveness check holding. */
  readonly ok: boolean;
  /** What `main` returned, when it did. */
  readonly value?: T;
  /** Why the run failed: what the script threw, or a SimFailure naming the broken check. */
  readonly error?: unknown;
  /** The run's trace (JSON Lines, as `tsray replay` and `tsray debug` read); only the header if `record` was false. */
  readonly trace: string;
  /** The faults injected, one line each. */
  readonly faults: readonly string[];
  readonly events: number;
  readonly simTimeMs: number;
  readonly seed: string;
  /** What the code printed with `console`, one entry per call, when `captureOutput` was set. */
  readonly output: readonly string[];
}

/** Thrown by `process.exit` inside simulated code, to stop the code that called it. */
class ExitSignal extends Error {
  override readonly name = 'ExitSignal';
  constructor(readonly code: number) {
    super(`process.exit(${code}) under the simulator`);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message.split('\n')[0] ?? ''}`;
  return shows(error, 200);
}

let running = false;

/** The state of one run. */
class ScriptRun implements ScriptRunLink, Simulation {
  readonly values = new SimValues();
  sim: Simulator | undefined;
  driver: ScriptProcess | undefined;
  readonly processes = new Map<OwnerRuntime, ScriptProcess>();
  dirty = true;
  /** Conditions the script's `init()` waits for, checked after each simulated step. */
  private readonly waiters: { readonly holds: () => boolean; readonly resolve: () => void }[] = [];
  /** A failure found outside the simulator's own checks (an unhandled rejection of the script). */
  failure: unknown;
  private detached = false;
  /** True while `init()` waits for the cluster: the script waits on the simulation then. */
  attaching = false;

  constructor(
    readonly options: ScriptRunOptions,
    readonly seed: string,
    readonly tsray: unknown,
  ) {}

  markDirty(): void {
    this.dirty = true;
  }

  /**
   * Simulated code that is running but waits on nothing of the simulation (no call of tsray, no timer
   * of its own): it waits on something real (a dynamic import, a file), and the simulation must not
   * move on meanwhile, or where it resumes would depend on real time. Names the process, if any.
   */
  codeWaitingOutside(time: VirtualTimeController, scriptRunning: boolean): string | undefined {
    const driver = this.driver;
    if (scriptRunning && !this.attaching && (driver === undefined || driver.runtime.pendingCalls === 0) && !time.hasRefTimerOf(undefined)) return 'the script';
    for (const process of this.processes.values()) {
      if (process.driverIndex !== undefined || !process.alive) continue;
      const bodies = process.runningBodies();
      if (bodies.length > 0 && process.runtime.pendingCalls === 0 && !time.hasRefTimerOf(process)) return `${process.runtime.state.workerId} running ${bodies.join(', ')}`;
    }
    return undefined;
  }

  /** Resolves once `holds()` is true after some simulated step. */
  until(holds: () => boolean): Promise<void> {
    if (holds()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ holds, resolve }));
  }

  /** Wakes the waiters whose condition now holds. */
  checkWaiters(): void {
    for (let index = this.waiters.length - 1; index >= 0; index--) {
      const waiter = this.waiters[index];
      if (waiter === undefined || !waiter.holds()) continue;
      this.waiters.splice(index, 1);
      waiter.resolve();
      this.dirty = true;
    }
  }

  /** The simulated process whose code is running now, if any. */
  current(): ScriptProcess | undefined {
    const runtime = processContext.getStore();
    return runtime === undefined ? undefined : this.processes.get(runtime);
  }

  async attach(options: { numCpus?: number; resources?: Record<string, number> }): Promise<AttachedCluster> {
    if (this.sim !== undefined) throw new TypeError('tsray is already initialized: call `await tsray.shutdown()` before initializing again');
    const cpus = this.options.cpus ?? 2;
    let nodes = typeof this.options.nodes === 'object' ? this.options.nodes.map((node) => ({ resources: { ...node.resources } })) : Array.from({ length: this.options.nodes ?? 3 }, () => ({ resources: { CPU: cpus } }));
    // init's numCpus and resources describe the node the driver is on: the head.
    if (options.numCpus !== undefined || options.resources !== undefined) {
      nodes = nodes.map((node, index) => (index === 0 ? { resources: { ...node.resources, ...options.resources, ...(options.numCpus === undefined ? {} : { CPU: options.numCpus }) } } : node));
    }
    const sim = new Simulator({
      seed: this.seed,
      program: { name: this.options.name ?? 'script', bodies: {}, actors: {}, driver: noGeneratorDriver },
      faults: this.options.faults ?? {},
      faultPhaseMs: this.options.faultPhaseMs ?? 1000,
      maxTimeMs: this.options.maxTimeMs ?? 120_000,
      nodes,
      record: this.options.record ?? true,
      ...(this.options.mutation === undefined ? {} : { mutation: this.options.mutation }),
      ...(this.options.workloadModule === undefined ? {} : { workloadModule: this.options.workloadModule }),
      processes: (simulator, instance: SimInstance, driverIndex) => {
        const process = new ScriptProcess(simulator, instance, driverIndex, this);
        this.processes.set(process.runtime, process);
        if (driverIndex === 0) this.driver = process;
        return process;
      },
    });
    this.sim = sim;
    sim.start();
    const driver = this.driver;
    if (driver === undefined) throw new Error('the simulated cluster started no driver');
    setRuntime(driver.runtime);
    this.dirty = true;
    this.attaching = true;
    await driver.whenJobAssigned();
    // As a live driver connects only to a node that has joined, the script starts once the GCS knows
    // the driver's node; otherwise work pinned to it at once could find it "not in the cluster".
    const nodeId = driver.runtime.state.nodeId;
    await this.until(() => this.view()?.gcsState.nodes[nodeId]?.alive === true);
    this.attaching = false;
    return { address: null, nodeId: driver.runtime.state.nodeId, jobId: driver.runtime.state.jobId ?? '', sessionDir: `(simulated, seed ${this.seed})` };
  }

  async detach(): Promise<void> {
    if (this.detached || this.driver === undefined) return Promise.resolve();
    this.detached = true;
    this.driver.runtime.stop('shutdown');
    setRuntime(undefined);
    return Promise.resolve();
  }

  view(): ClusterView | undefined {
    const sim = this.sim;
    const driver = this.driver;
    if (sim === undefined || driver === undefined) return undefined;
    const states = (kind: SimInstance['kind']): unknown[] => [...sim.instances.values()].filter((instance) => instance.kind === kind && instance.alive).map((instance) => instance.state);
    // The GCS's state as last known, also while a GCS restart has it down.
    const gcs = [...sim.instances.values()].find((instance) => instance.kind === 'gcs');
    if (gcs === undefined) return undefined;
    return {
      gcsState: gcs.state as GcsState,
      rayletStates: states('raylet') as RayletState[],
      driverState: driver.runtime.state,
      queryWorkers: () =>
        Promise.resolve(
          [...this.processes.values()].filter((process) => process.driverIndex === undefined && process.alive).map((process) => ({ tasks: listOwnerTasks(process.runtime.state), objects: listOwnerObjects(process.runtime.state), hosted: hostedTasks(process.runtime.state, maxHostedListed) })),
        ),
    };
  }
}

/** The generator driver a script run has none of: the script itself is the driver. */
// eslint-disable-next-line require-yield
function* noGeneratorDriver(): Generator<never, undefined> {
  return undefined;
}

/** Waits one real turn of the event loop: every microtask queued so far has run by then. */
function drain(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

/**
 * Whether real one-shot I/O is in flight (a file read, a DNS lookup): code that awaits it would see
 * the simulated clock race ahead while it waits, so the run lets it finish first, as if it took no
 * simulated time. Long-lived handles (servers, watchers) do not count.
 */
function realRequestsInFlight(): boolean {
  return process.getActiveResourcesInfo().some((resource) => resource.startsWith('FSReq') || resource.endsWith('ReqWrap'));
}

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/**
 * Runs `main` once in a simulated cluster; see the module comment. One run at a time per process:
 * virtual time and the API's runtime are the process's.
 */
export async function runSimulated<T>(main: () => Promise<T> | T, options: ScriptRunOptions, tsray: unknown, untilIdle = false): Promise<ScriptRunResult<T>> {
  if (running) throw new TypeError('a simulated run is already going on in this process; await it before starting another');
  running = true;
  const seed = String(options.seed ?? 1);
  const run = new ScriptRun(options, seed, tsray);
  const maxTimeMs = options.maxTimeMs ?? 120_000;
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  // A script is done, as a process is, once its module has run and nothing of it waits: no call of
  // tsray pending and no timer that would keep Node alive. A function is done when it settles.
  let returned: { value: T } | undefined;
  const uncaught = (error: unknown, kind: 'an unhandled rejection' | 'an uncaught exception'): void => {
    const process = run.current();
    if (process !== undefined && (!process.alive || process.onStray(error, kind))) return;
    if (error instanceof ExitSignal) return;
    run.failure ??= new Error(`the script left ${kind}: ${describeError(error)}`);
    run.dirty = true;
  };
  const time: VirtualTimeController = installVirtualTime({
    seed: `script:${seed}`,
    // Timers of task and actor code belong to their simulated workers; only the script's own keep it alive.
    ownerOfTimer: () => run.current(),
    aroundFiring: (fire) => {
      const process = run.current();
      // A dead process's timers never fire: its code is gone.
      if (process !== undefined && !process.alive) return;
      try {
        fire();
      } catch (error) {
        uncaught(error, 'an uncaught exception');
      }
    },
  });
  const onRejection = (reason: unknown): void => uncaught(reason, 'an unhandled rejection');
  const onException = (error: unknown): void => uncaught(error, 'an uncaught exception');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  process.exit = ((code?: number | string | null) => {
    const exitCode = typeof code === 'number' ? code : Number(code ?? process.exitCode ?? 0);
    const current = run.current();
    if (current !== undefined && current.driverIndex === undefined) {
      // process.exit inside a task ends its simulated worker, as it ends the worker live.
      current.exitProcess();
      throw new ExitSignal(exitCode);
    }
    // The script ends the process: the run's outcome is as the exit code says.
    outcome ??= exitCode === 0 ? { ok: true, value: undefined as T } : { ok: false, error: new Error(`the script called process.exit(${exitCode})`) };
    run.dirty = true;
    throw new ExitSignal(exitCode);
  });
  const output: string[] = [];
  const consoleMethods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back as they were, unbound, as console holds them
  const savedConsole = consoleMethods.map((method) => console[method]);
  if (options.captureOutput === true) for (const method of consoleMethods) console[method] = (...args: unknown[]) => void output.push(format(...args));
  setSimulation(run);
  try {
    void Promise.resolve()
      .then(main)
      .then(
        (value) => {
          if (untilIdle) returned = { value };
          else outcome ??= { ok: true, value };
        },
        (error: unknown) => {
          outcome ??= error instanceof ExitSignal ? { ok: true, value: undefined as T } : { ok: false, error };
        },
      )
      .finally(() => {
        run.dirty = true;
      });
    let driverFinished = false;
    let lastQuietCheckMs = 0;
    /** Code that waited on something real past the grace once: the run stops waiting for it. */
    const graceSpent = new Set<string>();
    const faultPhaseMs = options.faultPhaseMs ?? 1000;
    for (;;) {
      if (run.dirty) {
        run.dirty = false;
        await drain();
      }
      // Code that waits on something real is let finish first (within the grace, once per waiter).
      const outside = run.codeWaitingOutside(time, outcome === undefined && returned === undefined);
      if (outside !== undefined && !graceSpent.has(outside)) {
        if (await stillAfterTurns(() => run.codeWaitingOutside(time, outcome === undefined && returned === undefined) === outside, options.stallGraceMs ?? 1000)) graceSpent.add(outside);
        run.dirty = true;
        continue;
      }
      if (realRequestsInFlight()) {
        // Real I/O is a leak of the simulation, but a file read should not find the clock moved.
        await stillAfterTurns(realRequestsInFlight, options.stallGraceMs ?? 1000);
        run.dirty = true;
        continue;
      }
      const sim = run.sim;
      if (sim?.failure !== undefined || run.failure !== undefined) break;
      if (returned !== undefined && outcome === undefined && (run.driver === undefined || run.driver.runtime.pendingCalls === 0) && !time.pending().some((timer) => timer.ref && timer.owner === undefined)) outcome = { ok: true, value: returned.value };
      if (outcome !== undefined && !driverFinished) {
        if (!outcome.ok || sim === undefined) break;
        driverFinished = true;
        sim.finishDriver(shows(outcome.value, 200));
      }
      const simDue = sim === undefined || sim.isOver ? undefined : sim.nextDueMs();
      const timerDue = time.nextDueMs();
      if (outcome !== undefined && (sim === undefined || sim.isOver)) break;
      if (timerDue !== undefined && (simDue === undefined || timerDue <= simDue) && timerDue <= maxTimeMs) {
        if (sim !== undefined) sim.nowMs = Math.max(sim.nowMs, timerDue);
        await time.runUntil(timerDue);
        run.dirty = true;
        continue;
      }
      // Once faults have stopped, a script that waits while the cluster has nothing left for it (no
      // call of its pending, no task running, no timer) waits on something outside the simulation.
      if (outcome === undefined && sim !== undefined && sim.nowMs > faultPhaseMs + 200 && sim.nowMs - lastQuietCheckMs >= 100) {
        lastQuietCheckMs = sim.nowMs;
        const quiet = (): boolean => outcome === undefined && (run.driver?.runtime.pendingCalls ?? 0) === 0 && !time.pending().some((timer) => timer.ref);
        if (quiet() && sim.unresolvedTasks().length === 0 && (await stillAfter(quiet, options.stallGraceMs ?? 1000))) {
          run.failure = new Error(`stall: the script waits, but nothing simulated is left to happen (no call of tsray pending, no task running, no timer): it may wait on real I/O, a timer made before the run, or a promise settled from outside the simulation`);
          break;
        }
      }
      if (sim !== undefined && simDue !== undefined) {
        // Past maxTimeMs the simulator ends the run without taking the item.
        if (simDue > time.nowMs && simDue <= maxTimeMs) time.advanceTo(simDue);
        try {
          sim.step();
        } catch (error) {
          if (!(error instanceof SimFailure)) throw error;
          break;
        }
        run.checkWaiters();
        continue;
      }
      if (outcome !== undefined || (sim !== undefined && sim.isOver) || time.nowMs > maxTimeMs) break;
      // Nothing simulated is left to happen, and the script still waits: give what is outside the
      // simulation (a file read before init, say) a moment, then call it a stall.
      if (!(await waitOutside(run, time, () => outcome !== undefined, options.stallGraceMs ?? 1000))) {
        const what = run.driver?.describeWaiting() ?? 'the script never called init()';
        run.failure = new Error(`stall: the script waits, but nothing simulated is left to happen (no pending event, no virtual timer): ${what}; it may wait on real I/O, a timer made before the run, or a promise settled from outside the simulation`);
        break;
      }
    }
    return { ...finish(run, outcome, time, seed), output };
  } finally {
    consoleMethods.forEach((method, index) => (console[method] = savedConsole[index] as (typeof console)[typeof method]));
    time.restore();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    process.exit = realExit;
    setSimulation(undefined);
    setRuntime(undefined);
    running = false;
  }
}

/** Waits up to `graceMs` of real time for anything to happen; true if something did. */
async function waitOutside(run: ScriptRun, time: VirtualTimeController, finished: () => boolean, graceMs: number): Promise<boolean> {
  for (let waitedMs = 0; waitedMs < graceMs; waitedMs += 5) {
    await realSleep(5);
    if (finished() || run.dirty || time.nextDueMs() !== undefined || (run.sim !== undefined && !run.sim.isOver && run.sim.nextDueMs() !== undefined)) return true;
  }
  return false;
}

/**
 * Whether `holds` still holds after `graceMs` of real time: checked after each real turn of the event
 * loop at first (a dynamic import or a file read takes a few), then every few ms. False as soon as
 * it does not.
 */
async function stillAfterTurns(holds: () => boolean, graceMs: number): Promise<boolean> {
  const startedMs = realNowMs();
  for (let turn = 0; holds(); turn++) {
    if (realNowMs() - startedMs > graceMs) return true;
    if (turn < 200) await drain();
    else await realSleep(1);
  }
  return false;
}

/** Whether `holds` still holds after `graceMs` of real time (checked every few ms). */
async function stillAfter(holds: () => boolean, graceMs: number): Promise<boolean> {
  for (let waitedMs = 0; waitedMs < graceMs; waitedMs += 5) {
    await realSleep(5);
    if (!holds()) return false;
  }
  return true;
}

function maxTimeMsOf(run: ScriptRun): number {
  return run.options.maxTimeMs ?? 120_000;
}

function finish<T>(run: ScriptRun, outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined, time: VirtualTimeController, seed: string): Omit<ScriptRunResult<T>, 'output'> {
  const sim = run.sim;
  const base = { faults: sim === undefined ? [] : [...sim.faultLog], events: sim?.currentSeq() ?? 0, simTimeMs: Math.max(sim?.nowMs ?? 0, time.nowMs), seed };
  const failed = (error: unknown): Omit<ScriptRunResult<T>, 'output'> => {
    if (error instanceof SimFailure) return { ok: false, error, trace: error.traceText, ...base };
    const message = describeError(error);
    sim?.note(`failure: ${message}`);
    const failure = new SimFailure(sim === undefined ? message : `${message} at ${sim.nowMs} ms after ${sim.currentSeq()} events`, seed, sim?.traceText() ?? '');
    return { ok: false, error: outcome !== undefined && !outcome.ok ? outcome.error : failure, trace: failure.traceText, ...base };
  };
  if (sim?.failure !== undefined) return failed(sim.failure);
  if (run.failure !== undefined) return failed(run.failure);
  if (outcome !== undefined && !outcome.ok) return failed(new Error(`the script threw ${describeError(outcome.error)}`));
  if (sim === undefined) {
    if (outcome === undefined) return failed(new Error('the script never finished'));
    return { ok: true, value: outcome.value, trace: '', ...base };
  }
  try {
    if (outcome === undefined) sim.note(`liveness failure: the script had not finished by ${sim.nowMs} ms (maxTimeMs ${maxTimeMsOf(run)}; tsray sim --max-time-ms)`);
    sim.finish();
  } catch (error) {
    return failed(error);
  }
  return { ok: true, ...(outcome === undefined ? {} : { value: outcome.value }), trace: sim.traceText(), ...base };
}
