/**
 * TypeScript modules shipped by reference. A driver run with tsx ships its functions from `.ts`
 * modules by reference, and the worker that runs one imports that module (API.md). Node 20 does not
 * carry loader hooks into worker threads, and the node processes of a cluster (`tsray start`) do not
 * run under tsx at all, so a worker registers tsx's hooks itself: at start when its process runs
 * under tsx (an embedded cluster's driver), else before it first imports a TypeScript module, with
 * the tsx found beside that module (the user's project), in the working directory, or beside tsray.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { importModule } from './dynamic-import.js';

/** Whether tsx's hooks are registered in this thread. */
let registered = false;

/** A module that only a TypeScript loader can import. */
const typeScriptModule = /\.(c|m)?tsx?$/;

/** The ESM entry of the tsx API that a `require` from `directory` finds, or undefined when none does. */
function tsxApiFrom(directory: string): string | undefined {
  try {
    // require.resolve finds tsx's CommonJS entry; its ESM twin sits beside it.
    return pathToFileURL(createRequire(join(directory, 'index.js')).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  } catch {
    return undefined;
  }
}

async function register(api: string): Promise<void> {
  const module = (await importModule(api)) as { register?: () => unknown };
  module.register?.();
  registered = true;
}

/**
 * A driver run with tsx loads TypeScript through loader hooks that Node 20 does not carry into worker
 * threads; register tsx's hooks here too, so TypeScript modules load by reference in workers.
 */
export async function registerTsxIfParentUsesIt(): Promise<void> {
  const args = process.execArgv;
  const usesTsx = args.some((arg, index) => /(^|[=/\\])tsx(\/dist\/loader\.mjs|\/esm)?$/.test(arg) && (arg.includes('=') || /^--(import|loader|require)$/.test(args[index - 1] ?? '') || arg.includes('/tsx/dist/')));
  if (!usesTsx) return;
  const loader = args.find((arg) => /\/tsx\/dist\/loader\.mjs$/.test(arg));
  // `--import tsx`: find the tsx the driver uses, from its working directory, else beside tsray.
  const api = loader !== undefined ? new URL('./esm/api/index.mjs', loader).href : (tsxApiFrom(process.cwd()) ?? tsxApiFrom(dirname(fileURLToPath(import.meta.url))));
  if (api !== undefined) await register(api);
}

/**
 * Imports the module at `moduleUrl` for a function shipped by reference, first registering tsx's
 * hooks in this thread if it is a TypeScript module and they are not registered yet.
 *
 * @throws Error naming the module and what to install when it is TypeScript and no tsx is found.
 */
export async function importShippedModule(moduleUrl: string): Promise<unknown> {
  if (!registered && typeScriptModule.test(moduleUrl)) {
    const modulePath = fileURLToPath(moduleUrl);
    const api = tsxApiFrom(dirname(modulePath)) ?? tsxApiFrom(process.cwd()) ?? tsxApiFrom(dirname(fileURLToPath(import.meta.url)));
    if (api === undefined) {
      throw new Error(`cannot import ${modulePath} on this node: it is TypeScript, and no tsx is installed beside it, in ${process.cwd()} or beside tsray; install tsx in the project (npm install --save-dev tsx), or ship the function from a JavaScript module`);
    }
    await register(api);
  }
  return importModule(moduleUrl);
}
