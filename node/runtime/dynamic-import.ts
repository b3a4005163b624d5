/**
 * Loading code at run time: importing a module by URL and compiling shipped source. In a worker
 * thread, tsray runs from one script compiled by node:vm (see worker-script.cts), where Node 20 allows
 * `import()` only behind an experimental flag, in that script and in functions it compiles; so both
 * go through what the thread's entry module lends (a `BootLoan`), when it lends it.
 */
import { bootLoanKey } from './worker-script.cjs';
import type { BootLoan } from './worker-script.cjs';

function loan(): BootLoan | undefined {
  return (globalThis as Record<symbol, BootLoan | undefined>)[bootLoanKey];
}

/** Imports `specifier` (an absolute URL). */
export function importModule(specifier: string): Promise<unknown> {
  const lent = loan();
  return lent !== undefined ? lent.importModule(specifier) : import(specifier);
}

/** `new Function(...parameters, body)`, whose code may use `import()`. */
export function newFunction(...parametersAndBody: string[]): (...args: unknown[]) => unknown {
  const lent = loan();
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiling shipped source is the point of by-source shipping
  return lent !== undefined ? lent.newFunction(...parametersAndBody) : (new Function(...parametersAndBody) as (...args: unknown[]) => unknown);
}
