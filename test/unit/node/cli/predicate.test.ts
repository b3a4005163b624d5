/**
 * Compiling a breakpoint expression typed by a user: a valid one becomes a predicate over state; a
 * syntax error is one line that says what to write.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { compilePredicate } from '../../../../node/cli/predicate.js';

void describe('compilePredicate', () => {
  void test('an expression over state (or s) holds when it is truthy', () => {
    const compiled = compilePredicate('Object.keys(state.tasks).length > 1 && s.tasks.a.state === "FAILED"');
    assert.ok(E.isRight(compiled));
    assert.equal(compiled.right({ tasks: { a: { state: 'FAILED' }, b: {} } }), true);
    assert.equal(compiled.right({ tasks: { a: { state: 'FINISHED' }, b: {} } }), false);
    const truthy = compilePredicate('state.count');
    assert.ok(E.isRight(truthy));
    assert.equal(truthy.right({ count: 3 }), true);
    assert.equal(truthy.right({ count: 0 }), false);
  });

  void test('a syntax error, two statements or an empty expression is one line saying what to write', () => {
    for (const expression of ['state.tasks.length >', 'state.a; state.b', '   ']) {
      const compiled = compilePredicate(expression);
      assert.ok(E.isLeft(compiled), expression);
      assert.doesNotMatch(compiled.left, /\n/);
      assert.match(compiled.left, /^the breakpoint expression is (not valid JS \(.+\)|empty); write /);
    }
  });

  void test('a path that does not exist throws at evaluation, for the search to count as not holding', () => {
    const compiled = compilePredicate('state.tasks.missing.state === "FAILED"');
    assert.ok(E.isRight(compiled));
    assert.throws(() => compiled.right({ tasks: {} }), TypeError);
  });
});
