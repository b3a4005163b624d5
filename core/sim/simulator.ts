/**
 * The deterministic simulator: one seeded generator drives message latency, loss, duplication and
 * reordering, partitions, crashes of workers, owners and nodes, and GCS restarts, on a simulated
 * clock, with simulated workers that run task bodies given as plain functions. The real recipes run
 * here unchanged (under immer, directly, or both with hashes compared), invariants are checked after
 * every step, and every applied event is recorded in the trace format that replay and the debugger read.
 */
import { InvariantViolation } from '../assert.js';
import type { AnyEvent, ComponentCore } from '../component.js';
import { gcsCore } from '../gcs/index.js';
import type { GcsEvent, GcsState } from '../gcs/index.js';
import { defaultGcsConfig } from '../gcs/index.js';
import { hashedCharsPerEvent, hashState, hashStateSized } from '../hash.js';
import { messageProblem } from '../protocol-decode.js';
import type { Address, NodeId, WorkerId } from '../ids.js';
import { gcsAddress, nodeOfWorker, rayletAddress, workerAddress } from '../ids.js';
import { defaultOwnerConfig, explainTask, ownerCore } from '../owner/index.js';
import type { OwnerEffect, OwnerEvent, OwnerState } from '../owner/index.js';
import type { Message, WorkerExitReason } from '../protocol.js';
import { defaultRayletConfig, rayletCore } from '../raylet/index.js';
import type { RayletEvent, RayletState } from '../raylet/index.js';
import type { Resources } from '../resources.js';
import { applyDirect, applyUnderImmer, brokenInvariants, readyForImmer } from '../step.js';
import type { TraceEntry, TraceHeader, TraceNote } from '../trace/format.js';
import { TraceWriter, traceFormatVersion } from '../trace/format.js';
import { Agenda } from './agenda.js';
import { CrossCheck, crossInvariants } from './cross-invariants.js';
import type { ApplyMode, FaultPlan, ScheduledFault, SimOptions } from './options.js';
import type { SimProgram } from './program.js';
import { SeededRandom } from './random.js';
import { WorkerRuntime } from './runtime.js';
import { mutationNamed, mutations } from './mutations.js';
import { hasSplitTable, tableValues } from '../table.js';

/** One component process of the simulated cluster. */
export interface SimInstance {
  readonly address: Address;
  readonly kind: 'gcs' | 'raylet' | 'owner';
  readonly nodeId: NodeId;
  state: unknown;
  alive: boolean;
  incarnation: number;
  /** Per destination, the next sequence number: receivers see each link numbered 0, 1, 2, ... */
  sendSeqs: Record<Address, number>;
  /** Timer generations: re-arming a timer id supersedes the earlier arming. */
  timers: Record<string, number>;
  runtime?: SimProcess;
  /** The state last found to keep every invariant: the next step's invariants are checked from it when they can be. */
  checked?: unknown;
  /** Whether the state is stepped under immer (always, in modes `immer` and `both`; in `auto`, once a table split). */
  immer?: boolean;
}

/**
 * What runs inside a simulated process besides its owner component: the code of its tasks, actors
 * and (for a driver) its script. The simulator hands it the owner's effects meant for the process
 * and tells it when the process ends. `WorkerRuntime` runs generator workloads; the node side runs
 * ordinary async user code through the same interface (node/sim).
 */
export interface SimProcess {
  /** Handles an owner effect meant for the process; returns what is handed back synchronously. */
  onEffect(effect: OwnerEffect, seq: number): unknown[];
  /** Called after every event applied to the process's owner. */
  afterStep(): void;
  /** The process ended: whatever it runs stops mattering. */
  stop(): void;
  /** What the process (a driver) still waits for, for liveness failures. */
  describeWaiting(): string;
}

/** Makes the process of an owner instance: a driver (`driverIndex` 0 for the main one) or a worker. */
export type SimProcessFactory = (sim: Simulator, instance: SimInstance, driverIndex: number | undefined) => SimProcess;

type AgendaEntry =
  | { kind: 'deliver'; to: Address; message: Message & { via: { from: Address; incarnation: number; seq: number } }; parent: number }
  | { kind: 'timer'; address: Address; incarnation: number; timerId: string; generation: number; parent: number }
  | { kind: 'local'; address: Address; incarnation: number; event: AnyEvent; parent: number }
  | { kind: 'call'; address: Address; incarnation: number; run: () => void }
  | { kind: 'fault'; fault: ScheduledFault }
  | { kind: 'gcs-up' }
  | { kind: 'spawn'; nodeId: NodeId; workerId: WorkerId; parent: number };

