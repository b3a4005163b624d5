/**
 * A thrown value as data (the core's ThrownInfo): its name, message and stack, and as much of the rest
 * as plain data can hold, so that `get` rethrows an error that still has its `code`, `errno`, custom
 * fields, `cause` chain and an AggregateError's `errors`. The record lives in owner state and in
 * messages, which must stay plain data (it hashes, is structured-cloned and goes through immer), so
 * field values are copied as JSON; everything is bounded, and what is cut says so.
 */
import { inspect, types } from 'node:util';
import type { ThrownInfo } from '../../core/values.js';

/** How many errors one thrown value keeps in all (itself, its causes, an AggregateError's errors). */
export const maxThrownErrors = 32;
/** How long a cause chain is kept; a longer one ends with a note. */
export const maxCauseDepth = 8;
/** How many fields of one error are kept. */
export const maxErrorFields = 32;
/** The longest JSON text of one field that is kept; a longer one is replaced by a note. */
export const maxFieldJsonChars = 4096;
/** How many errors of an AggregateError are kept. */
export const maxAggregateErrors = 16;

/** Fields every ThrownInfo carries in its own slots, never among `fields`. */
const ownSlots = new Set(['name', 'message', 'stack', 'cause']);

/** The record of a thrown value, as a task's, a constructor's or a stray error's cause. */
export function thrownInfo(thrown: unknown): ThrownInfo {
  return describeThrown(thrown, 0, { left: maxThrownErrors });
}

function describeThrown(thrown: unknown, depth: number, budget: { left: number }): ThrownInfo {
  budget.left -= 1;
  // isNativeError also knows errors made in another realm (a vm context), which instanceof does not.
  if (!(thrown instanceof Error || types.isNativeError(thrown))) {
    const fields = typeof thrown === 'object' && thrown !== null && !Array.isArray(thrown) ? jsonFields(thrown) : undefined;
    return { name: 'NonErrorThrown', message: `the task threw a non-Error value: ${inspect(thrown, { depth: 4, breakLength: Infinity })}`, ...(fields === undefined ? {} : { fields }) };
  }
  const fields: Record<string, unknown> = jsonFields(thrown) ?? {};
  let cause: ThrownInfo | undefined;
  const rawCause: unknown = (thrown as { cause?: unknown }).cause;
  if (rawCause instanceof Error) {
    cause =
      depth + 1 < maxCauseDepth && budget.left > 0
        ? describeThrown(rawCause, depth + 1, budget)
        : { name: 'CauseOmitted', message: `tsray kept the first ${maxCauseDepth} errors of this cause chain (or ${maxThrownErrors} errors in all) and dropped the rest` };
  } else if (rawCause !== undefined) {
    // A cause that is no Error (a string, a plain object) is kept as a field, so it comes back as it was.
    const value = jsonValue(rawCause);
    if (value !== undefined) fields['cause'] = value;
  }
  let errors: ThrownInfo[] | undefined;
  if (thrown instanceof AggregateError && Array.isArray(thrown.errors)) {
    const members = thrown.errors as unknown[];
    errors = [];
    for (const member of members.slice(0, maxAggregateErrors)) {
      if (budget.left <= 0) break;
      errors.push(describeThrown(member, depth + 1, budget));
    }
    if (errors.length < members.length) errors.push({ name: 'ErrorsOmitted', message: `tsray kept ${errors.length} of the ${members.length} errors of this AggregateError` });
  }
  return {
    name: thrown.name,
    message: thrown.message,
    ...(thrown.stack === undefined ? {} : { stack: thrown.stack }),
    ...(Object.keys(fields).length === 0 ? {} : { fields }),
    ...(cause === undefined ? {} : { cause }),
    ...(errors === undefined ? {} : { errors }),
  };
}

/** The own enumerable fields of `error` other than its name, message, stack and cause, as JSON data. */
function jsonFields(error: object): Record<string, unknown> | undefined {
  const keys = Object.keys(error).filter((key) => !ownSlots.has(key) && key !== '__proto__');
  if (keys.length === 0) return undefined;
  const fields: Record<string, unknown> = {};
  for (const key of keys.slice(0, maxErrorFields)) {
    let value: unknown;
    try {
      value = (error as Record<string, unknown>)[key];
    } catch (problem) {
      value = `[tsray could not read this field: ${problem instanceof Error ? problem.message : String(problem)}]`;
    }
    const json = jsonValue(value);
    if (json !== undefined) fields[key] = json;
  }
  if (keys.length > maxErrorFields) fields['tsrayOmittedFields'] = `tsray kept ${maxErrorFields} of the ${keys.length} fields of this error`;
  return fields;
}

/**
 * `value` as JSON data: bigints become decimal strings; functions, symbols and undefined are dropped
 * (undefined is returned); a value JSON cannot hold (a cycle) becomes its printed form; a value whose
 * JSON is over `maxFieldJsonChars` becomes a note saying so.
 */
function jsonValue(value: unknown): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item));
  } catch {
    text = JSON.stringify(inspect(value, { depth: 2, breakLength: Infinity, maxStringLength: maxFieldJsonChars }));
  }
  if (text === undefined) return undefined;
  if (text.length > maxFieldJsonChars) return `[omitted by tsray: ${text.length} characters of JSON, over the ${maxFieldJsonChars}-character limit of one error field]`;
  // A key `__proto__` would become a prototype when the data is copied by assignment: drop it.
  return JSON.parse(text, (key, item: unknown) => (key === '__proto__' ? undefined : item)) as unknown;
}
