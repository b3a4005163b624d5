/**
 * `tsray sessions` as a user runs it, against a sessions root of the test's own: the sessions newest
 * first with their sizes and states, as a table or as JSON, and one line and exit 2 on bad use.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { markSessionLive, sessionMarkerFileName } from '../../../node/runtime/session-marker.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const cli = join(packageRoot, 'dist/node/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'tsray-cli-sessions-'));

function tsray(root: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SESSIONS_ROOT: root, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Row {
  name: string;
  dir: string;
  pid: number;
  state: string;
  sizeBytes: number;
  apparentSizeBytes: number;
  startedAt: string;
  endedAt?: string;
}

void describe('tsray sessions', () => {
  after(() => rmSync(work, { recursive: true, force: true }));
  const root = join(work, 'root');
  mkdirSync(root);
  // An ended session with 200 KiB of data, and this process's live one.
  const ended = join(root, 'session_1_1000_1');
  mkdirSync(join(ended, 'logs', 'gcs'), { recursive: true });
  writeFileSync(join(ended, 'logs', 'gcs', 'events.mdb'), Buffer.alloc(200 * 1024, 1));
  writeFileSync(join(ended, sessionMarkerFileName), JSON.stringify({ kind: 'tsray-session', formatVersion: 1, pid: 1, startedAtMs: 1000, endedAtMs: 2000 }));
  const live = join(root, `session_${process.pid}_${Date.now()}_1`);
  mkdirSync(live);
  markSessionLive(live, Date.now());
  mkdirSync(join(root, 'not-a-session'));

  void test('--json lists the sessions newest first with their sizes and states', () => {
    const result = tsray(root, ['sessions', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const rows = JSON.parse(result.stdout) as Row[];
    assert.deepEqual(rows.map((row) => [row.dir, row.state]), [[live, 'live'], [ended, 'ended']]);
    assert.ok((rows[1]?.sizeBytes ?? 0) >= 200 * 1024, `the ended session's size counts its data: ${rows[1]?.sizeBytes}`);
    assert.ok((rows[1]?.apparentSizeBytes ?? 0) >= 200 * 1024);
    assert.equal(rows[1]?.startedAt, new Date(1000).toISOString());
    assert.equal(rows[1]?.endedAt, new Date(2000).toISOString());
    assert.equal(rows[0]?.pid, process.pid);
  });

  void test('the table shows each session, its size, state and the bounds init prunes to', () => {
    const result = tsray(root, ['sessions'], { TSRAY_SESSIONS_KEEP: '5', TSRAY_SESSIONS_MAX_BYTES: '3GiB' });
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^SESSION\s+STARTED\s+SIZE\s+STATE$/);
    assert.match(lines[1] ?? '', new RegExp(`^session_${process.pid}_\\d+_1 .* live \\(pid ${process.pid}\\)$`));
    assert.match(lines[2] ?? '', /^session_1_1000_1\s+\S+ \S+\s+2\d\d KiB {2}ended$/);
    assert.match(lines[3] ?? '', new RegExp(`^2 sessions, \\d+ KiB under ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; init keeps the newest 5 and at most 3\\.0 GiB`));
    assert.ok(!result.stdout.includes('not-a-session'));
  });

  void test('an empty or missing root has no sessions', () => {
    const result = tsray(join(work, 'nowhere'), ['sessions', '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), []);
    assert.match(tsray(join(work, 'nowhere'), ['sessions']).stdout, /^no sessions under /);
  });

  void test('bad use exits 2 with one line', () => {
    for (const [args, env, reason] of [
      [['sessions', '--size'], {}, /^tsray: sessions: Unknown option '--size'; usage: tsray sessions \[--json\]\n$/],
      [['sessions', 'all'], {}, /^tsray: sessions: Unexpected argument 'all'.*usage: tsray sessions \[--json\]\n$/],
      [['sessions'], { TSRAY_SESSIONS_MAX_BYTES: 'lots' }, /^tsray: TSRAY_SESSIONS_MAX_BYTES must be a byte count .* not 'lots'\n$/],
    ] as const) {
      const result = tsray(root, [...args], env);
      assert.equal(result.status, 2, result.stdout);
      assert.match(result.stderr, reason);
    }
  });
});
