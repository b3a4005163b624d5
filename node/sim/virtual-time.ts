/**
 * Virtual time for simulated user code: while installed, `setTimeout`, `setInterval`, `setImmediate`
 * and their clear functions, `Date.now`, `new Date()` and `Date()`, `performance.now` and
 * `Math.random` are virtual, driven by a clock that only moves when told, and seeded.
 *
 * ## How the simulator drives it
 *
 * Under `tsray sim SCRIPT`, `init()` attaches the script to a simulated cluster whose task and actor
 * bodies are ordinary async functions run in the simulator's own thread. The simulator installs
 * virtual time once per run, with the run's seed and the simulator's clock at 0 (`nowMs` is the
 * simulator's `nowMs`; `Date.now()` is `startMs + nowMs`), and restores it when the run ends,
 * whatever the outcome. Its agenda and this module's timers share that one clock:
 *
 * 1. Before taking the next agenda item at time T, the simulator asks `nextDueMs()`. While a virtual
 *    timer is due at or before T, it fires that timer first (`advanceTo(due)` and `fireNext()`, or
 *    `runUntil(T)`, which does both), and after each firing lets the microtask queue drain
 *    (`settle()`), as Node drains it after every timer callback, so that the awaits it resumed can
 *    schedule further timers before the next one is picked. Ties at one time go by creation order,
 *    and timers fire before agenda items at the same time, so the order depends on nothing but the run.
 * 2. When the agenda is empty and the main function has not settled, the run can only go on through
 *    a timer: the simulator advances to `nextDueMs()`. If there is none, or only unref'd ones (which
 *    would not keep a live process alive), the run is stalled, and `pending()` names what waits.
 *    A stall with no pending simulated event and no virtual timer is a leak of real nondeterminism
 *    (real I/O, a real timer captured before install, a promise settled from outside the run).
 * 3. Each callback fires in the async context it was scheduled in (an AsyncResource per timer, as
 *    Node's timers are), so a body's timer callback still sees its simulated worker's
 *    AsyncLocalStorage store: that is how `getRuntimeContext` stays right inside callbacks, and how
 *    the simulator tells a crashed worker's callbacks (whose incarnation is dead) and drops them.
 *    This module itself knows nothing of workers.
 *
 * Real timers never fire user callbacks while installed: every patched function schedules on the
 * virtual clock. `settle()` alone uses the real `setImmediate`, to resolve its own promise.
 *
 * ## What is covered, and the known leaks
 *
 * The globals above, the same functions of `node:timers`, and `node:timers/promises` (`setTimeout`,
 * `setImmediate`, `setInterval`, `scheduler.wait`, `scheduler.yield`), whose ESM bindings are
 * live-updated with `syncBuiltinESMExports`, so `import { setTimeout } from 'node:timers/promises'`
 * written before install is virtual too; `util.promisify(setTimeout)`; and `AbortSignal.timeout`.
 * Not covered, so real if the user's code reaches them: references captured before install (a
 * library's `const realSetTimeout = setTimeout` at load, a class that extended `Date` before install),
 * `process.hrtime`, `performance.timeOrigin` and the rest of `performance`, `crypto.randomUUID` and
 * `crypto.getRandomValues`. While installed, `new Date().constructor !== Date`, since `Date.prototype`
 * is shared with the real `Date` and left untouched. Captured virtual functions stay bound to their
 * clock after `restore()`: they keep scheduling on it, and nothing fires them.
 */
import { AsyncResource } from 'node:async_hooks';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { promisify } from 'node:util';
import { Agenda } from '../../core/sim/agenda.js';
import { SeededRandom } from '../../core/sim/random.js';

