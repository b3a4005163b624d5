/**
 * The driver API of API.md: init, shutdown, remote, put, get, wait, cancel, kill, getActor and the
 * cluster state calls. The same functions work inside tasks (on the worker's runtime).
 */
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { hasRuntime, runtime, setRuntime, taskContext } from './context.js';
import type { ActorListing, NodeInfo, ObjectListing, TaskListing } from './listing.js';
import { filtered, listActors, listNodes, listOwnerObjects, listOwnerTasks, withHostedWaits } from './listing.js';
import type { EmbeddedCluster } from './embedded.js';
import type { DriverLink } from '../cluster/driver-link.js';
import { gathered } from '../cluster/state-reports.js';
import { ActorClass, ObjectRef, RemoteFunction, setSubmitter } from './handles.js';
import type { ActorHandle, ActorOptions, TaskOptions } from './handles.js';
import { describeFunction } from './shipping.js';
import { checkCallOptions, isOptionsObject, shown, validateActorOptions, validateTaskOptions, wholeNumber } from './validate.js';
import { simulation } from './simulation-slot.js';
import type { ClusterView } from './simulation-slot.js';

setSubmitter({
  submitTask: (descriptor, args, options) => runtime().submitTask(descriptor, args, options),
  createActor: (descriptor, className, args, options) => runtime().createActor(descriptor, className, args, options),
  callActor: (handle, method, args, options) => runtime().callActor(handle, method, args, options),
});

/** Options of `init`, as API.md lists them. */
export interface InitOptions {
  /**
   * The head's `HOST:PORT`, or `auto` for the head this machine started (default TSRAY_ADDRESS; none
   * starts an embedded cluster). The driver attaches to a node of this machine: the head when it
   * runs here, else the one node of that cluster started here, or the node TSRAY_NODE_ID names
   * (attachNodeFor in node/cluster/local-nodes.ts); `ClusterInfo.nodeId` says which.
   */
  address?: string;
  numCpus?: number;
  resources?: Record<string, number>;
  objectStoreMemory?: number;
  namespace?: string;
  sessionDir?: string;
}

/** What `init` returns. */
export interface ClusterInfo {
  address: string | null;
  nodeId: string;
  jobId: string;
  sessionDir: string;
}

let cluster: EmbeddedCluster | undefined;
/** The connection of this driver to a running cluster, when `init` was given an address. */
let link: DriverLink | undefined;
let exitHooked = false;

/** A script that forgets shutdown() still leaves no worker thread or connection behind. */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('beforeExit', () => void shutdown());
}

/** Connects this process as a driver of the cluster at `address` (`HOST:PORT`, or `auto`), attached to a node of this machine (TSRAY_NODE_ID). */
async function connectDriver(address: string, options: InitOptions): Promise<ClusterInfo> {
  for (const name of ['numCpus', 'resources', 'objectStoreMemory'] as const) {
    if (options[name] !== undefined) throw new TypeError(`init option '${name}' sizes the embedded cluster; a driver connecting to ${address} takes the resources its nodes were started with (tsray start --num-cpus ...)`);
  }
  // Loaded here, not at import: worker threads import this module too and never connect.
  const { DriverLink } = await import('../cluster/driver-link.js');
  const connected = await DriverLink.connect({
    address,
    namespace: options.namespace ?? 'default',
    ...(options.sessionDir === undefined ? {} : { sessionDir: options.sessionDir }),
    // A driver without its cluster is over: later calls say tsray is not initialized, and init() may connect again.
    onLost: () => {
      if (link !== connected) return;
      link = undefined;
      setRuntime(undefined);
    },
  });
  link = connected;
  setRuntime(connected.driver);
  hookExit();
  return { address: connected.address, nodeId: connected.nodeId, jobId: connected.driver.state.jobId ?? '', sessionDir: connected.sessionDir };
}

