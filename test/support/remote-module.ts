/**
 * Remote functions defined outside the entry script: shipped by reference, so they may use this
 * module's imports and helpers (which a by-source function could not see).
 */
import { createHash } from 'node:crypto';
import * as tsray from '../../node/index.js';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** Hashes its input with a module import: works only when shipped by reference. */
export const hashRemote = tsray.remote((text: string) => digest(text));

/** Submits a child task and waits for it inside a task (nested submission, blocking get). */
export const nestedRemote = tsray.remote(async (n: number) => {
  const child = hashRemote.remote(`child-${n}`);
  return `${n}:${await tsray.get(child)}`;
});

/**
 * How this module's `tsray` looks from inside a worker: whether the thread started from the
 * precompiled bundle, and whether what the runtime hands user code (a nested ref, a failed get's
 * error, the runtime context) is made by the same classes this module imported.
 */
export const bootIdentityRemote = tsray.remote(async (nested: [tsray.ObjectRef<number>, tsray.ObjectRef<number>]) => {
  const [ref, failing] = nested;
  let failure: unknown;
  try {
    await tsray.get(failing);
  } catch (error) {
    failure = error;
  }
  return {
    startedFromBundle: (globalThis as Record<symbol, unknown>)[Symbol.for('tsray.bootedApi')] !== undefined,
    refIsObjectRef: ref instanceof tsray.ObjectRef,
    value: await tsray.get(ref),
    failureIsRayTaskError: failure instanceof tsray.RayTaskError,
    taskIdKnown: typeof tsray.getRuntimeContext().taskId === 'string',
  };
});

/** Something that takes notes, as test/unit/node/runtime/cancel.test.ts's `Notes` actor does. */
type NoteTaker = tsray.ActorHandle<{ note(text: string): number }>;

/** Notes 'started', then waits up to 30 s for its signal, noting its abort (well-behaved code stops then). */
export const patientRemote = tsray.remote(async (notes: NoteTaker) => {
  const { signal } = tsray.getRuntimeContext();
  if (signal === undefined) throw new Error('no signal in a task');
  signal.addEventListener('abort', () => notes.note.remote(`aborted: ${(signal.reason as Error).name}`));
  notes.note.remote('started');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 30_000);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return 'waited';
});

/** Submits `patientRemote` and waits for it: the child is this task's, as Ray counts a task's children. */
export const patientParent = tsray.remote(async (notes: NoteTaker) => tsray.get(patientRemote.remote(notes)));

/**
 * Calls `.remote` on its own name: inside the function expression named `selfNamed`, that name is
 * the function itself, which hides this module's remote function (the worker explains it).
 */
export const selfNamed = tsray.remote(async function selfNamed(n: number): Promise<number> {
  return n <= 0 ? 0 : await tsray.get((selfNamed as unknown as tsray.RemoteFunction<[number], number>).remote(n - 1));
});

/** The same body, its function expression named otherwise: `renamedNested` inside is this module's remote function. */
export const renamedNested = tsray.remote(async function renamedNestedBody(n: number): Promise<number> {
  return n <= 0 ? 0 : 1 + (await tsray.get(renamedNested.remote(n - 1)));
});
