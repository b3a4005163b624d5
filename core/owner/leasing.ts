/**
 * Lease-based scheduling from the owner's side, as Ray does it: tasks ready to run are grouped by
 * scheduling class (resource shape and placement); the owner asks a raylet for worker leases for a
 * class (at most `maxLeaseRequestsPerClass` outstanding), follows spillbacks, pushes one task at a
 * time to each granted worker, reuses a lease while its class has work, and returns it when idle.
 * When a class queues more tasks than it has leases, up to `maxTasksInFlightPerLease` tasks are
 * pipelined to each granted worker, which runs them one after another.
 */
import { send } from '../effects.js';
import { nodeOfWorker, rayletAddress, taskNumber, workerAddress } from '../ids.js';
import type { LeaseId, NodeId, TaskId, WorkerId } from '../ids.js';
import type { ResolvedArg, SchedulingStrategy, TaskArg, WorkerExitReason } from '../protocol.js';
import { emptyFifo, fifoPeek, fifoPushFront, fifoPushOne, fifoRemove, fifoSize, fifoTake, fifoTakeAll } from '../fifo.js';
import { shapeKey } from '../resources.js';
import type { Ctx } from './context.js';
import { emit, errorOf, removeOne } from './context.js';
import { cancelOwnedTaskAfterLoss, failTask, rerunTask, retriesLeft } from './lineage.js';
import type { OwnedLease, OwnedTask, OwnerConfig, OwnerState, SchedulingClass, TaskFunction } from './state.js';
import { argsOf, taskSpecOf } from './state.js';
import { mayBeDraft, readField } from '../own-copies.js';
import { tableGet } from '../table.js';
import { packedMap } from '../packed-map.js';

function strategyKey(strategy: SchedulingStrategy): string {
  if (typeof strategy === 'string') return strategy;
  return `node:${strategy.nodeId}:${strategy.soft ? 'soft' : 'hard'}`;
}

/** The args as pushed to a worker: values inline, refs with what is known of their value. */
export function resolvedArgs(task: OwnedTask): ResolvedArg[] {
  return packedMap(argsOf(task.spec), (arg): ResolvedArg => {
    if (arg.kind === 'value') return { kind: 'value', payload: arg.payload };
    const payload = task.resolved?.[arg.ref.objectId];
    if (payload === undefined) throw new Error(`task ${task.spec.taskId} pushed before argument ${arg.ref.objectId} resolved`);
    return { kind: 'ref', ref: { ...arg.ref }, payload };
  });
}

/**
 * The args of a push to a worker (`task/pushed`, `actor-task/pushed`), as `resolvedArgs` gives them,
 * except that a task whose args are all values (the usual case) pushes the list its spec holds: a
 * value argument is already what the worker gets, and the push carries that list in its spec too.
 * The worker copies the list it keeps, and nothing changes a spec's args once made. `args` is the
 * list the push's spec carries (`taskSpecOf(task.spec).args`): a spec of one argument keeps it as
 * itself, and `argsOf` makes a new list of one at each call, so a push that asked it again carried
 * two lists, and an actor call, which packs as its data alone only when they are one list
 * (packed-batch.ts), crossed threads as the whole of both.
 */
export function pushedArgs(task: OwnedTask, args: readonly TaskArg[] = argsOf(task.spec)): readonly ResolvedArg[] {
  for (const arg of args) if (arg.kind !== 'value') return resolvedArgs(task);
  return args as readonly ResolvedArg[];
}

/** Queues a task whose arguments are ready and looks for a worker for it. */
export function enqueueForLease(ctx: Ctx, task: OwnedTask): void {
  const cls = classFor(ctx, task);
  fifoPushOne(cls.queue, task.spec.taskId);
  pump(ctx, cls);
}

/** The most queued tasks a handed-back task is compared with to find its place (see `requeueForLease`). */
const maxRequeueScan = 64;

