/**
 * The transport between components of one node: in-process deliveries for the components in this
 * thread, and one MessagePort per other thread, with every turn's messages to one port sent as a
 * single batch (one message per task caps at ~186k/s between threads here; batches reach ~1.3M/s),
 * unless a component knows nothing else is coming and posts sooner (`postSoon`, `postNow`).
 * Each link (sender, receiver) numbers its messages 0, 1, 2, ... so receivers drop duplicates.
 */
import { AsyncResource } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { MessagePort, Worker } from 'node:worker_threads';
import type { Address } from '../../core/ids.js';
import type { Delivered, Message, Via } from '../../core/protocol.js';
import { isPackedBatch, packBatch, unpackBatch } from './packed-batch.js';
import type { PackedBatch } from './packed-batch.js';

/**
 * The most messages a batch to another thread of this process waits for: a full batch goes at once,
 * not at the end of the turn. Between a driver and one actor with a hundred calls in flight, a batch
 * of all of them kept each thread idle while the other worked through them; in batches of 16 the
 * actor runs the first calls while the driver still submits the rest, and the driver takes in the
 * first replies while the actor runs the rest (P3 in bench/, 20k calls with the machine to itself:
 * 21-24k calls/s against 17-18k in whole turns, and no more CPU per call; 8 and 32 were no better).
 * Messages over TCP still go a turn's worth at a time: a frame costs more there than a post.
 */
export const maxThreadBatchMessages = 16;

/**
 * A port nothing is posted to, whose entry `pendingRemote` holds first so that the map never runs
 * empty, as core/table.ts's `floor` keeps its index maps: a batch goes at most a turn after its
 * first message, so the map emptied and refilled on every task awaited alone, each time a new
 * backing store (0.47 µs a set and delete, 0.27 with the floor).
 */
const floorPort: Port = {
  postMessage(): void {
    throw new Error('the router posted to its floor port, which only keeps its map of queued batches from running empty');
  },
};

/** Something that takes delivered messages: a component in this thread. */
export type Deliver = (message: Delivered<Message>) => void;

/** A port to another thread (a worker's port, or a worker's parentPort). */
export type Port = Pick<MessagePort | Worker, 'postMessage'>;

/** A batch of messages as it crosses threads. */
export interface MessageBatch {
  readonly kind: 'tsray/messages';
  readonly messages: Delivered<Message>[];
}

/** Whether a thread message is a batch of component messages. */
export function isMessageBatch(value: unknown): value is MessageBatch {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tsray/messages';
}

/**
 * The messages of a batch that came over a thread port (a port added with `isThread`): a batch as
 * it is, or a packed one (see packed-batch.ts) rebuilt; undefined for any other thread message.
 */
export function threadBatchMessages(value: unknown): Delivered<Message>[] | undefined {
  if (isMessageBatch(value)) return value.messages;
  return isPackedBatch(value) ? unpackBatch(value) : undefined;
}

/**
 * How many of a driver's submissions come between two reads of what its workers sent (see
 * `Router.readBetweenSubmissions`): a read asks each worker's channel (0.05 µs for an empty one). In
 * alternated runs of P1 (hot-path.js, rounds after the first), every 32nd or 128th read 49-53k tasks/s
 * where not reading read 41-43k.
 */
const submissionsPerRead = 64;

/**
 * The longest a driver's loop of submissions goes without a read, in ms, however few it submitted
 * meanwhile. A pipeline's depth follows how long its tasks seem to take, timed from one reply to the
 * next as the driver sees them: a loop that did 0.3 ms of work per submission read every 19 ms, its
 * tasks seemed to take that long, the depth fell to 1, and each read found one reply per worker (66
 * to 82 of 2,000 tasks ran during a 600 ms loop, in about a third of the runs).
 */
const maxReadIntervalMs = 1;

