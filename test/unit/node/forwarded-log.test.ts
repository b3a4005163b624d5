/**
 * A worker's log written by another thread: records encoded where the events happen, posted in
 * batches, and appended to an LMDB log that reads back the same events; a repeated batch is skipped
 * and a lost one is an error that names the gap.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EventLog } from '../../../node/store/event-log.js';
import { ForwardedLog, recordsOf } from '../../../node/store/forwarded-log.js';
import type { LogRecords } from '../../../node/store/forwarded-log.js';

void test('records forwarded from another thread read back as the events, captured when appended', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-forwarded-log-'));
  const batches: LogRecords[] = [];
  const forwarded = new ForwardedLog('worker:n1.w1', (batch, transfer) => {
    // As postMessage does: the transferred buffer leaves the sending side.
    batches.push(structuredClone(batch, { transfer }));
  });
  const event = { type: 'task/pushed', n: 1 };
  assert.equal(forwarded.append(10, event), 1);
  event.n = 2;
  assert.equal(forwarded.append(11, { type: 'task/executed' }, 1), 2);
  forwarded.flushNow();
  assert.equal(forwarded.append(12, { type: 'refs/released' }), 3);
  await forwarded.committed(3);
  assert.equal(batches.length, 2);

  const log = EventLog.open(join(dir, 'log'), { component: 'owner', address: 'worker:n1.w1', durable: false, batching: 'lagging' });
  try {
    for (const batch of batches) log.appendEncoded(batch.firstSeq, recordsOf(batch));
    // A batch delivered twice changes nothing.
    const first = batches[0] as LogRecords;
    log.appendEncoded(first.firstSeq, recordsOf(first));
    await log.flush();
    assert.deepEqual(
      [...log.read()],
      [
        { seq: 1, atMs: 10, event: { type: 'task/pushed', n: 1 } },
        { seq: 2, atMs: 11, parent: 1, event: { type: 'task/executed' } },
        { seq: 3, atMs: 12, event: { type: 'refs/released' } },
      ],
    );
    // A batch that skips records is refused, naming the gap.
    assert.throws(() => log.appendEncoded(6, [new Uint8Array([1])]), /got record 6 while it waits for 4/);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
