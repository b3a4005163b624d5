/**
 * `typeOf`, the reader of events' types that a kind first met in a burst does not make V8 throw
 * compiled code away: its value, and (in a child with V8's natives syntax, since only V8's own status
 * of a function tells) that a function reading types through it stays compiled when a new kind comes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { isOfType, typeOf } from '../../../core/type-of.js';

type Event = { readonly type: 'a'; readonly n: number } | { readonly type: 'b'; readonly s: string };

void test('typeOf gives the type, and isOfType narrows to it', () => {
  const events: Event[] = [
    { type: 'a', n: 1 },
    { type: 'b', s: 'x' },
  ];
  assert.deepEqual(events.map(typeOf), ['a', 'b']);
  const first = events[0] as Event;
  assert.ok(isOfType(first, 'a'));
  assert.equal(first.n, 1);
  assert.equal(isOfType(events[1] as Event, 'a'), false);
});

void test('a compiled function that reads types through typeOf keeps its code when a kind it never met comes; one that reads them itself loses it', () => {
  const typeOfModule = new URL('../../../core/type-of.js', import.meta.url).href;
  const logElision = new URL('../../../node/runtime/log-elision.js', import.meta.url).href;
  const script = `
    const { typeOf } = await import(${JSON.stringify(typeOfModule)});
    const { loggedOwnerEvent } = await import(${JSON.stringify(logElision)});
    const viaTypeOf = (event) => (typeOf(event) === 'object/put' ? 1 : 0);
    const direct = (event) => (event.type === 'object/put' ? 1 : 0);
    const logged = (event) => loggedOwnerEvent(event, 100, () => 'o1');
    // The kinds of a thread's first events, each its own hidden class.
    const kinds = [
      (index) => ({ type: 'task/submitted', name: 'echo', args: [index] }),
      (index) => ({ type: 'get/requested', getId: 'g' + index, refs: [] }),
      (index) => ({ type: 'task/executed', taskId: 't' + index, attempt: 0, result: { kind: 'returned', values: [{ data: index, sizeBytes: 1 }] } }),
    ];
    const status = {};
    for (const [name, read] of Object.entries({ viaTypeOf, direct, logged })) {
      %PrepareFunctionForOptimization(read);
      for (let index = 0; index < 300; index += 1) read(kinds[index % 3](index));
      %OptimizeFunctionOnNextCall(read);
      read(kinds[0](0));
      const before = %GetOptimizationStatus(read);
      // A burst's first event of a kind never met.
      const released = { type: 'refs/released', objectIds: ['o1'] };
      const result = read(released);
      status[name] = { before, after: %GetOptimizationStatus(read), unchanged: name !== 'logged' || result === released };
    }
    console.log(JSON.stringify(status));
  `;
  const result = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const status = JSON.parse(result.stdout) as Record<'viaTypeOf' | 'direct' | 'logged', { before: number; after: number; unchanged: boolean }>;
  // V8's status bits: 16 is optimised, 64 compiled by TurboFan.
  const turbofanned = 16 | 64;
  for (const [name, { before }] of Object.entries(status)) assert.equal(before & turbofanned, turbofanned, `${name} was not optimised (status ${before})`);
  assert.equal(status.viaTypeOf.after & turbofanned, turbofanned, `a read through typeOf was thrown away (status ${status.viaTypeOf.after})`);
  assert.equal(status.logged.after & turbofanned, turbofanned, `loggedOwnerEvent was thrown away (status ${status.logged.after})`);
  assert.ok(status.logged.unchanged, 'an event with no large value is logged as it is');
  // What typeOf is for: a site that read the type itself met three classes, and the fourth threw its code away.
  assert.equal(status.direct.after & 16, 0, `a direct read kept its code (status ${status.direct.after}): V8 no longer needs typeOf`);
});
