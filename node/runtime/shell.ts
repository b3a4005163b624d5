/**
 * The live shell of one component: it stamps each input, appends it to the component's event log,
 * applies the recipe directly to mutable state (the hot path), and carries out the effects: messages
 * through the router, timers on the clock. Component-specific effects go to `onEffect`. With
 * `replyAfterCommit` (the GCS), messages wait until the batch holding their event is durable, so a
 * restarted GCS replays its log to exactly the state its clients saw.
 */
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import type { Address } from '../../core/ids.js';
import { keepTablesInMaps } from '../../core/table.js';
import type { Message } from '../../core/protocol.js';
import type { ComponentLog, EventLog } from '../store/event-log.js';
import { unpackedOrigins } from './packed-batch.js';
import type { Router } from './router.js';

/** What replaying a log needs of it: its events in order, and its name for errors. */
export type ReplayableLog = Pick<EventLog, 'read' | 'address'>;

/**
 * Rebuilds a component's state from its own log: every logged event, from the first, applied to a
 * fresh state with the effects discarded (they were carried out when the events were live). This is
 * how a restarted GCS gets back exactly the state its clients saw, as the simulator's restart does.
 *
 * @throws Error naming the log and seq when a record is damaged (a state built past it could not be trusted).
 */
export function replayLog<S, E extends AnyEvent, F>(core: ComponentCore<S, E, F>, log: ReplayableLog): { state: S; events: number } {
  const state = core.initial();
  let events = 0;
  for (const record of log.read(1)) {
    if ('corrupt' in record) {
      throw new Error(`the log of ${log.address} is damaged at event ${record.seq} (${record.corrupt}); its state cannot be rebuilt from it`);
    }
    core.apply(state, record.event as E);
    events += 1;
  }
  return { state, events };
}

/** How a shell is set up. */
export interface ShellOptions<S, E extends AnyEvent, F> {
  readonly core: ComponentCore<S, E, F>;
  readonly address: Address;
  /** The incarnation its messages carry (0 unless the component restarted from its log). */
  readonly incarnation?: number;
  /** The state to start from, such as one replayLog rebuilt (default: the core's initial state). */
  readonly initialState?: S;
  readonly router: Router;
  readonly log?: ComponentLog;
  readonly replyAfterCommit?: boolean;
  /** Handles the effects that are not messages or timers; returns anything to hand back to `apply`'s caller. */
  readonly onEffect?: (effect: F, seq: number) => void;
  /**
   * The form of an event its log keeps, when not the event itself (large payloads are logged by
   * size and hash only); replaying the logged form must reach the same state.
   */
  readonly logged?: (event: E) => unknown;
  /** Called when a recipe throws: the shell stops (its state can no longer be trusted). */
  readonly onFailure?: (error: unknown, event: E) => void;
}

/** One component running live. */
export class ComponentShell<S, E extends AnyEvent, F> {
  readonly state: S;
  private readonly timers = new Map<string, { readonly timer: NodeJS.Timeout; readonly delayMs: number }>();
  private seq = 0;
  private stopped = false;
  private commitChain: Promise<void> = Promise.resolve();

  /** Creates the component in its initial state, or in `initialState` when given. */
  constructor(private readonly options: ShellOptions<S, E, F>) {
    this.state = options.initialState ?? options.core.initial();
    // Its log stores messages that came packed as their fields: this thread keeps each batch it rebuilds until delivered.
    if (options.log?.appendPacked !== undefined) unpackedOrigins.wanted = true;
    // A live state is only ever applied to in place: its tables can drop their trees (core/table.ts).
    keepTablesInMaps(this.state);
  }

  /** The component's address. */
  get address(): Address {
    return this.options.address;
  }

