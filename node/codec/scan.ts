/**
 * The scan: one linear walk over a value before msgpackr encodes it, which rejects what the codec
 * cannot carry with a TypeError naming its path, and notes whether the value holds something that
 * msgpack would change (-0, lone surrogates, own `__proto__` or `constructor` keys; see rewritten.ts).
 * msgpackr alone would silently drop symbol keys, turn functions and class instances into
 * objects, and overflow the stack on cycles; the scan is what makes those errors precise.
 *
 * The walk keeps no path strings and no set of visited objects: it records the container and step
 * at each depth in two arrays, formats a path only for an error, and looks for cycles only from
 * `cycleCheckDepth` levels down, where real data rarely goes but a cycle always does.
 */
import { classify, Kind } from './classify.js';
import { formatPath, type Step } from './path.js';
import { rejectionReason, symbolKeyReason, symbolReason } from './rejection.js';
import { isWellFormed } from './rewritten.js';
import type { CodecHooks } from './types.js';

/** The depth from which each container is checked against its ancestors. */
const cycleCheckDepth = 64;
/** The deepest nesting accepted; msgpackr's recursion overflows the stack not far beyond. */
export const maxDepth = 1000;

/** A TypeError raised by the codec itself, with the path of the offending value in its message. */
export class CodecError extends TypeError {}

class Scan {
  readonly containers: object[] = [];
  readonly steps: Step[] = [];
  needsRewrite = false;

  constructor(
    readonly hooks: CodecHooks,
    readonly root: string,
  ) {}

  /** An error for the value reached through the first `depth` steps. */
  fail(depth: number, reason: string, cause?: unknown): CodecError {
    const path = formatPath(this.root, this.containers, this.steps, depth);
    return new CodecError(`${path} ${reason}`, cause === undefined ? undefined : { cause });
  }
}

/**
 * Checks that `value` can be encoded; throws a CodecError (a TypeError) naming the path of the first
 * value that cannot. Returns whether the value must be rewritten before msgpackr encodes it.
 */
export function scanValue(value: unknown, hooks: CodecHooks, root: string): boolean {
  const scan = new Scan(hooks, root);
  try {
    visit(scan, value, 0);
  } catch (error) {
    throw readFailure(scan, error, 0);
  }
  return scan.needsRewrite;
}

function visit(scan: Scan, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) scan.needsRewrite = true;
      return;
    case 'number':
      if (value === 0 && 1 / value < 0) scan.needsRewrite = true;
      return;
    case 'object':
      if (value !== null) visitObject(scan, value, depth);
      return;
    case 'function':
      visitObject(scan, value, depth);
      return;
    case 'symbol':
      throw scan.fail(depth, symbolReason(value));
    case 'bigint':
    case 'boolean':
    case 'undefined':
      return;
  }
}

function visitObject(scan: Scan, value: object, depth: number): void {
  const kind = classify(value, scan.hooks);
  switch (kind) {
    case Kind.plain:
    case Kind.nullProto:
      visitRecord(scan, value as Record<string, unknown>, depth);
      return;
    case Kind.array:
      visitArray(scan, value as unknown[], depth);
      return;
    case Kind.map:
      visitMap(scan, value as Map<unknown, unknown>, depth);
      return;
    case Kind.set:
      visitSet(scan, value as Set<unknown>, depth);
      return;
    case Kind.error:
      visitError(scan, value as Error, depth);
      return;
    case Kind.rejected:
      throw scan.fail(depth, rejectionReason(value));
    case Kind.date:
    case Kind.regExp:
    case Kind.binary:
    case Kind.ref:
    case Kind.actor:
    case Kind.function:
    case Kind.actorClass:
    case Kind.rewritten:
      return;
  }
}

/** Records a container at `depth`, checking it against its ancestors once the value is deep. */
function enter(scan: Scan, container: object, depth: number): void {
  scan.containers[depth] = container;
  if (depth < cycleCheckDepth) return;
  for (let d = 0; d < depth; d++) {
    if (scan.containers[d] === container) throw cycleError(scan, depth);
  }
  if (depth >= maxDepth) throw scan.fail(depth, `nests more than ${maxDepth} levels deep`);
}

