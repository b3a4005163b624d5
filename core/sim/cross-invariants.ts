/**
 * Invariants that span components: what one process believes must agree with what another holds.
 * Each allows for what a process cannot know yet (a node the GCS has declared dead may still run).
 *
 * `crossInvariants` checks every live process against every other. `CrossCheck` checks only what
 * the processes stepped since its last check could have broken, for the simulator, which checks
 * after every event: a walk of every worker's executions after every event took 12-28% of a
 * simulated script with 200 actors.
 */
import { nodeOfWorker, workerAddress, type Address, type WorkerId } from '../ids.js';
import type { BorrowedRef, Execution, OwnerState } from '../owner/index.js';
import type { SimInstance, Simulator } from './simulator.js';
import { tableChanges, tableForEachAsIs, tableGet } from '../table.js';

/** Every broken cross-component invariant of the simulated cluster. */
export function crossInvariants(sim: Simulator): string[] {
  const broken: string[] = [];
  const runningAt = new Map<string, string>();
  for (const instance of sim.instances.values()) {
    const worker = checkedWorker(sim, instance);
    if (worker === undefined) continue;
    tableForEachAsIs(worker.executions, (_key, execution) => {
      const taskId = execution.spec.taskId;
      const other = runningAt.get(taskId);
      if (other !== undefined) broken.push(`task ${taskId} runs on two live workers, ${other} and ${worker.workerId}`);
      runningAt.set(taskId, worker.workerId);
      checkExecution(sim, worker, execution, broken);
    });
    tableForEachAsIs(worker.borrowed, (_key, entry) => checkBorrow(sim, worker, entry, broken));
  }
  return broken;
}

/** The state of `instance` when its executions and borrows are checked: a started owner process, alive, on a node the GCS has not declared dead. */
function checkedWorker(sim: Simulator, instance: SimInstance): OwnerState | undefined {
  if (instance.kind !== 'owner' || !instance.alive) return undefined;
  const worker = instance.state as OwnerState;
  return !worker.started || sim.gcsConsidersDead(worker.nodeId) ? undefined : worker;
}

/** Whether a running `execution` at `worker` is RUNNING there for its owner, when the owner can know. */
function checkExecution(sim: Simulator, worker: OwnerState, execution: Execution, broken: string[]): void {
  if (execution.phase !== 'running') return;
  const taskId = execution.spec.taskId;
  const owner = sim.instances.get(workerAddress(execution.replyTo));
  if (owner === undefined || !owner.alive) return;
  const ownerState = owner.state as OwnerState;
  if (ownerState.deadNodes[worker.nodeId] === true || ownerState.deadWorkers[worker.workerId] === true) return;
  // An owner that killed the actor for good has failed its calls already; the worker is on its way out.
  // An owner with no view of the actor has forgotten it dead (a call needs a view to be made).
  const actorId = execution.spec.actor?.actorId;
  if (actorId !== undefined && (ownerState.actors[actorId]?.state ?? 'DEAD') === 'DEAD') return;
  const task = tableGet(ownerState.tasks, taskId);
  // A task cancelled while running has ended for its owner while its body finishes here.
  // Once its returns are dropped it may be forgotten: a drained lease (a task) or nothing (an actor call) is left.
  if (task?.state === 'CANCELLED') return;
  if (task === undefined && (execution.spec.actor !== undefined || Object.values(ownerState.leases).some((lease) => lease.draining === true && lease.runningTaskId === taskId))) return;
  if (task === undefined || task.state !== 'RUNNING' || task.attempt !== execution.attempt || task.workerId !== worker.workerId) {
    broken.push(`task ${taskId} attempt ${execution.attempt} runs on ${worker.workerId} but its owner has it ${task === undefined ? 'forgotten' : `${task.state} attempt ${task.attempt} on ${task.workerId ?? 'no worker'}`}`);
  }
}

/** Whether the owner of a ref `worker` registered as borrowed still has the object and lists `worker` among its borrowers. */
function checkBorrow(sim: Simulator, worker: OwnerState, entry: BorrowedRef, broken: string[]): void {
  if (entry.registration !== 'registered' || entry.status === 'failed') return;
  const owner = sim.instances.get(workerAddress(entry.owner));
  if (owner === undefined || !owner.alive || sim.gcsConsidersDead(nodeOfWorker(entry.owner))) return;
  const ownerState = owner.state as OwnerState;
  if (ownerState.deadWorkers[worker.workerId] === true || ownerState.deadNodes[worker.nodeId] === true) return;
  const object = tableGet(ownerState.objects, entry.objectId);
  if (object === undefined) broken.push(`object ${entry.objectId} was freed by ${entry.owner} while ${worker.workerId} still holds a registered ref to it`);
  else if (object.borrowers?.includes(worker.workerId) !== true) broken.push(`object ${entry.objectId} does not list ${worker.workerId} as a borrower although it registered`);
}