/** How to install virtual time. */
export interface VirtualTimeOptions {
  /** Seeds `Math.random`; the same seed gives the same sequence. */
  readonly seed: string | number;
  /** What `Date.now()` reads while the clock is at 0 (epoch ms). Default 1,704,067,200,000 (2024-01-01T00:00:00Z). */
  readonly startMs?: number;
  /** Most timer callbacks one `runDue`, `advanceTo` or `runUntil` may fire, against timers that never stop rescheduling. Default 1,000,000. */
  readonly maxFirings?: number;
  /**
   * Runs each firing, in the timer's async context: `fire` calls the callback. The simulator drops
   * the timers of code whose simulated process has died, and turns what a callback throws into that
   * process's uncaught exception. Without it, the callback runs and what it throws propagates.
   */
  readonly aroundFiring?: (fire: () => void) => void;
  /**
   * Called where a timer is scheduled; what it returns is kept as the timer's `owner` (see
   * PendingTimer). The simulator records which simulated process made each timer.
   */
  readonly ownerOfTimer?: () => unknown;
}

/** A virtual timer that has not fired (or an interval that has not been cleared). */
export interface PendingTimer {
  readonly kind: 'timeout' | 'interval' | 'immediate';
  readonly id: number;
  readonly dueMs: number;
  /** When it was scheduled (virtual ms). */
  readonly scheduledAtMs: number;
  /** False after `unref()`: it would not keep a live process alive. */
  readonly ref: boolean;
  /** The callback's name, for reports of what waits. */
  readonly callback: string;
  /** What `ownerOfTimer` said when it was scheduled (undefined without that option). */
  readonly owner?: unknown;
}

/** Drives an installation of virtual time. */
export interface VirtualTimeController {
  /** The virtual clock (ms since install). */
  readonly nowMs: number;
  /** What `Date.now()` reads at `nowMs` 0. */
  readonly startMs: number;
  /** False once `restore()` was called. */
  readonly installed: boolean;
  /** The time the earliest pending virtual timer is due, or undefined if there is none. */
  nextDueMs(): number | undefined;
  /** Fires the one earliest timer due at or before `nowMs`; false if there is none. */
  fireNext(): boolean;
  /** Fires every timer due at or before `nowMs` (including those the callbacks schedule for now), in order; returns how many. */
  runDue(): number;
  /** Moves the clock to `ms`, firing due timers in order, each at its own due time; returns how many fired. */
  advanceTo(ms: number): number;
  /** As `advanceTo`, but lets the microtask queue drain after every callback (see `settle`), as Node does. */
  runUntil(ms: number): Promise<number>;
  /** Resolves after the current microtasks (promise continuations, nextTicks) have all run. */
  settle(): Promise<void>;
  /** The timers that have not fired, in the order they will fire. */
  pending(): readonly PendingTimer[];
  /** Whether a ref'd timer that `ownerOfTimer` gave `owner` has not fired (cheaper than `pending`). */
  hasRefTimerOf(owner: unknown): boolean;
  /** Puts back every original (identity-equal), once every installation is restored; idempotent. */
  restore(): void;
}

/** Thrown on bad options, a clock moved backwards, or a run that fires more timers than its bound. */
export class VirtualTimeError extends Error {
  override readonly name = 'VirtualTimeError';
}

const defaultStartMs = Date.UTC(2024, 0, 1);
/** Node's bound on a delay; larger (or below 1, or NaN) delays become 1 ms, as in Node. */
const timeoutMaxMs = 2 ** 31 - 1;
/** The real functions this module uses itself, taken at load before anything is patched. */
const realSetImmediate = globalThis.setImmediate;
const RealDate = Date;
const require = createRequire(import.meta.url);
const timersModule = require('node:timers') as Record<string, unknown>;
const timersPromisesModule = require('node:timers/promises') as Record<string, unknown>;
const disposeSymbol = (Symbol as { dispose?: symbol }).dispose;

/** One scheduled callback. */
interface Entry {
  readonly kind: PendingTimer['kind'];
  readonly id: number;
  readonly callback: (...args: unknown[]) => void;
  readonly args: readonly unknown[];
  /** The async context it was scheduled in (AsyncLocalStorage stores included), which it fires in, as Node's timers do. */
  readonly resource: AsyncResource;
  /** What `this` is in the callback: its handle, as in Node. */
  handle: unknown;
  /** The delay of a timeout or interval (re-arming uses it). */
  readonly delayMs: number;
  dueMs: number;
  scheduledAtMs: number;
  /** Bumped on every re-arming or clearing, so that stale agenda items are skipped. */
  generation: number;
  active: boolean;
  ref: boolean;
  readonly owner: unknown;
}

