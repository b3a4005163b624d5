/**
 * Effects shared by every component. A recipe returns effects as data; the shell (or the simulator)
 * carries them out. Nothing in core/ performs an effect itself.
 */
import type { Address } from './ids.js';
import type { Message } from './protocol.js';

/** Send `message` to the component at `to`; the transport stamps the envelope. */
export interface MessageSent {
  readonly type: 'message/sent';
  readonly to: Address;
  readonly message: Message;
}

/** Deliver `timer/fired` with this `timerId` after `delayMs`; arming an armed id re-arms it. */
export interface TimerArmed {
  readonly type: 'timer/armed';
  readonly timerId: string;
  readonly delayMs: number;
}

/** The effects every component may return. */
export type CommonEffect = MessageSent | TimerArmed;

/** A timer fired; `nowMs` is the clock of the shell or simulator at that moment. */
export interface TimerFired {
  readonly type: 'timer/fired';
  readonly timerId: string;
  readonly nowMs: number;
}

/** Shorthand for a `message/sent` effect (typed by the message it carries, for callers that keep it). */
export function send<M extends Message>(to: Address, message: M): MessageSent & { readonly message: M } {
  return { type: 'message/sent', to, message };
}
