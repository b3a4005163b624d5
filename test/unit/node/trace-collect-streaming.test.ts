/**
 * Collecting a session reads its logs as the merge takes their events (node/trace/collect.ts,
 * `openSessionSources`): a session of 50,000 tiny tasks (about 200,000 events) merges in a 110 MB
 * heap, where its logs read whole (1.6 million events of 400,000 tasks held 3 GB) ran out of heap
 * below 140 MB. The merge from sources gives the trace that reading the logs whole gives, and
 * `tsray timeline` writes the session's timeline as the logs merge, in the same heap.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { mergeLogs, openSessionSources, readSessionLogs } from '../../../node/trace/collect.js';
import { buildTimeline } from '../../../node/trace/timeline.js';
import { packageRoot, writeDriverScript } from '../../support/driver-script.js';

const tasks = 50_000;

const driver = writeDriverScript(
  'trace-collect-streaming-driver',
  `import * as tsray from 'tsray';
const sessionDir = process.argv[2];
await tsray.init({ numCpus: 2, sessionDir });
const echo = tsray.remote(function echo(x) { return x + 1; });
for (let round = 0; round < 5; round += 1) {
  const values = await tsray.get(Array.from({ length: ${tasks / 5} }, (_, i) => echo.remote(i)));
  if (values.some((value, i) => value !== i + 1)) throw new Error('a task came back wrong');
}
await tsray.shutdown();
`,
);
const sessionDir = join(driver.sessionDir, 'session');

/** Merges the session's logs from sources in a child process with a small heap; prints the events merged. */
const merger = writeDriverScript(
  'trace-collect-streaming-merge',
  `import { mergeLogsInto, openSessionSources } from ${JSON.stringify(join(packageRoot, 'dist/node/trace/collect.js'))};
const opened = openSessionSources(process.argv[2]);
let events = 0;
const merged = mergeLogsInto(opened.sources, {}, () => { events += 1; });
opened.close();
console.log(JSON.stringify({ events, divergences: merged.divergences, checkedLiveHashes: merged.checkedLiveHashes }));
`,
);

before(() => {
  const ran = spawnSync(process.execPath, [driver.path, sessionDir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(ran.status, 0, ran.stderr);
});
after(() => {
  driver.remove();
  merger.remove();
});

void test('a session of 50,000 tasks merges in a 110 MB heap, its logs read as the merge goes, and every replay reproduces its live hash', () => {
  const merged = spawnSync(process.execPath, ['--max-old-space-size=110', merger.path, sessionDir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(merged.status, 0, `the merge ran out of its heap or failed: ${merged.stderr.slice(0, 400)}`);
  const printed = JSON.parse(merged.stdout.trim()) as { events: number; divergences: string[]; checkedLiveHashes: number };
  assert.ok(printed.events > tasks * 4, `${printed.events} events merged, not the four or more of each of ${tasks} tasks`);
  assert.deepEqual(printed.divergences, []);
  assert.ok(printed.checkedLiveHashes >= 3, 'the GCS, the raylet and the driver reproduced their live hashes');
});

void test('merging from sources gives the trace that merging the logs read whole gives', () => {
  const whole = mergeLogs(readSessionLogs(sessionDir));
  const opened = openSessionSources(sessionDir);
  try {
    const streamed = mergeLogs(opened.sources);
    assert.equal(streamed.entries.length, whole.entries.length);
    assert.deepEqual(streamed.header, whole.header);
    assert.deepEqual(streamed.notes, whole.notes);
    // Entry by entry as text: the order, the parents and the hashes.
    for (let index = 0; index < whole.entries.length; index += 1) {
      assert.equal(JSON.stringify(streamed.entries[index]), JSON.stringify(whole.entries[index]), `entry ${index + 1} differs`);
    }
  } finally {
    opened.close();
  }
});

void test('tsray timeline of the same session is written as the logs merge, in the same heap, and is the JSON of the whole timeline', () => {
  const output = join(driver.sessionDir, 'timeline.json');
  const cli = join(packageRoot, 'dist/node/cli/main.js');
  const ran = spawnSync(process.execPath, ['--max-old-space-size=110', cli, 'timeline', '--session', sessionDir, '-o', output], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(ran.status, 0, `the timeline ran out of its heap or failed: ${ran.stderr.slice(0, 400)}`);
  assert.match(ran.stderr, /^timeline of \d+ events, \d+ trace events \(/);
  const whole = buildTimeline(mergeLogs(readSessionLogs(sessionDir)).entries, `tsray ${basename(sessionDir)}`);
  assert.ok(whole.traceEvents.length > tasks, `${whole.traceEvents.length} trace events, not one or more per task`);
  assert.equal(readFileSync(output, 'utf8'), JSON.stringify(whole));
});
