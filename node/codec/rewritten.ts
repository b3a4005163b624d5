/**
 * Stand-ins for the few values msgpack cannot carry as they are: -0 (msgpackr writes it as the
 * integer 0), strings with lone surrogates (UTF-8 cannot hold them), and objects with an own
 * `__proto__` key (msgpackr renames it) or `constructor` key (msgpackr then takes the object for a
 * class instance and calls its `toJSON`); and Maps with an own `constructor`, which msgpackr writes as
 * empty objects and the rewrite simply copies. They are rare, so a value holding one is copied with
 * stand-ins in their place rather than slowing down every encode.
 */

/** What a stand-in replaces. */
export const RewrittenKind = { negativeZero: 0, illFormedString: 1, specialKeyObject: 2 } as const;
/** One of `RewrittenKind`. */
export type RewrittenKind = (typeof RewrittenKind)[keyof typeof RewrittenKind];

/** A stand-in: what it replaces and the plain data that rebuilds it. */
export class Rewritten {
  /** Wraps one replaced value. */
  constructor(
    readonly kind: RewrittenKind,
    readonly data: unknown,
  ) {}
}

/** Whether a string has no lone surrogates, which UTF-8 (and so msgpack) cannot hold. */
export function isWellFormed(text: string): boolean {
  // String.prototype.isWellFormed is in Node 20, but not in the ES2023 library TypeScript uses here.
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
