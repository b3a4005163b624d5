/**
 * Throughput of the event log on this machine, printed rather than asserted (figures vary with the
 * disk): append + group commit of 100k small events, durable and not, and a full-scan read. DESIGN.md
 * measured 300-550k events/s for group commits of 1000 and 0.7-2M events/s for replay.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EventLog, logDirFor } from '../../../node/store/event-log.js';

const root = mkdtempSync(join(tmpdir(), 'tsray-event-log-bench-'));
let sessions = 0;
after(() => rmSync(root, { recursive: true, force: true }));

const eventCount = 100_000;
const batchSize = 1000;

type Shape = 'await each batch' | 'pipelined batches' | 'one turn';

/** A fresh GCS-like log. */
function freshLog(durable: boolean, batching: 'microtask' | 'immediate' = 'microtask'): EventLog {
  sessions += 1;
  const session = join(root, `session-${sessions}`);
  mkdirSync(session);
  return EventLog.open(logDirFor(session, 'gcs'), { component: 'gcs', address: 'gcs', durable, batching });
}

/** A small event, about the size of a task submission. */
function smallEvent(i: number): unknown {
  return { type: 'task/submitted', taskId: `n1.d1.t${i}`, owner: 'worker:n1.d1', resources: { CPU: 1 }, attempt: 0 };
}

/** Events per second, rounded to thousands. */
function rate(count: number, startMs: number): string {
  return `${Math.round(count / (performance.now() - startMs))}k events/s`;
}

/**
 * Appends `eventCount` events in the given shape and waits until all are committed; for one turn,
 * says how fast the appends alone ran (what the shell pays per event).
 */
async function appendAll(log: EventLog, shape: Shape): Promise<string> {
  let appendOnly = '';
  if (shape === 'one turn') {
    const startMs = performance.now();
    for (let i = 0; i < eventCount; i += 1) log.append(i, smallEvent(i));
    appendOnly = ` (the appends alone ${rate(eventCount, startMs)})`;
  } else {
    for (let start = 0; start < eventCount; start += batchSize) {
      for (let i = start; i < start + batchSize; i += 1) log.append(i, smallEvent(i));
      if (shape === 'await each batch') await log.committed(log.lastSeq);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await log.committed(log.lastSeq);
  return appendOnly;
}

void test('bench: append + group commit and full-scan read of 100k small events', async () => {
  for (const durable of [true, false]) {
    for (const shape of ['await each batch', 'pipelined batches', 'one turn'] as const) {
      const log = freshLog(durable);
      const startMs = performance.now();
      const appendOnly = await appendAll(log, shape);
      const written = `${rate(eventCount, startMs)}${appendOnly}`;
      const readStartMs = performance.now();
      let count = 0;
      for (const record of log.read()) if ('event' in record) count += 1;
      const read = rate(count, readStartMs);
      assert.equal(count, eventCount);
      console.log(`event log, ${durable ? 'durable' : 'noSync'}, ${shape === 'one turn' ? shape : `${shape} of ${batchSize}`}: write ${written}, full-scan read ${read}`);
      await log.close();
    }
  }
});

void test('bench: hand-off at microtask versus setImmediate', async () => {
  for (const durable of [true, false]) {
    for (const batching of ['microtask', 'immediate'] as const) {
      const log = freshLog(durable, batching);
      const roundTrips = 1000;
      const startMs = performance.now();
      for (let i = 0; i < roundTrips; i += 1) await log.committed(log.append(i, smallEvent(i)));
      const latencyUs = Math.round(((performance.now() - startMs) * 1000) / roundTrips);
      // Many callbacks of one event-loop pass, each appending a few events, as a busy shell sees them.
      const callbacks = 100;
      const perCallback = 10;
      const passes = 100;
      const manyStartMs = performance.now();
      for (let pass = 0; pass < passes; pass += 1) {
        await new Promise<void>((resolve) => {
          let left = callbacks;
          for (let c = 0; c < callbacks; c += 1) {
            setImmediate(() => {
              for (let i = 0; i < perCallback; i += 1) log.append(pass, smallEvent(i));
              left -= 1;
              if (left === 0) resolve();
            });
          }
        });
      }
      await log.committed(log.lastSeq);
      const many = rate(callbacks * perCallback * passes, manyStartMs);
      console.log(`event log, ${durable ? 'durable' : 'noSync'}, hand-off at ${batching}: append→committed ${latencyUs} us; ${callbacks} callbacks × ${perCallback} events per pass: ${many}`);
      await log.close();
    }
  }
});
