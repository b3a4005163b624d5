/**
 * The scripts that tsray's threads run (scripts/bundle-worker.mjs bundles them after tsc) are strict
 * code, as the ES modules they are made of are on the main thread. A banner put before esbuild's own
 * "use strict" once left the worker threads and the log thread in sloppy mode: a recipe's write to a
 * frozen object was dropped there without a word, where the main thread and a replay throw.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Script } from 'node:vm';

/** The thread scripts a build makes, beside the modules that start them. */
const bundles = ['../../../../node/runtime/worker-bundle.cjs', '../../../../node/store/log-thread.cjs', '../../../../node/trace/replay-worker.cjs'].map((path) => fileURLToPath(new URL(path, import.meta.url)));

for (const path of bundles) {
  const name = path.slice(path.lastIndexOf('dist/') + 'dist/'.length);
  void test(`${name} is strict code`, () => {
    const text = readFileSync(path, 'utf8');
    // Only compiled, never run: a `with` statement is a syntax error in strict code and only there.
    assert.throws(() => new Script(`${text}\nwith ({}) {}`, { filename: name }), SyntaxError);
    // The check itself tells the two apart: the same text after a statement is sloppy code.
    assert.doesNotThrow(() => new Script(`void 0;\n${text}\nwith ({}) {}`, { filename: name }));
  });
}
