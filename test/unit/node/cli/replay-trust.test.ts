/**
 * Trust in a trace file, through the real `tsray` binary: a damaged file (edited, reordered, cut
 * short, of an old format, missing) exits 1 with or without --verify, its problems summarised in a
 * few lines, and `tsray --version` answers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const cli = join(root, 'dist/node/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'tsray-trust-'));

function tsray(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Writes `lines` as a trace file and returns its path. */
function traceFile(name: string, lines: readonly string[]): string {
  const path = join(work, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

void describe('tsray replay refuses a damaged trace', () => {
  let lines: string[] = [];
  before(() => {
    const sim = tsray('sim', 'examples/sim/fan-out.mjs', '--seed', '2', '--faults', 'crashes', '-o', work);
    assert.equal(sim.status, 0, sim.stderr);
    lines = readFileSync(join(work, 'fan-out-2.jsonl'), 'utf8').split('\n').slice(0, -1);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** Replays `path` without and with --verify; both must exit 1 with a short report. */
  function refused(path: string, pattern: RegExp): void {
    for (const args of [[path], [path, '--verify']]) {
      const replay = tsray('replay', ...args);
      assert.equal(replay.status, 1, `${args.join(' ')}: ${replay.stdout}${replay.stderr}`);
      assert.match(replay.stderr, pattern);
      assert.ok(replay.stderr.trim().split('\n').length <= 8, `a short report, not:\n${replay.stderr}`);
      assert.doesNotMatch(replay.stderr, /^\s+at /m, 'no stack trace');
    }
  }

  void test('the trace as recorded replays and verifies', () => {
    const path = traceFile('intact.jsonl', lines);
    for (const args of [[path], [path, '--verify']]) {
      const replay = tsray('replay', ...args);
      assert.equal(replay.status, 0, replay.stderr);
      assert.equal(replay.stderr, '');
    }
  });

  void test('every atMs set to 1e308 (no state changes) is refused, its hundreds of problems summarised', () => {
    const path = traceFile('far-future.jsonl', lines.map((line) => line.replace(/"atMs":\d+/, '"atMs":1e308')));
    refused(path, /checksum does not match/);
    const replay = tsray('replay', path);
    const report = replay.stderr.trim().split('\n');
    // The header changes too: its fault plan has atMs fields.
    assert.equal(report.filter((line) => /^tsray replay: line \d+: .*checksum does not match/.test(line)).length, 5);
    assert.match(replay.stderr, /^tsray replay: and \d{3} more problems$/m);
    assert.match(replay.stderr, /far-future\.jsonl is damaged \(\d{3} problems\): record or collect it again$/m);
  });

  void test('a reordered, a deleted, a truncated and a header-edited trace are each refused', () => {
    const at = lines.findIndex((line, index) => index > 20 && line.startsWith('{"seq"'));
    const swapped = [...lines];
    [swapped[at], swapped[at + 1]] = [lines[at + 1] ?? '', lines[at] ?? ''];
    refused(traceFile('reordered.jsonl', swapped), new RegExp(`line ${at + 1}: .*checksum does not match`));
    refused(
      traceFile(
        'deleted.jsonl',
        lines.filter((_line, index) => index !== at),
      ),
      new RegExp(`line ${at + 1}: .*checksum does not match`),
    );
    refused(traceFile('truncated.jsonl', lines.slice(0, at)), /no closing line: it was cut short \(truncated\)/);
    const header = [...lines];
    header[0] = (lines[0] ?? '').replace('"seed":"2"', '"seed":"3"');
    refused(traceFile('header.jsonl', header), /^tsray replay: line 1: the checksum does not match/);
  });

  void test('an old format version, an unknown one, a missing file: one line and exit 1', () => {
    const v1 = traceFile('v1.jsonl', [(lines[0] ?? '').replace('"formatVersion":3', '"formatVersion":1'), ...lines.slice(1)]);
    const v99 = traceFile('v99.jsonl', [(lines[0] ?? '').replace('"formatVersion":3', '"formatVersion":99'), ...lines.slice(1)]);
    const cases: [string, RegExp][] = [
      [v1, /v1\.jsonl is not a trace this tsray can read: line 1: trace format version 1 is older than this tsray reads \(2 and later .*record or collect the trace again$/],
      [v99, /v99\.jsonl is not a trace this tsray can read: line 1: trace format version 99 is newer than this tsray reads \(3\); upgrade tsray$/],
      [join(work, 'nowhere.jsonl'), /cannot read trace \S+nowhere\.jsonl: no such file \(ENOENT\)/],
    ];
    for (const [path, pattern] of cases) {
      for (const args of [[path], [path, '--verify']]) {
        const replay = tsray('replay', ...args);
        assert.equal(replay.status, 1);
        assert.equal(replay.stderr.trim().split('\n').length, 1, replay.stderr);
        assert.match(replay.stderr.trim(), pattern);
      }
    }
  });
});

void describe('tsray --version', () => {
  void test('prints the version of package.json and exits 0, as --version and -v', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = tsray(flag);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, `${version}\n`);
    }
  });
});
