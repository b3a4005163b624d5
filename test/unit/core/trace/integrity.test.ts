/**
 * The checksum chain of a trace file: every kind of edit is detected at the line it touches, even one
 * that changes no replayed state, and a file cut short is detected by its missing closing line.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { simulate } from '../../../../core/sim/index.js';
import type { SimProgram } from '../../../../core/sim/index.js';
import { decodeTrace, summariseProblems, traceProblems } from '../../../../core/trace/decode.js';
import { TraceWriter, splitSum } from '../../../../core/trace/format.js';
import type { Trace } from '../../../../core/trace/format.js';

const program: SimProgram = {
  name: 'squares',
  bodies: { square: (_ctx, x) => (x as number) * (x as number) },
  actors: {},
  *driver(ctx) {
    const refs = [1, 2, 3].map((x) => ctx.submit('square', [x]));
    return yield ctx.get(refs.flat());
  },
};

const text = simulate({ seed: 3, program }).traceText();
const lines = text.split('\n').slice(0, -1);

function decode(edited: readonly string[] | string): Trace {
  const result = decodeTrace(typeof edited === 'string' ? edited : `${edited.join('\n')}\n`);
  assert.ok(E.isRight(result), E.isLeft(result) ? result.left.reason : '');
  return result.right;
}

/** The line numbers the chain reports. */
function brokenAt(trace: Trace): number[] {
  return (trace.integrity ?? []).map((problem) => problem.lineNumber);
}

/** The index of the n-th event line (0-based among events). */
function eventIndex(n: number): number {
  const indexes = lines.flatMap((line, index) => (line.startsWith('{"seq"') ? [index] : []));
  const index = indexes[n];
  assert.ok(index !== undefined, `the trace has an event line ${n}`);
  return index;
}

void describe('trace checksum chain', () => {
  void test('a simulator trace is chained and closed: no problem', () => {
    assert.match(lines[0] ?? '', /^\{"kind":"tsray-trace","formatVersion":3,.*,"sum":"[0-9a-f]{16}"\}$/);
    assert.match(lines[lines.length - 1] ?? '', /^\{"end":"tsray-trace","lines":\d+,"sum":"[0-9a-f]{16}"\}$/);
    const trace = decode(text);
    assert.deepEqual(traceProblems(trace), []);
    assert.ok(trace.entries.length > 20);
    // The sum is the file's, not the event's: decoded lines do not carry it.
    assert.equal('sum' in (trace.entries[0] ?? {}), false);
    assert.equal('sum' in trace.header, false);
  });

  void test('setting every atMs to 1e308 changes no state but breaks every event line', () => {
    const edited = lines.map((line) => line.replace(/"atMs":\d+/, '"atMs":1e308'));
    const trace = decode(edited);
    assert.deepEqual(trace.rejected, []);
    const events = lines.flatMap((line, index) => (line.startsWith('{"seq"') ? [index + 1] : []));
    assert.deepEqual(brokenAt(trace), events);
    assert.match(trace.integrity?.[0]?.reason ?? '', /^line \d+: seq 1 \(gcs\): the checksum does not match: .*record or collect it again$/);
  });

  void test('a reordered pair of lines is detected at both, and at the line after them', () => {
    const at = eventIndex(10);
    const edited = [...lines];
    [edited[at], edited[at + 1]] = [lines[at + 1] ?? '', lines[at] ?? ''];
    const trace = decode(edited);
    // The second of the two is out of seq order, so it is rejected (reported once) rather than chained.
    assert.deepEqual(
      trace.rejected.map((problem) => problem.lineNumber),
      [at + 2],
    );
    assert.deepEqual(brokenAt(trace), [at + 1, at + 3]);
    assert.equal(traceProblems(trace).length, 3);
  });

  void test('a deleted line is detected at the line that follows it, and by the closing count', () => {
    const at = eventIndex(10);
    const edited = lines.filter((_line, index) => index !== at);
    const trace = decode(edited);
    assert.deepEqual(brokenAt(trace), [at + 1, edited.length]);
    assert.match(trace.integrity?.[1]?.reason ?? '', /the closing line counts \d+ lines before it but the file has \d+/);
  });

  void test('a trace cut short, at a line end or in the middle of a line, has no closing line', () => {
    const atLineEnd = decode(lines.slice(0, eventIndex(12)));
    assert.deepEqual(brokenAt(atLineEnd), [eventIndex(12) + 1]);
    assert.match(atLineEnd.integrity?.[0]?.reason ?? '', /no closing line: it was cut short \(truncated\)/);
    const cut = text.slice(0, text.indexOf('\n', text.length / 2) - 7);
    const midLine = decode(cut);
    assert.equal(midLine.rejected.length, 1);
    assert.match(midLine.rejected[0]?.reason ?? '', /not valid JSON/);
    assert.equal(midLine.integrity?.length, 1);
  });

  void test('an edited header is detected at line 1', () => {
    const edited = [...lines];
    edited[0] = (lines[0] ?? '').replace('"workload":"squares"', '"workload":"cubes"');
    assert.notEqual(edited[0], lines[0]);
    assert.deepEqual(brokenAt(decode(edited)), [1]);
  });

  void test('an edited note, a line added after the end, a blank line, and a line without its sum are all detected', () => {
    const noteAt = lines.findIndex((line) => line.startsWith('{"note"'));
    const note = [...lines];
    note[noteAt] = (lines[noteAt] ?? '').replace('"note":"', '"note":"x');
    assert.deepEqual(brokenAt(decode(note)), [noteAt + 1]);
    assert.deepEqual(brokenAt(decode([...lines, lines[1] ?? ''])), [lines.length + 1]);
    const blank = [...lines];
    blank.splice(3, 0, '');
    assert.ok(brokenAt(decode(blank)).includes(4));
    const unsigned = [...lines];
    unsigned[5] = splitSum(lines[5] ?? '').content;
    assert.match(decode(unsigned).integrity?.[0]?.reason ?? '', /^line 6: .*the line has no checksum/);
  });

  void test('a viewer may skip recomputing the sums, but a file cut short is still found', () => {
    const edited = `${lines.map((line) => line.replace(/"atMs":\d+/, '"atMs":1e308')).join('\n')}\n`;
    const unchecked = decodeTrace(edited, { checksums: false });
    assert.ok(E.isRight(unchecked));
    assert.deepEqual(traceProblems(unchecked.right), []);
    const cut = decodeTrace(`${lines.slice(0, 30).join('\n')}\n`, { checksums: false });
    assert.ok(E.isRight(cut));
    assert.match(traceProblems(cut.right)[0] ?? '', /no closing line/);
  });

  void test('the writer closes a trace without advancing its chain', () => {
    const writer = new TraceWriter();
    const header = decode(text).header;
    const first = writer.line(header);
    assert.equal(writer.end(), writer.end());
    assert.equal(writer.lines, 1);
    const closed = decode([first, writer.end()]);
    assert.deepEqual(traceProblems(closed), []);
  });

  void test('many problems are summarised: the first five, then a count', () => {
    const problems = Array.from({ length: 240 }, (_unused, index) => `line ${index + 2}: bad`);
    assert.deepEqual(summariseProblems(problems), ['line 2: bad', 'line 3: bad', 'line 4: bad', 'line 5: bad', 'line 6: bad', 'and 235 more problems']);
    assert.deepEqual(summariseProblems(problems.slice(0, 6)), [...problems.slice(0, 5), 'and 1 more problem']);
    assert.deepEqual(summariseProblems(problems.slice(0, 5)), problems.slice(0, 5));
  });
});
