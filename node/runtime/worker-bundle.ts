/**
 * The one script a worker thread runs (the build bundles this module and everything it imports into
 * worker-bundle.cjs; see worker-boot.cts): the API user code sees, and the worker's runtime.
 */
export * as api from '../public.js';
export { startWorker } from './worker-main.js';
