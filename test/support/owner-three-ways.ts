/**
 * One owner run applied three ways, for core tests that pin a recipe's behaviour in every mode: in
 * place (as a live shell applies it), under immer with own copies (the simulator) and under immer
 * with patches (the debugger), with the invariants checked and the three states' hashes compared
 * after every step, and the state of own copies checked to be frozen throughout, as immer leaves a
 * state (own copies freeze what they made themselves).
 */
import assert from 'node:assert/strict';
import { hashState } from '../../core/hash.js';
import { ownerCore } from '../../core/owner/index.js';
import type { Execution, OwnerEffect, OwnerEvent, OwnerState } from '../../core/owner/index.js';
import { applyUnderImmer, checkInvariants } from '../../core/step.js';
import { tableGet } from '../../core/table.js';

/** The owner states of one run applied three ways: in place, under immer with own copies, and with patches. */
export class ThreeWays {
  live: OwnerState = ownerCore.initial();
  own: OwnerState = ownerCore.initial();
  patched: OwnerState = ownerCore.initial();

  /** Applies `event` every way, checks the invariants and that the three states hash alike, and returns the live effects. */
  step(event: OwnerEvent): OwnerEffect[] {
    const effects = ownerCore.apply(this.live, event);
    this.own = applyUnderImmer(ownerCore, this.own, event, { patches: false }).state;
    this.patched = applyUnderImmer(ownerCore, this.patched, event).state;
    checkInvariants(ownerCore, this.live, event.type);
    const hash = hashState(this.live);
    assert.equal(hashState(this.own), hash, `${event.type}: the step under immer with own copies gives the state the live step gives`);
    assert.equal(hashState(this.patched), hash, `${event.type}: the step under immer with patches gives the state the live step gives`);
    assert.ok(deepFrozen(this.own), `${event.type}: the step under immer with own copies leaves every object of its state frozen`);
    return effects;
  }

  /** The execution under `key` in each of the three states. */
  executions(key: string): (Execution | undefined)[] {
    return [this.live, this.own, this.patched].map((state) => tableGet(state.executions, key));
  }
}

/** Whether every object in `value` is frozen (a value met twice is walked twice: states are trees). */
function deepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(deepFrozen);
}

/** A message delivered to the owner from `from`, the `seq`th it sent. */
export function delivered(event: Record<string, unknown>, from: string, seq: number): OwnerEvent {
  return { ...event, via: { from, incarnation: 1, seq } } as unknown as OwnerEvent;
}