function checkInit(options: InitOptions): void {
  if (!isOptionsObject(options)) throw new TypeError(`init takes an options object such as init({ numCpus: 4 }), not ${shown(options)}`);
  const allowed = new Set(['address', 'numCpus', 'resources', 'objectStoreMemory', 'namespace', 'sessionDir']);
  for (const name of Object.keys(options)) if (!allowed.has(name)) throw new TypeError(`unknown init option '${name}'; allowed: ${[...allowed].join(', ')}`);
  wholeNumber('numCpus', options.numCpus, 1, 1);
  if (options.objectStoreMemory !== undefined) {
    const wanted = `objectStoreMemory must be a whole number of bytes ≥ 1 MiB (1048576), not ${shown(options.objectStoreMemory)}`;
    if (typeof options.objectStoreMemory !== 'number') throw new TypeError(wanted);
    if (!Number.isInteger(options.objectStoreMemory) || options.objectStoreMemory < 1024 * 1024) throw new RangeError(wanted);
  }
  if (options.namespace !== undefined && (typeof options.namespace !== 'string' || options.namespace === '')) throw new TypeError(`namespace must be a non-empty string, not ${shown(options.namespace)}`);
  if (options.address !== undefined && typeof options.address !== 'string') throw new TypeError(`address must be a string such as '127.0.0.1:6379', not ${shown(options.address)}`);
  if (options.sessionDir !== undefined && (typeof options.sessionDir !== 'string' || options.sessionDir === '')) throw new TypeError(`sessionDir must be a folder path, not ${shown(options.sessionDir)}`);
  if (options.resources !== undefined) validateTaskOptions({ resources: options.resources });
}

/** Starts the embedded local cluster (or connects to one) and makes this process its driver. */
export async function init(options: InitOptions = {}): Promise<ClusterInfo> {
  if (hasRuntime()) {
    // In a tsray worker the runtime is the worker's own: an init there comes from a module the worker
    // imported to find a remote function defined in it, which ran the module's top-level code.
    if (!isMainThread && cluster === undefined) {
      throw new TypeError(
        'tsray.init() ran inside a tsray worker: a worker imports the module that defines a remote function or class (only the entry script\'s ship by source), which ran its top-level init(); call init() in the entry script only, or guard it with `if (!tsray.isInitialized())`',
      );
    }
    throw new TypeError('tsray is already initialized: call `await tsray.shutdown()` before initializing again');
  }
  checkInit(options);
  // Under `tsray sim`, the script attaches to the simulated cluster of the run.
  const simulated = simulation();
  if (simulated !== undefined) return simulated.attach(options);
  const address = options.address ?? process.env.TSRAY_ADDRESS;
  if (address !== undefined && address !== '') return connectDriver(address, options);
  // Loaded here, not at import: worker threads import this module too and never start a cluster.
  const { EmbeddedCluster } = await import('./embedded.js');
  const started = await EmbeddedCluster.start({
    namespace: options.namespace ?? 'default',
    ...(options.numCpus === undefined ? {} : { numCpus: options.numCpus }),
    ...(options.resources === undefined ? {} : { resources: options.resources }),
    ...(options.objectStoreMemory === undefined ? {} : { objectStoreMemory: options.objectStoreMemory }),
    ...(options.sessionDir === undefined ? {} : { sessionDir: options.sessionDir }),
  });
  cluster = started;
  setRuntime(started.driver);
  hookExit();
  return { address: null, nodeId: started.nodeId, jobId: started.driver.state.jobId ?? '', sessionDir: started.sessionDir };
}

/** Stops the embedded cluster: no thread, timer or open file is left behind. */
export async function shutdown(): Promise<void> {
  const simulated = simulation();
  if (simulated !== undefined) return simulated.detach();
  const running = cluster;
  const connected = link;
  cluster = undefined;
  link = undefined;
  setRuntime(undefined);
  if (running !== undefined) await running.stop();
  if (connected !== undefined) await connected.stop();
}

/** Whether `init` has run (and `shutdown` has not). */
export function isInitialized(): boolean {
  return hasRuntime();
}

