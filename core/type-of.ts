/**
 * One reader of the `type` of events, effects and messages, for code that sees every kind of them and
 * is compiled before the last kind first shows up. V8 compiles a read of `event.type` for the hidden
 * classes (one per kind of event) that its site has met, up to four; a kind first met after the
 * compiling (a burst's first `refs/released`, `owner/pipeline-depth-set`, a push with `after`) throws
 * the compiled function away ('wrong map'), and with it every function it was inlined into, which is
 * then compiled again. Its fifth class makes a site generic, and a generic read never throws code away.
 *
 * So every such read goes through `typeOf`, whose one site (shared by every caller that inlines it) is
 * made generic when this module loads: it reads the type of more kinds of object than a site keeps
 * apart, and of each more than once, since V8 keeps no record of what a function met until it has been
 * called a few times. A generic read costs a few nanoseconds more than a read of one known class; the
 * sites that go through it met more classes than that already, or would once a burst came.
 */

/** An object with a discriminating `type`: an event, an effect or a message. */
export interface Typed {
  readonly type: string;
}

/** The `type` of `value`, read at a site that every class of object reaches without a recompile. */
export function typeOf<T extends Typed>(value: T): T['type'] {
  return value.type;
}

/** Whether `value` is of the kind `type` (a type guard, read by `typeOf`). */
export function isOfType<T extends Typed, K extends T['type']>(value: T, type: K): value is Extract<T, { readonly type: K }> {
  return typeOf(value) === type;
}

/**
 * Objects of as many hidden classes as make a read site generic (V8 keeps four apart), each read
 * `primingRounds` times: V8 records what a function meets from about its eighth call on.
 */
const primingKinds: readonly Typed[] = [
  { type: 'primed/a' },
  { type: 'primed/b', b: 0 } as Typed,
  { type: 'primed/c', c: '' } as Typed,
  { type: 'primed/d', d: null } as Typed,
  { type: 'primed/e', e: [] } as Typed,
  { type: 'primed/f', f: {} } as Typed,
];
const primingRounds = 4;

for (let round = 0; round < primingRounds; round += 1) {
  for (let index = 0; index < primingKinds.length; index += 1) typeOf(primingKinds[index] as Typed);
}