/** Routes component messages within a thread and across threads. */
export class Router {
  private readonly local = new Map<Address, Deliver>();
  private readonly remote = new Map<Address, Port>();
  /**
   * The next seq of each link, by sender (its address, with `#incarnation` after a restart) and then
   * receiver: a key of both made per message (a string built and then hashed) cost each message sent
   * about as much as the two lookups.
   */
  private readonly sequences = new Map<string, Map<Address, number>>();
  private readonly pendingLocal: { deliver: Deliver; message: Delivered<Message> }[] = [];
  /** Messages queued for each port, after `floorPort`'s entry, which is always first and never posted. */
  private readonly pendingRemote = new Map<Port, Delivered<Message>[]>([[floorPort, []]]);
  /** The ports that lead to another thread of this process (see maxThreadBatchMessages). */
  private readonly threadPorts = new WeakSet<Port>();
  /** Whether an Immediate will call `flush`: messages queued meanwhile wait for it. */
  private flushScheduled = false;
  /** Whether `receive` is routing a batch, which it delivers itself once routed: no Immediate is needed. */
  private receiving = false;
  /** Whether `flush` is delivering: the messages for other threads sent meanwhile go out at its end. */
  private flushing = false;
  private closed = false;
  /** Whether a microtask will post what is queued for other threads (see `postSoon`). */
  private postScheduled = false;
  /** Whether the running code said it will call `postSoon` or `postNow` once it has sent (see `willPost`). */
  private postComing = false;
  /** The Immediate's callback, made once. */
  private readonly flushFromImmediate = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  /** The microtask's callback, made once. */
  private readonly postFromMicrotask = (): void => {
    this.postScheduled = false;
    // The submitting code yielded: a later submission starts a new run (see `readBetweenSubmissions`).
    this.submissionsSinceRead = 0;
    this.postQueued(true);
  };
  /**
   * What reads the messages other threads sent this one and delivers what is queued, now (see
   * `readBetweenSubmissions`), in the async context the router's reader was set in.
   */
  private reader: (() => number) | undefined;
  /** Submissions since the last read, and when it was (see `readBetweenSubmissions`). */
  private submissionsSinceRead = 0;
  private lastReadMs = 0;

  /**
   * @param upstream where messages for addresses this thread does not know go (a worker's parent), if anywhere.
   * @param upstreamIsThread whether `upstream` leads to another thread of this process.
   */
  constructor(
    private readonly upstream?: Port,
    upstreamIsThread = false,
  ) {
    if (upstream !== undefined && upstreamIsThread) this.threadPorts.add(upstream);
  }

  /** A component of this thread now receives messages for `address`. */
  addLocal(address: Address, deliver: Deliver): void {
    this.local.set(address, deliver);
  }

  /** Messages for `address` go to `port`; `isThread`: it leads to another thread of this process. */
  addRemote(address: Address, port: Port, isThread = false): void {
    this.remote.set(address, port);
    if (isThread) this.threadPorts.add(port);
  }

  /** Stops sending to `address` over `port` (it closed); later messages take the default way. */
  removeRemote(address: Address, port: Port): void {
    if (this.remote.get(address) === port) this.remote.delete(address);
    this.pendingRemote.delete(port);
  }

  /**
   * Forgets an address whose thread ended: messages to it are dropped. Its worker id is never used
   * again, so the next seq of every link to it goes too: each worker that ever ran here (an actor
   * created and killed, say) left three otherwise, from the driver, the raylet and the GCS.
   */
  remove(address: Address): void {
    this.local.delete(address);
    this.remote.delete(address);
    for (const links of this.sequences.values()) links.delete(address);
  }

  /**
   * Sends `message` from `from` to `to`, stamping the envelope; delivery happens on a later turn.
   * `cause` is the seq of the sender's logged event that sent it, which the envelope carries so that a
   * merged trace can order the receiver's event after it.
   */
  send(from: Address, incarnation: number, to: Address, message: Message, cause?: number): void {
    const sender = incarnation === 0 ? from : `${from}#${incarnation}`;
    let links = this.sequences.get(sender);
    if (links === undefined) {
      links = new Map();
      this.sequences.set(sender, links);
    }
    const seq = links.get(to) ?? 0;
    links.set(to, seq + 1);
    this.route(message, cause === undefined ? { from, incarnation, seq } : { from, incarnation, seq, cause }, to);
  }

