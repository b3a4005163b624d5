/**
 * An idle task worker thread (not an actor's) polls its channels for new work for a moment before it
 * waits in its event loop, and a driver whose workers are threads of its process polls for their
 * replies (`ReplyPolling`). On a VM, a thread that waits lets its vCPU halt, and waking a halted vCPU
 * took 30-40 µs here: a postMessage round trip to a worker read 73-90 µs in most runs of a process,
 * and 9 µs in the runs whose two threads happened to share a vCPU (piscina's awaited tiny task read
 * 14 or 78-91 µs the same way); with the worker polling, a driver's next push finds it awake.
 * Polling takes a vCPU, so a worker polls only while no other worker executes something on the
 * vCPUs the main thread does not need (`BusyWorkers`).
 */
import { availableParallelism } from 'node:os';
import { receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { Router } from './router.js';

/** How long an idle worker or a waiting driver polls, in ms, unless `TSRAY_POLL_US` says otherwise (0: never). */
const defaultPollBudgetMs = 0.2;

/** The budget from `TSRAY_POLL_US` (microseconds), or the default; a bad value gets a clear error. */
export function pollBudgetMsFrom(value: string | undefined): number {
  if (value === undefined || value === '') return defaultPollBudgetMs;
  const us = Number(value);
  if (!Number.isFinite(us) || us < 0 || us > 10_000) throw new RangeError(`TSRAY_POLL_US must be a number of microseconds from 0 to 10000, got '${value}'`);
  return us / 1000;
}

/** A channel a worker reads, with what handles each of its messages. */
export interface InboundChannel {
  readonly port: MessagePort;
  readonly handle: (message: unknown) => void;
}

/**
 * Polls `inbound` (each channel with what handles its messages), handling what comes, until the
 * worker is no longer `idle` (work came) or `budgetMs` passed; returns whether work came. A message
 * that brings no work (the driver's acknowledgement of a reply, say) does not end the poll, and does
 * not count as work: counted so, it would keep a worker whose work comes rarely polling after each
 * piece of it rather than backing off (`PollBackoff`). What a handled message starts runs once the
 * caller returns (a worker's bodies start on a microtask).
 */
export function pollForWork(inbound: Iterable<InboundChannel>, idle: () => boolean, budgetMs: number): boolean {
  if (budgetMs === 0) return false;
  const startMs = performance.now();
  do {
    for (const channel of inbound) {
      const received = receiveMessageOnPort(channel.port);
      if (received !== undefined) channel.handle(received.message);
    }
    if (!idle()) return true;
  } while (performance.now() - startMs < budgetMs);
  return false;
}

/**
 * Which of a node's worker threads execute something: a flag per worker (its own buffer) and their
 * count (one buffer shared by the node's main thread and every worker).
 */
export class BusyWorkers {
  private readonly count: Int32Array;
  private readonly flag: Int32Array;

  /** @param countBuffer the node's shared count; `flagBuffer` this worker's flag (a fresh one for the main thread's view). */
  constructor(
    readonly countBuffer: SharedArrayBuffer = new SharedArrayBuffer(4),
    readonly flagBuffer: SharedArrayBuffer = new SharedArrayBuffer(4),
  ) {
    this.count = new Int32Array(countBuffer);
    this.flag = new Int32Array(flagBuffer);
  }

  /** How many workers execute something now. */
  get busy(): number {
    return Atomics.load(this.count, 0);
  }

  /** This worker started executing. */
  started(): void {
    if (Atomics.exchange(this.flag, 0, 1) === 0) Atomics.add(this.count, 0, 1);
  }

  /** This worker executes nothing now. */
  stopped(): void {
    if (Atomics.exchange(this.flag, 0, 0) === 1) Atomics.sub(this.count, 0, 1);
  }

  /** A worker whose flag is `flagBuffer` ended: it executes nothing. */
  ended(flagBuffer: SharedArrayBuffer): void {
    if (Atomics.exchange(new Int32Array(flagBuffer), 0, 0) === 1) Atomics.sub(this.count, 0, 1);
  }
}

/** The vCPUs of this machine: the most threads that run at once. */
export const vcpus = availableParallelism();

/**
 * After polls that ran out one after another, at most how many chances to poll go by without
 * polling: after the first miss none, then 1, 3, 7, up to this. So a thread whose work comes
 * milliseconds apart spends about a sixteenth of the budget each time, and one whose tiny tasks miss
 * now and then (a collection, a descheduled thread) keeps polling.
 */
export const maxChancesWithoutPoll = 15;

/** When a thread polls: at every chance while its polls pay off, less and less often while they run out. */
export class PollBackoff {
  /** Chances still to go by without polling. */
  private skipped = 0;
  /** Polls that ran out since the last one that did not. */
  private misses = 0;

  /** Whether to poll at this chance. */
  shouldPoll(): boolean {
    if (this.skipped === 0) return true;
    this.skipped -= 1;
    return false;
  }

  /** How the poll went: whether what it waited for came. */
  polled(came: boolean): void {
    if (came) this.misses = 0;
    else this.skipped = Math.min(2 ** this.misses++ - 1, maxChancesWithoutPoll);
  }
}

/**
 * The longest a driver polls, get after get, without its event loop turning. A get that a poll
 * settles resolves on a microtask, so a loop of gets that polls never yields to the event loop:
 * its timers (a timeout that would end the loop), its I/O, and the finalizers that release the refs
 * it dropped would wait for as long as it runs. Past this, the next get waits in the event loop.
 */
export const maxPollingWithoutTurnMs = 2;

/**
 * A driver's side of polling: once the synchronous code that left a get waiting is done (on a
 * microtask), the driver reads its workers' replies for up to the budget before its thread sleeps,
 * while a vCPU is spare (`mayPoll`), and stops once a call settled (`settledCalls` moved: its code
 * then runs) or replies stream in that settle nothing (`Router.readUntil`). Polled inside the get
 * itself, a loop that submits and gets (`xs.map((x) => get(f.remote(x)))`) would wait for each task
 * before submitting the next. Polled on an Immediate instead of a microtask, a task awaited one at a
 * time took 66-73 µs against 41 (hot-path.js p2; 100 without polling), the same replies arriving
 * later in the poll.
 */
export class ReplyPolling {
  private scheduled = false;
  private readonly backoff = new PollBackoff();
  /** When the first poll since the event loop's last turn ran (see `maxPollingWithoutTurnMs`); undefined once it turned. */
  private pollingSinceMs: number | undefined;
  /** Marks the event loop's turn. */
  private readonly turned = (): void => {
    this.pollingSinceMs = undefined;
  };

  /**
   * @param mayPoll whether a call waits and a vCPU is spare now.
   * @param settledCalls how many calls have settled, ever.
   */
  constructor(
    private readonly router: Router,
    private readonly budgetMs: number,
    private readonly mayPoll: () => boolean,
    private readonly settledCalls: () => number,
  ) {}

  /** A call waits for the workers: poll once the synchronous code running now is done. */
  waiting(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.pollNow);
  }

  private readonly pollNow = (): void => {
    this.scheduled = false;
    if (!this.mayPoll()) return;
    const nowMs = performance.now();
    if (this.pollingSinceMs === undefined) {
      this.pollingSinceMs = nowMs;
      setImmediate(this.turned);
    } else if (nowMs - this.pollingSinceMs > maxPollingWithoutTurnMs) return;
    if (!this.backoff.shouldPoll()) return;
    const before = this.settledCalls();
    this.backoff.polled(this.router.readUntil(() => this.settledCalls() !== before, this.budgetMs, this.mayPoll));
  };
}
