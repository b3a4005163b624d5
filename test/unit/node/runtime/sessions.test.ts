/**
 * Sessions are kept within bounds: `init` prunes the oldest sessions under the sessions root down to
 * `TSRAY_SESSIONS_KEEP` and `TSRAY_SESSIONS_MAX_BYTES`, never one whose process still runs it, and never
 * anything not named like a session. Every case uses its own root, never the machine's.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { markSessionEnded, markSessionLive, readSessionMarker, sessionMarkerFileName } from '../../../../node/runtime/session-marker.js';
import { listSessions, parseByteCount, pruneSessions, sessionRetention } from '../../../../node/runtime/sessions.js';
import { writeDriverScript } from '../../../support/driver-script.js';

const work = mkdtempSync(join(tmpdir(), 'tsray-sessions-'));
let rootCount = 0;
const children: ChildProcessWithoutNullStreams[] = [];

function freshRoot(): string {
  const root = join(work, `root${++rootCount}`);
  mkdirSync(root);
  return root;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', '0']);
  assert.ok(result.pid !== undefined && result.pid > 0);
  return result.pid;
}

/** A session folder as a process that ended (or died) left it, with `dataBytes` of real data. */
function fakeSession(root: string, startedAtMs: number, how: 'ended' | 'crashed' | 'no-marker', dataBytes = 4096): string {
  const pid = deadPid();
  const dir = join(root, `session_${pid}_${startedAtMs}_1`);
  mkdirSync(join(dir, 'logs', 'gcs'), { recursive: true });
  writeFileSync(join(dir, 'logs', 'gcs', 'events.mdb'), Buffer.alloc(dataBytes, 7));
  if (how !== 'no-marker') {
    const marker = { kind: 'tsray-session', formatVersion: 1, pid, startedAtMs, ...(how === 'ended' ? { endedAtMs: startedAtMs + 10 } : {}) };
    writeFileSync(join(dir, sessionMarkerFileName), JSON.stringify(marker));
  }
  return dir;
}

const prunerScript = writeDriverScript(
  'sessions-check',
  `import * as tsray from 'tsray';
const info = await tsray.init({ numCpus: 1 });
const double = tsray.remote((x) => x * 2);
console.log(JSON.stringify({ sessionDir: info.sessionDir, value: await tsray.get(double.remote(21)) }));
if (process.argv[2] === 'hold') await new Promise((resolve) => process.stdin.on('end', resolve).resume());
if (process.argv[2] === 'crash') process.exit(3);
await tsray.shutdown();
`,
);

/**
 * Runs the script to its end. `outcome` says how it ended, in how long, and what it printed, for a
 * failure's message: a run that failed once in CI said only that its status was null.
 */
function runScript(root: string, mode: 'shutdown' | 'crash', env: Record<string, string> = {}): { status: number | null; sessionDir: string; outcome: string } {
  const startedMs = Date.now();
  const result = spawnSync(process.execPath, [prunerScript.path, mode], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SESSIONS_ROOT: root, ...env } });
  const line = result.stdout.split('\n').find((text) => text.startsWith('{'));
  const outcome = `the ${mode} run ended with status ${result.status} (signal ${result.signal}${result.error === undefined ? '' : `, ${result.error.message}`}) after ${Date.now() - startedMs} ms; stdout: ${JSON.stringify(result.stdout)}; stderr: ${JSON.stringify(result.stderr)}`;
  return { status: result.status, sessionDir: line === undefined ? '' : (JSON.parse(line) as { sessionDir: string }).sessionDir, outcome };
}

/** Starts a script that holds its session open until its stdin ends; resolves to its session folder. */
async function holdSession(root: string): Promise<{ child: ChildProcessWithoutNullStreams; sessionDir: string }> {
  const child = spawn(process.execPath, [prunerScript.path, 'hold'], { env: { ...process.env, TSRAY_SESSIONS_ROOT: root } });
  children.push(child);
  let output = '';
  const sessionDir = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((text) => text.startsWith('{') && text.endsWith('}'));
      if (line !== undefined) resolve((JSON.parse(line) as { sessionDir: string }).sessionDir);
    });
    child.on('exit', (code) => reject(new Error(`the holding script exited (${code}) before starting its session`)));
  });
  return { child, sessionDir };
}

