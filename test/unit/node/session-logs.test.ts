/**
 * A session's logs (node/store/session-logs.ts): a raylet's log is encoded on the thread that runs
 * the raylet and written by the log thread, as a raylet's log (so that replay picks the raylet's
 * reducer for it), with its events, their parents and the hash of its state; `flushAll` puts what it
 * buffers on disk while the raylet runs on, and `close` sends its last records. The log thread runs
 * from the one script the build bundles, as a worker thread does.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EventLog, openSessionLogs } from '../../../node/store/event-log.js';
import { logThreadEntry, SessionLogs } from '../../../node/store/session-logs.js';

const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-session-logs-'));
after(() => rmSync(sessionDir, { recursive: true, force: true }));

/** The events and recorded hashes of the log of `address` in the session, read from disk. */
async function readLog(address: string): Promise<{ component: string; events: unknown[]; hashes: Map<number, string> }> {
  const found = openSessionLogs(sessionDir).find((log) => log.address === address);
  assert.ok(found !== undefined, `the session holds a log of ${address}`);
  const log = EventLog.open(found.dir);
  try {
    return { component: found.component, events: [...log.read()], hashes: log.readStateHashes() };
  } finally {
    await log.close();
  }
}

void test("a raylet's log is written by the log thread as a raylet's, with its state's hash", async () => {
  const logs = new SessionLogs(sessionDir);
  const raylet = logs.openForwarded('raylet:n1', 'raylet');
  let state = 'aaaaaaaaaaaaaaaa';
  raylet.hashStateWith(() => state);
  // The GCS's log stays on this thread; the raylet's is not among the logs it writes.
  logs.open('gcs', 'gcs', true);
  assert.deepEqual(logs.openLogs.map((log) => log.address), ['gcs']);
  try {
    assert.equal(raylet.append(5, { type: 'node/started', nodeId: 'n1' }), 1);
    assert.equal(raylet.append(6, { type: 'worker/started', workerId: 'n1.w1' }, 1), 2);
    state = 'bbbbbbbbbbbbbbbb';
    // A reader asks for every log to be on disk while the raylet runs on: its buffered records go first.
    await logs.flushAll();
    const running = await readLog('raylet:n1');
    assert.equal(running.component, 'raylet');
    assert.deepEqual(running.events, [
      { seq: 1, atMs: 5, event: { type: 'node/started', nodeId: 'n1' } },
      { seq: 2, atMs: 6, parent: 1, event: { type: 'worker/started', workerId: 'n1.w1' } },
    ]);
    assert.equal(raylet.append(7, { type: 'worker/exited', workerId: 'n1.w1' }), 3);
    state = 'cccccccccccccccc';
  } finally {
    await logs.close();
  }
  // Closing sent the last record, with the hash of the state after it.
  const closed = await readLog('raylet:n1');
  assert.equal(closed.events.length, 3);
  assert.equal(closed.hashes.get(3), 'cccccccccccccccc');
});

void test('the log thread starts from the script the build bundles, not its modules one by one', () => {
  assert.ok(logThreadEntry.endsWith('log-thread.cjs'), `the log thread's script is ${logThreadEntry}`);
  assert.ok(existsSync(logThreadEntry), `${logThreadEntry} should be written by npm run build`);
});