/**
 * Queues a task handed back unrun at the front of its class (it was next before), behind the tasks
 * at the front that were submitted before it. A worker hands back the tasks pipelined behind a task
 * that blocked one reply each, in the order they were pushed: put each at the very front, they waited
 * in reverse order, and were pushed and handed back again reversed each time (seen in the pipelining
 * test's log). Behind the earlier ones, they keep the order of submission. At most `maxRequeueScan`
 * tasks are looked at: a live owner pipelines at most 64 tasks to a worker (node/runtime/pipeline-depth.ts).
 */
export function requeueForLease(ctx: Ctx, task: OwnedTask): void {
  const cls = classFor(ctx, task);
  const number = taskNumber(task.spec.taskId);
  const ahead: TaskId[] = [];
  if (number !== undefined) {
    for (let front = fifoPeek(cls.queue); front !== undefined && ahead.length < maxRequeueScan; front = fifoPeek(cls.queue)) {
      const frontNumber = taskNumber(front);
      if (frontNumber === undefined || frontNumber > number) break;
      ahead.push(fifoTake(cls.queue) as TaskId);
    }
  }
  ahead.push(task.spec.taskId);
  fifoPushFront(cls.queue, ahead);
  pump(ctx, cls);
}

/**
 * The scheduling class key of each shared spec part (`TaskFunction`) seen, a pure function of its
 * resources and strategy, which are never changed once made. Only a cache: every task queued for a
 * lease asked for its class's key, and a key built anew is a new string that V8 hashes and looks up
 * in its string table before it can find the class; the string kept here was found before. Weak, so
 * that parts no state holds any more go.
 */
const classKeys = new WeakMap<TaskFunction, string>();

/** The scheduling class key of the tasks of `fn`: their resource shape and strategy. */
function classKeyOf(fn: TaskFunction): string {
  let key = classKeys.get(fn);
  if (key === undefined) classKeys.set(fn, (key = `${shapeKey(fn.resources)}|${strategyKey(fn.strategy)}`));
  return key;
}

function classFor(ctx: Ctx, task: OwnedTask): SchedulingClass {
  const key = classKeyOf(task.spec.fn);
  let cls = ctx.s.classes[key];
  if (cls === undefined) {
    cls = { key, resources: { ...task.spec.fn.resources }, strategy: structuredCloneStrategy(task.spec.fn.strategy), queue: emptyFifo(), leases: [], granted: [], retryArmed: false };
    ctx.s.classes[key] = cls;
  }
  return cls;
}

function structuredCloneStrategy(strategy: SchedulingStrategy): SchedulingStrategy {
  return typeof strategy === 'string' ? strategy : { nodeId: strategy.nodeId, soft: strategy.soft };
}

/** Removes a queued task from its class (it was cancelled or failed while waiting). */
export function removeFromClassQueue(ctx: Ctx, task: OwnedTask): void {
  for (const cls of Object.values(ctx.s.classes)) fifoRemove(cls.queue, task.spec.taskId);
}

