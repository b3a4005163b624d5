/**
 * The shared loader of CLI commands: each way a trace file can be unusable is one line, as a
 * TraceFileError; a damaged file is refused when strict and handed back with its problems when not.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { simulate } from '../../../../core/sim/index.js';
import type { SimProgram } from '../../../../core/sim/index.js';
import { TraceFileError, loadTraceFile } from '../../../../node/cli/trace-file.js';

const work = mkdtempSync(join(tmpdir(), 'tsray-trace-file-'));
const program: SimProgram = {
  name: 'one',
  bodies: { one: () => 1 },
  actors: {},
  *driver(ctx) {
    return yield ctx.get(ctx.submit('one', []));
  },
};

void describe('loadTraceFile', () => {
  after(() => rmSync(work, { recursive: true, force: true }));

  void test('a good trace loads with no problems', async () => {
    const path = join(work, 'good.jsonl');
    writeFileSync(path, simulate({ seed: 1, program }).traceText());
    const loaded = await loadTraceFile(path);
    assert.deepEqual(loaded.problems, []);
    assert.ok(loaded.trace.entries.length > 10);
  });

  void test('a trace longer than the longest string V8 holds is refused naming that limit', async () => {
    // A sparse file: its size is what is checked, before anything is read.
    const path = join(work, 'huge.jsonl');
    writeFileSync(path, '');
    truncateSync(path, constants.MAX_STRING_LENGTH + 1);
    await assert.rejects(loadTraceFile(path), (error: unknown) => {
      assert.ok(error instanceof TraceFileError);
      assert.match(error.message, /^cannot read trace \S+huge\.jsonl: it is 512\.0 MiB, and tsray replay and why decode a trace as one string of at most 512\.0 MiB \(V8's MAX_STRING_LENGTH\); browse it with tsray debug/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  });

  void test('missing, a directory, not a trace, damaged: one line each', async () => {
    const text = simulate({ seed: 1, program }).traceText();
    const lines = text.split('\n');
    const damaged = join(work, 'damaged.jsonl');
    writeFileSync(damaged, lines.map((line) => line.replace(/"atMs":\d+/, '"atMs":7')).join('\n'));
    const notTrace = join(work, 'not.jsonl');
    writeFileSync(notTrace, '{"hello":1}\n');
    const cases: [string, RegExp][] = [
      [join(work, 'missing.jsonl'), /^cannot read trace \S+missing\.jsonl: no such file \(ENOENT\); pass a file written by tsray sim or tsray trace collect$/],
      [work, /^cannot read trace \S+: it is a directory \(EISDIR\)/],
      [notTrace, /^\S+not\.jsonl is not a trace this tsray can read: line 1: this is not a tsray trace/],
      [damaged, /^\S+damaged\.jsonl is damaged: line \d+: .*checksum does not match.* \(and \d+ more; tsray replay \S+ lists them\)$/],
    ];
    for (const [path, pattern] of cases) {
      await assert.rejects(loadTraceFile(path), (error: unknown) => {
        assert.ok(error instanceof TraceFileError);
        assert.doesNotMatch(error.message, /\n/);
        assert.match(error.message, pattern);
        return true;
      });
    }
    const lenient = await loadTraceFile(damaged, { strict: false });
    assert.ok(lenient.problems.length > 10);
  });
});
