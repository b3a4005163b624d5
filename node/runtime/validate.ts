/**
 * Validation of the options users pass: a wrong value is a RangeError or TypeError that names the
 * option and says what is allowed, thrown before anything is submitted.
 */
import { inspect } from 'node:util';
import type { SchedulingStrategy } from '../../core/protocol.js';
import { actorResourceShapes, type Resources } from '../../core/resources.js';
import type { ActorOptions, TaskOptions } from './handles.js';

/**
 * A value as an error message shows it: NaN, Infinity, undefined and quoted strings read as they are
 * (JSON.stringify would print NaN as null and undefined as nothing), long values are cut short.
 */
export function shown(value: unknown): string {
  return inspect(value, { depth: 2, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 80 });
}

/** A whole number ≥ `min`: a value of another type is a TypeError, one out of range a RangeError. */
export function wholeNumber(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const wanted = `${option} must be a whole number ≥ ${min}${min === -1 ? ' (-1 means unlimited)' : ''}, not ${shown(value)}`;
  if (typeof value !== 'number') throw new TypeError(wanted);
  if (!Number.isInteger(value) || value < min) throw new RangeError(wanted);
  return value;
}

function quantity(option: string, value: unknown): number {
  const wanted = `${option} must be a number ≥ 0, not ${shown(value)}`;
  if (typeof value !== 'number') throw new TypeError(wanted);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(wanted);
  return value;
}

function resourcesOf(option: string, value: unknown): Resources {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`${option} must be an object of resource names to quantities, e.g. { GPU: 1 }`);
  const resources: Resources = {};
  for (const [name, amount] of Object.entries(value)) {
    if (name === 'CPU') throw new TypeError(`${option} must not name CPU: use numCpus`);
    resources[name] = quantity(`${option}.${name}`, amount);
  }
  return resources;
}

function strategyOf(value: unknown): SchedulingStrategy {
  if (value === undefined) return 'DEFAULT';
  if (value === 'DEFAULT' || value === 'SPREAD') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { nodeId?: unknown }).nodeId === 'string' && typeof (value as { soft?: unknown }).soft === 'boolean') {
    const strategy = value as { nodeId: string; soft: boolean };
    return { nodeId: strategy.nodeId, soft: strategy.soft };
  }
  throw new TypeError(`schedulingStrategy must be 'DEFAULT', 'SPREAD' or { nodeId: string, soft: boolean }, not ${shown(value)}`);
}

const taskOptionNames = new Set(['numReturns', 'numCpus', 'resources', 'maxRetries', 'retryExceptions', 'schedulingStrategy', 'name']);
const methodOptionNames = new Set(['numReturns']);
const actorOptionNames = new Set(['name', 'namespace', 'lifetime', 'getIfExists', 'maxRestarts', 'maxTaskRetries', 'maxConcurrency', 'numCpus', 'resources', 'schedulingStrategy']);

/** Whether `value` is a plain options object (not null, an array or a function). */
export function isOptionsObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks the options object of a call such as `get` or `wait`: an object whose every name is one the
 * call takes. A misspelt name (`timeoutMs` for `timeout`) would otherwise be ignored, and a get
 * meant to time out would wait for ever.
 */
export function checkCallOptions(call: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (!isOptionsObject(options)) throw new TypeError(`${call} takes an options object such as { ${allowed[0] ?? ''}: ... } as its last argument, not ${shown(options)}`);
  // The list is read as it is: a Set made of it at every call was an allocation of every get with options.
  for (const name of Object.keys(options)) if (!allowed.includes(name)) throw new TypeError(`unknown ${call} option '${name}'; allowed: ${allowed.join(', ')}`);
}

/**
 * Throws for an own name of `options` that `allowed` lacks; returns how many own names it has. A
 * for...in walk, not `Object.keys`: that made an array per call, and every `.remote()` checks its
 * options (most often the same empty object).
 */
function checkNames(kind: string, options: object, allowed: Set<string>): number {
  let count = 0;
  for (const name in options) {
    if (!Object.hasOwn(options, name)) continue;
    if (!allowed.has(name)) throw new TypeError(`unknown ${kind} option '${name}'; allowed: ${[...allowed].join(', ')}`);
    count += 1;
  }
  return count;
}

/** Task options with defaults applied. */
export interface ValidTaskOptions {
  numReturns: number;
  resources: Resources;
  maxRetries: number;
  retryExceptions: boolean | string[];
  schedulingStrategy: SchedulingStrategy;
  name?: string;
}

/**
 * The resources of a task that asks for its default CPU and nothing else, shared (frozen) by every
 * such task: a driver may queue a million of them (P5 in bench/), each keeping its spec's record.
 */
const defaultTaskResources: Resources = Object.freeze({ CPU: 1 });