/** Matches queued tasks with idle leases, returns leases nobody needs, and asks for more. */
export function pump(ctx: Ctx, cls: SchedulingClass): void {
  // Only the granted leases are walked (this runs at every submission and every reply): the requests
  // still out at a raylet, most of a class's leases while its queue is long, are what is left of
  // `leases`, a count that `returnLease` below does not change (it takes out granted leases only).
  // Walked in place rather than over a copy: the only change to the list in the loop is
  // `returnLease` taking out the lease at `index`, after which the next lease has moved into its place.
  // The list and the leases are looked at without drafting them (readField): under immer a draft
  // costs a proxy, and a read of a field it lacks walks the prototype chain. The lease this loop
  // changes is drafted; the record as it was when the loop began is enough, since the loop changes
  // only the lease it is on. Outside a step under immer (the live shells) they are read directly: a
  // read through readField is a keyed load that every caller of readField shares, which V8 handles
  // as megamorphic.
  const drafts = mayBeDraft();
  let leases = (drafts ? readField(cls, 'granted') : cls.granted) as LeaseId[];
  const leaseRecord = (drafts ? readField(ctx.s, 'leases') : ctx.s.leases) as OwnerState['leases'];
  const requested = ((drafts ? readField(cls, 'leases') : cls.leases) as LeaseId[]).length - leases.length;
  for (let index = 0; index < leases.length; index++) {
    const leaseId = leases[index] as LeaseId;
    const seen = (drafts ? readField(leaseRecord, leaseId) : leaseRecord[leaseId]) as OwnedLease | undefined;
    const lostAndIdle = seen?.lost !== undefined && seen.runningTaskId === undefined;
    if (!lostAndIdle && (seen === undefined || seen.runningTaskId !== undefined || seen.lost !== undefined)) continue;
    const lease = ctx.s.leases[leaseId] as OwnedLease;
    if (lostAndIdle && lease.lost !== undefined) {
      // Every task on the lost lease replied after all: nothing ran when its worker died.
      settleLostLease(ctx, lease, lease.lost);
      return;
    }
    const taskId = lease.doomed === true ? undefined : fifoTake(cls.queue);
    if (taskId === undefined) {
      if (lease.doomed !== true && lease.returnAsked !== true && ctx.s.config.leaseIdleMs > 0) {
        if (lease.idleSince !== true) {
          lease.idleSince = true;
          emit(ctx, { type: 'timer/armed', timerId: `lease-idle:${lease.leaseId}`, delayMs: ctx.s.config.leaseIdleMs });
        }
        continue;
      }
      returnLease(ctx, cls, lease);
      // The list as returnLease left it (under immer, now a draft of it).
      leases = (drafts ? readField(cls, 'granted') : cls.granted) as LeaseId[];
      if (leases[index] !== leaseId) index--;
      continue;
    }
    // Cleared only when set: assigning undefined added the field to every lease, giving leases one
    // more hidden class for this loop to tell apart.
    if (lease.idleSince !== undefined) lease.idleSince = undefined;
    const task = tableGet(ctx.s.tasks, taskId);
    if (task !== undefined) pushTask(ctx, task, lease);
  }
  pipeline(ctx, cls);
  const wanted = Math.min(fifoSize(cls.queue), (drafts ? (readField(ctx.s, 'config') as OwnerConfig) : ctx.s.config).maxLeaseRequestsPerClass) - requested;
  for (let index = 0; index < wanted && !cls.retryArmed; index++) {
    if (!requestLease(ctx, cls)) return;
  }
  if (fifoSize(cls.queue) === 0 && cls.leases.length === 0) delete ctx.s.classes[cls.key];
}

/** An idle lease's keep-alive ran out: if it is still idle, it goes back to its raylet. */
export function onLeaseIdleTimer(ctx: Ctx, leaseId: LeaseId): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined || lease.idleSince !== true || lease.runningTaskId !== undefined) return;
  returnIdleLease(ctx, lease);
}

/**
 * `lease/return-requested`: leases queued at its raylet wait for what this lease holds. Returned now
 * if it is idle, else as soon as it is, instead of being kept for the next task.
 */
export function onLeaseReturnRequested(ctx: Ctx, leaseId: LeaseId): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined || lease.state !== 'granted') return;
  if (lease.idleSince === true && lease.runningTaskId === undefined) returnIdleLease(ctx, lease);
  else lease.returnAsked = true;
}

/** Returns a lease kept idle for its next task, and forgets its class if nothing else is left in it. */
function returnIdleLease(ctx: Ctx, lease: OwnedLease): void {
  const cls = ctx.s.classes[lease.classKey];
  if (cls === undefined) return;
  returnLease(ctx, cls, lease);
  if (fifoSize(cls.queue) === 0 && cls.leases.length === 0) delete ctx.s.classes[cls.key];
}

