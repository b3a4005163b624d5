/**
 * The remote function and actor class the benches measure tsray with: a tiny task returning
 * `value + 1`, and a counter actor whose method adds to its state. One module, so that every bench
 * ships the same code by reference.
 */
import * as tsray from '../node/index.js';

/** The tiny task: `x + 1`. */
export const echo = tsray.remote(function echo(value: number): number {
  return value + 1;
});

class Counter {
  total = 0;

  add(amount: number): number {
    this.total += amount;
    return this.total;
  }
}

/** The actor of the 1:1 call measures. */
export const CounterActor = tsray.remote(Counter);