/** A running execution of a process, or a ref it registered as borrowed: the key of its entry, and the id it names. */
interface Named {
  readonly key: string;
  readonly id: string;
}

/** What a process ran and borrowed when `CrossCheck` last read it: keys into its tables, and the owners they name. */
interface WorkerFacts {
  /** The task id of every execution. */
  readonly taskIds: string[];
  /** Its running executions (named by task id) and registered borrows (by object id), by the owner each names. */
  readonly byOwner: Map<WorkerId, { running: Named[]; borrowed: Named[] }>;
  /** The object ids of its registered borrows. */
  readonly objectIds: string[];
}

/**
 * The cross-component invariants, checked from what changed: the simulator tells it of every owner
 * process it stepped (`touch`), and `broken` checks those processes' executions and borrows, and
 * those of every other process whose running executions or registered borrows name one of them as
 * owner. Nothing else can break an invariant that held at the last check: every check pairs one
 * process's executions or borrows with their owner's state, and the rest of what it reads only ever
 * relaxes it (a process ends, the GCS declares a node dead, an actor is dead for good, and none
 * is undone). Of an owner stepped under immer, only the tasks and objects that changed since the
 * last check are checked again at the processes that run or borrow them (`tableChanges`), unless its
 * leases changed (they excuse a forgotten task whose lease drains). What `broken` finds is reported
 * as `crossInvariants` words it, from a check of everything.
 */
export class CrossCheck {
  /** The processes stepped since the last check. */
  private readonly touched = new Set<SimInstance>();
  /** Per process, what it ran and borrowed at the last check. */
  private readonly facts = new Map<Address, WorkerFacts>();
  /** Per task id, the processes whose executions held it at the last check. */
  private readonly holders = new Map<string, Set<SimInstance>>();
  /** Per owner, the processes whose running executions or registered borrows named it at the last check. */
  private readonly dependents = new Map<WorkerId, Set<SimInstance>>();
  /** Per object id, the processes that had registered a borrow of it at the last check. */
  private readonly borrowers = new Map<string, Set<SimInstance>>();
  /** Per owner process stepped under immer, its state at the last check (frozen: immer's states are never changed). */
  private readonly seen = new Map<Address, OwnerState>();

  /** `instance`, an owner process, was stepped. */
  touch(instance: SimInstance): void {
    this.touched.add(instance);
  }

  /** The broken cross-component invariants, as `crossInvariants` words them; checks only what the steps since the last call could break. */
  broken(sim: Simulator): string[] {
    if (this.touched.size === 0) return [];
    const stepped = [...this.touched];
    this.touched.clear();
    for (const instance of stepped) this.refresh(instance);
    const broken: string[] = [];
    const rechecked = new Set<SimInstance>();
    for (const instance of stepped) {
      const worker = checkedWorker(sim, instance);
      if (worker !== undefined) {
        const taskIds = new Set<string>();
        tableForEachAsIs(worker.executions, (_key, execution) => {
          const taskId = execution.spec.taskId;
          // Two attempts of one task at one worker count too, as `crossInvariants` counts them.
          if (taskIds.has(taskId) || this.heldElsewhere(sim, taskId, instance)) broken.push(`task ${taskId} runs on two live workers`);
          taskIds.add(taskId);
          checkExecution(sim, worker, execution, broken);
        });
        tableForEachAsIs(worker.borrowed, (_key, entry) => checkBorrow(sim, worker, entry, broken));
      }
      if (instance.kind !== 'owner') continue;
      const ownerId = (instance.state as OwnerState).workerId;
      if (this.recheckedWhatChanged(sim, instance, broken)) continue;
      for (const dependent of this.dependents.get(ownerId) ?? []) {
        if (dependent === instance || rechecked.has(dependent)) continue;
        rechecked.add(dependent);
        this.recheckFor(sim, dependent, ownerId, broken, undefined);
      }
    }
    if (broken.length === 0) return broken;
    const worded = crossInvariants(sim);
    return worded.length > 0 ? worded : broken;
  }