/**
 * Where a lease request for `cls` goes: the local raylet, whatever the strategy, as in Ray. That
 * raylet knows the cluster and spills a node-affinity lease to its target, falls back (soft) or turns
 * it down (hard) when the target is not in the cluster; the owner only knows the nodes it heard die,
 * and a request sent straight to a node that never existed would go unanswered. Undefined when a
 * hard-affinity target is known here to be dead (fail at once, without asking).
 */
function targetNode(ctx: Ctx, cls: SchedulingClass): NodeId | undefined {
  const strategy = cls.strategy;
  if (typeof strategy !== 'string' && !strategy.soft && ctx.s.deadNodes[strategy.nodeId] === true) return undefined;
  return ctx.s.nodeId;
}

function requestLease(ctx: Ctx, cls: SchedulingClass): boolean {
  const nodeId = targetNode(ctx, cls);
  if (nodeId === undefined) {
    const target = typeof cls.strategy === 'string' ? '' : cls.strategy.nodeId;
    failClass(ctx, cls, `node ${target} named by a hard node-affinity strategy is dead; use soft: true to allow another node`);
    return false;
  }
  const leaseId = `${ctx.s.workerId}.l${++ctx.s.counters.lease}`;
  // Made with the slots a grant and a push fill (workerId, runningTaskId, pipelined) as undefined,
  // which hashes as absent: leases that gained them one by one took several hidden classes, which
  // made the reads of every lease in \`pump\` (at every submission and reply) polymorphic.
  const lease: OwnedLease = { leaseId, classKey: cls.key, nodeId, state: 'requested', workerId: undefined, runningTaskId: undefined, pipelined: undefined, spillbackCount: 0 };
  ctx.s.leases[leaseId] = lease;
  cls.leases.push(leaseId);
  sendLeaseRequest(ctx, cls, lease);
  return true;
}

function sendLeaseRequest(ctx: Ctx, cls: SchedulingClass, lease: OwnedLease): void {
  emit(ctx,
    send(rayletAddress(lease.nodeId), {
      type: 'lease/requested',
      leaseId: lease.leaseId,
      requester: workerAddress(ctx.s.workerId),
      resources: { ...cls.resources },
      placementResources: {},
      strategy: structuredCloneStrategy(cls.strategy),
      spillbackCount: lease.spillbackCount,
    }),
  );
}

/** Fails every queued task of a class that can never be placed. */
function failClass(ctx: Ctx, cls: SchedulingClass, message: string): void {
  const queued = fifoTakeAll(cls.queue);
  for (const taskId of queued) {
    const task = tableGet(ctx.s.tasks, taskId);
    if (task !== undefined) failTask(ctx, task, errorOf('TaskUnschedulableError', `task ${task.spec.fn.name} cannot be scheduled: ${message}`, { taskName: task.spec.fn.name }));
  }
}

/**
 * While the class queues more tasks than it has leases (granted or asked for), fills the busy leases
 * round by round, one task each per round, up to `maxTasksInFlightPerLease` each: the queue is
 * shared out evenly, and a short queue waits for the leases already asked for instead. A pipeline is
 * topped up once it has run down to half its depth (`refillInFlight`), not at every reply.
 */
