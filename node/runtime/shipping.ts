/**
 * How code reaches workers, as Ray ships it. A function defined in the entry script travels as its
 * source text (workers cannot import the entry script: that would run the driver again), so it may use
 * only its arguments, globals and the `tsray` global. A function defined in any other module travels
 * by reference: workers import that module, whose own `tsray.remote(...)` calls register the same
 * functions under the same keys, so the function may use its module's imports freely. Functions and
 * classes created while by-source code runs (a remote function defined inside a task body, at any
 * depth) travel by source too: no import would create them again.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newFunction } from './dynamic-import.js';
import { importShippedModule } from './typescript-modules.js';

/** How a function or class travels. */
export type FunctionDescriptor =
  | { readonly kind: 'source'; readonly source: string; readonly name: string }
  | { readonly kind: 'module'; readonly moduleUrl: string; readonly key: string; readonly name: string };

const registry = new Map<string, unknown>();
const countsByModule = new Map<string, number>();

/**
 * Stack frames of by-source code carry this scheme: `loadFunction` names each compiled source with a
 * `//# sourceURL=` of it, so code created while by-source code runs can be told apart from module code.
 */
const sourceScheme = 'tsray-source:';

/**
 * Folders of tsray itself (the built package's `node/` folder), skipped when finding who called
 * `tsray.remote`. Should a loader report frames by their TypeScript sources, `dist/node/` is also
 * known as `node/`.
 */
const ownFolders = ((): string[] => {
  const built = new URL('../', import.meta.url).href;
  const source = built.replace(/\/dist\/node\/$/, '/node/');
  return source === built ? [built] : [built, source];
})();

function isOwn(url: string): boolean {
  return url.startsWith('node:') || ownFolders.some((folder) => url.startsWith(folder));
}

/** Node's own frames that evaluate a module (ESM `ModuleJob.run`, CommonJS `Module._compile`). */
function evaluatesModule(url: string): boolean {
  return url.startsWith('node:internal/modules/');
}

/**
 * The locations (URLs) of the stack's frames, innermost first (async callers included). Raw call sites
 * name the files that actually run: a printed stack under `--enable-source-maps` names a compiled
 * module's TypeScript source instead, which workers could not import.
 */
function stackLocations(): string[] {
  const savedLimit = Error.stackTraceLimit;
  // Whatever formatter is installed (a source-map library's, or none) is put back exactly as it was.
  const savedPrepare = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
  Error.stackTraceLimit = 100;
  // Defined rather than assigned, so a formatter installed as an accessor cannot swallow it.
  Object.defineProperty(Error, 'prepareStackTrace', { value: (_error: Error, sites: NodeJS.CallSite[]) => sites, configurable: true, writable: true });
  let sites: unknown;
  try {
    sites = new Error().stack;
  } finally {
    Error.stackTraceLimit = savedLimit;
    if (savedPrepare === undefined) Reflect.deleteProperty(Error, 'prepareStackTrace');
    else Object.defineProperty(Error, 'prepareStackTrace', savedPrepare);
  }
  if (!Array.isArray(sites)) return [];
  const locations: string[] = [];
  for (const site of sites as NodeJS.CallSite[]) {
    // Eval'd code has no file name; the sourceURL it was given (by loadFunction) names it.
    const location = site.getScriptNameOrSourceURL() ?? site.getFileName() ?? '';
    if (location !== '') locations.push(isAbsolute(location) ? pathToFileURL(location).href : location);
  }
  return locations;
}

/**
 * Who called `tsray.remote`: by-source code (the entry script, a shipped source, module code that
 * by-source code called at run time; also when no caller is found), or a module. Module code counts as
 * top level unless by-source code is found below it on the stack before any frame of Node evaluating a
 * module: a module imported by by-source code (`await import(...)`) still registers its functions
 * when evaluated, as every worker that imports it does; but a module function that by-source code calls
 * later creates functions no import registers again, so they can only travel by source.
 */
function callerOf(): { kind: 'source' } | { kind: 'module'; url: string } {
  const isSource = (url: string): boolean => url.startsWith(sourceScheme) || entryUrls.has(url) || evaluatedEntry.test(url) || !(url.startsWith('file:') || url.startsWith('node:'));
  const locations = stackLocations();
  const callerIndex = locations.findIndex((url) => !isOwn(url));
  const caller = locations[callerIndex];
  if (caller === undefined || isSource(caller)) return { kind: 'source' };
  for (const url of locations.slice(callerIndex + 1)) {
    if (evaluatesModule(url)) break;
    if (!isOwn(url) && isSource(url)) return { kind: 'source' };
  }
  return { kind: 'module', url: caller };
}

/**
 * The URLs the entry script (process.argv[1]) may run under: its path as given and, as Node loads a
 * symlinked main script from its real path, that real path.
 */
const entryUrls = ((): Set<string> => {
  const entry = process.argv[1];
  if (entry === undefined) return new Set();
  const given = resolve(entry);
  let real = given;
  try {
    real = realpathSync(given);
  } catch {
    // An entry that cannot be resolved (e.g. `node -e`) is known by its path only.
  }
  return new Set([pathToFileURL(given).href, pathToFileURL(real).href]);
})();

/**
 * The URL Node gives an entry script that is not a file: `node --input-type=module -e CODE`, or
 * such code piped to stdin, runs as the module `file:///<cwd>/[eval1]` (CommonJS code so run is
 * `[eval]` or `[stdin]`, no file URL). Workers cannot import it, so its functions ship by source as a file's do.
 */