/** The outcome of a run. */
export interface SimResult {
  readonly seed: string;
  /** Whether the driver script finished (every get it made resolved) before maxTimeMs. */
  readonly driverFinished: boolean;
  /** What the driver script returned. */
  readonly driverResult: unknown;
  readonly events: number;
  readonly simTimeMs: number;
  readonly faults: readonly string[];
  readonly header: TraceHeader;
  readonly entries: readonly TraceEntry[];
  readonly notes: readonly TraceNote[];
  /** Every recorded line, header first, as the trace file's text. */
  readonly traceText: () => string;
}

/** Thrown when a run breaks an invariant or its liveness; carries the seed and the trace so far. */
export class SimFailure extends Error {
  override readonly name = 'SimFailure';
  /** The run's seed. */
  readonly seed: string;
  /** The trace text up to the failure (not enumerable, so printing the error stays short). */
  declare readonly traceText: string;

  /** Wraps the failure with what reproduces it. */
  constructor(message: string, seed: string, traceText: string) {
    super(`${message} (seed ${seed})`);
    this.seed = seed;
    Object.defineProperty(this, 'traceText', { value: traceText, enumerable: false });
  }
}

const defaultCores: Record<SimInstance['kind'], ComponentCore<unknown, AnyEvent, unknown>> = {
  gcs: gcsCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  raylet: rayletCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
  owner: ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
};

/** A simulated cluster running one program. */
export class Simulator {
  readonly random: SeededRandom;
  readonly program: SimProgram;
  readonly instances = new Map<Address, SimInstance>();
  nowMs = 0;
  private readonly agenda = new Agenda<AgendaEntry>();
  private readonly mode: ApplyMode;
  private readonly faults: FaultPlan;
  private readonly faultPhaseMs: number;
  private readonly maxTimeMs: number;
  private readonly maxEvents: number;
  private readonly record: boolean;
  private readonly hashEvery: number;
  private readonly crossCheckEvery: number;
  /** How the cross-component invariants are checked (see `SimOptions.crossCheck`). */
  private readonly crossCheckMode: 'changed' | 'whole' | 'both';
  /** The cross-component invariants, checked from the owner processes stepped since the last check. */
  private readonly crossCheck = new CrossCheck();
  private readonly latencyMs: number;
  readonly bodyMs: number;
  private readonly seedText: string;
  readonly entries: TraceEntry[] = [];
  readonly notes: TraceNote[] = [];
  readonly faultLog: string[] = [];
  private readonly lines: string[] = [];
  /** Keeps the checksum chain through the lines, and writes the snapshots and minted ids of format version 3. */
  private readonly writer: TraceWriter;
  private readonly header: TraceHeader;
  private seq = 0;
  private eventsSinceHash = new Map<Address, number>();
  /** Per instance, how many of its events come between two hashes: `hashEvery`, or more for a big state. */
  private readonly hashIntervals = new Map<Address, number>();
  private readonly gcsLog: AnyEvent[] = [];
  private gcsDownUntil: number | undefined;
  private gcsIncarnation = 0;
  private readonly partitions: { nodeId: NodeId; untilMs: number }[] = [];
  private readonly deadNodes = new Set<NodeId>();
  private readonly nodeIds: NodeId[] = [];
  private readonly options: SimOptions;
  private readonly cores: Record<SimInstance['kind'], ComponentCore<unknown, AnyEvent, unknown>>;
  private driverAddress: Address = '';
  private readonly processFactory: SimProcessFactory;
  /** The failure that ended the run, once one did (see `applyGuarded`). */
  failure: SimFailure | undefined;
  driverFinished = false;
  driverResult: unknown = undefined;
  private started = false;
  /** Set once the run is over (see `step`). */
  private ended = false;
  private lastLivenessCheckMs = -1;
  /** Per actor incarnation and caller, the last call number started (maxConcurrency 1 order check). */
  readonly actorCallOrder = new Map<string, number>();