function pipeline(ctx: Ctx, cls: SchedulingClass): void {
  // Read without drafting the config (a draft's read of the absent field walks the prototype chain).
  const depth = (mayBeDraft() ? (readField(ctx.s, 'config') as OwnerConfig) : ctx.s.config).maxTasksInFlightPerLease ?? 1;
  if (depth <= 1 || fifoSize(cls.queue) <= cls.leases.length) return;
  // The granted leases are walked again each round rather than collected into a list of the open
  // ones first: that list was an array grown from empty (17 slots) at every submission and every
  // reply of a long queue, and a push changes neither which leases are granted nor which are open.
  // Under immer, the granted list and the leases are read without drafting them (as `pump` does),
  // and a lease is drafted only when a task is pushed to it: a read of every lease through its
  // draft, round after round, took about a quarter of the replay of a live driver's trace under
  // immer (120,843 events, 30,000 tasks pipelined). The record is read again each round, so that a
  // lease pushed to in an earlier round reads as its draft, as it is now.
  const drafts = mayBeDraft();
  const granted = (drafts ? readField(cls, 'granted') : cls.granted) as LeaseId[];
  // Round r pushes only to the open leases with at most r tasks in flight, so the rounds below the
  // least-filled open lease push nothing: they start there. With a long queue every lease is full
  // but one, and each submission and each reply walked every lease in each of the 63 rounds of a
  // pipeline 64 deep to push one task (2.2 µs of the driver's thread per tiny task in P1 of bench/).
  const fewest = fewestInFlight(ctx, granted, depth, drafts);
  if (fewest > refillInFlight(depth)) return;
  for (let inFlight = fewest; inFlight < depth; inFlight++) {
    let anyOpen = false;
    const leases = (drafts ? readField(ctx.s, 'leases') : ctx.s.leases) as OwnerState['leases'];
    for (const id of granted) {
      const lease = (drafts ? readField(leases, id) : leases[id]) as OwnedLease | undefined;
      if (!openForPipelining(lease)) continue;
      anyOpen = true;
      if (fifoSize(cls.queue) <= cls.leases.length) return;
      if (tasksInFlight(lease) > inFlight) continue;
      const taskId = fifoTake(cls.queue);
      const task = taskId === undefined ? undefined : tableGet(ctx.s.tasks, taskId);
      if (task !== undefined) pushTask(ctx, task, drafts ? (ctx.s.leases[id] as OwnedLease) : lease);
    }
    if (!anyOpen) return;
  }
}

/**
 * The tasks in flight on a lease at or below which pipelining tops the leases up: half the depth. A
 * push at every reply sent the tasks of a long queue out a few at a time, and each batch posted to a
 * worker thread that had gone to sleep woke it (36-46 µs of the driver's thread per post here);
 * topped up from half, a worker gets its tasks in fewer, fuller posts (P1 of bench/: 0.086-0.090
 * posts per tiny task before, 0.064 after, the router's batches of 16 being the bound), and still has
 * half a pipeline to run while the next ones come.
 */
function refillInFlight(depth: number): number {
  return Math.max(1, Math.floor(depth / 2));
}

/** Whether more tasks may be pushed behind the one `lease` runs: it runs one, and is not being given up. */
function openForPipelining(lease: OwnedLease | undefined): lease is OwnedLease {
  return lease !== undefined && lease.runningTaskId !== undefined && lease.draining !== true && lease.doomed !== true && lease.handedBack !== true && lease.lost === undefined;
}

/** The tasks `lease` holds: the one it runs and those pipelined behind it. */
function tasksInFlight(lease: OwnedLease): number {
  return 1 + (lease.pipelined?.length ?? 0);
}

/**
 * The fewest tasks in flight (the running one and those pipelined behind it) on any of `granted`
 * that is open for pipelining, or `depth` when none is. Read as `pipeline` reads the leases: without
 * drafting them.
 */
function fewestInFlight(ctx: Ctx, granted: readonly LeaseId[], depth: number, drafts: boolean): number {
  const leases = (drafts ? readField(ctx.s, 'leases') : ctx.s.leases) as OwnerState['leases'];
  let fewest = depth;
  for (const id of granted) {
    const lease = (drafts ? readField(leases, id) : leases[id]) as OwnedLease | undefined;
    if (openForPipelining(lease)) fewest = Math.min(fewest, tasksInFlight(lease));
  }
  return fewest;
}

