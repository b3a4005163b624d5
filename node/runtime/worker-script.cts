/**
 * The precompiled script a worker thread starts from. Loading tsray's sixty-odd ES modules cost a
 * worker about 70 ms of CPU, more than Node's own thread start (about 28 ms); one CommonJS bundle,
 * compiled with V8's code cache that the main thread made once, loads in about 15. The main thread
 * and the workers compile the same text under the same name, or V8 would reject the cache.
 *
 * This is a CommonJS module, as is the thread's entry (worker-boot.cts): an ES module entry costs
 * each thread about 8 ms more, to start Node's module loader.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** Where the build writes the bundle: beside this module, so its frames count as tsray's own. */
export const workerBundlePath = join(__dirname, 'worker-bundle.cjs');

/**
 * The global under which a worker's boot puts the tsray API that the bundle runs, for the `tsray`
 * package module (node/index.ts) to hand out: every import of `tsray` in that thread then gets the
 * same copy. Absent in every other thread.
 */
export const bootedApiKey = Symbol.for('tsray.bootedApi');

/**
 * What a worker's boot module lends the bundle. Node 20 lets code compiled by node:vm call `import()`
 * only behind an experimental flag, and that includes functions the bundle makes with `new Function`:
 * so imports, and compiling shipped sources, go through the boot module, a file Node loaded itself.
 */
export interface BootLoan {
  readonly importModule: (specifier: string) => Promise<unknown>;
  /** `new Function(...parameters, body)`, made in the boot module. */
  readonly newFunction: (...parametersAndBody: string[]) => (...args: unknown[]) => unknown;
}

/** The global under which a worker's boot module puts its `BootLoan` (see dynamic-import.ts). */
export const bootLoanKey = Symbol.for('tsray.bootLoan');

/** What a worker needs to start from the bundle. */
export interface WorkerScriptBoot {
  readonly path: string;
  /** V8's code cache for the bundle, made by the main thread; without it the worker compiles it all. */
  readonly codeCache?: Uint8Array;
}

/** The bundle's exports. */
export interface WorkerBundleExports {
  readonly api: unknown;
  readonly startWorker: (api: unknown) => Promise<void>;
}

/** Compiles the bundle at `path` as a worker does, with `cachedData` when given (see `Script.cachedDataRejected`). */
export function compileWorkerScript(path: string, cachedData?: Uint8Array): Script {
  const source = readFileSync(path, 'utf8');
  // The CommonJS wrapper, as Node's own loader writes it.
  return new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: path, ...(cachedData === undefined ? {} : { cachedData }) });
}

let made: WorkerScriptBoot | null | undefined;

/**
 * The bundle and its code cache, made on the first call in this process; null when the bundle was not
 * built (tsray run from its TypeScript sources), and workers then load the modules one by one.
 */
export function workerScriptBoot(): WorkerScriptBoot | null {
  if (made !== undefined) return made;
  if (!existsSync(workerBundlePath)) return (made = null);
  made = { path: workerBundlePath, codeCache: compileWorkerScript(workerBundlePath).createCachedData() };
  return made;
}

/** Compiles (with the cache when V8 accepts it) and runs the bundle in this thread. */
export function runWorkerScript(boot: WorkerScriptBoot): WorkerBundleExports {
  const script = compileWorkerScript(boot.path, boot.codeCache);
  const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
  const module = { exports: {} };
  wrapper(module.exports, createRequire(boot.path), module, boot.path, dirname(boot.path));
  return module.exports as WorkerBundleExports;
}
