/**
 * Remote functions and actors that throw errors with fields and cause chains, defined outside the
 * entry script so they are shipped by reference and may use this module's imports and classes.
 */
import { readFileSync } from 'node:fs';
import * as tsray from '../../node/index.js';

/** An error class with fields of its own, as user code defines them. */
export class MyError extends Error {
  override name = 'MyError';
  code = 'E_MINE';
  detail = { a: 1 };
  big = 12n;
  callback = (): number => 1;
}

/** Reads a file that does not exist: the task throws Node's system error (code, errno, syscall, path). */
export const readMissing = tsray.remote(function readMissing(path: string): string {
  return readFileSync(path, 'utf8');
});

/** Throws `outer`, caused by a MyError, caused in turn by a plain string. */
export const throwsChain = tsray.remote(function throwsChain(): never {
  throw new Error('outer', { cause: new MyError('inner', { cause: 'the root, as a string' }) });
});

/** Throws an AggregateError of a MyError and an ENOENT error. */
export const throwsAggregate = tsray.remote(function throwsAggregate(path: string): never {
  let missing: unknown;
  try {
    readFileSync(path);
  } catch (error) {
    missing = error;
  }
  throw new AggregateError([new MyError('first'), missing], 'two things failed');
});

/** An actor whose constructor throws a MyError with a cause. */
class BrokenConfig {
  constructor() {
    throw new MyError('no config', { cause: new Error('file missing') });
  }
  read(): number {
    return 1;
  }
}

/** BrokenConfig as an actor class. */
export const BrokenConfigActor = tsray.remote(BrokenConfig);