/**
 * What the handles of virtual timers share: ref'ing, as Node's handles have it. The timer's state is
 * kept in private fields, so user code that prints or serialises a handle sees none of it.
 */
abstract class VirtualHandle {
  readonly #time: VirtualTime;
  readonly #entry: Entry;

  /** Made by the virtual timer functions only. */
  constructor(time: VirtualTime, entry: Entry) {
    this.#time = time;
    this.#entry = entry;
  }

  /** Keeps a live process alive (the default). */
  ref(): this {
    this.#entry.ref = true;
    return this;
  }

  /** Would not keep a live process alive (`pending()` reports it unref'd). */
  unref(): this {
    this.#entry.ref = false;
    return this;
  }

  /** Whether it is ref'd. */
  hasRef(): boolean {
    return this.#entry.ref;
  }

  /** Clears the timer. */
  protected cancelEntry(): void {
    this.#time.cancel(this.#entry);
  }

  /** Restarts the timer's delay from now. */
  protected refreshEntry(): void {
    this.#time.refresh(this.#entry);
  }

  /** The timer's id. */
  protected get entryId(): number {
    return this.#entry.id;
  }
}

/** The Node-like handle of a virtual timeout or interval. */
export class VirtualTimeout extends VirtualHandle {
  /** Restarts the delay from now; reactivates a timeout that already fired, as Node does, but not a cleared one. */
  refresh(): this {
    this.refreshEntry();
    return this;
  }

  /** Clears it, as `clearTimeout(this)` does. */
  close(): this {
    this.cancelEntry();
    return this;
  }

  /** The id `clearTimeout` also accepts. */
  [Symbol.toPrimitive](): number {
    return this.entryId;
  }
}

/** The Node-like handle of a virtual immediate. */
export class VirtualImmediate extends VirtualHandle {
  /** @internal Clears it, as `clearImmediate(this)` does. */
  cancelImmediate(): void {
    this.cancelEntry();
  }
}

if (disposeSymbol !== undefined) {
  for (const handle of [VirtualTimeout, VirtualImmediate]) {
    Object.defineProperty(handle.prototype, disposeSymbol, {
      value(this: VirtualTimeout | VirtualImmediate) {
        if (this instanceof VirtualTimeout) this.close();
        else this.cancelImmediate();
      },
      configurable: true,
      writable: true,
    });
  }
}

