/**
 * How code reaches workers, as Ray ships it. A function defined in the entry script travels as its
 * source text (workers cannot import the entry script: that would run the driver again), so it may use
 * only its arguments, globals and the `tsray` global. A function defined in any other module travels
 * by reference: workers import that module, whose own `tsray.remote(...)` calls register the same
 * functions under the same keys, so the function may use its module's imports freely.
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How a function or class travels. */
export type FunctionDescriptor =
  | { readonly kind: 'source'; readonly source: string; readonly name: string }
  | { readonly kind: 'module'; readonly moduleUrl: string; readonly key: string; readonly name: string };

const registry = new Map<string, unknown>();
const countsByModule = new Map<string, number>();
const ownFiles = new Set<string>();

/**
 * Files of tsray itself, skipped when finding who called `tsray.remote`. Under a loader with source
 * maps (tsx) stack frames name the TypeScript sources, so `dist/x.js` is also known as `x.ts`.
 */
export function markOwnFile(url: string): void {
  ownFiles.add(url);
  const source = url.replace(/\/dist\/(.*)\.js$/, '/$1.ts');
  if (source !== url) ownFiles.add(source);
}

/** The URL of the module that called into tsray, read from the stack; undefined when unknown. */
function callerModuleUrl(): string | undefined {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = saved;
  for (const line of stack.split('\n').slice(1)) {
    const match = /\(?((?:file|node|data):[^\s)]+?|\/[^\s):]+?):\d+:\d+\)?$/.exec(line.trim());
    const location = match?.[1];
    if (location === undefined) continue;
    const url = location.startsWith('/') ? pathToFileURL(location).href : location;
    if (ownFiles.has(url) || url.startsWith('node:')) continue;
    return url;
  }
  return undefined;
}

/** The entry script's URL (process.argv[1]), if there is one. */
function entryUrl(): string | undefined {
  const entry = process.argv[1];
  return entry === undefined ? undefined : pathToFileURL(resolve(entry)).href;
}

/** Describes `fn` for shipping, from where `tsray.remote` was called. */
export function describeFunction(fn: (...args: never[]) => unknown): FunctionDescriptor {
  const caller = callerModuleUrl();
  const name = fn.name || 'anonymous';
  if (caller === undefined || caller === entryUrl() || !caller.startsWith('file:')) return { kind: 'source', source: fn.toString(), name };
  const count = (countsByModule.get(`${caller}#${name}`) ?? 0) + 1;
  countsByModule.set(`${caller}#${name}`, count);
  const key = `${caller}#${name}#${count}`;
  registry.set(key, fn);
  return { kind: 'module', moduleUrl: caller, key, name };
}

const loaded = new Map<string, unknown>();

/**
 * The function a descriptor names, in this worker: compiled from source with `tsray` in scope, or
 * found in the registry after importing its module.
 */
export async function loadFunction(descriptor: FunctionDescriptor, tsrayNamespace: unknown): Promise<unknown> {
  if (descriptor.kind === 'module') {
    if (!registry.has(descriptor.key)) await import(descriptor.moduleUrl);
    const fn = registry.get(descriptor.key);
    if (fn === undefined) throw new Error(`${descriptor.name} was not registered again when ${fileURLToPath(descriptor.moduleUrl)} was imported in a worker; call tsray.remote at the top level of the module`);
    return fn;
  }
  const cached = loaded.get(descriptor.source);
  if (cached !== undefined) return cached;
  // Sources are compiled in the worker's global scope: only globals and `tsray` are visible, as Ray's
  // by-value functions see only what they were given.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call -- compiling shipped source is the point of by-source shipping
  const compiled: unknown = new Function('tsray', `"use strict"; return (${descriptor.source});`)(tsrayNamespace);
  loaded.set(descriptor.source, compiled);
  return compiled;
}

/** A clearer error for a by-source function that used a name it cannot see. */
export function explainMissingName(descriptor: FunctionDescriptor, error: unknown): Error | undefined {
  if (descriptor.kind !== 'source' || !(error instanceof ReferenceError)) return undefined;
  const missing = /^(\S+) is not defined/.exec(error.message)?.[1] ?? 'a name';
  const explained = new ReferenceError(
    `${descriptor.name} uses ${missing}, which it cannot see: functions defined in the entry script are shipped by their source and may use only their arguments, globals and tsray; pass ${missing} as an argument or move ${descriptor.name} into a module (shipped by reference)`,
  );
  if (error.stack !== undefined) explained.stack = `${explained.name}: ${explained.message}\n${error.stack.split('\n').slice(1).join('\n')}`;
  return explained;
}