  /**
   * Sets what reads, now, the messages that other threads of this process sent this one and that
   * wait for its event loop (the embedded node's worker threads: `WorkerThreads.readWaiting`), and
   * returns how many it read.
   */
  setReader(read: () => number): void {
    // Run in this context, not the submitting code's: timers and promises made while delivering
    // belong to the runtime, not to whatever AsyncLocalStorage store the user's loop runs under.
    const scope = new AsyncResource('tsray-read-between-submissions');
    const readAndFlush = (): number => {
      const messages = read();
      // What this thread's own components were sent meanwhile (the driver's lease requests to its
      // raylet, the raylet's grants) is delivered too, as the turn's Immediate would.
      this.flush();
      return messages;
    };
    this.reader = () => scope.runInAsyncScope(readAndFlush);
  }

  /** The reader, when one was set and may read now: not within a delivery or a flush, which deliver what arrived themselves. */
  private readerNow(): (() => number) | undefined {
    return this.receiving || this.flushing || this.closed ? undefined : this.reader;
  }

  /**
   * For a driver about to wait for its workers' replies (see work-polling.ts): reads what they sent
   * until `settled` holds, for at most `budgetMs` and while `mayGoOn` holds, without yielding to the
   * event loop. Stops as soon as a read brings something that does not settle it: replies that
   * stream in mean the workers are busy, and a thread that polls then takes the CPU they run on.
   * Returns whether `settled` held. Not within a delivery or a flush, as for
   * `readBetweenSubmissions`, and only where a reader was set (the embedded node's driver).
   */
  readUntil(settled: () => boolean, budgetMs: number, mayGoOn: () => boolean): boolean {
    const reader = this.readerNow();
    if (reader === undefined) return false;
    this.postQueued(true);
    const startMs = performance.now();
    for (;;) {
      const messages = reader();
      if (settled()) return true;
      if (messages > 0 || this.closed || performance.now() - startMs >= budgetMs || !mayGoOn()) return false;
    }
  }

  /**
   * For a driver's submission: every `submissionsPerRead`th one, or the first `maxReadIntervalMs`
   * after the last read, reads what the workers sent (their replies) and delivers it, which also
   * posts the pushes queued until then. A driver that submits in a loop without awaiting keeps the
   * event loop from its workers' replies until the loop ends:
   * its owner pushed a leased worker its pipeline's first task (a burst starts unpipelined) and
   * nothing more, so the workers sat idle for the whole loop (0 to 170 ms of their CPU in a loop of
   * 100,000 submissions that took 1.1 to 1.4 s, P1 in bench/), and ran every task after it. Reading
   * between submissions, the replies come back, the pipelines deepen and the workers run during the
   * loop. Not within a delivery or a flush, which deliver what arrived themselves.
   */
  readBetweenSubmissions(): void {
    const reader = this.readerNow();
    if (reader === undefined) return;
    const nowMs = performance.now();
    // The first submission of a run of code (or since the last read) starts the interval and reads
    // nothing: a task awaited alone is not a loop, and its reply is not due yet.
    if (this.submissionsSinceRead === 0) this.lastReadMs = nowMs;
    this.submissionsSinceRead += 1;
    if (this.submissionsSinceRead < submissionsPerRead && nowMs - this.lastReadMs < maxReadIntervalMs) return;
    this.submissionsSinceRead = 0;
    this.lastReadMs = nowMs;
    reader();
  }

  /** Routes a message that arrived from another thread (already stamped). */
  forward(message: Delivered<Message>, to: Address): void {
    const { to: _to, ...clean } = message as Delivered<Message> & { to?: Address };
    this.route(clean, undefined, to);
  }

