/**
 * The event logs of one node's session: its components' logs, and the logs of its worker threads,
 * which the node's main thread writes for them (see forwarded-log.ts). The embedded cluster and a
 * cluster node keep their logs the same way.
 */
import { EventLog, logDirFor } from './event-log.js';
import { recordsOf } from './forwarded-log.js';
import type { LogRecords } from './forwarded-log.js';

/** A session's open logs. */
export class SessionLogs {
  private readonly logs: EventLog[] = [];
  private readonly workerLogs = new Map<string, EventLog>();
  private closed = false;

  /** Keeps the logs of the session in `sessionDir`. */
  constructor(private readonly sessionDir: string) {}

  /** Opens the log of the component at `address`. Only the GCS replies after its commits; the other logs may lag (they die with their process). */
  open(address: string, component: 'gcs' | 'raylet' | 'owner', durable: boolean): EventLog {
    const log = EventLog.open(logDirFor(this.sessionDir, address), { component, address, durable, batching: durable ? 'immediate' : 'lagging' });
    this.logs.push(log);
    return log;
  }

  /** Appends a worker thread's records to its log, opened here on its first records. */
  appendWorker(workerId: string, batch: LogRecords): void {
    // Records keep coming while the threads flush at shutdown, until the logs close.
    if (this.closed) return;
    let log = this.workerLogs.get(workerId);
    if (log === undefined) {
      log = this.open(`worker:${workerId}`, 'owner', false);
      this.workerLogs.set(workerId, log);
    }
    log.appendEncoded(batch.firstSeq, recordsOf(batch));
    if (batch.stateHash !== undefined) log.recordStateHash(batch.stateHash.seq, batch.stateHash.hash);
  }

  /** The worker's thread ended: its log is committed and closed (its records arrived before its exit). */
  closeWorker(workerId: string): void {
    const log = this.workerLogs.get(workerId);
    if (log === undefined) return;
    this.workerLogs.delete(workerId);
    this.logs.splice(this.logs.indexOf(log), 1);
    log.close().catch((error: unknown) => process.stderr.write(`tsray: the log of worker ${workerId} could not be closed: ${(error as Error).message}\n`));
  }

  /** The logs open now (the components' and those of live worker threads), to be read by this process. */
  get openLogs(): readonly EventLog[] {
    return this.logs;
  }

  /** Commits what every open log buffers, and waits for it (so a reader sees every event appended so far). */
  async flushAll(): Promise<void> {
    await Promise.all(this.logs.map((log) => log.flush()));
  }

  /** Writes what the lagging logs buffer, at once (a process exiting without shutdown). */
  writeBufferedSync(): void {
    for (const log of this.logs) log.writeBufferedSync();
  }

  /** Commits and closes every log; records that arrive later are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.logs.map((log) => log.close()));
  }
}