function isClass(value: unknown): boolean {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/** Makes a function remote (a RemoteFunction) or a class an actor class (an ActorClass). */
export function remote<A extends unknown[], R>(fn: (...args: A) => R, options?: TaskOptions): RemoteFunction<A, Awaited<R>>;
export function remote<T>(cls: new (...args: never[]) => T, options?: ActorOptions): ActorClass<T>;
export function remote(target: unknown, options: TaskOptions | ActorOptions = {}): unknown {
  if (typeof target !== 'function') throw new TypeError(`tsray.remote takes a function or a class, not ${target === null ? 'null' : typeof target}`);
  const descriptor = describeFunction(target as (...args: never[]) => unknown);
  if (isClass(target)) {
    validateActorOptions(options);
    return new ActorClass(descriptor, (target as { name: string }).name || 'Actor', options);
  }
  validateTaskOptions(options);
  return new RemoteFunction(descriptor, options);
}

/** Stores `value` in the cluster; the value is captured now. */
export function put<T>(value: T): ObjectRef<T> {
  return runtime().put(value) as ObjectRef<T>;
}

function checkTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) throw new RangeError(`timeout must be a number of milliseconds ≥ 0, not ${shown(timeout)}`);
  return timeout;
}

function checkRefs(refs: unknown[], call: string): ObjectRef[] {
  refs.forEach((ref, index) => checkRef(ref, call, index));
  return refs as ObjectRef[];
}

/** `ref`, checked to be an ObjectRef (item `index` of what `call` was given). */
function checkRef(ref: unknown, call: string, index = 0): ObjectRef {
  if (!(ref instanceof ObjectRef)) throw new TypeError(`${call} takes ObjectRefs; item ${index} is ${ref === null ? 'null' : typeof ref}`);
  return ref;
}

/** The options `get` takes. */
const getOptionNames: readonly string[] = ['timeout', 'copy'];

/** What `get` takes besides the refs. */
export interface GetOptions {
  /** Milliseconds to wait before GetTimeoutError; default: forever. */
  timeout?: number;
  /**
   * Default false: large binary data is a view of the node's shared store, shared with every other
   * reader and read-only by contract (a write through it is reported). True: private, writable copies.
   */
  copy?: boolean;
}

function checkCopy(copy: unknown): boolean {
  if (copy === undefined) return false;
  if (typeof copy !== 'boolean') throw new TypeError(`copy must be true or false, not ${JSON.stringify(copy)}`);
  return copy;
}

/** The value of a ref (or the values of refs, in order); rethrows the error class the object failed with. */
export function get<T>(ref: ObjectRef<T>, options?: GetOptions): Promise<T>;
export function get<T extends unknown[]>(refs: ObjectRef[], options?: GetOptions): Promise<T>;
export function get(refs: ObjectRef | ObjectRef[], options?: GetOptions): Promise<unknown> {
  // Not an async function: a pending get of one ref then holds no suspended frame (a million queued
  // gets would each keep one). Bad input still rejects instead of throwing.
  try {
    // Without options nothing is checked or defaulted: an empty default object was an allocation of
    // every get (P3's driver makes one per call).
    let timeoutMs: number | undefined;
    let copy = false;
    if (options !== undefined) {
      checkCallOptions('get', options, getOptionNames);
      timeoutMs = checkTimeout(options.timeout);
      copy = checkCopy(options.copy);
    }
    // One ref resolves with its value straight away: a second promise per get would cost a pending
    // get about 100 bytes more. It is checked as itself, not as a list of one.
    if (!Array.isArray(refs)) return runtime().get(checkRef(refs, 'get'), timeoutMs, copy);
    return runtime().get(checkRefs(refs, 'get'), timeoutMs, copy);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
  }
}

