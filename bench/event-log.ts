/**
 * P6: the event log's appends and replay over the bench's events, against the raw lmdb-js figures of
 * bench/baselines.ts; and, for P8, how many events a session's logs hold per tiny task.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EventLog, openSessionLogs } from '../node/store/event-log.js';
import type { BenchScale, Recorder } from './harness.js';

/** `count` events taken in turn from `events`, so that a short recorded run fills a long log. */
export function cycled(events: readonly unknown[], count: number): unknown[] {
  if (events.length === 0) throw new RangeError('cycled needs at least one event');
  return Array.from({ length: count }, (_, index) => events[index % events.length]);
}

/**
 * Appends `events` to a fresh log as an owner's log is opened (not durable: noSync) and waits for
 * the commit; then reads the log back, decoding every record.
 */
export async function benchEventLog(recorder: Recorder, scale: BenchScale, events: readonly unknown[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-bench-log-'));
  try {
    let round = 0;
    await recorder.repeat('p6.append', 'P6 tsray: event log appends, committed', 'events/s', scale.repeats, async () => {
      const log = EventLog.open(join(dir, `log-${round++}`), { component: 'owner', address: 'worker:n1.d1', durable: false });
      const started = performance.now();
      for (const event of events) log.append(0, event);
      await log.flush();
      const perSecond = events.length / ((performance.now() - started) / 1000);
      await log.close();
      return perSecond;
    });
    const log = EventLog.open(join(dir, 'log-0'));
    await recorder.repeat('p6.read', 'P6 tsray: event log replay (read and decode)', 'events/s', scale.repeats, () => {
      const started = performance.now();
      let count = 0;
      for (const record of log.read()) if ('event' in record) count += 1;
      if (count !== events.length) throw new Error(`the log read back ${count} events of ${events.length}`);
      return count / ((performance.now() - started) / 1000);
    });
    await log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every event in every log of the (shut down) session in `sessionDir`. */
export async function countSessionEvents(sessionDir: string): Promise<number> {
  let count = 0;
  for (const { dir } of openSessionLogs(sessionDir)) {
    const log = EventLog.open(dir);
    for (const record of log.read()) if ('event' in record) count += 1;
    await log.close();
  }
  return count;
}