function pushTask(ctx: Ctx, task: OwnedTask, lease: OwnedLease): void {
  task.state = 'RUNNING';
  task.leaseId = lease.leaseId;
  task.workerId = lease.workerId;
  task.nodeId = lease.nodeId;
  const afterId = lease.pipelined?.[lease.pipelined.length - 1] ?? lease.runningTaskId;
  const afterTask = afterId === undefined ? undefined : tableGet(ctx.s.tasks, afterId);
  const after = afterId === undefined ? undefined : { taskId: afterId, attempt: afterTask?.attempt ?? 0 };
  if (lease.runningTaskId === undefined) lease.runningTaskId = task.spec.taskId;
  else (lease.pipelined ??= []).push(task.spec.taskId);
  const to = workerAddress(lease.workerId ?? '');
  const spec = taskSpecOf(task.spec);
  // Two literals rather than a spread of an empty one: that made and copied an object per push.
  emit(ctx,
    send(
      to,
      after === undefined
        ? { type: 'task/pushed', spec, attempt: task.attempt, leaseId: lease.leaseId, args: pushedArgs(task, spec.args) }
        : { type: 'task/pushed', spec, attempt: task.attempt, leaseId: lease.leaseId, args: pushedArgs(task, spec.args), after },
    ),
  );
}

function returnLease(ctx: Ctx, cls: SchedulingClass, lease: OwnedLease): void {
  forgetLease(ctx, cls, lease);
  if (ctx.s.deadNodes[lease.nodeId] === true) return;
  emit(ctx, send(rayletAddress(lease.nodeId), { type: 'lease/returned', leaseId: lease.leaseId, workerId: lease.workerId ?? '', disconnectWorker: lease.doomed === true }));
}

/** `lease/granted`: use it, or hand back a grant nobody wants any more. */
export function onLeaseGranted(ctx: Ctx, leaseId: LeaseId, workerId: WorkerId, nodeId: NodeId): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined || lease.state !== 'requested') {
    if (lease?.workerId !== workerId && ctx.s.deadNodes[nodeId] !== true) {
      emit(ctx, send(rayletAddress(nodeId), { type: 'lease/returned', leaseId, workerId, disconnectWorker: false }));
    }
    return;
  }
  lease.state = 'granted';
  lease.workerId = workerId;
  lease.nodeId = nodeId;
  const cls = ctx.s.classes[lease.classKey];
  if (cls === undefined) return;
  noteGranted(cls, leaseId);
  pump(ctx, cls);
}

/**
 * Adds `leaseId`, just granted, to `cls.granted`, in the order the leases have in `cls.leases`: the
 * order in which `pump` and `pipeline` walked them when they walked every lease of the class, so
 * that the first idle lease gets the first queued task as before.
 */
function noteGranted(cls: SchedulingClass, leaseId: LeaseId): void {
  const granted = cls.granted;
  const rank = cls.leases.indexOf(leaseId);
  let at = granted.length;
  while (at > 0 && cls.leases.indexOf(granted[at - 1] as LeaseId) > rank) at--;
  granted.splice(at, 0, leaseId);
}

/** Removes `lease` from the owner's leases and from its class's lists. */
function forgetLease(ctx: Ctx, cls: SchedulingClass | undefined, lease: OwnedLease): void {
  delete ctx.s.leases[lease.leaseId];
  if (cls === undefined) return;
  removeOne(cls.leases, lease.leaseId);
  if (lease.state === 'granted') removeOne(cls.granted, lease.leaseId);
}

/** `lease/spilled`: ask the raylet the first one pointed at. */
export function onLeaseSpilled(ctx: Ctx, leaseId: LeaseId, toNodeId: NodeId, fromNodeId: NodeId): void {
  const lease = ctx.s.leases[leaseId];
  const cls = lease === undefined ? undefined : ctx.s.classes[lease.classKey];
  if (lease === undefined || cls === undefined || lease.state !== 'requested' || lease.nodeId !== fromNodeId) return;
  lease.nodeId = ctx.s.deadNodes[toNodeId] === true ? ctx.s.nodeId : toNodeId;
  lease.spillbackCount += 1;
  // A node that fits it has joined (or the request moves on): whatever the last raylet said no longer holds.
  // Cleared by assigning undefined (absent to the hash) when set: a delete would turn the lease into a slow dictionary-mode object.
  if (lease.infeasible !== undefined) lease.infeasible = undefined;
  sendLeaseRequest(ctx, cls, lease);
}