const evaluatedEntry = /^file:\/\/.*\/\[eval\d*\]$/;

/**
 * Counts `url` as the entry script's too: `tsray sim` imports the user's script itself (once per
 * run, under a URL of its own), and functions defined there must travel by source as they do live.
 */
export function addEntryUrl(url: string): void {
  entryUrls.add(url);
}

const runTag = /[?&]tsray-sim-run=\d+/g;

/**
 * `text` without the tags `tsray sim` gives module URLs to import a script afresh for each run
 * (see node/sim/module-hooks.ts), so that what a run records does not depend on how many ran before.
 */
export function withoutRunTag(text: string): string {
  // The hooks always add the tag last, so dropping it leaves the rest of the query as it was.
  return text.includes('tsray-sim-run=') ? text.replace(runTag, '') : text;
}

/** Describes `fn` for shipping, from where `tsray.remote` was called. */
export function describeFunction(fn: (...args: never[]) => unknown): FunctionDescriptor {
  const caller = callerOf();
  const name = fn.name || 'anonymous';
  if (caller.kind === 'source') return { kind: 'source', source: fn.toString(), name };
  // Counted per module instance; a simulated run's instance replaces the last run's under the same key.
  const count = (countsByModule.get(`${caller.url}#${name}`) ?? 0) + 1;
  countsByModule.set(`${caller.url}#${name}`, count);
  const moduleUrl = withoutRunTag(caller.url);
  const key = `${moduleUrl}#${name}#${count}`;
  registry.set(key, fn);
  return { kind: 'module', moduleUrl, key, name };
}

const loaded = new Map<string, unknown>();

/**
 * The function a descriptor names when this worker already has it (compiled, or registered by its
 * imported module), without waiting: undefined when `loadFunction` still has to load it.
 */
export function loadedFunction(descriptor: FunctionDescriptor): unknown {
  return descriptor.kind === 'module' ? registry.get(descriptor.key) : loaded.get(descriptor.source);
}

/**
 * The function a descriptor names, in this worker: compiled from source with `tsray` in scope, or
 * found in the registry after importing its module.
 */
export async function loadFunction(descriptor: FunctionDescriptor, tsrayNamespace: unknown): Promise<unknown> {
  if (descriptor.kind === 'module') {
    if (!registry.has(descriptor.key)) await importShippedModule(descriptor.moduleUrl);
    const fn = registry.get(descriptor.key);
    if (fn === undefined) throw new Error(`${descriptor.name} was not registered again when ${fileURLToPath(descriptor.moduleUrl)} was imported in a worker; call tsray.remote at the top level of the module`);
    return fn;
  }
  const cached = loaded.get(descriptor.source);
  if (cached !== undefined) return cached;
  // Sources are compiled in the worker's global scope: only globals and `tsray` are visible, as Ray's
  // by-value functions see only what they were given. The sourceURL marks their stack frames (see
  // callerOf) and names them readably in stack traces.
  const compiled: unknown = newFunction('tsray', `"use strict"; return (${descriptor.source});\n//# sourceURL=${sourceScheme}///${encodeURIComponent(descriptor.name)}`)(tsrayNamespace);
  loaded.set(descriptor.source, compiled);
  return compiled;
}

/**
 * A clearer error for what a shipped function cannot do: a by-source one use a name it cannot see;
 * and either kind call `.remote` on its own name, which inside it is the function itself (a named
 * function expression sees its own name), not the remote function made from it. In a module the
 * remote function of that name is in scope, but the function expression's own name hides it.
 */
export function explainBySourceError(descriptor: FunctionDescriptor, error: unknown): Error | undefined {
  if (descriptor.kind === 'module') {
    if (!(error instanceof TypeError) || error.message !== `${descriptor.name}.remote is not a function`) return undefined;
    return withStackOf(
      error,
      new TypeError(
        `${descriptor.name}.remote is not a function: inside the function expression named ${descriptor.name}, ${descriptor.name} is the function itself, which hides its module's remote function of the same name; give the function expression another name (or none) so that ${descriptor.name} there means the remote function`,
      ),
    );
  }
  if (descriptor.kind !== 'source') return undefined;
  if (error instanceof ReferenceError) {
    const missing = /^(\S+) is not defined/.exec(error.message)?.[1] ?? 'a name';
    return withStackOf(
      error,
      new ReferenceError(
        `${descriptor.name} uses ${missing}, which it cannot see: functions defined in the entry script (or created by code shipped by source) are shipped by their source and may use only their arguments, globals and tsray; pass ${missing} as an argument or move ${descriptor.name} into a module (shipped by reference)`,
      ),
    );
  }
  if (error instanceof TypeError && error.message === `${descriptor.name}.remote is not a function`) {
    return withStackOf(
      error,
      new TypeError(
        `${descriptor.name}.remote is not a function: ${descriptor.name} is shipped by its source, and inside it ${descriptor.name} is the function itself, not the remote function made from it; submit it from within as tsray.remote(${descriptor.name}).remote(...), or move it into a module (shipped by reference) and give the function expression another name (or none), so that ${descriptor.name} there means the module's remote function`,
      ),
    );
  }
  return undefined;
}

/** `explained`, with the stack frames of `error` (the user's code) under its own message. */
function withStackOf(error: Error, explained: Error): Error {
  if (error.stack !== undefined) explained.stack = `${explained.name}: ${explained.message}\n${error.stack.split('\n').slice(1).join('\n')}`;
  return explained;
}
