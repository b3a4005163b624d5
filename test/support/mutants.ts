/**
 * Broken recipes for mutation tests (core/sim/mutations.ts): each breaks one rule, so that a property
 * suite that passes on the real cores must fail on it.
 */
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import { mutations } from '../../core/sim/mutations.js';

/** A named mutant of the owner core. */
export interface Mutant {
  readonly name: string;
  readonly owner: ComponentCore<unknown, AnyEvent, unknown>;
}

/** The owner mutants, described. */
export const mutants: readonly Mutant[] = Object.values(mutations).flatMap((mutation) => (mutation.cores.owner === undefined ? [] : [{ name: mutation.description, owner: mutation.cores.owner }]));
