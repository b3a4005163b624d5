/**
 * Module resolution hooks for simulated scripts (registered by `simulate` with node:module's
 * `register`, so they run on Node's loader thread). Each run imports the script under a URL of its
 * own (`?tsray-sim-run=N`); these hooks give every module the script imports, directly or not, the
 * same tag, so each run evaluates the user's modules afresh, as a new `node SCRIPT` process would,
 * and no module state leaks from one run into the next. Packages (node_modules) and tsray itself are
 * shared: they hold no state of the user's.
 */

/** What `register` passes: URLs whose modules are never tagged (tsray's own package). */
interface HookData {
  readonly sharedPrefixes: readonly string[];
}

let sharedPrefixes: readonly string[] = [];

/** Takes the prefixes from `register`'s data. */
export function initialize(data: HookData | undefined): void {
  sharedPrefixes = data?.sharedPrefixes ?? [];
}

const runTag = /[?&](tsray-sim-run=\d+)/;

/** Resolves as Node does, then tags a user module imported from a tagged one with the same run. */
export async function resolve(
  specifier: string,
  context: { parentURL?: string },
  nextResolve: (specifier: string, context: { parentURL?: string }) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>,
): Promise<{ url: string; format?: string | null; shortCircuit?: boolean }> {
  const resolved = await nextResolve(specifier, context);
  const tag = context.parentURL === undefined ? undefined : runTag.exec(context.parentURL)?.[1];
  const { url } = resolved;
  if (tag === undefined || !url.startsWith('file:') || url.includes('/node_modules/') || runTag.test(url)) return resolved;
  if (sharedPrefixes.some((prefix) => url.startsWith(prefix))) return resolved;
  return { ...resolved, url: `${url}${url.includes('?') ? '&' : '?'}${tag}` };
}
