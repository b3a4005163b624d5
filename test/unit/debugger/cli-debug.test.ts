/**
 * `tsray debug` as a user runs it: the real binary in a pseudo-terminal (util-linux `script`), and
 * bad trace files, which give one line and exit 1 in a terminal or not. The terminal sessions set
 * CI=true, as CI machines do: Ink would then draw nothing until exit, and a user at a terminal must
 * still get the live app.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { debugTraceText } from '../../support/debugger-traces.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const cli = join(root, 'dist/node/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'tsray-debug-'));
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** A terminal session: the output so far, a way to type, and the exit code once it ends. */
interface Session {
  readonly child: ChildProcess;
  output: string;
  code: number | null | undefined;
}

/** Starts `tsray debug ...args` in a pseudo-terminal of its own. */
function inTerminal(...args: string[]): Session {
  const command = [process.execPath, cli, 'debug', ...args].map((part) => `'${part.replace(/'/g, "'\\''")}'`).join(' ');
  // In a process group of its own, so that the after hook stops the debugger under `script` too:
  // killing `script` alone left the debugger running, holding the test run open.
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: root, detached: true, env: { ...process.env, NO_COLOR: '1', COLUMNS: '80', LINES: '24', CI: 'true' } });
  const session: Session = { child, output: '', code: undefined };
  child.stdout?.on('data', (data: Buffer) => (session.output += data.toString('utf8')));
  child.on('exit', (code) => (session.code = code));
  return session;
}

/** Waits until `done` holds, failing with what the terminal showed after `limitMs`. */
async function until(session: Session, what: string, done: () => boolean, limitMs = 20_000): Promise<void> {
  for (let waitedMs = 0; !done(); waitedMs += 20) {
    if (waitedMs > limitMs) assert.fail(`waited ${limitMs} ms for ${what}; the terminal showed:\n${session.output.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function tsray(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

void describe('tsray debug', () => {
  const sessions: Session[] = [];
  let tracePath = '';
  let text = '';
  before(() => {
    text = debugTraceText();
    tracePath = join(work, 'stories.jsonl');
    writeFileSync(tracePath, text);
  });
  after(() => {
    for (const session of sessions) {
      if (session.code !== undefined || session.child.pid === undefined) continue;
      try {
        process.kill(-session.child.pid, 'SIGKILL');
      } catch {
        // The group has ended already.
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  void test('in a terminal with NO_COLOR: the first frame lists events, ? shows the help, q exits 0', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
    const session = inTerminal(tracePath);
    sessions.push(session);
    await until(session, 'the event list', () => /gcs\/started/.test(session.output) && /q:quit/.test(session.output));
    assert.match(session.output, /tsray debug stories\.jsonl · \d+ events · sim seed 1/);
    assert.match(session.output, /raylet:n1\s+node\/started/);
    // NO_COLOR is set: no styling at all (SGR sequences), the cursor row marked by ▶ alone.
    assert.doesNotMatch(session.output, new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`));
    assert.match(session.output, /▶\s+1\s+0ms gcs/);
    session.child.stdin?.write('?');
    await until(session, 'the help', () => /Keys \(any key closes this help\)/.test(session.output));
    session.child.stdin?.write('q');
    await until(session, 'the exit', () => session.code !== undefined);
    assert.equal(session.code, 0);
  });

  void test('in a terminal: a truncated trace ends with one line naming the bad line, exit 1', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
    const truncated = join(work, 'truncated-tty.jsonl');
    writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
    const session = inTerminal(truncated);
    sessions.push(session);
    await until(session, 'the exit', () => session.code !== undefined);
    assert.equal(session.code, 1);
    assert.match(session.output, /tsray: \S+truncated-tty\.jsonl: line \d+: /);
    assert.doesNotMatch(session.output, /\n\s+at /, 'no stack trace');
  });

  void test('with no trace and no terminal: the curated traces, or how to make one; exit 0', () => {
    const result = tsray('debug');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^(no curated traces yet; make one: tsray sim examples\/sim\/fan-out\.mjs --seed 1 -o traces\n|(\S+\.jsonl: .+\n)+)$/);
  });

  void test('in a terminal with no trace: the curated list or how to make one; q exits 0', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
    const session = inTerminal();
    sessions.push(session);
    await until(session, 'the list', () => /tsray debug: (no curated traces in \S+ yet|curated traces in)/.test(session.output));
    session.child.stdin?.write('q');
    await until(session, 'the exit', () => session.code !== undefined);
    assert.equal(session.code, 0);
  });

  void test('a missing file, a truncated or corrupt trace, or an unknown version: one line, exit 1', () => {
    const missing = tsray('debug', join(work, 'missing.jsonl'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^tsray: cannot read trace \S+missing\.jsonl: ENOENT; /);
    const truncated = join(work, 'truncated.jsonl');
    writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
    const corrupt = join(work, 'corrupt.jsonl');
    writeFileSync(corrupt, text.replace(/\n\{"seq":40,/, '\n{"seq":"forty",'));
    const newer = join(work, 'newer.jsonl');
    writeFileSync(newer, text.replace('"formatVersion":3', '"formatVersion":99'));
    const expected: [string, RegExp][] = [
      [truncated, /truncated\.jsonl: line \d+: /],
      [corrupt, /corrupt\.jsonl: line 41: event for worker:n1\.d1: 'seq' should be an integer/],
      [newer, /newer\.jsonl: line 1: trace format version 99 is newer than this tsray reads/],
    ];
    for (const [path, reason] of expected) {
      const result = tsray('debug', path);
      assert.equal(result.status, 1, path);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, reason);
    }
    const notTerminal = tsray('debug', tracePath);
    assert.equal(notTerminal.status, 1);
    assert.match(notTerminal.stderr, /^tsray: debug needs an interactive terminal; for scripts use tsray replay /);
  });
});
