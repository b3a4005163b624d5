/**
 * Garbage collection on demand. A typed array read in place pins its object's memory in the shared
 * store until the array is collected, but V8 does not know that a small view holds megabytes of the
 * store, so it may not collect it for a long time. When freed-but-pinned memory piles up, or a put
 * does not fit because of it, the node asks every thread to collect. `--expose-gc` is switched on at
 * run time, and the `gc` function is taken from a fresh context, so the user's global scope is not
 * touched.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** Runs a full garbage collection in this thread now. */
export function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
