/**
 * A module that calls `init()` at its top level and defines a remote function, as a script loaded
 * other than as the entry script does: a worker imports it to find the function, and so runs the
 * init too.
 */
import * as tsray from '../../node/index.js';

/** Whether the top-level init below failed in this thread, and its message. */
export let initFailure: string | undefined;

try {
  await tsray.init({ numCpus: 1 });
  await tsray.shutdown();
} catch (error) {
  initFailure = error instanceof Error ? error.message : String(error);
}

/** Returns what the top-level init said in the thread that runs it. */
export const initFailureRemote = tsray.remote(() => initFailure ?? 'no failure');