/** Waits until `numReturns` refs are ready (or the timeout); input order is kept in both lists. */
export async function wait(refs: ObjectRef[], options: { numReturns?: number; timeout?: number; fetchLocal?: boolean } = {}): Promise<[ObjectRef[], ObjectRef[]]> {
  checkCallOptions('wait', options, ['numReturns', 'timeout', 'fetchLocal']);
  const list = checkRefs(refs, 'wait');
  // As Ray: a ref listed twice would be ready twice, or ready and not ready at once.
  const seen = new Map<string, number>();
  list.forEach((ref, index) => {
    const first = seen.get(ref.id);
    if (first !== undefined) throw new TypeError(`wait takes each ref once; ${ref.id} is items ${first} and ${index}: pass each ref once`);
    seen.set(ref.id, index);
  });
  const numReturns = options.numReturns ?? 1;
  if (!Number.isInteger(numReturns) || numReturns < 1) throw new RangeError(`numReturns must be a whole number ≥ 1, not ${shown(options.numReturns)}`);
  const timeoutMs = checkTimeout(options.timeout);
  // As Ray: waiting on no refs is done at once, with nothing ready and nothing left.
  if (list.length === 0) return [[], []];
  if (numReturns > list.length) throw new RangeError(`numReturns must be a whole number from 1 to ${list.length} (the number of refs), not ${shown(options.numReturns)}`);
  return runtime().wait(list, numReturns, timeoutMs);
}

/** Cancels the task that makes `ref`. */
export function cancel(ref: ObjectRef, options: { force?: boolean; recursive?: boolean } = {}): void {
  checkCallOptions('cancel', options, ['force', 'recursive']);
  checkRefs([ref], 'cancel');
  runtime().cancel(ref, options.force ?? false, options.recursive ?? true);
}

/** Kills an actor (for good, unless noRestart is false). */
export function kill(actor: { readonly actorId: string }, options: { noRestart?: boolean } = {}): void {
  checkCallOptions('kill', options, ['noRestart']);
  const actorId = (actor as { actorId?: unknown } | null)?.actorId;
  if (typeof actorId !== 'string') throw new TypeError('kill takes an actor handle');
  runtime().kill(actorId, options.noRestart ?? true);
}

/** The handle of a live named actor; rejects with an Error when there is none. */
export async function getActor(name: string, options: { namespace?: string } = {}): Promise<ActorHandle> {
  checkCallOptions('getActor', options, ['namespace']);
  if (typeof name !== 'string' || name === '') throw new TypeError('getActor takes an actor name');
  const handle = await runtime().getActor(name, options.namespace);
  if (handle === undefined) throw new Error(`no live actor named '${name}' in namespace '${options.namespace ?? runtime().state.namespace}'`);
  return handle as ActorHandle;
}

/** Where this code runs: job, node, worker, the task and actor it belongs to, and (in a task) the signal a cancel aborts. */
export function getRuntimeContext(): { jobId: string; nodeId: string; workerId: string; taskId?: string; actorId?: string; signal?: AbortSignal } {
  const state = runtime().state;
  const task = taskContext.getStore();
  const context = {
    jobId: state.jobId ?? '',
    nodeId: state.nodeId,
    workerId: state.workerId,
    ...(task === undefined || task.taskId.endsWith('.constructor') ? {} : { taskId: task.taskId }),
    ...(task?.actorId === undefined ? {} : { actorId: task.actorId }),
  };
  // Not enumerable, so that the context stays plain data a task can return or log as it is.
  if (task?.signal !== undefined) Object.defineProperty(context, 'signal', { value: task.signal, enumerable: false });
  return context;
}

function driverCluster(call: string): ClusterView {
  runtime();
  const simulated = simulation()?.view();
  if (simulated !== undefined) return simulated;
  const running = cluster;
  if (link !== undefined) throw new TypeError(`${call} is not answered by a driver connected to a cluster; use \`tsray status\` or \`tsray list\``);
  if (running === undefined) throw new TypeError(`${call} is answered by the driver; call it there and pass the result to tasks`);
  return { gcsState: running.gcs.state, rayletStates: [running.raylet.state], driverState: running.driver.state, queryWorkers: () => running.queryWorkers() };
}

/** The nodes of the cluster. */
export async function nodes(): Promise<NodeInfo[]> {
  const connected = link;
  if (connected !== undefined && simulation() === undefined) {
    runtime();
    // Nodes are reached through the head in this version, so the head's address is each node's address.
    return (await connected.queryNodes()).map((node) => ({ nodeId: node.nodeId, address: connected.address, alive: node.alive, resources: { ...node.total }, available: { ...node.available } }));
  }
  const running = driverCluster('nodes()');
  return Promise.resolve(listNodes(running.gcsState, running.rayletStates));
}