  /** Builds the cluster; nothing runs until `run()`. */
  constructor(options: SimOptions) {
    this.options = options;
    const mutation = options.mutation === undefined ? undefined : mutationNamed(options.mutation);
    if (options.mutation !== undefined && mutation === undefined) throw new RangeError(`no mutation is called '${options.mutation}'; there are ${Object.keys(mutations).join(', ')}`);
    this.cores = { ...defaultCores, ...mutation?.cores, ...options.cores };
    this.seedText = String(options.seed);
    this.random = new SeededRandom(options.seed);
    this.program = options.program;
    this.processFactory = options.processes ?? ((sim, instance, driverIndex) => new WorkerRuntime(sim, instance, driverIndex));
    this.mode = options.mode ?? 'auto';
    this.faults = options.faults ?? {};
    this.faultPhaseMs = options.faultPhaseMs ?? 2000;
    this.maxTimeMs = options.maxTimeMs ?? 120_000;
    this.maxEvents = options.maxEvents ?? 500_000;
    this.record = options.record ?? true;
    this.writer = new TraceWriter(this.record ? { cores: this.cores } : {});
    this.hashEvery = options.hashEvery ?? 50;
    this.crossCheckEvery = options.crossCheckEvery ?? 1;
    this.crossCheckMode = options.crossCheck ?? 'changed';
    this.latencyMs = options.latencyMs ?? 1;
    this.bodyMs = options.bodyMs ?? 2;
    const nodes = options.nodes ?? [{ resources: { CPU: 2 } }, { resources: { CPU: 2 } }, { resources: { CPU: 2 } }];
    this.header = {
      kind: 'tsray-trace',
      formatVersion: traceFormatVersion,
      reducers: { gcs: gcsCore.version, raylet: rayletCore.version, owner: ownerCore.version },
      createdBy: 'sim',
      cluster: { nodes: nodes.map((node) => ({ resources: { ...node.resources } })), mode: this.mode },
      seed: this.seedText,
      faultPlan: this.faults,
      workload: options.program.name,
      workloadModule: options.workloadModule,
      mutation: options.mutation,
      sim: {
        faultPhaseMs: this.faultPhaseMs,
        maxTimeMs: this.maxTimeMs,
        maxEvents: this.maxEvents,
        hashEvery: this.hashEvery,
        crossCheckEvery: this.crossCheckEvery,
        latencyMs: this.latencyMs,
        bodyMs: this.bodyMs,
        ownerConfig: options.ownerConfig,
        rayletConfig: options.rayletConfig,
        gcsConfig: options.gcsConfig,
      },
    };
    this.lines.push(this.writer.line(this.header));
    nodes.forEach((_node, index) => this.nodeIds.push(`n${index + 1}`));
  }

  /** Runs to completion and checks liveness; throws SimFailure on any broken invariant. */
  run(): SimResult {
    this.start();
    while (this.step());
    return this.finish();
  }

  /**
   * Boots the cluster and schedules the plan's faults, once. `run` is `start`, `step` until it says
   * the run is over, then `finish`; a caller that interleaves the simulation with other work (a
   * script's own async code) calls them itself.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.guard(() => this.boot());
  }

  /** The simulated time of the next thing on the agenda, or undefined when nothing is. */
  nextDueMs(): number | undefined {
    return this.agenda.peek()?.atMs;
  }

  /**
   * Carries out the next thing on the agenda, moving the clock to it. False, without doing anything,
   * once the run is over: nothing is left, the next thing is past maxTimeMs, or the driver is done,
   * faults have stopped and every task has resolved.
   *
   * @throws SimFailure when an invariant breaks or the run does not settle within maxEvents.
   */
  step(): boolean {
    if (this.ended) return false;
    return this.guard(() => {
      const item = this.agenda.pop();
      if (item === undefined || item.atMs > this.maxTimeMs) {
        this.ended = true;
        return false;
      }
      if (this.seq > this.maxEvents) throw new InvariantViolation(`more than ${this.maxEvents} events: the run does not settle`);
      this.nowMs = Math.max(this.nowMs, item.atMs);
      this.process(item.value);
      // Liveness: once faults have stopped and the driver is done, every task must have resolved.
      if (this.driverFinished && this.nowMs >= this.faultPhaseMs + 200 && this.nowMs - this.lastLivenessCheckMs >= 100) {
        this.lastLivenessCheckMs = this.nowMs;
        if (this.unresolvedTasks().length === 0) this.ended = true;
      }
      return !this.ended;
    });
  }

  /**
   * Ends the run: checks liveness and records the final state hashes.
   *
   * @throws SimFailure when the driver had not finished or a task had not resolved.
   */
  finish(): SimResult {
    if (!this.driverFinished) {
      const why = this.explainUnfinished();
      this.note(`liveness failure: ${why}`);
      throw new SimFailure(`liveness: the driver had not finished by ${this.maxTimeMs} ms (maxTimeMs): ${why}`, this.seedText, this.traceText());
    }
    const unresolved = this.unresolvedTasks();
    if (unresolved.length > 0) {
      this.note(`liveness failure: ${unresolved.length} tasks unresolved`);
      throw new SimFailure(`liveness: ${unresolved.length} tasks had not resolved by ${this.nowMs} ms, e.g. ${unresolved.slice(0, 3).join('; ')}`, this.seedText, this.traceText());
    }
    for (const instance of this.instances.values()) if (instance.alive) this.recordHash(instance, true);
    return {
      seed: this.seedText,
      driverFinished: this.driverFinished,
      driverResult: this.driverResult,
      events: this.seq,
      simTimeMs: this.nowMs,
      faults: [...this.faultLog],
      header: this.header,
      entries: this.entries,
      notes: this.notes,
      traceText: () => this.traceText(),
    };
  }