/** `lease/infeasible`: the raylet that holds the request keeps it waiting, since no alive node can ever fit it. */
export function onLeaseInfeasible(ctx: Ctx, leaseId: LeaseId, reason: string, fromNodeId: NodeId): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined || lease.state !== 'requested' || lease.nodeId !== fromNodeId) return;
  lease.infeasible = reason;
}

/** `lease/rejected`: a permanent rejection fails the class; a passing one backs off and asks again. */
export function onLeaseRejected(ctx: Ctx, leaseId: LeaseId, reason: string, permanent: boolean): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined || lease.state !== 'requested') return;
  const cls = ctx.s.classes[lease.classKey];
  forgetLease(ctx, cls, lease);
  if (cls === undefined) return;
  if (permanent) {
    failClass(ctx, cls, reason);
    pump(ctx, cls);
    return;
  }
  if (!cls.retryArmed) {
    cls.retryArmed = true;
    emit(ctx, { type: 'timer/armed', timerId: `lease-retry:${cls.key}`, delayMs: ctx.s.config.leaseRetryDelayMs });
  }
}

/** The back-off timer of a class fired: ask again. */
export function onLeaseRetryTimer(ctx: Ctx, classKey: string): void {
  const cls = ctx.s.classes[classKey];
  if (cls === undefined) return;
  cls.retryArmed = false;
  pump(ctx, cls);
}

/**
 * A leased worker is gone (its raylet said so, the GCS reported its death, or its node died). Its
 * task is retried if it may be, cancelled if a cancel was asked, else fails with WorkerCrashedError.
 * With tasks pipelined on it, the worker may have replied to its task and started the next before it
 * died, and the news of its death may overtake that reply: the lease first waits for such replies
 * (see lostLeaseGraceMs).
 */
export function onLeaseLost(ctx: Ctx, leaseId: LeaseId, reason: WorkerExitReason): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined || lease.lost !== undefined) return;
  if (lease.pipelined !== undefined) {
    lease.lost = reason;
    emit(ctx, { type: 'timer/armed', timerId: `lease-lost:${leaseId}`, delayMs: ctx.s.config.lostLeaseGraceMs ?? 1000 });
    return;
  }
  settleLostLease(ctx, lease, reason);
}

/** The wait for a lost lease's last replies is over. */
export function onLostLeaseTimer(ctx: Ctx, leaseId: LeaseId): void {
  const lease = ctx.s.leases[leaseId];
  if (lease?.lost !== undefined) settleLostLease(ctx, lease, lease.lost);
}

/**
 * Ends a lost lease: its running task (the first without a reply) is retried, cancelled or failed;
 * the tasks pipelined behind it never started (its worker runs them in order), so they go back to
 * the front of the queue on the same attempt.
 */