  /**
   * Routes a batch that arrived from another thread and delivers it, with what else is queued, before
   * this returns. Each message is this thread's own copy (the batch was cloned on its way here), so
   * its `to` is taken off in place rather than copying the message without it. Routing the batch
   * schedules no Immediate, as each `forward` would: delivered here, the Immediate found nothing
   * left to do, and cost each thread one a task awaited at a time (a third of their Immediates).
   * `each` is called with each message's address as it is routed.
   */
  receive(messages: readonly Delivered<Message>[], each?: (to: Address) => void): void {
    this.receiving = true;
    try {
      for (const message of messages) {
        const to = addressOf(message);
        // The last property the sender added (see `stamped`): V8 deletes it without leaving the object's shape.
        delete (message as Delivered<Message> & { to?: Address }).to;
        this.route(message, undefined, to);
        each?.(to);
      }
    } finally {
      this.receiving = false;
    }
    this.flush();
  }

  /** Queues `message` for `to`, stamped with `via` unless it carries its envelope already. */
  private route(message: Message, via: Via | undefined, to: Address): void {
    if (this.closed) return;
    const deliver = this.local.get(to);
    if (deliver !== undefined) {
      this.pendingLocal.push({ deliver, message: via === undefined ? (message as Delivered<Message>) : stamped(message, via) });
      if (!this.receiving) this.scheduleFlush();
    } else {
      const port = this.remote.get(to) ?? this.upstream;
      if (port === undefined) return;
      let batch = this.pendingRemote.get(port);
      if (batch === undefined) {
        batch = [];
        this.pendingRemote.set(port, batch);
      }
      const isThread = this.threadPorts.has(port);
      // A full batch to another thread goes now: that thread starts on it while this one goes on.
      if (batch.push(stamped(message, via, to)) >= maxThreadBatchMessages && isThread) {
        this.pendingRemote.delete(port);
        post(port, batch, true);
        return;
      }
      // A flush delivering now posts it when its deliveries end, as `receive`'s flush does, and so
      // does a post the running code said is coming, or postSoon's microtask, for another thread.
      if (!this.receiving && !this.flushing && !(isThread && (this.postComing || this.postScheduled))) this.scheduleFlush();
    }
  }

  /**
   * For an API call of a driver's user code (a submission): what is queued for other threads of this
   * process goes now if this is the first such call since the running code began, and what the rest
   * of that code sends goes when it ends (a microtask), instead of all of it on the turn's Immediate.
   * A task awaited alone then reaches its worker while its owner still applies the get that waits
   * for it, and a loop of submissions goes as its first task and then batches. The Immediate waited
   * for the event loop's check phase on both threads, which every task awaited alone paid. Not for
   * what arrives in a stream (replies, pushes made as replies arrive): posted per run of code rather
   * than per turn, a worker's batches came apart into many small ones, and P1 in bench/ lost 3 to 29%
   * of its tasks/s in alternated runs. Messages to other processes still wait for the Immediate: a frame
   * costs more than a post.
   */
  postSoon(): void {
    this.postComing = false;
    if (this.postScheduled || this.closed) return;
    this.postScheduled = true;
    queueMicrotask(this.postFromMicrotask);
    this.postNow();
  }

  /**
   * Posts what is queued for other threads of this process now, for a component that knows nothing
   * more will follow soon: a worker whose last task has run sends its replies at once rather than at
   * the turn's end. Within `receive` or `flush`, whose ends post anyway, this does nothing.
   */
  postNow(): void {
    this.postComing = false;
    if (this.receiving || this.flushing) return;
    this.postQueued(true);
  }

