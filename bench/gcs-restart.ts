/**
 * Issue 10's closing figure "GCS restart time for a 100k-event log": a GCS log of 100,000 events as
 * a long-lived cluster leaves one (nodes heartbeating, health checks, drivers' jobs coming and going),
 * then the time a restarted head takes to open that log, replay it and be ready to resume
 * (openGcsShell with resume, as `tsray start --head` after a crash runs it). Run it with
 * `node dist/bench/gcs-restart.js [events]`; bench/cluster.ts records the same measure, and beside it
 * the whole-process restart, which adds the node's start-up and the wait for nodes to reconnect
 * (ClusterNode.resumeGcs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { defaultGcsConfig } from '../core/gcs/index.js';
import type { GcsEvent } from '../core/gcs/index.js';
import { openGcsShell } from '../node/cluster/gcs-shell.js';
import { Router } from '../node/runtime/router.js';
import { EventLog, logDirFor } from '../node/store/event-log.js';

/** The nodes of the simulated cluster. */
const nodeCount = 8;

/** Writes a GCS log of `count` events into `sessionDir` through a live GCS shell, as a running head would. */
export async function writeGcsLog(sessionDir: string, count: number): Promise<void> {
  const log = EventLog.open(logDirFor(sessionDir, 'gcs'), { component: 'gcs', address: 'gcs', durable: true });
  const router = new Router();
  router.close();
  const { shell } = openGcsShell({ router, log, config: defaultGcsConfig, resume: false });
  const seqs = new Map<string, number>();
  const via = (from: string): { from: string; incarnation: number; seq: number } => {
    const seq = seqs.get(from) ?? 0;
    seqs.set(from, seq + 1);
    return { from, incarnation: 0, seq };
  };
  for (let node = 1; node <= nodeCount; node += 1) shell.apply({ type: 'node/registered', nodeId: `n${node}`, resources: { CPU: 16, memory: 64 }, via: via(`raylet:n${node}`) });
  let applied = nodeCount + 1;
  for (let round = 0; applied < count; round += 1) {
    let event: GcsEvent;
    if (round % 10 === 9) event = { type: 'timer/fired', timerId: 'health', nowMs: round };
    else if (round % 50 === 7) event = { type: 'job/registration-requested', driverId: `n1.d${round}`, namespace: 'default', via: via(`worker:n1.d${round}`) };
    else if (round % 50 === 8) event = { type: 'job/finished', jobId: `j${Math.floor(round / 50) + 1}`, via: via(`worker:n1.d${round - 1}`) };
    else {
      const node = (round % nodeCount) + 1;
      event = { type: 'node/heartbeat', nodeId: `n${node}`, available: { CPU: round % 17, memory: 64 }, via: via(`raylet:n${node}`) };
    }
    shell.apply(event);
    applied += 1;
  }
  shell.stop();
  await log.close();
}

/** What one restart from the log took: the events replayed and the ms to open the log and replay them. */
export interface GcsReplay {
  readonly replayedEvents: number;
  readonly elapsedMs: number;
}

/** Opens the GCS log `writeGcsLog` left in `sessionDir` and replays it as a restarted head does; closes it again. */
export async function replayGcsLog(sessionDir: string): Promise<GcsReplay> {
  const started = performance.now();
  const log = EventLog.open(logDirFor(sessionDir, 'gcs'), { component: 'gcs', address: 'gcs', durable: true });
  const router = new Router();
  const opened = openGcsShell({ router, log, config: defaultGcsConfig, resume: true });
  const elapsedMs = performance.now() - started;
  opened.shell.stop();
  router.close();
  await log.close();
  return { replayedEvents: opened.replayedEvents, elapsedMs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const count = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'tsray-bench-gcs-restart-'));
  try {
    await writeGcsLog(dir, count);
    for (let repeat = 0; repeat < 3; repeat += 1) {
      const { replayedEvents, elapsedMs } = await replayGcsLog(dir);
      console.log(`GCS restart: opened and replayed ${replayedEvents} events in ${elapsedMs.toFixed(0)} ms (${Math.round(replayedEvents / (elapsedMs / 1000))} events/s)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