/** An AbortError as `node:timers/promises` rejects with. */
function abortError(signal: AbortSignal): Error {
  const error = new Error('The operation was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  Object.assign(error, { code: 'ABORT_ERR' });
  return error;
}

/** The `{ signal, ref }` options of `node:timers/promises`, checked as Node checks them. */
function promiseOptions(options: unknown): { signal: AbortSignal | undefined; ref: boolean } {
  if (options === undefined) return { signal: undefined, ref: true };
  if (typeof options !== 'object' || options === null) throw new TypeError('The "options" argument must be of type object.');
  const { signal, ref } = options as { signal?: unknown; ref?: unknown };
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('The "options.signal" property must be an instance of AbortSignal.');
  if (ref !== undefined && typeof ref !== 'boolean') throw new TypeError('The "options.ref" property must be of type boolean.');
  return { signal, ref: ref ?? true };
}

/** A delay as Node reads it: below 1, above 2^31 - 1 or NaN become 1; fractions are truncated. */
function delayOf(delay: unknown): number {
  const ms = Number(delay ?? 0);
  return ms >= 1 && ms <= timeoutMaxMs ? Math.trunc(ms) : 1;
}

function checkCallback(callback: unknown): asserts callback is (...args: unknown[]) => void {
  if (typeof callback !== 'function') throw new TypeError(`The "callback" argument must be of type function. Received ${callback === null ? 'null' : typeof callback}`);
}

/** The installations in force, the last one patched in. */
const activeTimes: VirtualTime[] = [];
/** The original properties (descriptor, or undefined where there was no own property), while any installation is in force. */
let originals: { readonly target: object; readonly key: PropertyKey; readonly descriptor: PropertyDescriptor | undefined }[] | undefined;

/** One installation: its clock, timers, random generator and the functions it patches in. */
class VirtualTime implements VirtualTimeController {
  nowMs = 0;
  readonly startMs: number;
  installed = true;
  private readonly agenda = new Agenda<{ entry: Entry; generation: number }>();
  private readonly entries = new Map<number, Entry>();
  private nextId = 1;
  private readonly random: SeededRandom;
  private readonly maxFirings: number;
  private readonly aroundFiring: ((fire: () => void) => void) | undefined;
  private readonly ownerOfTimer: (() => unknown) | undefined;
  /** The functions it patches in: target object, property, value. */
  readonly patches: readonly (readonly [object, PropertyKey, unknown])[];

  constructor(options: VirtualTimeOptions) {
    this.startMs = options.startMs ?? defaultStartMs;
    this.maxFirings = options.maxFirings ?? 1_000_000;
    this.aroundFiring = options.aroundFiring;
    this.ownerOfTimer = options.ownerOfTimer;
    this.random = new SeededRandom(options.seed);
    this.patches = this.makePatches();
  }

  private schedule(kind: Entry['kind'], callback: (...args: unknown[]) => void, delayMs: number, args: readonly unknown[]): Entry {
    const entry: Entry = { kind, id: this.nextId++, callback, args, resource: new AsyncResource(kind === 'immediate' ? 'Immediate' : 'Timeout'), handle: undefined, delayMs, dueMs: this.nowMs + delayMs, scheduledAtMs: this.nowMs, generation: 0, active: true, ref: true, owner: this.ownerOfTimer?.() };
    this.entries.set(entry.id, entry);
    this.agenda.push(entry.dueMs, { entry, generation: entry.generation });
    return entry;
  }

  refresh(entry: Entry): void {
    if (entry.generation < 0) return;
    entry.generation++;
    entry.active = true;
    entry.dueMs = this.nowMs + entry.delayMs;
    entry.scheduledAtMs = this.nowMs;
    this.entries.set(entry.id, entry);
    this.agenda.push(entry.dueMs, { entry, generation: entry.generation });
  }

  cancel(entry: Entry): void {
    entry.active = false;
    // A negative generation marks it cleared for good: `refresh` does not bring it back.
    entry.generation = -1;
    this.entries.delete(entry.id);
  }

  /** Clears the timer of id `id` (a number or its string) if it is one of `kinds`; true if it was. */
  clearId(id: number | string, kinds: readonly Entry['kind'][]): boolean {
    const entry = this.entries.get(Number(id));
    if (entry === undefined || !kinds.includes(entry.kind)) return false;
    this.cancel(entry);
    return true;
  }

  /** The earliest live timer, dropping stale agenda items (cleared, or re-armed since). */
  private earliest(): Entry | undefined {
    for (;;) {
      const top = this.agenda.peek();
      if (top === undefined) return undefined;
      if (top.value.entry.active && top.value.generation === top.value.entry.generation) return top.value.entry;
      this.agenda.pop();
    }
  }

  nextDueMs(): number | undefined {
    return this.earliest()?.dueMs;
  }

  fireNext(): boolean {
    const entry = this.earliest();
    if (entry === undefined || entry.dueMs > this.nowMs) return false;
    this.agenda.pop();
    if (entry.kind === 'interval') {
      // Re-armed before the callback, so a throwing interval still repeats (Node re-arms in a finally).
      entry.generation++;
      entry.scheduledAtMs = this.nowMs;
      entry.dueMs = this.nowMs + entry.delayMs;
      this.agenda.push(entry.dueMs, { entry, generation: entry.generation });
    } else {
      entry.active = false;
      this.entries.delete(entry.id);
    }
    const around = this.aroundFiring;
    if (around === undefined) entry.resource.runInAsyncScope(entry.callback, entry.handle, ...entry.args);
    else entry.resource.runInAsyncScope(() => around(() => entry.callback.apply(entry.handle, entry.args as unknown[])));
    return true;
  }

  private tooMany(): VirtualTimeError {
    return new VirtualTimeError(`virtual time: more than ${this.maxFirings} timer callbacks fired in one run of the clock (maxFirings); a timer keeps rescheduling itself, or pass a higher maxFirings`);
  }

  runDue(): number {
    let fired = 0;
    while (this.fireNext()) if (++fired >= this.maxFirings) throw this.tooMany();
    return fired;
  }

  private checkTarget(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < this.nowMs) {
      throw new VirtualTimeError(`virtual time: cannot move the clock to ${String(ms)} ms; it is at ${this.nowMs} ms and only moves forward`);
    }
  }

  advanceTo(ms: number): number {
    this.checkTarget(ms);
    let fired = 0;
    for (;;) {
      const due = this.nextDueMs();
      if (due === undefined || due > ms) break;
      this.nowMs = Math.max(this.nowMs, due);
      if (this.fireNext() && ++fired >= this.maxFirings) throw this.tooMany();
    }
    this.nowMs = ms;
    return fired;
  }

  async runUntil(ms: number): Promise<number> {
    this.checkTarget(ms);
    let fired = 0;
    await this.settle();
    for (;;) {
      const due = this.nextDueMs();
      if (due === undefined || due > ms) break;
      this.nowMs = Math.max(this.nowMs, due);
      if (this.fireNext() && ++fired >= this.maxFirings) throw this.tooMany();
      await this.settle();
    }
    this.nowMs = Math.max(this.nowMs, ms);
    return fired;
  }

  settle(): Promise<void> {
    return new Promise((resolve) => {
      realSetImmediate(resolve);
    });
  }

  hasRefTimerOf(owner: unknown): boolean {
    for (const entry of this.entries.values()) if (entry.ref && entry.owner === owner) return true;
    return false;
  }

  pending(): readonly PendingTimer[] {
    return [...this.entries.values()]
      .sort((a, b) => a.dueMs - b.dueMs || a.scheduledAtMs - b.scheduledAtMs || a.id - b.id)
      .map((entry) => ({ kind: entry.kind, id: entry.id, dueMs: entry.dueMs, scheduledAtMs: entry.scheduledAtMs, ref: entry.ref, callback: entry.callback.name || '(anonymous)', ...(entry.owner === undefined ? {} : { owner: entry.owner }) }));
  }

  restore(): void {
    if (!this.installed) return;
    this.installed = false;
    const index = activeTimes.indexOf(this);
    if (index >= 0) activeTimes.splice(index, 1);
    applyPatches();
  }

  /** The virtual functions of this installation, and where each goes. */
  private makePatches(): readonly (readonly [object, PropertyKey, unknown])[] {
    // Arrow functions keep `this`; each is named as the function it replaces, for stack traces.
    const setTimeoutVirtual = named('setTimeout', (callback: unknown, delay?: unknown, ...args: unknown[]) => {
      checkCallback(callback);
      const entry = this.schedule('timeout', callback, delayOf(delay), args);
      return (entry.handle = new VirtualTimeout(this, entry));
    });
    const setIntervalVirtual = named('setInterval', (callback: unknown, delay?: unknown, ...args: unknown[]) => {
      checkCallback(callback);
      const entry = this.schedule('interval', callback, delayOf(delay), args);
      return (entry.handle = new VirtualTimeout(this, entry));
    });
    const setImmediateVirtual = named('setImmediate', (callback: unknown, ...args: unknown[]) => {
      checkCallback(callback);
      const entry = this.schedule('immediate', callback, 0, args);
      return (entry.handle = new VirtualImmediate(this, entry));
    });
    // Handles that are not virtual (a real timer made before install) go to the real clear function.
    const realClearTimeout = globalThis.clearTimeout;
    const realClearImmediate = globalThis.clearImmediate;
    const clearTimeoutVirtual = named('clearTimeout', (handle?: unknown) => {
      if (handle === undefined || handle === null || handle instanceof VirtualImmediate) return;
      if (handle instanceof VirtualTimeout) handle.close();
      else if ((typeof handle === 'number' || typeof handle === 'string') && this.clearId(handle, ['timeout', 'interval'])) return;
      else realClearTimeout(handle as Parameters<typeof clearTimeout>[0]);
    });
    const clearIntervalVirtual = named('clearInterval', (handle?: unknown) => {
      clearTimeoutVirtual(handle);
    });
    const clearImmediateVirtual = named('clearImmediate', (handle?: unknown) => {
      if (handle === undefined || handle === null || handle instanceof VirtualTimeout) return;
      if (handle instanceof VirtualImmediate) handle.cancelImmediate();
      else realClearImmediate(handle as Parameters<typeof clearImmediate>[0]);
    });

    const sleep = named('setTimeout', (delay?: unknown, value?: unknown, options?: unknown): Promise<unknown> =>
      this.promised(options, (resolve, ref) => {
        const handle = setTimeoutVirtual(resolve, delay, value);
        if (!ref) handle.unref();
        return () => clearTimeoutVirtual(handle);
      }),
    );
    const immediate = named('setImmediate', (value?: unknown, options?: unknown): Promise<unknown> =>
      this.promised(options, (resolve, ref) => {
        const handle = setImmediateVirtual(resolve, value);
        if (!ref) handle.unref();
        return () => clearImmediateVirtual(handle);
      }),
    );
    const every = named('setInterval', (delay?: unknown, value?: unknown, options?: unknown): AsyncGenerator<unknown> => intervalIterator(setIntervalVirtual, clearIntervalVirtual, delay, value, options));
    Object.defineProperty(setTimeoutVirtual, promisify.custom, { value: sleep, enumerable: false, configurable: true });
    Object.defineProperty(setImmediateVirtual, promisify.custom, { value: immediate, enumerable: false, configurable: true });
    const scheduler = { wait: (delay: unknown, options?: unknown) => sleep(delay, undefined, options), yield: () => immediate() };

    const wallMs = (): number => Math.floor(this.startMs + this.nowMs);
    function DateVirtual(this: unknown, ...args: unknown[]): unknown {
      const nowWallMs = wallMs();
      // Called without `new`, Date() gives the current time as a string.
      if (new.target === undefined) return new RealDate(nowWallMs).toString();
      return Reflect.construct(RealDate, args.length === 0 ? [nowWallMs] : args, new.target);
    }
    Object.defineProperty(DateVirtual, 'prototype', { value: RealDate.prototype, writable: false, enumerable: false, configurable: false });
    Object.defineProperty(DateVirtual, 'name', { value: 'Date' });
    Object.defineProperty(DateVirtual, 'length', { value: 7 });
    Object.setPrototypeOf(DateVirtual, RealDate);
    Object.defineProperty(DateVirtual, 'now', { value: named('now', wallMs), writable: true, enumerable: false, configurable: true });

    const abortTimeout = named('timeout', (delay: unknown): AbortSignal => {
      if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > 2 ** 32 - 1) throw new RangeError(`The value of "delay" is out of range. It must be an integer from 0 to 4294967295. Received ${String(delay)}`);
      const controller = new AbortController();
      setTimeoutVirtual(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), delay).unref();
      return controller.signal;
    });

    const timerFunctions = { setTimeout: setTimeoutVirtual, setInterval: setIntervalVirtual, setImmediate: setImmediateVirtual, clearTimeout: clearTimeoutVirtual, clearInterval: clearIntervalVirtual, clearImmediate: clearImmediateVirtual };
    return [
      ...Object.entries(timerFunctions).map(([key, value]) => [globalThis, key, value] as const),
      ...Object.entries(timerFunctions).map(([key, value]) => [timersModule, key, value] as const),
      [timersPromisesModule, 'setTimeout', sleep],
      [timersPromisesModule, 'setImmediate', immediate],
      [timersPromisesModule, 'setInterval', every],
      [timersPromisesModule, 'scheduler', scheduler],
      [globalThis, 'Date', DateVirtual],
      [Math, 'random', named('random', () => this.random.float())],
      [performance, 'now', named('now', () => this.nowMs)],
      [AbortSignal, 'timeout', abortTimeout],
    ];
  }

  /**
   * A promise settled by the callback `start` schedules, rejected with an AbortError when the signal
   * of `options` aborts first, or with a TypeError when `options` is malformed (as Node rejects).
   */
  private promised(options: unknown, start: (resolve: (value: unknown) => void, ref: boolean) => () => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const { signal, ref } = promiseOptions(options);
      if (signal?.aborted === true) throw abortError(signal);
      const onAbort = (): void => {
        cancel();
        reject(abortError(signal as AbortSignal));
      };
      const cancel = start((value) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      }, ref);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** `node:timers/promises`' `setInterval`: an async iterator that yields `value` once per tick. */