function sumResources(infos: NodeInfo[], pick: (info: NodeInfo) => Record<string, number>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const info of infos) if (info.alive) for (const [name, amount] of Object.entries(pick(info))) total[name] = (total[name] ?? 0) + amount;
  return total;
}

/** Total resources of the alive nodes. */
export async function clusterResources(): Promise<Record<string, number>> {
  return sumResources(await nodes(), (info) => info.resources);
}

/** Resources free now on the alive nodes. */
export async function availableResources(): Promise<Record<string, number>> {
  return freeResources(await nodes());
}

/**
 * What `infos` have free now. A node's CPU goes below zero while tasks that waited in `get` run on
 * beside the leases their CPUs went to (as Ray's does); such a node has none free, and takes none
 * from the others' count.
 */
export function freeResources(infos: NodeInfo[]): Record<string, number> {
  return sumResources(infos, (info) => Object.fromEntries(Object.entries(info.available).map(([name, amount]) => [name, Math.max(0, amount)])));
}

/**
 * A driver connected to a cluster asks the head, which gathers from every live node's owners (up to
 * 10,000 of each kind, as `tsray list --limit` at most); a node that did not answer in time is
 * named on stderr, as `tsray list` does, rather than failing the call.
 */
async function clusterListings(connected: DriverLink): Promise<{ tasks: TaskListing[]; objects: ObjectListing[]; actors: ActorListing[] }> {
  runtime();
  const report = await connected.queryState();
  for (const { nodeId, reason } of report.unanswered) process.stderr.write(`tsray: node ${nodeId} did not answer a state listing (${reason}); its tasks and objects are left out\n`);
  // As `tsray list` gathers them: the running tasks' waits followed through what the workers host.
  const { tasks, objects } = gathered(report.nodes);
  return {
    tasks: tasks.map((task) => ({ ...task })),
    objects: objects.map((object) => ({ ...object, refTypes: [...object.refTypes], nodeIds: [...object.nodeIds] })),
    actors: report.actors.map((actor) => ({ ...actor })),
  };
}

async function ownerListings(): Promise<{ tasks: TaskListing[]; objects: ObjectListing[] }> {
  const connected = link;
  if (connected !== undefined && simulation() === undefined) return clusterListings(connected);
  const running = driverCluster('state listing');
  // The driver's own entries as they are when asked: a worker busy in synchronous code answers late
  // (up to a second), and what was pending at the call may have ended by then.
  const driverTasks = listOwnerTasks(running.driverState);
  const driverObjects = listOwnerObjects(running.driverState);
  const workers = await running.queryWorkers();
  return {
    tasks: withHostedWaits([...driverTasks, ...workers.flatMap((listing) => listing.tasks)], workers.map((listing) => listing.hosted)),
    objects: [...driverObjects, ...workers.flatMap((listing) => listing.objects)],
  };
}

/** The state API: tasks, actors, objects and nodes of the cluster, optionally filtered by field values. */
export const state = {
  /** Tasks of every owner; pending ones say what they wait for. */
  async listTasks(filter?: Partial<TaskListing>): Promise<TaskListing[]> {
    return filtered((await ownerListings()).tasks, filter);
  },
  /** Actors the GCS knows. */
  async listActors(filter?: Partial<ActorListing>): Promise<ActorListing[]> {
    const connected = link;
    if (connected !== undefined && simulation() === undefined) return filtered((await clusterListings(connected)).actors, filter);
    return Promise.resolve(filtered(listActors(driverCluster('state.listActors').gcsState), filter));
  },
  /** Objects of every owner, with what holds them. */
  async listObjects(filter?: Partial<ObjectListing>): Promise<ObjectListing[]> {
    return filtered((await ownerListings()).objects, filter);
  },
  /** As `nodes()`. */
  async listNodes(): Promise<NodeInfo[]> {
    return nodes();
  },
};

export { ObjectRef, RemoteFunction, ActorClass };
export type { ActorHandle, TaskOptions, ActorOptions, ActorListing, NodeInfo, ObjectListing, TaskListing };
void fileURLToPath;
