/**
 * A module for the shipping tests: its top-level remote function uses a module helper (so it works
 * only by reference), and its factory creates a remote function at run time (no import recreates it).
 */
import * as tsray from '../../node/index.js';

function triple(x: number): number {
  return x * 3;
}

/** Registered when the module is evaluated: shipped by reference, even when by-source code imports the module. */
export const tripleRemote = tsray.remote((x: number) => triple(x));

/** Creates a remote function when called, after the module was evaluated: it can only ship by source. */
export function makeDoubler(): tsray.RemoteFunction<[number], number> {
  return tsray.remote((x: number) => x * 2);
}