  /** Runs `work`, turning any error but a SimFailure into one, noted in the trace with the seed. */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      this.ended = true;
      if (error instanceof SimFailure) {
        this.failure ??= error;
        throw error;
      }
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.note(`failure: ${message}`);
      this.failure ??= new SimFailure(`${message} at ${this.nowMs} ms after ${this.seq} events`, this.seedText, this.traceText());
      throw this.failure;
    }
  }

  /**
   * `applyEvent` for code running outside `step` (a script's own async code between steps): a broken
   * invariant ends the run and is kept in `failure`, so the loop driving the run reports it even if
   * the calling code catches the error.
   */
  applyGuarded(instance: SimInstance, event: AnyEvent, parent: number): unknown[] {
    if (this.ended) throw this.failure ?? new InvariantViolation('the simulated run is over');
    return this.guard(() => this.applyEvent(instance, event, parent));
  }

  /** Whether the run is over (see `step`). */
  get isOver(): boolean {
    return this.ended;
  }

  /** The trace so far as JSON Lines, closed (a failed run's trace is complete up to the failure). */
  traceText(): string {
    return `${this.lines.join('\n')}\n${this.writer.end()}\n`;
  }

  private boot(): void {
    const gcs = this.addInstance(gcsAddress, 'gcs', this.nodeIds[0] ?? 'n1');
    this.applyEvent(gcs, asEvent({ type: 'gcs/started', incarnation: 0, config: { ...defaultGcsConfig, ...this.options.gcsConfig } }), 0);
    const nodes = this.options.nodes ?? [{ resources: { CPU: 2 } }, { resources: { CPU: 2 } }, { resources: { CPU: 2 } }];
    nodes.forEach((node, index) => {
      const nodeId = this.nodeIds[index] ?? '';
      const raylet = this.addInstance(rayletAddress(nodeId), 'raylet', nodeId);
      this.applyEvent(raylet, asEvent({ type: 'node/started', nodeId, resources: { ...node.resources }, config: { ...defaultRayletConfig, ...this.options.rayletConfig } }), 0);
    });
    const headNode = this.nodeIds[0] ?? 'n1';
    const driverCount = 1 + (this.program.otherDrivers?.length ?? 0);
    for (let index = 0; index < driverCount; index++) {
      const driverId = `${headNode}.d${index + 1}`;
      const address = workerAddress(driverId);
      if (index === 0) this.driverAddress = address;
      const driver = this.addInstance(address, 'owner', headNode);
      driver.runtime = this.processFactory(this, driver, index);
      this.applyEvent(this.instance(rayletAddress(headNode)), asEvent({ type: 'driver/connected', workerId: driverId }), 0);
      this.applyEvent(driver, asEvent({ type: 'owner/started', workerId: driverId, nodeId: headNode, isDriver: true, namespace: 'default', config: this.ownerConfig() }), 0);
    }
    for (const fault of this.faults.scheduled ?? []) if (fault.atMs < this.faultPhaseMs) this.agenda.push(fault.atMs, { kind: 'fault', fault });
  }

  private ownerConfig(): OwnerState['config'] {
    return { ...defaultOwnerConfig, ...this.options.ownerConfig };
  }

  private addInstance(address: Address, kind: SimInstance['kind'], nodeId: NodeId): SimInstance {
    const instance: SimInstance = { address, kind, nodeId, state: this.cores[kind].initial(), alive: true, incarnation: 0, sendSeqs: {}, timers: {}, immer: this.mode === 'immer' || this.mode === 'both' };
    this.instances.set(address, instance);
    return instance;
  }

  /** The instance at `address`; throws if there is none. */
  instance(address: Address): SimInstance {
    const instance = this.instances.get(address);
    if (instance === undefined) throw new InvariantViolation(`no simulated instance at ${address}`);
    return instance;
  }

  /** Tasks and actor calls of live owners that have not resolved, with what each waits for. */
  unresolvedTasks(): string[] {
    const unresolved: string[] = [];
    for (const instance of this.instances.values()) {
      if (instance.kind !== 'owner' || !instance.alive) continue;
      const state = instance.state as OwnerState;
      for (const task of tableValues(state.tasks)) {
        if (task.state === 'FINISHED' || task.state === 'FAILED' || task.state === 'CANCELLED') continue;
        if (this.neverFits(task.spec.fn.resources)) continue;
        if (task.kind === 'actor-creation') {
          const view = state.actors[task.spec.fn.actor?.actorId ?? ''];
          const placement = view?.spec?.placementResources ?? {};
          if (this.neverFits({ ...placement, ...view?.spec?.resources })) continue;
        }
        unresolved.push(`${task.spec.taskId} (${task.spec.fn.name}) ${explainTask({ s: state, out: [] }, task)}`);
      }
    }
    return unresolved;
  }

  /** Whether no live node could ever hold `demand` (Ray keeps such work pending, not failed). */
  private neverFits(demand: Resources): boolean {
    for (const instance of this.instances.values()) {
      if (instance.kind !== 'raylet' || !instance.alive) continue;
      const total = (instance.state as RayletState).total;
      if (Object.entries(demand).every(([name, quantity]) => quantity <= 0 || (total[name] ?? 0) >= quantity)) return false;
    }
    return true;
  }

  private process(entry: AgendaEntry): void {
    switch (entry.kind) {
      case 'deliver': {
        const target = this.instances.get(entry.to);
        if (target === undefined) return;
        if (target.kind === 'gcs' && this.gcsDownUntil !== undefined) {
          // The transport keeps retrying a request to a GCS that is down until it is back.
          this.agenda.push(this.gcsDownUntil + this.latencyMs, entry);
          return;
        }
        if (!target.alive) return;
        this.applyEvent(target, entry.message, entry.parent);
        return;
      }
      case 'timer': {
        const target = this.instances.get(entry.address);
        if (target === undefined || !target.alive || target.incarnation !== entry.incarnation || target.timers[entry.timerId] !== entry.generation) return;
        this.applyEvent(target, { type: 'timer/fired', timerId: entry.timerId, nowMs: this.nowMs } as AnyEvent, entry.parent);
        return;
      }
      case 'local': {
        const target = this.instances.get(entry.address);
        if (target === undefined || !target.alive || target.incarnation !== entry.incarnation) return;
        this.applyEvent(target, entry.event, entry.parent);
        return;
      }
      case 'call': {
        const target = this.instances.get(entry.address);
        if (target === undefined || !target.alive || target.incarnation !== entry.incarnation) return;
        entry.run();
        return;
      }
      case 'fault':
        this.injectFault(entry.fault);
        return;
      case 'gcs-up':
        this.restartGcs();
        return;
      case 'spawn':
        this.spawnWorker(entry.nodeId, entry.workerId, entry.parent);
        return;
    }
  }

  /** Schedules `run` for the process at `address` after `delayMs` (skipped if it has died by then). */
  later(address: Address, delayMs: number, run: () => void): void {
    const target = this.instance(address);
    this.agenda.push(this.nowMs + delayMs, { kind: 'call', address, incarnation: target.incarnation, run });
  }

  /** The seq of the event being processed, for causal parents. */
  currentSeq(): number {
    return this.seq;
  }

  /**
   * Applies one event to one instance, records it, checks invariants, and carries out its effects.
   * Returns the owner effects the shell would hand back synchronously (minted ids).
   */
  applyEvent(instance: SimInstance, event: AnyEvent, parent: number): unknown[] {
    if (!instance.alive) return [];
    const core = this.cores[instance.kind];
    const seq = ++this.seq;
    if (instance.kind === 'gcs') this.gcsLog.push(event);
    const before = instance.state;
    let effects: unknown[];
    switch (this.modeFor(instance)) {
      case 'direct':
        effects = applyDirect(core, instance.state, event);
        break;
      case 'immer': {
        const step = applyUnderImmer(core, instance.state, event, { patches: false });
        instance.state = step.state;
        effects = step.effects;
        break;
      }
      case 'both': {
        const mutable = structuredClone(instance.state);
        const step = applyUnderImmer(core, instance.state, event, { patches: false });
        applyDirect(core, mutable, structuredClone(event));
        const immerHash = hashState(step.state);
        const directHash = hashState(mutable);
        if (immerHash !== directHash) throw new InvariantViolation(`state hash under immer ${immerHash} differs from direct ${directHash} at seq ${seq} ${instance.address} ${event.type}`);
        instance.state = step.state;
        effects = step.effects;
        break;
      }
    }
    // Under immer, a step shares what it did not change with the state before it, which was checked.
    const broken = brokenInvariants(core, instance.state, instance.immer === true && instance.checked === before ? { state: before } : undefined);
    instance.checked = instance.state;
    // The step that broke an invariant is hashed whatever the interval, so that replay tells at that
    // very event whether other recipes reach the same broken state (the interval grows with the state).
    const hashed = broken.length > 0 && this.hashEvery > 0 ? { hash: hashState(instance.state) } : this.maybeHash(instance);
    const entry: TraceEntry = { seq, address: instance.address, component: instance.kind, atMs: this.nowMs, ...(parent > 0 ? { parent } : {}), event, ...hashed };
    if (this.record) {
      this.entries.push(entry);
      this.lines.push(this.writer.line(entry));
    }
    if (broken.length > 0) throw new InvariantViolation(`invariants broken after seq ${seq} ${instance.address} ${event.type}: ${broken.join('; ')}`);
    if (this.crossCheckEvery > 0 && instance.kind === 'owner') this.crossCheck.touch(instance);
    if (this.crossCheckEvery > 0 && seq % this.crossCheckEvery === 0) {
      const crossBroken = this.crossBroken();
      if (crossBroken.length > 0) throw new InvariantViolation(`cross-component invariants broken after seq ${seq} ${instance.address} ${event.type}: ${crossBroken.join('; ')}`);
    }
    const handBack = this.carryOut(instance, effects, seq);
    instance.runtime?.afterStep();
    return handBack;
  }

  /** The broken cross-component invariants, checked as `crossCheckMode` says. */
  private crossBroken(): string[] {
    if (this.crossCheckMode === 'whole') return crossInvariants(this);
    const changed = this.crossCheck.broken(this);
    if (this.crossCheckMode === 'changed') return changed;
    const whole = crossInvariants(this);
    if (JSON.stringify(changed) !== JSON.stringify(whole)) {
      throw new InvariantViolation(`the cross-component check from what changed found ${changed.join('; ') || 'nothing'}, where the whole check found ${whole.join('; ') || 'nothing'}`);
    }
    return whole;
  }

  /** How `instance`'s next event is applied; in mode `auto`, a state whose table just split goes under immer from now on. */
  private modeFor(instance: SimInstance): 'direct' | 'immer' | 'both' {
    if (this.mode !== 'auto') return this.mode;
    if (instance.immer === true) return 'immer';
    if (!hasSplitTable(instance.state)) return 'direct';
    instance.state = readyForImmer(instance.state);
    instance.immer = true;
    return 'immer';
  }

  private maybeHash(instance: SimInstance): { hash?: string } {
    if (this.hashEvery <= 0) return {};
    const count = (this.eventsSinceHash.get(instance.address) ?? 0) + 1;
    if (count >= (this.hashIntervals.get(instance.address) ?? this.hashEvery)) {
      this.eventsSinceHash.set(instance.address, 0);
      const sized = hashStateSized(instance.state);
      // A big state is hashed less often, so that hashing costs about the same per event whatever the size.
      this.hashIntervals.set(instance.address, Math.max(this.hashEvery, Math.ceil(sized.chars / hashedCharsPerEvent)));
      return { hash: sized.hash };
    }
    this.eventsSinceHash.set(instance.address, count);
    return {};
  }

  private recordHash(instance: SimInstance, final: boolean): void {
    if (!this.record || !final) return;
    this.note(`final state hash ${instance.address} ${hashState(instance.state)}`);
  }

  /** Adds a note line to the trace. */
  note(text: string): void {
    const note: TraceNote = { note: text, ...(this.seq > 0 ? { seq: this.seq } : {}) };
    this.notes.push(note);
    if (this.record) this.lines.push(this.writer.line(note));
  }

  private carryOut(instance: SimInstance, effects: readonly unknown[], seq: number): unknown[] {
    const handBack: unknown[] = [];
    for (const raw of effects) {
      const effect = raw as { type: string } & Record<string, unknown>;
      switch (effect.type) {
        case 'message/sent':
          this.send(instance, effect.to as Address, effect.message as Message, seq);
          break;
        case 'timer/armed': {
          const timerId = effect.timerId as string;
          const generation = (instance.timers[timerId] ?? 0) + 1;
          instance.timers[timerId] = generation;
          this.agenda.push(this.nowMs + (effect.delayMs as number), { kind: 'timer', address: instance.address, incarnation: instance.incarnation, timerId, generation, parent: seq });
          break;
        }
        case 'worker/spawn':
          this.agenda.push(this.nowMs + 3, { kind: 'spawn', nodeId: instance.nodeId, workerId: effect.workerId as WorkerId, parent: seq });
          break;
        case 'worker/kill':
          this.killWorker(effect.workerId as WorkerId, (effect.reason as string | undefined) ?? 'killed', seq);
          break;
        case 'node/shutdown':
          this.killNode(instance.nodeId, 'fenced by the GCS');
          break;
        case 'objects/deleted':
        case 'objects/freed':
          break;
        default:
          if (instance.runtime !== undefined) handBack.push(...instance.runtime.onEffect(effect as OwnerEffect, seq));
      }
    }
    return handBack;
  }

  private nodeOfAddress(address: Address): NodeId {
    if (address === gcsAddress) return this.nodeIds[0] ?? 'n1';
    if (address.startsWith('raylet:')) return address.slice('raylet:'.length);
    return nodeOfWorker(address.slice('worker:'.length));
  }

  private inFaultPhase(): boolean {
    return this.nowMs < this.faultPhaseMs;
  }

  private send(from: SimInstance, to: Address, message: Message, parent: number): void {
    // Every message a recipe emits must pass the decoder that guards the live transport's edge.
    const problem = messageProblem(message);
    if (problem !== undefined) throw new InvariantViolation(`${from.address} sent a message the wire decoder rejects: ${problem}`);
    const seq = from.sendSeqs[to] ?? 0;
    from.sendSeqs[to] = seq + 1;
    const via = { from: from.address, incarnation: from.incarnation, seq };
    const delivered = { ...message, via };
    let delay = this.latencyMs + (this.faults.jitterMs === undefined ? 0 : this.random.int(0, this.faults.jitterMs));
    if (this.inFaultPhase()) {
      if (this.random.chance(this.faults.spikeRate ?? 0)) delay += this.random.int(1, this.faults.spikeMs ?? 50);
      // A lost message is sent again by the transport after its retransmission timeout.
      if (this.random.chance(this.faults.dropRate ?? 0)) delay += 30 + this.random.int(0, 30);
    }
    const fromNode = this.nodeOfAddress(from.address);
    const toNode = this.nodeOfAddress(to);
    for (const partition of this.partitions) {
      if (partition.untilMs > this.nowMs && (partition.nodeId === fromNode) !== (partition.nodeId === toNode)) {
        delay = Math.max(delay, partition.untilMs - this.nowMs + this.latencyMs);
      }
    }
    this.agenda.push(this.nowMs + delay, { kind: 'deliver', to, message: delivered, parent });
    if (this.inFaultPhase() && this.random.chance(this.faults.duplicateRate ?? 0)) {
      this.agenda.push(this.nowMs + delay + this.random.int(1, 50), { kind: 'deliver', to, message: delivered, parent });
    }
  }

  private spawnWorker(nodeId: NodeId, workerId: WorkerId, parent: number): void {
    const raylet = this.instances.get(rayletAddress(nodeId));
    if (raylet === undefined || !raylet.alive) return;
    const worker = this.addInstance(workerAddress(workerId), 'owner', nodeId);
    worker.runtime = this.processFactory(this, worker, undefined);
    this.applyEvent(worker, asEvent({ type: 'owner/started', workerId, nodeId, isDriver: false, namespace: 'default', config: this.ownerConfig() }), parent);
    this.applyEvent(raylet, asEvent({ type: 'worker/started', workerId }), parent);
  }

  /** Ends a worker process; its raylet learns of it as `worker/exited`. */
  killWorker(workerId: WorkerId, reason: string, parent: number): void {
    const worker = this.instances.get(workerAddress(workerId));
    if (worker === undefined || !worker.alive) return;
    worker.alive = false;
    worker.runtime?.stop();
    const raylet = this.instances.get(rayletAddress(worker.nodeId));
    if (raylet !== undefined && raylet.alive) {
      this.agenda.push(this.nowMs + 1, { kind: 'local', address: raylet.address, incarnation: raylet.incarnation, event: asEvent({ type: 'worker/exited', workerId, reason: reason as WorkerExitReason }), parent });
    }
  }

  private killNode(nodeId: NodeId, why: string): void {
    if (this.deadNodes.has(nodeId)) return;
    this.deadNodes.add(nodeId);
    this.faultLog.push(`node ${nodeId} died (${why}) at ${this.nowMs} ms`);
    this.note(`node ${nodeId} died: ${why}`);
    for (const instance of this.instances.values()) {
      if (instance.kind !== 'gcs' && instance.nodeId === nodeId && instance.alive) {
        instance.alive = false;
        instance.runtime?.stop();
      }
    }
  }

  /** Ends one of `candidates` (picked by `target`), logging what kind of process it was. */
  private crashProcess(candidates: readonly WorkerId[], target: number, kind: string, verb: string): void {
    const workerId = candidates[target % Math.max(1, candidates.length)];
    if (workerId === undefined) return;
    this.faultLog.push(`${kind} ${workerId} ${verb} at ${this.nowMs} ms`);
    this.note(`fault: ${kind} ${workerId} ${verb}`);
    // An injected crash has no cause among the events: it is a root, named by the note just before it.
    this.killWorker(workerId, 'crashed', 0);
  }

  private injectFault(fault: ScheduledFault): void {
    switch (fault.kind) {
      case 'worker-crash':
        this.crashProcess(this.liveWorkers((state) => !state.isDriver), fault.target, 'worker', 'crashed');
        return;
      case 'owner-death':
        this.crashProcess(this.liveWorkers((state) => !state.isDriver && state.objects.size > 0), fault.target, 'owner', 'died');
        return;
      case 'driver-death':
        this.crashProcess(this.liveWorkers((state) => state.isDriver && workerAddress(state.workerId) !== this.driverAddress), fault.target, 'driver', 'died');
        return;
      case 'node-death': {
        const candidates = this.nodeIds.slice(1).filter((id) => !this.deadNodes.has(id));
        const target = candidates[fault.target % Math.max(1, candidates.length)];
        if (target === undefined) return;
        this.killNode(target, 'fault injected');
        return;
      }
      case 'gcs-restart': {
        if (this.gcsDownUntil !== undefined) return;
        const gcs = this.instance(gcsAddress);
        gcs.alive = false;
        const upAt = Math.min(this.nowMs + fault.downMs, this.faultPhaseMs);
        this.gcsDownUntil = upAt;
        this.faultLog.push(`GCS went down at ${this.nowMs} ms until ${upAt} ms`);
        this.note(`fault: GCS down until ${upAt} ms`);
        this.agenda.push(upAt, { kind: 'gcs-up' });
        return;
      }
      case 'partition': {
        const candidates = this.nodeIds.slice(1).filter((id) => !this.deadNodes.has(id));
        const target = candidates[fault.target % Math.max(1, candidates.length)];
        if (target === undefined) return;
        const untilMs = Math.min(this.nowMs + fault.durationMs, this.faultPhaseMs);
        this.partitions.push({ nodeId: target, untilMs });
        this.faultLog.push(`node ${target} partitioned at ${this.nowMs} ms until ${untilMs} ms`);
        this.note(`fault: node ${target} partitioned until ${untilMs} ms`);
        return;
      }
    }
  }

  /** A restarted GCS rebuilds its state by replaying its own log, then resumes under a new incarnation. */
  private restartGcs(): void {
    const gcs = this.instance(gcsAddress);
    const core = this.cores.gcs;
    const state = core.initial();
    for (const event of this.gcsLog) applyDirect(core, state, event);
    const replayedHash = hashState(state);
    const liveHash = hashState(gcs.state);
    if (replayedHash !== liveHash) throw new InvariantViolation(`GCS state replayed from its log (${replayedHash}) differs from the state before the restart (${liveHash})`);
    gcs.state = this.mode === 'direct' || this.mode === 'auto' ? state : structuredClone(state);
    if (this.mode === 'auto') gcs.immer = false;
    gcs.incarnation = ++this.gcsIncarnation;
    gcs.sendSeqs = {};
    gcs.timers = {};
    gcs.alive = true;
    this.gcsDownUntil = undefined;
    this.note(`GCS restarted as incarnation ${gcs.incarnation} after replaying ${this.gcsLog.length} events`);
    this.applyEvent(gcs, asEvent({ type: 'gcs/restarted', incarnation: gcs.incarnation }), 0);
  }

  private liveWorkers(filter: (state: OwnerState) => boolean): WorkerId[] {
    const ids: WorkerId[] = [];
    for (const instance of this.instances.values()) {
      if (instance.kind !== 'owner' || !instance.alive) continue;
      const state = instance.state as OwnerState;
      if (state.started && filter(state)) ids.push(state.workerId);
    }
    return ids;
  }

  /** Called by the driver's process when its script returns. */
  finishDriver(result: unknown): void {
    this.driverFinished = true;
    this.driverResult = result;
    this.note(`driver finished at ${this.nowMs} ms`);
  }

  /** Whether the GCS considers `nodeId` dead. */
  gcsConsidersDead(nodeId: NodeId): boolean {
    const gcs = this.instances.get(gcsAddress);
    if (gcs === undefined) return false;
    const node = (gcs.state as GcsState).nodes[nodeId];
    return node !== undefined && !node.alive;
  }

  /** Whether a node's processes were ended by the simulation. */
  nodeIsDead(nodeId: NodeId): boolean {
    return this.deadNodes.has(nodeId);
  }

  private explainUnfinished(): string {
    const driver = this.instances.get(this.driverAddress);
    if (driver === undefined) return 'no driver';
    if (!driver.alive) return 'the driver died';
    return driver.runtime?.describeWaiting() ?? 'unknown';
  }

  /** Resources of a node, for workloads that ask. */
  nodeResources(nodeId: NodeId): Resources {
    const raylet = this.instances.get(rayletAddress(nodeId));
    return raylet === undefined ? {} : { ...(raylet.state as RayletState).total };
  }

  /** Queues a local event for an instance (used by the runtime for body results). */
  schedule(address: Address, delayMs: number, event: OwnerEvent, parent: number): void {
    const target = this.instance(address);
    this.agenda.push(this.nowMs + delayMs, { kind: 'local', address, incarnation: target.incarnation, event, parent });
  }
}

/** Widens a typed event literal to the generic event the simulator routes. */
function asEvent(event: GcsEvent | RayletEvent | OwnerEvent): AnyEvent {
  return event;
}

/** Runs one simulation. */
export function simulate(options: SimOptions): SimResult {
  return new Simulator(options).run();
}

/**
 * Runs `options` for whether it fails: the SimFailure the run ends with (carrying its trace), or
 * undefined when it passes. Any other error is rethrown. For shrinking and re-running a failure.
 */
export function simulationFailure(options: SimOptions): SimFailure | undefined {
  try {
    simulate(options);
    return undefined;
  } catch (error) {
    if (error instanceof SimFailure) return error;
    throw error;
  }
}
