// Map-reduce word count: one map task per file counts that file's words, one reduce task merges the
// counts, and the driver prints the ten most frequent words.
//   node examples/word-count.mjs [FILE...]     (no files: it writes a few sample texts and counts those)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tsray from 'tsray';

// Shipped by source, a task cannot see this script's imports; it imports what it needs itself. The
// file is read inside the task, so only its path travels, and the reading happens in parallel.
const countWords = tsray.remote(async function countWords(path) {
  const { readFile } = await import('node:fs/promises');
  const counts = new Map();
  for (const word of (await readFile(path, 'utf8')).toLowerCase().match(/[a-z']+/g) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
});

// Each argument is the ObjectRef of a map task's result: the reduce task starts once all of them
// exist, and receives their values.
const mergeCounts = tsray.remote(function mergeCounts(...partials) {
  const total = new Map();
  for (const counts of partials) for (const [word, count] of counts) total.set(word, (total.get(word) ?? 0) + count);
  return total;
});

// With no paths given, write sample texts so that the example runs anywhere.
const samples = {
  'tasks.txt': 'A task is a function that runs on a worker. The driver submits the task and gets a reference to its result at once.\n',
  'objects.txt': 'An object lives in the store of the node that made it. A reference to the object can be passed to any task, and the task receives the value.\n',
  'actors.txt': 'An actor is a worker with state. Calls to the actor run one at a time, in the order the caller made them.\n',
  'faults.txt': 'When a worker dies, the task that ran on it is retried on another worker, and the driver sees the result as if nothing had happened.\n',
};
let paths = process.argv.slice(2).map((path) => resolve(path));
let sampleDir;
if (paths.length === 0) {
  sampleDir = mkdtempSync(join(tmpdir(), 'tsray-word-count-'));
  // Each text is repeated a different number of times, so the counts are not all alike.
  paths = Object.entries(samples).map(([name, text], index) => {
    const path = join(sampleDir, name);
    writeFileSync(path, text.repeat(10 * (index + 1)));
    return path;
  });
}

await tsray.init();
const total = await tsray.get(mergeCounts.remote(...paths.map((path) => countWords.remote(path))));
const top = [...total].sort(([wordA, countA], [wordB, countB]) => countB - countA || wordA.localeCompare(wordB)).slice(0, 10);

const words = [...total.values()].reduce((sum, count) => sum + count, 0);
console.log(`${words} words (${total.size} distinct) in ${paths.length} files; the ten most frequent:`);
for (const [word, count] of top) console.log(`${String(count).padStart(8)}  ${word}`);

await tsray.shutdown();
if (sampleDir !== undefined) rmSync(sampleDir, { recursive: true, force: true });
