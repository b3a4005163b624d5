/**
 * A worker thread's log batches go straight to the node's log thread on a channel of their own
 * (forwarded-log.ts, session-logs.ts): they reach the disk while the main thread is blocked, where
 * before they waited in the main thread's queue until it relayed them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { setRuntime } from '../../../../node/runtime/context.js';
import { EmbeddedCluster } from '../../../../node/runtime/embedded.js';
import { EventLog, openSessionLogs } from '../../../../node/store/event-log.js';

const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-worker-log-channel-'));
after(() => rmSync(sessionDir, { recursive: true, force: true }));

/** How many `task/executed` events the workers' logs on disk hold now. */
function executedOnDisk(): number {
  let executed = 0;
  for (const { address, dir } of openSessionLogs(sessionDir)) {
    if (!/^worker:n1\.w\d+$/.test(address)) continue;
    const log = EventLog.open(dir);
    for (const record of log.read()) if (!('corrupt' in record) && (record.event as { type?: unknown }).type === 'task/executed') executed += 1;
    void log.close();
  }
  return executed;
}

void test("the workers' log batches reach the disk while the main thread is blocked", async () => {
  const cluster = await EmbeddedCluster.start({ namespace: 'default', numCpus: 2, sessionDir });
  setRuntime(cluster.driver);
  try {
    const inc = tsray.remote((x: number) => x + 1);
    const tasks = 50;
    assert.equal((await tsray.get(Array.from({ length: tasks }, (_, index) => inc.remote(index)))).length, tasks);
    // From here the main thread takes no message until the check is done: the workers' batches
    // (posted within their lag, forwardedLogLagMs) and their commit (within the log thread's) happen without it.
    const blocked = new Int32Array(new SharedArrayBuffer(4));
    let executed = 0;
    for (let attempt = 0; attempt < 50 && executed < tasks; attempt += 1) {
      Atomics.wait(blocked, 0, 0, 100);
      executed = executedOnDisk();
    }
    assert.equal(executed, tasks, 'every execution is on disk, with the main thread blocked');
  } finally {
    setRuntime(undefined);
    await cluster.stop();
  }
});