void describe('session retention', () => {
  after(() => {
    for (const child of children) child.kill();
    prunerScript.remove();
    rmSync(work, { recursive: true, force: true });
  });

  void test('pruning keeps the newest sessions and never touches what is not a session', () => {
    const root = freshRoot();
    const dirs = [1000, 2000, 3000, 4000, 5000].map((ms, index) => fakeSession(root, ms, index % 2 === 0 ? 'ended' : 'crashed'));
    const older = fakeSession(root, 500, 'no-marker');
    mkdirSync(join(root, 'mine'));
    mkdirSync(join(root, 'session_notes'));
    writeFileSync(join(root, 'session_1_2_3'), 'a file named like a session');
    const result = pruneSessions({ root, keep: 3, maxBytes: 1024 ** 3 });
    // Room is left for the session about to start: two stay, the newest two.
    assert.deepEqual(result.kept.map((session) => session.dir), [dirs[4], dirs[3]]);
    assert.deepEqual(result.removed.map((session) => session.dir).sort(), [older, ...dirs.slice(0, 3)].sort());
    assert.deepEqual(readdirSync(root).sort(), ['mine', 'session_1_2_3', 'session_notes', ...[dirs[3], dirs[4]].map((dir) => dir?.slice(root.length + 1))].sort());
  });

  void test('pruning keeps the sessions under the byte bound, oldest removed first', () => {
    const root = freshRoot();
    const dirs = [1000, 2000, 3000, 4000].map((ms) => fakeSession(root, ms, 'ended', 64 * 1024));
    const sizes = listSessions(root).map((session) => session.sizeBytes);
    assert.ok(sizes.every((size) => size >= 64 * 1024), `each session takes its data's disk: ${sizes.join(', ')}`);
    const newestTwo = (sizes[0] ?? 0) + (sizes[1] ?? 0);
    const result = pruneSessions({ root, keep: 100, maxBytes: newestTwo });
    assert.deepEqual(result.kept.map((session) => session.dir), [dirs[3], dirs[2]]);
    assert.equal(existsSync(dirs[1] ?? ''), false);
    assert.equal(existsSync(dirs[0] ?? ''), false);
  });

  void test('a live session is never pruned; a crashed one is', async () => {
    const root = freshRoot();
    const crashed = fakeSession(root, 1000, 'crashed');
    const ended = fakeSession(root, 2000, 'ended');
    const { sessionDir: held } = await holdSession(root);
    // This process's own live session, older than every other.
    const own = join(root, `session_${process.pid}_10_1`);
    mkdirSync(own);
    markSessionLive(own, 10);
    // A session whose process has not written its marker yet (or an older tsray's) is live by its name's pid.
    const unmarked = join(root, `session_${process.pid}_20_2`);
    mkdirSync(unmarked);
    const states = new Map(listSessions(root).map((session) => [session.dir, session.state]));
    assert.equal(states.get(held), 'live');
    assert.equal(states.get(own), 'live');
    assert.equal(states.get(unmarked), 'live');
    assert.equal(states.get(crashed), 'exited');
    assert.equal(states.get(ended), 'ended');
    const result = pruneSessions({ root, keep: 1, maxBytes: 0 });
    assert.deepEqual(result.kept.map((session) => session.dir).sort(), [held, own, unmarked].sort());
    assert.equal(existsSync(crashed), false);
    assert.equal(existsSync(ended), false);
    // Once this process ends it, the same session may go.
    const marker = readSessionMarker(own);
    assert.ok(marker !== undefined);
    markSessionEnded(own, marker, 20);
    assert.deepEqual(pruneSessions({ root, keep: 1, maxBytes: 0 }).kept.map((session) => session.dir).sort(), [held, unmarked].sort());
  });

  void test("the session of this machine's cluster head stays while the head is down, so that start --head can resume it", () => {
    const root = freshRoot();
    const head = fakeSession(root, 1000, 'crashed');
    const other = fakeSession(root, 2000, 'crashed');
    mkdirSync(join(root, 'cluster'));
    writeFileSync(join(root, 'cluster', 'address.json'), JSON.stringify({ address: '127.0.0.1:6380', token: 'a'.repeat(64), nodeId: 'n1', pid: deadPid(), sessionDir: head }));
    const result = pruneSessions({ root, keep: 1, maxBytes: 0 });
    assert.deepEqual(result.kept.map((session) => session.dir), [head]);
    assert.equal(existsSync(other), false);
    // Once `tsray stop` removed the address file, the session is like any other.
    rmSync(join(root, 'cluster', 'address.json'));
    assert.deepEqual(pruneSessions({ root, keep: 1, maxBytes: 0 }).kept, []);
  });

  void test('a marker whose pid now belongs to another process is not live', { skip: !existsSync('/proc/self/stat') }, () => {
    const root = freshRoot();
    const dir = join(root, `session_${process.pid}_10_1`);
    mkdirSync(dir);
    const marker = markSessionLive(dir, 10);
    writeFileSync(join(dir, sessionMarkerFileName), JSON.stringify({ ...marker, processStart: `${marker.processStart ?? ''}1` }));
    assert.equal(listSessions(root)[0]?.state, 'exited');
  });

  void test('init prunes the root to TSRAY_SESSIONS_KEEP; each session is marked ended or left by a dead process', () => {
    const root = freshRoot();
    const env = { TSRAY_SESSIONS_KEEP: '2' };
    const first = runScript(root, 'shutdown', env);
    const second = runScript(root, 'crash', env);
    const third = runScript(root, 'shutdown', env);
    assert.equal(first.status, 0, first.outcome);
    assert.equal(second.status, 3, second.outcome);
    assert.equal(third.status, 0, third.outcome);
    assert.deepEqual(listSessions(root).map((session) => [session.dir, session.state]), [[third.sessionDir, 'ended'], [second.sessionDir, 'exited']]);
    assert.ok(listSessions(root).every((session) => session.sizeBytes > 0));
  });

  void test('init does not prune the root for a session folder the user gives', async () => {
    const root = freshRoot();
    const old = fakeSession(root, 1000, 'ended');
    process.env.TSRAY_SESSIONS_ROOT = root;
    process.env.TSRAY_SESSIONS_KEEP = '1';
    try {
      const sessionDir = join(work, 'given');
      const info = await tsray.init({ numCpus: 1, sessionDir });
      assert.equal(info.sessionDir, sessionDir);
      assert.equal(readSessionMarker(sessionDir)?.pid, process.pid);
      await tsray.shutdown();
      assert.equal(typeof readSessionMarker(sessionDir)?.endedAtMs, 'number');
      assert.equal(existsSync(old), true);
    } finally {
      delete process.env.TSRAY_SESSIONS_ROOT;
      delete process.env.TSRAY_SESSIONS_KEEP;
    }
  });

  void test('a bad retention variable fails init with one line naming it', async () => {
    for (const [name, value] of [['TSRAY_SESSIONS_KEEP', '0'], ['TSRAY_SESSIONS_KEEP', 'many'], ['TSRAY_SESSIONS_MAX_BYTES', '2 parsecs'], ['TSRAY_SESSIONS_MAX_BYTES', '-1']] as const) {
      process.env[name] = value;
      try {
        await assert.rejects(tsray.init({ numCpus: 1, sessionDir: join(work, 'bad') }), (error: Error) => error instanceof RangeError && error.message.startsWith(`${name} must be`) && error.message.includes(`'${value}'`) && !error.message.includes('\n'));
      } finally {
        delete process.env[name];
      }
    }
    // Nothing was left half started.
    await tsray.init({ numCpus: 1, sessionDir: join(work, 'good') });
    await tsray.shutdown();
  });

  void test('byte counts take plain bytes and decimal or binary units', () => {
    assert.equal(parseByteCount('1073741824'), 1073741824);
    assert.equal(parseByteCount('500MB'), 500_000_000);
    assert.equal(parseByteCount('2GiB'), 2 * 1024 ** 3);
    assert.equal(parseByteCount('1.5 kib'), 1536);
    assert.equal(parseByteCount('0'), 0);
    assert.equal(parseByteCount('12 parsecs'), undefined);
    assert.equal(parseByteCount(''), undefined);
    assert.deepEqual(sessionRetention({ TSRAY_SESSIONS_ROOT: work, TSRAY_SESSIONS_KEEP: '7', TSRAY_SESSIONS_MAX_BYTES: '3MiB' }), { root: work, keep: 7, maxBytes: 3 * 1024 ** 2 });
    assert.deepEqual(sessionRetention({ TSRAY_SESSIONS_ROOT: work }), { root: work, keep: 20, maxBytes: 1024 ** 3 });
  });
});
