/**
 * The replay pass's fast read of an event line (`decodeWrittenEntry`, which parses only the event)
 * against the full one (`decodeLine`): on every line a simulator writes it gives the same entry, and
 * on any edit of such a line it either gives what `decodeLine` gives or steps aside, never accepting
 * a line the full read rejects.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { simulate } from '../../../../core/sim/index.js';
import type { SimProgram } from '../../../../core/sim/index.js';
import { decodeLine, decodeWrittenEntry } from '../../../../core/trace/decode.js';
import { splitSum } from '../../../../core/trace/format.js';
import { assertProperty, numRuns } from '../../../support/property-harness.js';

const program: SimProgram = {
  name: 'chain',
  bodies: { square: (_ctx, x) => (x as number) * (x as number), fail: () => { throw new Error('no "luck"\there'); } },
  actors: {},
  *driver(ctx) {
    const refs = [1, 2, 3].map((x) => ctx.submit('square', [x]));
    const failed = [ctx.submit('fail', [], { maxRetries: 1 })].flat();
    return yield ctx.get([...refs.flat(), ...failed]);
  },
};

/** The event lines of a simulated run, without their sums. */
const contents = simulate({ seed: 11, program })
  .traceText()
  .split('\n')
  .filter((line) => line.startsWith('{"seq"'))
  .map((line) => splitSum(line).content);

/** What the full read gives for `content` after `lastSeq`: the entry, or undefined when it rejects the line. */
function fullRead(content: string, lastSeq: number): unknown {
  const decoded = decodeLine(content, lastSeq);
  return E.isRight(decoded) ? decoded.right : undefined;
}

void describe('decodeWrittenEntry', () => {
  void test('gives the entry decodeLine gives for every line the simulator wrote', () => {
    assert.ok(contents.length > 50, `the run wrote only ${contents.length} event lines`);
    let hashes = 0;
    for (const content of contents) {
      const entry = decodeWrittenEntry(content.slice(0, -1), 0);
      assert.notEqual(entry, undefined, `the fast read stepped aside on a written line: ${content}`);
      assert.deepEqual(entry, fullRead(content, 0));
      if (entry?.hash !== undefined) hashes++;
    }
    assert.ok(hashes > 0, 'no line carried a state hash, so the hash field was never read');
  });

  void test('steps aside where the full read rejects the line', () => {
    const [first] = contents;
    assert.ok(first !== undefined);
    const body = first.slice(0, -1);
    const edits: [string, string][] = [
      ['a seq with a leading zero', body.replace('{"seq":', '{"seq":0')],
      ['a seq not after the last one', body],
      ['a tab in the address', body.replace('"address":"', '"address":"\t')],
      ['an infinite atMs', body.replace(/"atMs":\d+/, '"atMs":1e999')],
      ['a hash in upper case', `${body},"hash":"ABCDEF0123456789"`],
      ['an event that is an array', body.replace(/"event":.*$/, '"event":[1]')],
    ];
    for (const [what, edited] of edits) {
      const lastSeq = what === 'a seq not after the last one' ? 1_000_000 : 0;
      assert.equal(decodeWrittenEntry(edited, lastSeq), undefined, what);
      assert.equal(fullRead(`${edited}}`, lastSeq), undefined, `${what}: the full read accepts it too, so the case tests nothing`);
    }
  });

  void test('never accepts an edited line that the full read rejects, and agrees where both accept', () => {
    const edit = fc.record({
      line: fc.integer({ min: 0, max: contents.length - 1 }),
      at: fc.nat(),
      remove: fc.integer({ min: 0, max: 3 }),
      insert: fc.constantFrom('', '0', '1', '"', '\\', ',', '}', '{', ' ', '\t', 'e9', '-', '.5', 'é', ',"hash":"0123456789abcdef"', ',"parent":1'),
    });
    const property = fc.property(edit, ({ line, at, remove, insert }) => {
      const content = contents[line] ?? '';
      const body = content.slice(0, -1);
      const place = at % (body.length + 1);
      const edited = body.slice(0, place) + insert + body.slice(place + remove);
      const fast = decodeWrittenEntry(edited, 0);
      if (fast === undefined) return;
      assert.deepEqual(fast, fullRead(`${edited}}`, 0), `the fast read accepted ${edited} differently from the full read`);
    });
    assertProperty('written entry', property, numRuns(3000));
  });
});
