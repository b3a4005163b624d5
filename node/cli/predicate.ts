/**
 * Compiling a user's breakpoint expression (a JS expression over a component's state, as typed in
 * the debugger) into the predicate that core/trace/bisect.ts searches with. This is node-side
 * because it evaluates code; core/ stays pure.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { StatePredicate } from '../../core/trace/bisect.js';
import { flatTables } from '../../core/table.js';

/**
 * The predicate `expression` stands for: the expression sees the state as `state` (and `s` for
 * short) and holds when it is truthy. The Left is one line for an expression that does not compile.
 * The expression runs with the user's own authority, as code they typed does.
 */
export function compilePredicate(expression: string): E.Either<string, StatePredicate> {
  const source = expression.trim();
  if (source === '') return E.left('the breakpoint expression is empty; write a JS expression over state, e.g. state.tasks["n1.d1.t3"]?.state === "FAILED"');
  let compiled: (state: unknown, s: unknown) => unknown;
  try {
    // A new Function compiles the expression once; a syntax error surfaces here, not at each state.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- evaluating the user's own expression is the feature.
    compiled = new Function('state', 's', `"use strict";\nreturn (\n${source}\n);`) as (state: unknown, s: unknown) => unknown;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return E.left(`the breakpoint expression is not valid JS (${message.replace(/[\r\n]+/g, ' ')}); write one expression over state, e.g. Object.keys(state.tasks).length > 3`);
  }
  return E.right((state) => {
    // The expression reads tables (core/table.ts) as flat records, as the debugger shows them.
    const readable = flatTables(state);
    return Boolean(compiled(readable, readable));
  });
}
