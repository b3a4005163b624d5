/**
 * The head's GCS as a live shell, fresh or resumed. A fresh cluster's GCS starts with `gcs/started`
 * (incarnation 0). A resumed one (the head was killed and `tsray start --head` ran again on its
 * session) first replays its own log to rebuild the state its clients saw, then runs under the next
 * incarnation, so that every receiver's inbox takes its messages as new (seqs restart at 0 for it);
 * its caller applies `gcs/restarted` once the nodes had a chance to reconnect, which resumes what the
 * lost process had in flight. That is the simulator's GCS restart (core/sim/simulator.ts restartGcs).
 *
 * The GCS replies only once an event is committed, so a process killed between the commit and the
 * send (or with the reply still in its socket) loses replies that its log says were given: a job
 * registration's, an actor lookup's. Their requesters' repeats do not help (the resumed GCS drops
 * them as repeats of logged messages). So the replay also works out, exactly as the lost process
 * stamped them, the messages of its last `gcsResendWindowMs`, and the resumed GCS sends those again
 * under the lost incarnation and their original sequence numbers: a receiver that had one drops it
 * (core/inbox.ts), one that never got it takes it now.
 */
import { gcsCore } from '../../core/gcs/index.js';
import type { GcsConfig, GcsEffect, GcsEvent, GcsRestarted, GcsState } from '../../core/gcs/index.js';
import { gcsAddress } from '../../core/ids.js';
import type { Address } from '../../core/ids.js';
import type { Delivered, Message } from '../../core/protocol.js';
import type { Router } from '../runtime/router.js';
import { ComponentShell } from '../runtime/shell.js';
import type { ReplayableLog } from '../runtime/shell.js';
import type { EventLog } from '../store/event-log.js';

/**
 * A resumed GCS sends again the messages of the events its log holds from this long before its last
 * one: as long as the nodes' resend window (cluster-node.ts nodeResendWindowMs), which covers what a
 * killed head took with it.
 */
export const gcsResendWindowMs = 3000;

/** At most this many of those messages are sent again, the newest. */
export const maxResentGcsMessages = 100_000;

/** A message the lost GCS process sent (or was about to), stamped as it was: to send again. */
export interface ResentMessage {
  readonly to: Address;
  readonly message: Delivered<Message>;
}

/** A replayed GCS log: the state it rebuilt, how many events, and the last messages to send again. */
export interface ReplayedGcs {
  readonly state: GcsState;
  readonly events: number;
  readonly resend: readonly ResentMessage[];
}

/**
 * Replays the GCS's log (effects not carried out), and stamps the messages of its last incarnation as
 * its router did: per receiver, sequence numbers from 0 in the order sent (each process's router
 * starts afresh), the logged event as their cause. Those of the events within `windowMs` of the last
 * one, at most `maxMessages` (the newest), are returned to be sent again.
 *
 * @throws Error naming the log and seq when a record is damaged (a state built past it could not be trusted).
 */
export function replayGcsLog(log: ReplayableLog, windowMs = gcsResendWindowMs, maxMessages = maxResentGcsMessages): ReplayedGcs {
  const state = gcsCore.initial();
  let events = 0;
  let incarnation = 0;
  let sequences = new Map<Address, number>();
  let tail: { readonly atMs: number; readonly sent: ResentMessage }[] = [];
  let start = 0;
  for (const record of log.read(1)) {
    if ('corrupt' in record) {
      throw new Error(`the log of ${log.address} is damaged at event ${record.seq} (${record.corrupt}); its state cannot be rebuilt from it`);
    }
    const event = record.event as GcsEvent;
    if (event.type === 'gcs/started' || event.type === 'gcs/restarted') {
      // A new process: its router numbered its messages from 0, and what the one before sent is not its to send.
      incarnation = event.incarnation;
      sequences = new Map();
      tail = [];
      start = 0;
    }
    const effects = gcsCore.apply(state, event);
    events += 1;
    for (const effect of effects) {
      if (effect.type !== 'message/sent') continue;
      const seq = sequences.get(effect.to) ?? 0;
      sequences.set(effect.to, seq + 1);
      tail.push({ atMs: record.atMs, sent: { to: effect.to, message: { ...effect.message, via: { from: gcsAddress, incarnation, seq, cause: record.seq } } } });
    }
    const cutoffMs = record.atMs - windowMs;
    while (start < tail.length && ((tail[start]?.atMs ?? 0) < cutoffMs || tail.length - start > maxMessages)) start += 1;
    // Dropped entries are cut off in bulk, so that each message costs O(1) on average.
    if (start > 1024 && start * 2 > tail.length) {
      tail = tail.slice(start);
      start = 0;
    }
  }
  return { state, events, resend: tail.slice(start).map((entry) => entry.sent) };
}

/** The GCS's shell type. */
export type GcsShell = ComponentShell<GcsState, GcsEvent, GcsEffect>;

/** A started GCS. */
export interface OpenedGcs {
  readonly shell: GcsShell;
  /** Events replayed from the log (0 for a fresh cluster). */
  readonly replayedEvents: number;
  /** For a resumed GCS, the event that resumes it, to apply once clients could reconnect; undefined for a fresh one. */
  readonly restart: GcsRestarted | undefined;
  /** For a resumed GCS, the lost process's last messages, stamped as it stamped them, to send again first (see replayGcsLog). */
  readonly resend: readonly ResentMessage[];
}

/** Where the GCS runs. */
export interface GcsShellOptions {
  readonly router: Router;
  /** The GCS's durable log (empty for a fresh cluster). */
  readonly log: EventLog;
  /** A fresh cluster's configuration; a resumed GCS keeps the one its log started with. */
  readonly config: GcsConfig;
  /** Replay the log and resume, rather than start a fresh cluster. */
  readonly resume: boolean;
}

/**
 * Starts the GCS. A fresh one gets `gcs/started` now; a resumed one comes back in its replayed
 * state, under the incarnation after the one its log ends in.
 *
 * @throws Error when resuming a log that holds no started GCS, or one that is damaged, or when a
 *   fresh start finds events in the log (another cluster's GCS would be overwritten).
 */
export function openGcsShell(options: GcsShellOptions): OpenedGcs {
  const { router, log } = options;
  if (!options.resume) {
    if (log.lastSeq > 0) throw new Error(`the GCS log in ${log.dir} already holds ${log.lastSeq} events; a new cluster needs a new session dir`);
    const shell: GcsShell = new ComponentShell({ core: gcsCore, address: gcsAddress, router, log, replyAfterCommit: true });
    shell.apply({ type: 'gcs/started', incarnation: 0, config: options.config });
    return { shell, replayedEvents: 0, restart: undefined, resend: [] };
  }
  const { state, events, resend } = replayGcsLog(log);
  if (!state.started) throw new Error(`the GCS log in ${log.dir} holds no started cluster (${events} events); start a new cluster instead`);
  const incarnation = state.incarnation + 1;
  const shell: GcsShell = new ComponentShell({ core: gcsCore, address: gcsAddress, router, log, replyAfterCommit: true, initialState: state, incarnation });
  return { shell, replayedEvents: events, restart: { type: 'gcs/restarted', incarnation }, resend };
}