/**
 * The options of a task that sets none, shared (frozen) by every such submission: a `.remote()`
 * without `.options()` checks an empty object, and made these anew for each task.
 */
const defaultValidTaskOptions: ValidTaskOptions = Object.freeze({ numReturns: 1, resources: defaultTaskResources, maxRetries: 3, retryExceptions: false, schedulingStrategy: 'DEFAULT' });

/** Checks task options; throws RangeError/TypeError naming the option. */
export function validateTaskOptions(options: TaskOptions): ValidTaskOptions {
  if (!isOptionsObject(options)) throw new TypeError(`task options must be an object such as { numReturns: 2 }, not ${shown(options)}`);
  if (checkNames('task', options, taskOptionNames) === 0) return defaultValidTaskOptions;
  const numCpus = options.numCpus === undefined ? 1 : quantity('numCpus', options.numCpus);
  const retry = options.retryExceptions ?? false;
  if (typeof retry !== 'boolean' && !(Array.isArray(retry) && retry.every((name) => typeof name === 'string'))) throw new TypeError(`retryExceptions must be a boolean or a list of error names, not ${shown(retry)}`);
  if (options.name !== undefined && typeof options.name !== 'string') throw new TypeError(`name must be a string, not ${shown(options.name)}`);
  const valid: ValidTaskOptions = {
    numReturns: wholeNumber('numReturns', options.numReturns, 1, 1),
    resources: numCpus === 1 && options.resources === undefined ? defaultTaskResources : { ...(numCpus > 0 ? { CPU: numCpus } : {}), ...resourcesOf('resources', options.resources) },
    maxRetries: wholeNumber('maxRetries', options.maxRetries, 3, -1),
    retryExceptions: typeof retry === 'boolean' ? retry : [...retry],
    schedulingStrategy: strategyOf(options.schedulingStrategy),
  };
  if (options.name !== undefined) valid.name = options.name;
  return valid;
}

/** Actor options with defaults applied. */
export interface ValidActorOptions {
  name?: string;
  namespace?: string;
  lifetime: 'detached' | 'non_detached';
  getIfExists: boolean;
  maxRestarts: number;
  maxTaskRetries: number;
  maxConcurrency: number;
  resources: Resources;
  placementResources: Resources;
  schedulingStrategy: SchedulingStrategy;
}

/** Checks actor options; throws RangeError/TypeError naming the option. */
export function validateActorOptions(options: ActorOptions): ValidActorOptions {
  if (!isOptionsObject(options)) throw new TypeError(`actor options must be an object such as { name: 'counter' }, not ${shown(options)}`);
  checkNames('actor', options, actorOptionNames);
  if (options.lifetime !== undefined && options.lifetime !== 'detached' && options.lifetime !== 'non_detached') throw new RangeError(`lifetime must be 'detached' or 'non_detached', not ${shown(options.lifetime)}`);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) throw new TypeError(`name must be a non-empty string, not ${shown(options.name)}`);
  if (options.namespace !== undefined && typeof options.namespace !== 'string') throw new TypeError(`namespace must be a string, not ${shown(options.namespace)}`);
  if (options.getIfExists !== undefined && typeof options.getIfExists !== 'boolean') throw new TypeError(`getIfExists must be true or false, not ${shown(options.getIfExists)}`);
  if (options.getIfExists === true && options.name === undefined) throw new TypeError('getIfExists needs a name: pass name too, or drop getIfExists');
  const { resources, placementResources } = actorResourceShapes(options.numCpus === undefined ? undefined : quantity('numCpus', options.numCpus), resourcesOf('resources', options.resources));
  return {
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    lifetime: options.lifetime ?? 'non_detached',
    getIfExists: options.getIfExists ?? false,
    maxRestarts: wholeNumber('maxRestarts', options.maxRestarts, 0, -1),
    maxTaskRetries: wholeNumber('maxTaskRetries', options.maxTaskRetries, 0, -1),
    maxConcurrency: wholeNumber('maxConcurrency', options.maxConcurrency, 1, 1),
    resources,
    placementResources,
    schedulingStrategy: strategyOf(options.schedulingStrategy),
  };
}

/** Options of an actor method call (`handle.method.options(...)`). */
export interface ValidMethodOptions {
  numReturns: number;
}

/** Checks actor method call options; throws RangeError/TypeError naming the option. */
export function validateMethodOptions(options: { numReturns?: number }): ValidMethodOptions {
  if (!isOptionsObject(options)) throw new TypeError(`actor method options must be an object such as { numReturns: 2 }, not ${shown(options)}`);
  checkNames('actor method', options, methodOptionNames);
  return { numReturns: wholeNumber('numReturns', options.numReturns, 1, 1) };
}
