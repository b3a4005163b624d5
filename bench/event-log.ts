/**
 * P6: the event log's appends and replay over the bench's events, against the raw lmdb-js figures of
 * bench/baselines.ts taken in turn with them; and, for P8, how many events and bytes a session's logs hold per tiny task.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { logDataFileName } from '../node/store/event-log-dir.js';
import { EventLog, openSessionLogs } from '../node/store/event-log.js';
import { rawLmdbPuts, rawLmdbRange } from './baselines.js';
import type { BenchScale, Recorder } from './harness.js';

/** `count` events taken in turn from `events`, so that a short recorded run fills a long log. */
export function cycled(events: readonly unknown[], count: number): unknown[] {
  if (events.length === 0) throw new RangeError('cycled needs at least one event');
  return Array.from({ length: count }, (_, index) => events[index % events.length]);
}

/**
 * P6 and its raw baselines, measured in turn within each repeat so that the machine's load weighs on
 * both alike (measured apart, a busy spell during one of them once decided the verdict): `events`
 * put into a fresh lmdb-js file, then appended to a fresh log as an owner's log is opened (not
 * durable: noSync) until committed; then the first raw file and the first log read back, decoded, in turn.
 */
export async function benchEventLog(recorder: Recorder, scale: BenchScale, events: readonly unknown[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-bench-log-'));
  const samples = { rawPut: [] as number[], append: [] as number[], rawRange: [] as number[], read: [] as number[] };
  const open: { close(): Promise<unknown> }[] = [];
  try {
    let raw: RootDatabase<unknown, number> | undefined;
    for (let round = 0; round < scale.repeats; round += 1) {
      const put = await rawLmdbPuts(join(dir, `raw-${round}.mdb`), events);
      samples.rawPut.push(put.perSecond);
      if (raw === undefined) open.push((raw = put.db));
      else await put.db.close();
      const log = EventLog.open(join(dir, `log-${round}`), { component: 'owner', address: 'worker:n1.d1', durable: false });
      const started = performance.now();
      for (const event of events) log.append(0, event);
      await log.flush();
      samples.append.push(events.length / ((performance.now() - started) / 1000));
      await log.close();
    }
    const log = EventLog.open(join(dir, 'log-0'));
    open.push(log);
    for (let round = 0; round < scale.repeats && raw !== undefined; round += 1) {
      samples.rawRange.push(rawLmdbRange(raw, events.length));
      const started = performance.now();
      let count = 0;
      for (const record of log.read()) if ('event' in record) count += 1;
      if (count !== events.length) throw new Error(`the log read back ${count} events of ${events.length}`);
      samples.read.push(count / ((performance.now() - started) / 1000));
    }
    recorder.add('raw.lmdb.put', 'raw: lmdb-js batched puts of the events', 'events/s', samples.rawPut);
    recorder.add('raw.lmdb.range', 'raw: lmdb-js getRange with decode', 'events/s', samples.rawRange);
    recorder.add('p6.append', 'P6 tsray: event log appends, committed', 'events/s', samples.append);
    recorder.add('p6.read', 'P6 tsray: event log replay (read and decode)', 'events/s', samples.read);
  } catch (error) {
    recorder.fail('p6.append', 'P6 tsray: event log appends, committed', 'events/s', error);
    recorder.fail('p6.read', 'P6 tsray: event log replay (read and decode)', 'events/s', error);
  } finally {
    for (const each of open) await each.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The events that the logs of the session in `sessionDir` hold, and the bytes of their records as stored. */
export async function countSessionRecords(sessionDir: string): Promise<{ events: number; bytes: number }> {
  let events = 0;
  let bytes = 0;
  for (const { dir } of openSessionLogs(sessionDir)) {
    const log = EventLog.open(dir);
    for (const record of log.read()) if ('event' in record) events += 1;
    await log.close();
    // The records' bytes, read raw: a log read through EventLog gives back events, not their size.
    const env = openLmdb({ path: join(dir, logDataFileName), noSubdir: true, readOnly: true, maxDbs: 4 });
    try {
      for (const { value } of env.openDB<Buffer, number>('events', { encoding: 'binary' }).getRange({})) bytes += value.byteLength;
    } finally {
      await env.close();
    }
  }
  return { events, bytes };
}
