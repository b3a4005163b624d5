/**
 * Validation of the options users pass: a wrong value is a RangeError or TypeError that names the
 * option and says what is allowed, thrown before anything is submitted.
 */
import type { SchedulingStrategy } from '../../core/protocol.js';
import type { Resources } from '../../core/resources.js';
import type { ActorOptions, TaskOptions } from './handles.js';

function wholeNumber(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new RangeError(`${option} must be a whole number ≥ ${min}${min === -1 ? ' (-1 means unlimited)' : ''}, not ${JSON.stringify(value)}`);
  return value;
}

function quantity(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RangeError(`${option} must be a number ≥ 0, not ${JSON.stringify(value)}`);
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
  throw new TypeError(`schedulingStrategy must be 'DEFAULT', 'SPREAD' or { nodeId: string, soft: boolean }, not ${JSON.stringify(value)}`);
}

const taskOptionNames = new Set(['numReturns', 'numCpus', 'resources', 'maxRetries', 'retryExceptions', 'schedulingStrategy', 'name']);
const actorOptionNames = new Set(['name', 'namespace', 'lifetime', 'getIfExists', 'maxRestarts', 'maxTaskRetries', 'maxConcurrency', 'numCpus', 'resources', 'schedulingStrategy']);

function checkNames(kind: string, options: object, allowed: Set<string>): void {
  for (const name of Object.keys(options)) if (!allowed.has(name)) throw new TypeError(`unknown ${kind} option '${name}'; allowed: ${[...allowed].join(', ')}`);
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

/** Checks task options; throws RangeError/TypeError naming the option. */
export function validateTaskOptions(options: TaskOptions): ValidTaskOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('task options must be an object');
  checkNames('task', options, taskOptionNames);
  const numCpus = options.numCpus === undefined ? 1 : quantity('numCpus', options.numCpus);
  const retry = options.retryExceptions ?? false;
  if (typeof retry !== 'boolean' && !(Array.isArray(retry) && retry.every((name) => typeof name === 'string'))) throw new TypeError('retryExceptions must be a boolean or a list of error names');
  if (options.name !== undefined && typeof options.name !== 'string') throw new TypeError('name must be a string');
  return {
    numReturns: wholeNumber('numReturns', options.numReturns, 1, 1),
    resources: { ...(numCpus > 0 ? { CPU: numCpus } : {}), ...resourcesOf('resources', options.resources) },
    maxRetries: wholeNumber('maxRetries', options.maxRetries, 3, -1),
    retryExceptions: typeof retry === 'boolean' ? retry : [...retry],
    schedulingStrategy: strategyOf(options.schedulingStrategy),
    ...(options.name === undefined ? {} : { name: options.name }),
  };
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
  if (typeof options !== 'object' || options === null) throw new TypeError('actor options must be an object');
  checkNames('actor', options, actorOptionNames);
  if (options.lifetime !== undefined && options.lifetime !== 'detached' && options.lifetime !== 'non_detached') throw new RangeError(`lifetime must be 'detached' or 'non_detached', not ${JSON.stringify(options.lifetime)}`);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) throw new TypeError('name must be a non-empty string');
  if (options.namespace !== undefined && typeof options.namespace !== 'string') throw new TypeError('namespace must be a string');
  if (options.getIfExists === true && options.name === undefined) throw new TypeError('getIfExists needs a name');
  const numCpus = options.numCpus === undefined ? 0 : quantity('numCpus', options.numCpus);
  const custom = resourcesOf('resources', options.resources);
  return {
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    lifetime: options.lifetime ?? 'non_detached',
    getIfExists: options.getIfExists ?? false,
    maxRestarts: wholeNumber('maxRestarts', options.maxRestarts, 0, -1),
    maxTaskRetries: wholeNumber('maxTaskRetries', options.maxTaskRetries, 0, -1),
    maxConcurrency: wholeNumber('maxConcurrency', options.maxConcurrency, 1, 1),
    resources: { ...(numCpus > 0 ? { CPU: numCpus } : {}), ...custom },
    // As Ray: an actor needs a CPU to be placed (unless it asks for CPUs itself) but holds none while it runs.
    placementResources: { CPU: numCpus > 0 ? numCpus : 1, ...custom },
    schedulingStrategy: strategyOf(options.schedulingStrategy),
  };
}