function settleLostLease(ctx: Ctx, lease: OwnedLease, reason: WorkerExitReason): void {
  const leaseId = lease.leaseId;
  forgetLease(ctx, ctx.s.classes[lease.classKey], lease);
  const unstarted = (lease.pipelined ?? []).map((taskId) => tableGet(ctx.s.tasks, taskId)).filter((task): task is OwnedTask => task?.state === 'RUNNING' && task.leaseId === leaseId);
  for (const task of unstarted) {
    task.state = 'PENDING_NODE';
    task.leaseId = undefined;
    task.workerId = undefined;
  }
  const first = unstarted[0];
  if (first !== undefined) fifoPushFront(classFor(ctx, first).queue, unstarted.map((task) => task.spec.taskId));
  const task = lease.runningTaskId === undefined ? undefined : tableGet(ctx.s.tasks, lease.runningTaskId);
  if (task !== undefined && task.state === 'RUNNING' && task.leaseId === leaseId) {
    if (task.cancelRequested !== undefined) cancelOwnedTaskAfterLoss(ctx, task);
    else if (retriesLeft(task.spec.fn.maxRetries, task.attempt)) rerunTask(ctx, task);
    else {
      failTask(
        ctx,
        task,
        errorOf('WorkerCrashedError', `the worker running task ${task.spec.fn.name} died (${reason}) and its ${task.spec.fn.maxRetries} retries are spent; raise maxRetries to retry more`, {
          taskName: task.spec.fn.name,
          nodeId: lease.nodeId,
        }),
      );
    }
  }
  const after = ctx.s.classes[lease.classKey];
  if (after !== undefined) pump(ctx, after);
}

/**
 * The body of a cancelled task is still running past its grace period: its worker is ended, which
 * ends the lease (the worker is never handed a task while an abandoned body may still be running).
 */
export function onCancelGraceTimer(ctx: Ctx, leaseId: LeaseId): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined || lease.draining !== true || lease.doomed === true || lease.workerId === undefined) return;
  lease.doomed = true;
  emit(ctx, send(rayletAddress(leaseWorkerNode(lease)), { type: 'worker/kill-requested', workerId: lease.workerId, reason: 'killed' }));
}

/**
 * The reply to a pushed task frees its place on the lease: the next pipelined task is the running
 * one now (the worker starts it after this reply), or the lease takes the next queued task of the class.
 * A task `handedBack` unrun may be the one the lease runs by now: the reply of the task before it,
 * which blocked in a get, can overtake its hand-back. Then every task pipelined behind it names it as
 * the one to follow, which the worker never ran, and comes back too; the lease takes no more until a
 * task replies that ran. Clearing `handedBack` here instead made a loop: each task promoted and handed
 * back opened the lease for more pipelined behind it, which came back in turn (4 workers of a
 * two-node cluster handed the same 16 tasks back to their driver for 10 s, 116k times).
 */
export function releaseLease(ctx: Ctx, leaseId: LeaseId, taskId: string, handedBack = false): void {
  const lease = ctx.s.leases[leaseId];
  if (lease === undefined) return;
  if (lease.runningTaskId !== taskId) {
    // A pipelined task that ended before its turn (cancelled while queued, or handed back).
    if (lease.pipelined === undefined || !removeOne(lease.pipelined, taskId)) return;
    if (lease.pipelined.length === 0) lease.pipelined = undefined;
  } else {
    lease.runningTaskId = lease.pipelined?.shift();
    if (lease.pipelined?.length === 0) lease.pipelined = undefined;
    if (lease.draining !== undefined) lease.draining = undefined;
    if (lease.handedBack !== undefined && !handedBack) lease.handedBack = undefined;
  }
  const cls = ctx.s.classes[lease.classKey];
  if (cls !== undefined) pump(ctx, cls);
}

/** Every lease on a dead node, or held by a dead worker, is lost. */
export function dropLeasesWhere(ctx: Ctx, lost: (lease: OwnedLease) => boolean, reason: WorkerExitReason): void {
  for (const lease of Object.values(ctx.s.leases)) {
    if (!lost(lease)) continue;
    if (lease.state === 'requested') {
      // The raylet that had the request is gone: forget it and ask again elsewhere.
      const cls = ctx.s.classes[lease.classKey];
      forgetLease(ctx, cls, lease);
      if (cls !== undefined) pump(ctx, cls);
    } else onLeaseLost(ctx, lease.leaseId, reason);
  }
}

/** The node a lease's worker runs on. */
export function leaseWorkerNode(lease: OwnedLease): NodeId {
  return lease.workerId === undefined ? lease.nodeId : nodeOfWorker(lease.workerId);
}