/** Reports the first cycle along the current chain, the one whose path is shortest. */
function cycleError(scan: Scan, depth: number): CodecError {
  const { containers } = scan;
  for (let later = 1; later <= depth; later++) {
    const earlier = containers.indexOf(containers[later]!);
    if (earlier < later) {
      const target = formatPath(scan.root, containers, scan.steps, earlier);
      return scan.fail(later, `is a cycle: it is the same object as ${target}, which contains it; values must not contain themselves`);
    }
  }
  return scan.fail(depth, 'is a cycle');
}

/** Turns an exception thrown by user code (a getter, a proxy, a hook) into a CodecError with a path. */
function readFailure(scan: Scan, error: unknown, depth: number): unknown {
  if (error instanceof CodecError) return error;
  return scan.fail(depth, `could not be read: reading it threw ${describeThrown(error)}`, error);
}

function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return 'a value that cannot be printed';
  }
}

function visitRecord(scan: Scan, record: Record<string, unknown>, depth: number): void {
  enter(scan, record, depth);
  const steps = scan.steps;
  try {
    // for-in is several times cheaper than Object.keys here; it walks the prototype's enumerable
    // keys too, of which Object.prototype (and a null prototype) normally has none.
    for (const key in record) {
      steps[depth] = key;
      if (key === '__proto__' || key === 'constructor') scan.needsRewrite = true;
      visit(scan, record[key], depth + 1);
    }
    // The costliest line of the scan (a runtime call per object), but msgpackr would drop symbol
    // keys without a word.
    if (Object.getOwnPropertySymbols(record).length !== 0) checkSymbolKeys(scan, record, depth);
  } catch (error) {
    throw readFailure(scan, error, depth + 1);
  }
}

function checkSymbolKeys(scan: Scan, record: object, depth: number): void {
  for (const symbol of Object.getOwnPropertySymbols(record)) {
    if (Object.prototype.propertyIsEnumerable.call(record, symbol)) throw scan.fail(depth, symbolKeyReason(symbol));
  }
}

function visitArray(scan: Scan, array: readonly unknown[], depth: number): void {
  enter(scan, array, depth);
  try {
    // Holes read as undefined, which is what they decode as.
    for (let i = 0; i < array.length; i++) {
      scan.steps[depth] = i;
      visit(scan, array[i], depth + 1);
    }
  } catch (error) {
    throw readFailure(scan, error, depth + 1);
  }
}

function visitMap(scan: Scan, map: Map<unknown, unknown>, depth: number): void {
  enter(scan, map, depth);
  // msgpackr writes a Map whose `constructor` is not Map as an empty object, so it is rewritten.
  if ((map as { constructor?: unknown }).constructor !== Map) scan.needsRewrite = true;
  let step = 0;
  try {
    for (const [key, entry] of map) {
      scan.steps[depth] = step;
      visit(scan, key, depth + 1);
      scan.steps[depth] = step + 1;
      visit(scan, entry, depth + 1);
      step += 2;
    }
  } catch (error) {
    throw readFailure(scan, error, depth + 1);
  }
}

function visitSet(scan: Scan, set: Set<unknown>, depth: number): void {
  enter(scan, set, depth);
  let index = 0;
  try {
    for (const item of set) {
      scan.steps[depth] = index++;
      visit(scan, item, depth + 1);
    }
  } catch (error) {
    throw readFailure(scan, error, depth + 1);
  }
}

function visitError(scan: Scan, error: Error, depth: number): void {
  enter(scan, error, depth);
  try {
    if (Object.hasOwn(error, 'cause')) {
      scan.steps[depth] = 'cause';
      visit(scan, error.cause, depth + 1);
    }
    if (error instanceof AggregateError) {
      scan.steps[depth] = 'errors';
      visit(scan, error.errors, depth + 1);
    }
  } catch (thrown) {
    throw readFailure(scan, thrown, depth + 1);
  }
}