async function* intervalIterator(
  setIntervalVirtual: (callback: unknown, delay?: unknown) => VirtualTimeout,
  clearIntervalVirtual: (handle?: unknown) => void,
  delay: unknown,
  value: unknown,
  options: unknown,
): AsyncGenerator<unknown> {
  const { signal, ref } = promiseOptions(options);
  if (signal?.aborted === true) throw abortError(signal);
  let notYielded = 0;
  let wake: (() => void) | undefined;
  const interval = setIntervalVirtual(() => {
    notYielded++;
    wake?.();
    wake = undefined;
  }, delay);
  if (!ref) interval.unref();
  const onAbort = (): void => {
    wake?.();
    wake = undefined;
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (notYielded === 0) await new Promise<void>((resolve) => (wake = resolve));
      // A function call, so that the check above does not narrow `aborted` for the compiler.
      if (signal !== undefined && isAborted(signal)) throw abortError(signal);
      for (; notYielded > 0; notYielded--) yield value;
    }
  } finally {
    clearIntervalVirtual(interval);
    signal?.removeEventListener('abort', onAbort);
  }
}

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function named<F extends (...args: never[]) => unknown>(name: string, fn: F): F {
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

/** Patches in the last installation's functions, or puts the originals back when none is left. */
function applyPatches(): void {
  const top = activeTimes.at(-1);
  if (top === undefined) {
    for (const { target, key, descriptor } of originals ?? []) {
      if (descriptor === undefined) Reflect.deleteProperty(target, key);
      else Object.defineProperty(target, key, descriptor);
    }
    originals = undefined;
  } else {
    originals ??= top.patches.map(([target, key]) => ({ target, key, descriptor: Object.getOwnPropertyDescriptor(target, key) }));
    for (const { target, key, descriptor } of originals) {
      const value = top.patches.find(([t, k]) => t === target && k === key)?.[2];
      Object.defineProperty(target, key, { value, writable: true, enumerable: descriptor?.enumerable ?? true, configurable: true });
    }
  }
  // ESM imports of node:timers and node:timers/promises are live bindings of these CommonJS objects.
  syncBuiltinESMExports();
}

/**
 * Makes time virtual and `Math.random` seeded until `restore()` (see the module's header for how the
 * simulator drives it). Installing again while installed stacks: the newest installation is in
 * force, and the originals come back, identity-equal, once every installation is restored, in any order.
 *
 * @throws VirtualTimeError on a bad seed, startMs or maxFirings.
 */
export function installVirtualTime(options: VirtualTimeOptions): VirtualTimeController {
  if (typeof options !== 'object' || options === null) throw new VirtualTimeError('installVirtualTime: pass options such as { seed: 1 }');
  const { seed, startMs, maxFirings } = options;
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isFinite(seed)))) throw new VirtualTimeError(`installVirtualTime: seed should be a string or a finite number but is ${String(seed)}`);
  if (startMs !== undefined && (typeof startMs !== 'number' || !Number.isInteger(startMs) || Math.abs(startMs) > 8.64e15)) {
    throw new VirtualTimeError(`installVirtualTime: startMs should be an integer epoch time within Date's range (±8.64e15) but is ${String(startMs)}`);
  }
  if (maxFirings !== undefined && (typeof maxFirings !== 'number' || !Number.isInteger(maxFirings) || maxFirings < 1)) {
    throw new VirtualTimeError(`installVirtualTime: maxFirings should be a positive integer but is ${String(maxFirings)}`);
  }
  const time = new VirtualTime(options);
  activeTimes.push(time);
  applyPatches();
  return time;
}
