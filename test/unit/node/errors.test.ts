/**
 * Every error class of the contract is reachable from a core error record, keeps its documented
 * fields, and is a TsrayError.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorClass } from '../../../core/values.js';
import * as errors from '../../../node/errors.js';

const classes: ErrorClass[] = [
  'RayTaskError',
  'WorkerCrashedError',
  'ActorDiedError',
  'ActorUnavailableError',
  'ObjectLostError',
  'OwnerDiedError',
  'ObjectReconstructionFailedError',
  'GetTimeoutError',
  'TaskCancelledError',
  'TaskUnschedulableError',
  'ObjectStoreFullError',
];

void test('errorFromInfo gives the class named by the record, a TsrayError', () => {
  for (const errorClass of classes) {
    const error = errors.errorFromInfo({ errorClass, message: `m ${errorClass}`, objectId: 'o1' });
    assert.equal(error.name, errorClass);
    assert.ok(error instanceof errors.TsrayError);
    const expected = (errors as unknown as Record<string, new (message: string) => Error>)[errorClass];
    assert.ok(expected !== undefined && error instanceof expected);
    assert.equal(error.message, `m ${errorClass}`);
  }
});

void test('RayTaskError carries the remote cause, task name and node', () => {
  const error = errors.errorFromInfo({ errorClass: 'RayTaskError', message: 'task f threw', cause: { name: 'RangeError', message: 'bad', stack: 'RangeError: bad\n  at f' }, taskName: 'f', nodeId: 'n2' });
  assert.ok(error instanceof errors.RayTaskError);
  assert.equal(error.taskName, 'f');
  assert.equal(error.nodeId, 'n2');
  assert.ok(error.cause instanceof Error);
  assert.equal(error.cause.name, 'RangeError');
  assert.equal(error.cause.stack, 'RangeError: bad\n  at f');
});

void test('the lost-object family shares ObjectLostError and its objectId', () => {
  for (const errorClass of ['OwnerDiedError', 'ObjectReconstructionFailedError'] as const) {
    const error = errors.errorFromInfo({ errorClass, message: 'x', objectId: 'n1.d1.t1.r0' });
    assert.ok(error instanceof errors.ObjectLostError);
    assert.equal((error).objectId, 'n1.d1.t1.r0');
  }
});
