/**
 * State snapshots of a trace's components, taken as its events are applied: the writer of a trace
 * (format version 3) writes them into the file, so that the debugger opens it without running the
 * reducers over every event, and the debugger takes them itself for a trace without them (version
 * 2, or one replayed with other reducers). One rule decides where a snapshot falls, so both give
 * the same ones: after every K events of a component, or fewer for a big state (see
 * `snapshotInterval`).
 *
 * Applying the events also gives the ids the owner mints for a submission (the `ids/minted`
 * effect), which no event names; the writer writes them on the submission's line, for the same reason.
 */
import type { AnyEvent, ComponentCore } from '../component.js';
import type { ActorId, ObjectId, TaskId } from '../ids.js';
import { applyDirect } from '../step.js';
import type { ComponentKind } from './format.js';
import type { ReplayCores } from './replay.js';

/**
 * Events of a component between two of its snapshots, in a small state: the most a seek replays.
 * A snapshot every 1000 cost the debugger's replay pass twice as much stringifying, and every 3000
 * about 0.1 s more than every 5000, on a million-event trace.
 */
export const defaultSnapshotEvery = 5000;

/**
 * Snapshot bytes kept per event of a component, at most, by default. A component whose state is big
 * (a driver with 100,000 tasks in flight has a snapshot of some 90 MB) is snapshotted less often,
 * after as many events as its last snapshot's length over this: snapshots every 5,000 events of
 * such a state took 2.3 GB and three quarters of the replay pass on a 400,000-event trace. A seek
 * in a big state then replays more events, each cheap beside parsing a snapshot of that size.
 */
export const defaultSnapshotBytesPerEvent = 512;

/**
 * Events of a component between a snapshot of `sizeBytes` (its JSON's length) and the next: at
 * least `every`, and enough that the snapshots of the component take at most `bytesPerEvent` for
 * each of its events.
 */
export function snapshotInterval(every: number, sizeBytes: number, bytesPerEvent: number): number {
  return Math.max(every, Math.ceil(sizeBytes / bytesPerEvent));
}

/** The ids the owner minted for an event (a submission names none of its own), as its `ids/minted` effect gives them. */
export interface MintedIds {
  readonly taskId?: TaskId;
  readonly actorId?: ActorId;
  readonly objectIds: readonly ObjectId[];
}

/** What applying one event gave. */
export interface SnapshotStep {
  /** The ids the event minted, if it minted any. */
  readonly minted?: MintedIds;
  /** The component's state after the event, as JSON, when a snapshot falls there, and the event's position in the component's own events (from 0). */
  readonly snapshot?: { readonly position: number; readonly state: string };
  /** The recipe threw on this event (one line): the component is applied no further. */
  readonly threw?: string;
}

/** An event its caller applied: the component's state after it, and the effects it gave. */
export interface AppliedStep {
  readonly state: unknown;
  readonly effects: readonly unknown[];
}

/** Per component slot: its state (when this taker applies its events), and where its next snapshot falls. */
interface Slot {
  state: unknown;
  /** Events given so far, applied or not. */
  events: number;
  sinceSnapshot: number;
  interval: number;
  stopped: boolean;
}

/**
 * Applies each component's events with the real reducers (directly, on its own mutable state) and
 * says after which of them a snapshot falls. Components are numbered slots, given by the caller.
 */
export class SnapshotTaker {
  private readonly slots: Slot[] = [];

  constructor(
    private readonly cores: ReplayCores,
    private readonly every = defaultSnapshotEvery,
    private readonly bytesPerEvent = defaultSnapshotBytesPerEvent,
  ) {
    if (!(Number.isInteger(every) && every >= 1)) throw new RangeError(`snapshotEvery must be an integer >= 1, not ${every}`);
    if (!(bytesPerEvent > 0)) throw new RangeError(`snapshotBytesPerEvent must be > 0, not ${bytesPerEvent}`);
  }

  /** Whether the component in `slot` stopped, its recipe having thrown. */
  stopped(slot: number): boolean {
    return this.slots[slot]?.stopped === true;
  }

  /** Applies `event` to the state of the `component` in `slot` (a fresh one on its first event). */
  apply(slot: number, component: ComponentKind, event: AnyEvent): SnapshotStep {
    const core = this.cores[component] as ComponentCore<unknown, AnyEvent, unknown>;
    const at = this.slotAt(slot, () => core.initial());
    const position = at.events;
    at.events += 1;
    if (at.stopped) return {};
    let effects: unknown[];
    try {
      effects = applyDirect(core, at.state, event);
    } catch (error) {
      at.stopped = true;
      at.state = undefined;
      return { threw: `the ${component} recipe threw: ${error instanceof Error ? error.message : String(error)}`.replace(/[\r\n]+/g, ' ') };
    }
    return this.applied(at, position, at.state, effects);
  }

  /**
   * Counts an event that the caller applied itself, to a state it keeps for `slot` (`trace collect`
   * replays every component to check its live hashes, and need not replay it twice), and takes the
   * snapshot that falls there of the state it gives. `undefined`: the caller's recipe threw on this
   * event, and the component is applied no further.
   */
  observe(slot: number, step: AppliedStep | undefined): SnapshotStep {
    const at = this.slotAt(slot, () => undefined);
    const position = at.events;
    at.events += 1;
    if (at.stopped) return {};
    if (step === undefined) {
      at.stopped = true;
      return {};
    }
    return this.applied(at, position, step.state, step.effects);
  }

  private slotAt(slot: number, initial: () => unknown): Slot {
    let at = this.slots[slot];
    if (at === undefined) {
      at = { state: initial(), events: 0, sinceSnapshot: 0, interval: this.every, stopped: false };
      this.slots[slot] = at;
    }
    return at;
  }

  /** What an event applied at `position` gave: the ids it minted, and the snapshot of `state` if one falls there. */
  private applied(at: Slot, position: number, state: unknown, effects: readonly unknown[]): SnapshotStep {
    const minted = mintedIn(effects);
    at.sinceSnapshot += 1;
    if (at.sinceSnapshot < at.interval) return minted === undefined ? {} : { minted };
    at.sinceSnapshot = 0;
    const text = JSON.stringify(state);
    at.interval = snapshotInterval(this.every, text.length, this.bytesPerEvent);
    const snapshot = { position, state: text };
    return minted === undefined ? { snapshot } : { minted, snapshot };
  }
}

/** The ids an event's effects say the owner minted (its `ids/minted` effect), or undefined. */
export function mintedIn(effects: readonly unknown[]): MintedIds | undefined {
  for (const effect of effects) {
    const typed = effect as (MintedIds & { readonly type?: string }) | undefined;
    if (typed?.type === 'ids/minted') return mintedOf(typed);
  }
  return undefined;
}

/** The ids of an `ids/minted` effect, without its type, in a fixed key order. */
export function mintedOf(effect: MintedIds): MintedIds {
  return {
    ...(effect.actorId === undefined ? {} : { actorId: effect.actorId }),
    objectIds: [...effect.objectIds],
    ...(effect.taskId === undefined ? {} : { taskId: effect.taskId }),
  };
}
