/**
 * The debugger's file source (node/cli/debug.ts) reads ranges of a trace file and says when a chunk
 * is ASCII without decoding it; a trace opened through it is indexed exactly as the same bytes in
 * memory are, whether its chunks are ASCII or not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openTrace } from '../../../debugger/trace-index.js';
import type { TraceIndex } from '../../../debugger/trace-index.js';
import { fileSource } from '../../../node/cli/debug.js';
import { debugTraceText, rechainTrace } from '../../support/debugger-traces.js';

const folder = mkdtempSync(join(tmpdir(), 'tsray-file-source-'));

/** What the index pass found, in a form to compare. */
function indexed(trace: TraceIndex): unknown {
  return { seqs: [...trace.seqs], addressIds: [...trace.addressIds], types: trace.types, notes: trace.notes, starts: Array.from({ length: trace.count }, (_unused, index) => trace.entry(index).seq) };
}

void describe('file source', () => {
  after(() => rmSync(folder, { recursive: true, force: true }));

  void test('gives ASCII bytes as text and others as undefined', () => {
    const path = join(folder, 'bytes.txt');
    writeFileSync(path, 'plain {"a":1}\nnot plain: é\n');
    const source = fileSource(path);
    try {
      assert.equal(source.asciiText?.(source.read(0, 14)), 'plain {"a":1}\n');
      assert.equal(source.asciiText?.(source.read(14, 100)), undefined);
    } finally {
      source.close();
    }
  });

  void test('a trace with a line that is not ASCII is indexed as its bytes in memory are', async () => {
    const lines = debugTraceText().split('\n');
    const at = Math.floor(lines.length / 2);
    const note = JSON.stringify({ note: 'naïve café ✓ — ünïcode', seq: (JSON.parse(lines[at - 1] ?? '{}') as { seq?: number }).seq ?? 1 });
    const text = rechainTrace([...lines.slice(0, at), note, ...lines.slice(at)]);
    const path = join(folder, 'unicode.jsonl');
    writeFileSync(path, text);
    const source = fileSource(path);
    try {
      const fromFile = await openTrace(source, { pause: () => Promise.resolve() });
      const fromBytes = await openTrace(new TextEncoder().encode(text), { pause: () => Promise.resolve() });
      assert.deepEqual(indexed(fromFile), indexed(fromBytes));
      assert.match(fromFile.notes.map((found) => found.note).join(' '), /café ✓/);
    } finally {
      source.close();
    }
  });
});