  /**
   * Says that the running code will call `postSoon` or `postNow` once it has sent what it is about to
   * send (a driver's submission): what it queues for other threads of this process until then
   * schedules no Immediate, which would find nothing left to post. Without it, most tasks awaited
   * alone (P2 in bench/) scheduled one on the driver, a pass of its event loop's check phase. A
   * worker's last report does not use it: without the Immediate after its replies, a worker went to
   * sleep between P1's batches five times as often, and the driver spent 31-34 µs per task against
   * 24 (hot-path.js 50000 1 p1, alternated). The caller must call one of them, even when what it
   * sends throws (a `finally`), or its messages would wait for the next post.
   */
  willPost(): void {
    this.postComing = true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushFromImmediate);
  }

  /**
   * Delivers everything queued: local deliveries first, then one batch per port, with what those
   * deliveries sent to other threads. What they sent to this thread's components waits for an
   * Immediate (one already scheduled stays so).
   */
  flush(): void {
    if (this.closed) return;
    const local = this.pendingLocal.splice(0);
    let delivered = false;
    this.flushing = true;
    try {
      for (const { deliver, message } of local) deliver(message);
      delivered = true;
    } finally {
      this.flushing = false;
      // A delivery threw: what was sent before it still goes, on a later turn.
      if (!delivered && this.pendingRemote.size > 1) this.scheduleFlush();
    }
    this.postQueued(false);
  }

  /** Posts one batch per port of what is queued for other threads and, unless `threadsOnly`, other processes. */
  private postQueued(threadsOnly: boolean): void {
    if (this.closed) return;
    for (const [port, messages] of this.pendingRemote) {
      if (port === floorPort) continue;
      const isThread = this.threadPorts.has(port);
      if (threadsOnly && !isThread) continue;
      this.pendingRemote.delete(port);
      post(port, messages, isThread);
    }
  }

  /** Stops routing; queued messages are dropped. */
  close(): void {
    this.closed = true;
    this.pendingLocal.length = 0;
    this.pendingRemote.clear();
    this.pendingRemote.set(floorPort, []);
  }
}

/**
 * Sends `messages` to another thread or process as one batch. To a thread of this process
 * (`isThread`: only its receivers, which read `threadBatchMessages`, see what comes over such a
 * port), task pushes and replies go packed (see packed-batch.ts).
 */
function post(port: Port, messages: Delivered<Message>[], isThread: boolean): void {
  const packed = isThread ? packBatch(messages) : undefined;
  const batch: MessageBatch | PackedBatch = packed ?? { kind: 'tsray/messages', messages };
  port.postMessage(batch, movableBuffersOf(messages));
}

/**
 * `message` with its envelope and, for another thread, the address it is for, in one copy. Two object
 * spreads with added properties (`{ ...message, via }`, then `{ ...stamped, to }`) cost 4 to 5 µs a
 * message sent to another thread in a benchmark of the router alone, against 1.2 to 1.5 µs this way.
 */
function stamped(message: Message, via: Via | undefined, to?: Address): Delivered<Message> {
  const copy: Record<string, unknown> = Object.assign({}, message);
  if (via !== undefined) copy['via'] = via;
  if (to !== undefined) copy['to'] = to;
  return copy as unknown as Delivered<Message>;
}

/**
 * The buffers a batch may move to the other thread instead of copying: the blobs of values on their
 * way to the store (`object/put-requested`), which the sender captured into buffers of their own and
 * keeps nowhere else (its owner keeps only their size). Only a blob that spans its whole ArrayBuffer
 * qualifies, so nothing else that buffer holds is taken from the sender.
 */
function movableBuffersOf(messages: readonly Delivered<Message>[]): ArrayBuffer[] | undefined {
  // Made only for a batch that moves a buffer (a put on its way to the store), not a set and a list for every post.
  let buffers: Set<ArrayBuffer> | undefined;
  for (const message of messages) {
    if (message.type !== 'object/put-requested') continue;
    const blobs = (message.data as { blobs?: unknown } | null)?.blobs;
    if (!Array.isArray(blobs)) continue;
    for (const blob of blobs as unknown[]) {
      if (!ArrayBuffer.isView(blob) || !(blob.buffer instanceof ArrayBuffer)) continue;
      if (blob.byteLength > 0 && blob.byteOffset === 0 && blob.byteLength === blob.buffer.byteLength) (buffers ??= new Set()).add(blob.buffer);
    }
  }
  return buffers === undefined ? undefined : [...buffers];
}

/** The address a forwarded message is for (set by `route` on messages that cross threads). */
function addressOf(message: Delivered<Message>): Address {
  return (message as Delivered<Message> & { to?: Address }).to ?? '';
}