  /**
   * For `instance`, an owner stepped under immer since a check that saw it under immer too: checks
   * again, at the processes that run or borrow them, only its tasks and objects that changed. False,
   * having checked nothing, when it cannot tell what changed: the caller checks every process that
   * depends on it.
   */
  private recheckedWhatChanged(sim: Simulator, instance: SimInstance, broken: string[]): boolean {
    const before = this.seen.get(instance.address);
    const after = instance.state as OwnerState;
    if (instance.immer === true) this.seen.set(instance.address, after);
    else this.seen.delete(instance.address);
    if (before === undefined || instance.immer !== true || !instance.alive) return false;
    if (before === after) return true;
    if (before.leases !== after.leases) return false;
    const tasks: string[] = [];
    const objects: string[] = [];
    if (!tableChanges(before.tasks, after.tasks, (taskId) => tasks.push(taskId)) || !tableChanges(before.objects, after.objects, (objectId) => objects.push(objectId))) return false;
    const ownerId = after.workerId;
    for (const taskId of tasks) for (const holder of this.holders.get(taskId) ?? []) if (holder !== instance) this.recheckFor(sim, holder, ownerId, broken, { running: taskId });
    for (const objectId of objects) for (const borrower of this.borrowers.get(objectId) ?? []) if (borrower !== instance) this.recheckFor(sim, borrower, ownerId, broken, { borrowed: objectId });
    return true;
  }

  /** Checks the running executions and registered borrows of `dependent` that name `ownerId`, or only those of one task or object. */
  private recheckFor(sim: Simulator, dependent: SimInstance, ownerId: WorkerId, broken: string[], only: { running?: string; borrowed?: string } | undefined): void {
    const worker = checkedWorker(sim, dependent);
    const named = this.facts.get(dependent.address)?.byOwner.get(ownerId);
    if (worker === undefined || named === undefined) return;
    for (const { key, id } of named.running) {
      const execution = only === undefined || only.running === id ? tableGet(worker.executions, key) : undefined;
      if (execution !== undefined) checkExecution(sim, worker, execution, broken);
    }
    for (const { key, id } of named.borrowed) {
      const entry = only === undefined || only.borrowed === id ? tableGet(worker.borrowed, key) : undefined;
      if (entry !== undefined) checkBorrow(sim, worker, entry, broken);
    }
  }

  /** Whether a live, checked process other than `instance` held `taskId` in its executions at the last check. */
  private heldElsewhere(sim: Simulator, taskId: string, instance: SimInstance): boolean {
    for (const holder of this.holders.get(taskId) ?? []) if (holder !== instance && checkedWorker(sim, holder) !== undefined) return true;
    return false;
  }

  /** Reads again what `instance` runs and borrows, and files it under its tasks and owners. */
  private refresh(instance: SimInstance): void {
    const before = this.facts.get(instance.address);
    if (before !== undefined) {
      for (const taskId of before.taskIds) forget(this.holders, taskId, instance);
      for (const ownerId of before.byOwner.keys()) forget(this.dependents, ownerId, instance);
      for (const objectId of before.objectIds) forget(this.borrowers, objectId, instance);
      this.facts.delete(instance.address);
    }
    if (instance.kind !== 'owner' || !instance.alive) return;
    const worker = instance.state as OwnerState;
    if (!worker.started) return;
    const facts: WorkerFacts = { taskIds: [], byOwner: new Map(), objectIds: [] };
    const named = (ownerId: WorkerId): { running: Named[]; borrowed: Named[] } => {
      let lists = facts.byOwner.get(ownerId);
      if (lists === undefined) facts.byOwner.set(ownerId, (lists = { running: [], borrowed: [] }));
      return lists;
    };
    tableForEachAsIs(worker.executions, (key, execution) => {
      facts.taskIds.push(execution.spec.taskId);
      if (execution.phase === 'running') named(execution.replyTo).running.push({ key, id: execution.spec.taskId });
    });
    tableForEachAsIs(worker.borrowed, (key, entry) => {
      if (entry.registration !== 'registered' || entry.status === 'failed') return;
      named(entry.owner).borrowed.push({ key, id: entry.objectId });
      facts.objectIds.push(entry.objectId);
    });
    for (const taskId of facts.taskIds) file(this.holders, taskId, instance);
    for (const ownerId of facts.byOwner.keys()) file(this.dependents, ownerId, instance);
    for (const objectId of facts.objectIds) file(this.borrowers, objectId, instance);
    this.facts.set(instance.address, facts);
  }
}

/** Adds `instance` to the set filed under `key`. */
function file<K>(index: Map<K, Set<SimInstance>>, key: K, instance: SimInstance): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(instance);
}

/** Removes `instance` from the set filed under `key`, and the set once empty. */
function forget<K>(index: Map<K, Set<SimInstance>>, key: K, instance: SimInstance): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(instance);
  if (set.size === 0) index.delete(key);
}