  /**
   * Applies one input; returns the recipe's effects (callers read minted ids from them). `parent` is
   * the seq of the event of this component's log that led to this input where no message says so
   * (a worker's exit that this component's own kill caused), so that `why` can follow it.
   */
  apply(event: E, parent?: number): F[] {
    if (this.stopped) return [];
    ++this.seq;
    const log = this.options.log;
    // The log's seq (not the shell's count) is what a merged trace knows the event by.
    const seq = log === undefined ? this.seq : this.append(log, event, parent);
    let effects: F[];
    try {
      effects = this.options.core.apply(this.state, event);
    } catch (error) {
      this.stop();
      this.options.onFailure?.(error, event);
      throw error;
    }
    let sends = false;
    for (const effect of effects) {
      const typed = effect as { type: string; timerId?: string; delayMs?: number };
      if (typed.type === 'message/sent') sends = true;
      else if (typed.type === 'timer/armed') this.arm(typed.timerId ?? '', typed.delayMs ?? 0);
      else this.options.onEffect?.(effect, seq);
    }
    if (sends) this.sendAll(effects, log === undefined ? undefined : seq);
    return effects;
  }

  /**
   * Appends `event` to `log` in its logged form; returns its seq. A message that came packed from
   * another thread, and is logged as it is, goes as its packed fields when the log can store them so
   * (see `UnpackedOrigins` in packed-batch.ts).
   */
  private append(log: ComponentLog, event: E, parent: number | undefined): number {
    const logged = this.options.logged === undefined ? event : this.options.logged(event);
    const appendPacked = log.appendPacked;
    const start = logged === event && appendPacked !== undefined ? unpackedOrigins.startOf(event) : -1;
    if (start < 0 || appendPacked === undefined) return log.append(Date.now(), logged, parent);
    return appendPacked.call(log, Date.now(), event, parent, unpackedOrigins.fields, start, unpackedOrigins.templates);
  }

  /**
   * Sends the messages among `effects` of the event logged as `seq` (undefined without a log), which
   * their envelopes name as their cause. They are read from the effects as they are: a list of
   * `{ to, message }` pairs and a closure made for every event came to about a tenth of what a
   * driver's main thread allocates per tiny task.
   */
  private sendAll(effects: readonly F[], seq: number | undefined): void {
    const log = this.options.log;
    if (this.options.replyAfterCommit === true && log !== undefined) {
      const committed = log.committed(log.lastSeq);
      this.commitChain = this.commitChain
        .then(() => committed)
        .then(
          () => this.sendNow(effects, seq),
          (error: unknown) => this.options.onFailure?.(error, { type: `commit of event ${String(seq)}` } as E),
        );
    } else this.sendNow(effects, seq);
  }

  /** Routes the messages among `effects`, in their order, unless the shell stopped. */
  private sendNow(effects: readonly F[], seq: number | undefined): void {
    if (this.stopped) return;
    const { router, address } = this.options;
    const incarnation = this.options.incarnation ?? 0;
    for (const effect of effects) {
      const typed = effect as { type: string; to?: Address; message?: Message };
      if (typed.type === 'message/sent') router.send(address, incarnation, typed.to ?? '', typed.message as Message, seq);
    }
  }

  /**
   * Arms `timerId` to fire in `delayMs`, replacing its earlier arming. A timer armed again with the
   * same delay before it fired (an owner's idle-lease timer, at every task awaited one at a time) is
   * restarted in place: making and clearing a timer each time was a few µs of each such task.
   */
  private arm(timerId: string, delayMs: number): void {
    const existing = this.timers.get(timerId);
    if (existing !== undefined) {
      if (existing.delayMs === delayMs) {
        existing.timer.refresh();
        return;
      }
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(timerId);
      this.apply({ type: 'timer/fired', timerId, nowMs: Date.now() } as unknown as E);
    }, delayMs);
    // Timers of an idle runtime must not keep the process alive; pending API calls do that.
    timer.unref();
    this.timers.set(timerId, { timer, delayMs });
  }

  /** Stops the component: its timers are cleared and later inputs are ignored. */
  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
