/**
 * Keys typed between the browser's first frame and the moment it listens. Ink draws a frame while
 * React commits it, and Ink's `useInput` attaches a handler in an effect that runs after: on a
 * loaded machine that gap measured 40 to 450 ms, and a key typed in it went to the loading screen's
 * handler, which ignores all keys but q (a test typing `?` at the first frame waited 20 s for the
 * help). The debugger keeps such keys here for the browser, which takes them in order once it
 * listens.
 */
import type { Key } from 'ink';

/** The keys kept for a browser that is not listening yet. */
export interface EarlyKeys {
  /** Set once the trace is open: from then on, keys are the browser's. */
  ready: boolean;
  /** Set by the browser once its own handler is attached: keys then reach it directly. */
  listening: boolean;
  readonly keys: [string, Key][];
}

/** At most this many early keys are kept (a paste arrives as one); later ones are dropped. */
export const earlyKeysLimit = 256;

/** A fresh queue, not yet ready. */
export function earlyKeys(): EarlyKeys {
  return { ready: false, listening: false, keys: [] };
}

/**
 * Takes a key that reached the debugger: true when it is kept for the browser (the trace is open and
 * the browser does not listen yet), false when the loading screen should handle it.
 */
export function keepEarlyKey(queue: EarlyKeys, input: string, key: Key): boolean {
  if (!queue.ready) return false;
  if (!queue.listening && queue.keys.length < earlyKeysLimit) queue.keys.push([input, key]);
  return true;
}
