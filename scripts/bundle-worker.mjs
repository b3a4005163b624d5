// Bundles what a worker thread runs into one CommonJS script (see node/runtime/worker-script.ts),
// after tsc has built dist/. The native packages stay outside: they load with require at run time.
import { build } from 'esbuild';

/**
 * fp-ts's ES module build in place of its CommonJS one: through CommonJS every call such as
 * `E.isLeft` went through a getter that esbuild adds to the module's namespace, about 2% of a
 * replay worker's time; ES modules are joined into the bundle as plain functions.
 */
const fpTsModules = {
  name: 'fp-ts-es6',
  setup(build) {
    build.onResolve({ filter: /^fp-ts\/lib\// }, (args) => build.resolve(args.path.replace(/^fp-ts\/lib\//, 'fp-ts/es6/'), { kind: args.kind, resolveDir: args.resolveDir }));
  },
};

/** How a thread's script that loads lmdb at run time is bundled: the worker threads' and the log thread's. */
const threadScript = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['lmdb'],
  // msgpackr's plain entry: its Node entry adds streams and a native string decoder, which cost each
  // thread more to load (a dlopen, node:stream) than they save on tsray's small messages.
  alias: { msgpackr: './node_modules/msgpackr/index.js' },
  plugins: [fpTsModules],
  // A script has no import.meta: the bundle's own location stands in for each module's. The banner
  // opens with the directive: esbuild writes its own "use strict" after the banner, where it is only
  // a string, and the thread then ran tsray's modules (strict, as every ES module is) in sloppy mode,
  // where a write to a frozen object is dropped without the TypeError the main thread throws.
  define: { 'import.meta.url': '__tsrayBundleUrl' },
  banner: { js: "\"use strict\";\nvar __tsrayBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

await build({ ...threadScript, entryPoints: ['dist/node/runtime/worker-bundle.js'], outfile: 'dist/node/runtime/worker-bundle.cjs' });

// The node's log thread (node/store/log-thread.ts), bundled the same way: it starts at every init
// with logging on, while the first tasks run, and loading its ES modules one by one took about 50 ms
// of the 530-580 ms of CPU its first two seconds took under the profiler (session-logs.ts starts the
// bundle when the build made it).
await build({ ...threadScript, entryPoints: ['dist/node/store/log-thread.js'], outfile: 'dist/node/store/log-thread.cjs' });

// The debugger's replay worker (node/trace/replay-worker.ts), bundled the same way: as ES modules
// each of the pass's two threads spent about 90 ms of CPU loading its sixty-odd modules, as one
// CommonJS script about 10 (parallel-replay.ts starts it when the build made it).
await build({
  entryPoints: ['dist/node/trace/replay-worker.js'],
  outfile: 'dist/node/trace/replay-worker.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  plugins: [fpTsModules],
  logLevel: 'warning',
});
