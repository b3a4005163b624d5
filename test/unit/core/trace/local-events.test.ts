/**
 * A component's own event may share its type with a message (the owner's `actor/disposed`). Trace
 * decoding must not hold such an event to the message's fields: it did, and every trace of a run in
 * which an actor's dispose method ran was reported damaged at that line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import type { GcsEvent } from '../../../../core/gcs/events.js';
import type { OwnerLocalEvent } from '../../../../core/owner/events.js';
import type { Message } from '../../../../core/protocol.js';
import type { RayletEvent } from '../../../../core/raylet/events.js';
import { decodeTrace, localEventsNamedLikeMessages } from '../../../../core/trace/decode.js';
import { simulate } from '../../../../core/sim/index.js';
import type { SimProgram } from '../../../../core/sim/index.js';

// Compile-time: the set names exactly the clashes of each component's own (non-delivered) events.
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Clash<E extends { readonly type: string }> = Extract<Exclude<E, { readonly via: unknown }>['type'], Message['type']>;
type Named<C extends keyof typeof localEventsNamedLikeMessages> = (typeof localEventsNamedLikeMessages)[C] extends ReadonlySet<infer T> ? T : never;
const ownerExact: Equal<Clash<OwnerLocalEvent>, Named<'owner'>> = true;
const gcsExact: Equal<Clash<GcsEvent>, Named<'gcs'>> = true;
const rayletExact: Equal<Clash<RayletEvent>, Named<'raylet'>> = true;

const program: SimProgram = {
  name: 'one-square',
  bodies: { square: (_ctx, x) => (x as number) * (x as number) },
  actors: {},
  *driver(ctx) {
    return yield ctx.get([ctx.submit('square', [3])].flat());
  },
};

/** A simulated trace with one more event line, for `address`, before its closing line (checksums are not checked). */
function traceWith(address: string, component: string, event: object): string {
  const lines = simulate({ seed: 1, program }).traceText().split('\n').filter((line) => line !== '');
  const last = lines.filter((line) => line.startsWith('{"seq"')).length;
  const line = JSON.stringify({ seq: last + 1, address, component, atMs: 1, event });
  return `${[...lines.slice(0, -1), line, ...lines.slice(-1)].join('\n')}\n`;
}

void test('the clash set matches the event unions (checked when compiling)', () => {
  assert.equal(ownerExact && gcsExact && rayletExact, true);
  assert.deepEqual([...localEventsNamedLikeMessages.owner], ['actor/disposed']);
});

void test("the owner's own actor/disposed decodes; a message of that type without its worker id does not", () => {
  const local = decodeTrace(traceWith('worker:n1.w2', 'owner', { type: 'actor/disposed', actorId: 'n1.d1.a1', restartCount: 0 }), { checksums: false });
  assert.ok(E.isRight(local), E.isLeft(local) ? local.left.reason : '');
  assert.deepEqual(local.right.rejected, []);
  assert.equal(local.right.entries.at(-1)?.event.type, 'actor/disposed');

  const message = decodeTrace(traceWith('gcs', 'gcs', { type: 'actor/disposed', actorId: 'n1.d1.a1', restartCount: 0 }), { checksums: false });
  assert.ok(E.isRight(message), E.isLeft(message) ? message.left.reason : '');
  const problems = message.right.rejected.map((problem) => problem.reason);
  assert.ok(problems.some((reason) => /'actor\/disposed' is missing field 'workerId'/.test(reason)), problems.join('; '));
});
