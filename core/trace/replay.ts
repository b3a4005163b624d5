/**
 * Replay: re-runs the reducers over a decoded trace (under immer, or directly), checking invariants after every
 * event and comparing recorded state hashes, and stops at the first divergence with the seq and
 * address to look at. `tsray replay --verify` and the debugger are built on this.
 */
import type { Patch } from 'immer';
import type { Address } from '../ids.js';
import type { AnyEvent, ComponentCore } from '../component.js';
import { hashState } from '../hash.js';
import { applyDirect, applyUnderImmer, checkInvariants, readyForImmer } from '../step.js';
import type { ImmerStep } from '../step.js';
import type { ComponentKind, Trace, TraceEntry } from './format.js';
import { mintedIn, mintedOf } from './snapshots.js';
import { hasSplitTable } from '../table.js';

/**
 * The reducers to replay with, one per component kind. Their state and event types differ and a
 * trace mixes all three, so they are held without type parameters.
 */
export interface ReplayCores {
  /* eslint-disable @typescript-eslint/no-explicit-any -- each core has its own state and event types, which a mixed trace cannot name. */
  readonly gcs: ComponentCore<any, any, any>;
  readonly raylet: ComponentCore<any, any, any>;
  readonly owner: ComponentCore<any, any, any>;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/** Called after each event is applied, with the instance's new (frozen) state and the patches from its previous state. */
export type ReplayStep = (entry: TraceEntry, state: unknown, patches: readonly Patch[]) => void;

/** How to replay. */
export interface ReplayOptions {
  /** Called after each event is applied and before it is checked, so a debugger sees even the state that broke. */
  readonly onStep?: ReplayStep;
  /**
   * `immer` applies each event under immer, giving frozen states and patches (what `onStep` needs);
   * `direct` applies the recipes to mutable state, as the live shells do, which on a large state is
   * far faster (immer copies each touched container per event). Both give the same states, hash for
   * hash (tested). `auto` applies each component's events directly until one of its tables splits
   * (holds more than `splitAt` entries), then under immer, where invariants are checked from what
   * each event changed (`invariantsSince`) rather than over the whole state: what makes checking
   * after every event of a large trace affordable. Default: `immer` with `onStep`, else `direct`.
   */
  readonly mode?: 'immer' | 'direct' | 'auto';
  /**
   * When invariants are checked: after `every` event (the default), or only where the recording
   * can be compared (`hashes`: at each recorded hash, at a recorded failure, and at each component's
   * last event). The owner's invariants walk its whole state, except after a step under immer, so
   * on a large driver checking after every event directly makes replay quadratic (a 120,814-event
   * live trace: 7 minutes); mode `auto` avoids that.
   */
  readonly invariants?: 'every' | 'hashes';
}

/** Every event replayed without divergence. */
export interface ReplaySuccess {
  readonly ok: true;
  /** Events applied. */
  readonly events: number;
  /** Recorded hashes that were compared and matched. */
  readonly checkedHashes: number;
  /** Snapshot lines (format version 3) whose state was compared with the replayed one and matched. */
  readonly checkedSnapshots?: number;
  /**
   * Recorded hashes not compared because the trace was recorded by another version of that reducer
   * (its state may legitimately differ); `--verify` should not count such a trace as verified.
   */
  readonly skippedHashes: number;
  /**
   * The failure the recording ended with (a `failure:` note at this seq: an invariant the run broke)
   * and replay broke the same way at the same event: the run is reproduced, failure and all.
   */
  readonly reproducedFailure?: { readonly seq: number; readonly reason: string };
}

/** The first event at which replay diverged from the recording, or could not go on. */
export interface ReplayDivergence {
  readonly ok: false;
  readonly seq: number;
  readonly address: Address;
  /** One line: what went wrong. */
  readonly reason: string;
  readonly expectedHash?: string;
  readonly actualHash?: string;
}

/** The outcome of a replay. */
export type ReplayResult = ReplaySuccess | ReplayDivergence;

/**
 * Replays `trace` with `cores`. Never throws for a reducer's failure: a recipe that throws, a broken
 * invariant, a state that cannot be hashed and a hash mismatch are all returned as a divergence.
 * An exception from `onStep` is the caller's own and is rethrown.
 */
export function replayTrace(trace: Trace, cores: ReplayCores, options: ReplayOptions | ReplayStep = {}): ReplayResult {
  const onStep = typeof options === 'function' ? options : options.onStep;
  const mode = (typeof options === 'function' ? undefined : options.mode) ?? (onStep === undefined ? 'direct' : 'immer');
  if (mode !== 'immer' && onStep !== undefined) throw new TypeError('replayTrace: onStep needs mode immer (it is given frozen states and patches)');
  const states = new Map<Address, unknown>();
  const hashesComparable: Record<ComponentKind, boolean> = {
    gcs: trace.header.reducers.gcs === cores.gcs.version,
    raylet: trace.header.reducers.raylet === cores.raylet.version,
    owner: trace.header.reducers.owner === cores.owner.version,
  };
  let events = 0;
  let checkedHashes = 0;
  let skippedHashes = 0;
  // The simulator notes the invariant failure that ended a run at the event that broke it.
  const invariantsEvery = (typeof options === 'function' ? undefined : options.invariants) !== 'hashes';
  const lastSeqOf = new Map<Address, number>();
  if (!invariantsEvery) for (const entry of trace.entries) lastSeqOf.set(entry.address, entry.seq);
  const recordedFailureSeqs = new Set(trace.notes.filter((note) => note.note.startsWith('failure: ') && note.seq !== undefined).map((note) => note.seq));
  // Snapshots by component and position, each compared with the state replay reaches there.
  const snapshotsOf = new Map<Address, Map<number, unknown>>();
  for (const snapshot of trace.snapshots ?? []) {
    let byPosition = snapshotsOf.get(snapshot.snapshot);
    if (byPosition === undefined) snapshotsOf.set(snapshot.snapshot, (byPosition = new Map<number, unknown>()));
    byPosition.set(snapshot.position, snapshot.state);
  }
  const positions = new Map<Address, number>();
  // In mode auto, the components stepped under immer; and per component, the state last found to
  // keep every invariant (the next check under immer starts from it).
  const underImmer = new Set<Address>();
  const checkedStates = new Map<Address, unknown>();
  let checkedSnapshots = 0;
  const snapshotCount = (): { checkedSnapshots?: number } => (snapshotsOf.size === 0 ? {} : { checkedSnapshots });
  // Before version 3 a trace names no minted ids (and has no snapshots).
  const writtenByReplay = trace.header.formatVersion >= 3;

  for (const entry of trace.entries) {
    const core = cores[entry.component];
    const where = `seq ${entry.seq} ${entry.address} ${entry.event.type}`;
    const diverged = (reason: string, hashes: { expectedHash?: string; actualHash?: string } = {}): ReplayDivergence => ({
      ok: false,
      seq: entry.seq,
      address: entry.address,
      reason: `${where}: ${reason}`,
      ...hashes,
    });

    // The trace names the core, so the state, event and effects are that core's own types.
    const typed = core as ComponentCore<unknown, AnyEvent, unknown>;
    let state: unknown;
    let patches: readonly Patch[] = [];
    let effects: readonly unknown[];
    let before: unknown = states.has(entry.address) ? states.get(entry.address) : typed.initial();
    if (mode === 'auto' && !underImmer.has(entry.address) && hasSplitTable(before)) {
      before = readyForImmer(before);
      underImmer.add(entry.address);
    }
    const stepMode = mode === 'auto' ? (underImmer.has(entry.address) ? 'immer' : 'direct') : mode;
    try {
      if (stepMode === 'direct') {
        effects = applyDirect(typed, before, entry.event);
        state = before;
      } else {
        const step: ImmerStep<unknown, unknown> = applyUnderImmer(typed, before, entry.event, { patches: onStep !== undefined });
        state = step.state;
        patches = step.patches;
        effects = step.effects;
      }
    } catch (error) {
      return diverged(`the ${core.kind} recipe threw: ${messageOf(error)}`);
    }
    states.set(entry.address, state);
    const position = positions.get(entry.address) ?? 0;
    positions.set(entry.address, position + 1);
    events++;
    onStep?.(entry, state, patches);

    // What the writer wrote from its own replay (version 3) must be what this one gives.
    if (hashesComparable[entry.component] && writtenByReplay) {
      const mintedIds = mintedIn(effects);
      const minted = mintedIds === undefined ? undefined : JSON.stringify(mintedIds);
      const written = entry.minted === undefined ? undefined : JSON.stringify(mintedOf(entry.minted));
      if (minted !== written) return diverged(`the trace says the event minted ${written ?? 'no ids'} but replay mints ${minted ?? 'none'}; the trace was changed or written by another tsray`);
      const snapshot = snapshotsOf.get(entry.address)?.get(position);
      if (snapshot !== undefined) {
        const [expectedHash, actualHash] = [hashState(snapshot), hashState(state)];
        if (expectedHash !== actualHash) {
          return diverged(`the snapshot after this event (state hash ${expectedHash}) differs from the replayed state (${actualHash}); the trace was changed or written by another tsray`, { expectedHash, actualHash });
        }
        checkedSnapshots++;
      }
    }

    const checkHere = invariantsEvery || entry.hash !== undefined || recordedFailureSeqs.has(entry.seq) || lastSeqOf.get(entry.address) === entry.seq;
    try {
      if (checkHere) {
        const checkedBefore = stepMode === 'immer' && checkedStates.get(entry.address) === before ? { state: before } : undefined;
        checkInvariants(typed, state, where, checkedBefore);
        checkedStates.set(entry.address, state);
        // A state changed in place since its check (a direct step) is not the state that was checked.
      } else checkedStates.delete(entry.address);
    } catch (error) {
      // checkInvariants already names the step and the failure; its message is the whole reason.
      const reason = error instanceof Error ? error.message : messageOf(error);
      if (recordedFailureSeqs.has(entry.seq)) return { ok: true, events, checkedHashes, skippedHashes, ...snapshotCount(), reproducedFailure: { seq: entry.seq, reason } };
      return { ok: false, seq: entry.seq, address: entry.address, reason };
    }

    if (entry.hash === undefined) continue;
    if (!hashesComparable[entry.component]) {
      skippedHashes++;
      continue;
    }
    let actualHash: string;
    try {
      actualHash = hashState(state);
    } catch (error) {
      return diverged(`the state cannot be hashed: ${messageOf(error)}`);
    }
    if (actualHash !== entry.hash) {
      return diverged(`state hash ${actualHash} differs from the recorded ${entry.hash}; the reducer no longer reproduces this run`, {
        expectedHash: entry.hash,
        actualHash,
      });
    }
    checkedHashes++;
  }
  for (const [address, byPosition] of snapshotsOf) {
    const last = Math.max(...byPosition.keys());
    if (last >= (positions.get(address) ?? 0)) {
      return { ok: false, seq: 0, address, reason: `a snapshot of ${address} after its event ${last + 1} but the trace has ${positions.get(address) ?? 0} of its events; the trace was changed: record or collect it again` };
    }
  }
  return { ok: true, events, checkedHashes, skippedHashes, ...snapshotCount() };
}

/** The one-line message of a thrown value. */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/[\r\n]+/g, ' ');
}
