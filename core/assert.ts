/**
 * Assertions that stay on in every build. A reducer that reaches an impossible state stops at once,
 * with a message that names the broken expectation, rather than corrupting later state.
 */

/** Thrown when an invariant or a precondition of the core does not hold. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Fails with `InvariantViolation` unless `condition` holds. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

/** Marks a switch as exhaustive: the compiler rejects a missing case, the runtime names the stray value. */
export function assertNever(value: never, what = 'variant'): never {
  const shown = typeof value === 'object' && value !== null && 'type' in value ? String((value as { type: unknown }).type) : String(value);
  throw new InvariantViolation(`unhandled ${what}: ${shown}`);
}
