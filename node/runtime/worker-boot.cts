/**
 * The entry of a worker thread. It starts the thread's runtime from the precompiled bundle the main
 * thread names (see worker-script.cts), or from tsray's modules when there is no bundle.
 */
import { workerData } from 'node:worker_threads';
import { bootedApiKey, bootLoanKey, runWorkerScript } from './worker-script.cjs';
import type { BootLoan, WorkerScriptBoot } from './worker-script.cjs';

async function boot(): Promise<void> {
  const script = (workerData as { script?: WorkerScriptBoot }).script;
  if (script === undefined) {
    const api: unknown = await import('../public.js');
    const { startWorker } = await import('./worker-main.js');
    await startWorker(api);
    return;
  }
  // The bundle is a script, not a module: it imports user modules and compiles shipped sources here.
  const loan: BootLoan = {
    importModule: (specifier) => import(specifier),
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiling shipped source is the point of by-source shipping
    newFunction: (...parametersAndBody) => new Function(...parametersAndBody) as (...args: unknown[]) => unknown,
  };
  (globalThis as Record<symbol, unknown>)[bootLoanKey] = loan;
  const bundle = runWorkerScript(script);
  (globalThis as Record<symbol, unknown>)[bootedApiKey] = bundle.api;
  await bundle.startWorker(bundle.api);
}

// A failure to start ends the thread with that error, which the main thread reports.
boot().catch((error: unknown) => {
  throw error;
});
