/**
 * What pruning the sessions root costs `init`: listing 50 sessions shaped like real ones (a few log
 * folders of LMDB files each, with markers) when nothing goes, and removing the one session that falls
 * off when the root is at its bound, the steady state of a user running script after script. Run alone
 * with `node dist/bench/sessions.js`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sessionMarkerFileName } from '../node/runtime/session-marker.js';
import { listSessions, pruneSessions } from '../node/runtime/sessions.js';

const sessionCount = 50;
const rounds = 21;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** A session as a short script leaves it: four logs (GCS, raylet, driver, one worker), shut down. */
function writeSession(root: string, startedAtMs: number): void {
  const dir = join(root, `session_1_${startedAtMs}_1`);
  for (const log of ['gcs', 'raylet-n1', 'worker-n1.d1', 'worker-n1.w1']) {
    mkdirSync(join(dir, 'logs', log), { recursive: true });
    writeFileSync(join(dir, 'logs', log, 'events.mdb'), Buffer.alloc(48 * 1024, 1));
    writeFileSync(join(dir, 'logs', log, 'events.mdb-lock'), Buffer.alloc(8 * 1024));
    writeFileSync(join(dir, 'logs', log, 'log.json'), '{}');
  }
  writeFileSync(join(dir, sessionMarkerFileName), JSON.stringify({ kind: 'tsray-session', formatVersion: 1, pid: 1, startedAtMs, endedAtMs: startedAtMs + 1 }));
}

/** Prints the median time to list 50 sessions and to prune one of 51 down to 50. */
function benchSessions(): void {
  const root = mkdtempSync(join(tmpdir(), 'tsray-bench-sessions-'));
  try {
    for (let index = 0; index < sessionCount; index += 1) writeSession(root, 1000 + index);
    const listMs: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const started = performance.now();
      listSessions(root);
      listMs.push(performance.now() - started);
    }
    const pruneMs: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      writeSession(root, 2000 + round);
      const started = performance.now();
      const { removed } = pruneSessions({ root, keep: sessionCount + 1, maxBytes: Number.MAX_SAFE_INTEGER });
      pruneMs.push(performance.now() - started);
      if (removed.length !== 1) throw new Error(`the bench expected one session pruned per round, not ${removed.length}`);
    }
    console.log(`sessions: list ${sessionCount} ${median(listMs).toFixed(1)} ms, prune 1 of ${sessionCount + 1} ${median(pruneMs).toFixed(1)} ms (medians of ${rounds})`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

benchSessions();
