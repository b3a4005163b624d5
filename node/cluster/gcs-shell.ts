/**
 * The head's GCS as a live shell, fresh or resumed. A fresh cluster's GCS starts with `gcs/started`
 * (incarnation 0). A resumed one (the head was killed and `tsray start --head` ran again on its
 * session) first replays its own log to rebuild the state its clients saw, then runs under the next
 * incarnation, so that every receiver's inbox takes its messages as new (seqs restart at 0 for it);
 * its caller applies `gcs/restarted` once the nodes had a chance to reconnect, which resumes what the
 * lost process had in flight. That is the simulator's GCS restart (core/sim/simulator.ts restartGcs).
 */
import { gcsCore } from '../../core/gcs/index.js';
import type { GcsConfig, GcsEffect, GcsEvent, GcsRestarted, GcsState } from '../../core/gcs/index.js';
import { gcsAddress } from '../../core/ids.js';
import type { Router } from '../runtime/router.js';
import { ComponentShell, replayLog } from '../runtime/shell.js';
import type { EventLog } from '../store/event-log.js';

/** The GCS's shell type. */
export type GcsShell = ComponentShell<GcsState, GcsEvent, GcsEffect>;

/** A started GCS. */
export interface OpenedGcs {
  readonly shell: GcsShell;
  /** Events replayed from the log (0 for a fresh cluster). */
  readonly replayedEvents: number;
  /** For a resumed GCS, the event that resumes it, to apply once clients could reconnect; undefined for a fresh one. */
  readonly restart: GcsRestarted | undefined;
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
    return { shell, replayedEvents: 0, restart: undefined };
  }
  const { state, events } = replayLog(gcsCore, log);
  if (!state.started) throw new Error(`the GCS log in ${log.dir} holds no started cluster (${events} events); start a new cluster instead`);
  const incarnation = state.incarnation + 1;
  const shell: GcsShell = new ComponentShell({ core: gcsCore, address: gcsAddress, router, log, replyAfterCommit: true, initialState: state, incarnation });
  return { shell, replayedEvents: events, restart: { type: 'gcs/restarted', incarnation } };
}
