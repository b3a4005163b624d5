/**
 * What can happen to the GCS, and what it asks the world to do in return.
 */
import type { CommonEffect, TimerFired } from '../effects.js';
import type { Delivered, MessageOf } from '../protocol.js';
import type { GcsConfig } from './state.js';

/** The first event of a fresh cluster's GCS. */
export interface GcsStarted {
  readonly type: 'gcs/started';
  readonly incarnation: number;
  readonly config: GcsConfig;
}

/**
 * The GCS process restarted and has replayed its own log (effects discarded) to rebuild its state;
 * this event resumes what the lost process had in flight.
 */
export interface GcsRestarted {
  readonly type: 'gcs/restarted';
  readonly incarnation: number;
}

/** The message types the GCS receives. */
export type GcsInboundType =
  | 'node/registered'
  | 'node/heartbeat'
  | 'worker/died'
  | 'job/registration-requested'
  | 'job/finished'
  | 'actor/registration-requested'
  | 'actor/lookup-requested'
  | 'actor/subscribed'
  | 'actor/status-replied'
  | 'actor/kill-requested'
  | 'actor/creation-replied'
  | 'actor/out-of-scope'
  | 'actor/disposed'
  | 'lease/granted'
  | 'lease/spilled'
  | 'lease/rejected'
  | 'lease/infeasible'
  | 'lease/worker-died';

/** A message delivered to the GCS, one variant per inbound type. */
export type GcsDelivered = { [T in GcsInboundType]: Delivered<MessageOf<T>> }[GcsInboundType];

/** Everything that can happen to the GCS. */
export type GcsEvent = GcsStarted | GcsRestarted | TimerFired | GcsDelivered;

/** What the GCS asks its shell to do: send messages and arm timers. */
export type GcsEffect = CommonEffect;

/** The timer that drives node health checks. */
export const healthTimerId = 'health';

/** The prefix of the timer that retries placing one actor after a raylet turned its lease down for now. */
export const actorRetryTimerPrefix = 'actor-retry:';

/** The prefix of the timer that bounds one actor's dispose method after its handles went out of scope. */
export const actorDisposeTimerPrefix = 'actor-dispose:';
