/**
 * The "why" of an event: the chain of causes back to its root, one line per step. The debugger
 * takes the chain from a `WhyFunction` it is given, so a richer analysis (core/trace's own) plugs in
 * without touching the panes; `parentChain` is the one it uses otherwise, which follows the
 * recorded `parent` links and names what kind of root the walk ended at.
 */
import type { TraceEntry, TraceNote } from '../core/trace/format.js';
import { entryLine, resultText } from './event-text.js';

/** What a why analysis may read of a trace. */
export interface WhySource {
  /** The event with `seq`, or undefined when the trace has none. */
  entry(seq: number): TraceEntry | undefined;
  /** The notes (faults injected, failures) recorded about event `seq`. */
  notesAt(seq: number): readonly TraceNote[];
}

/** The causal chain of event `seq`, from the event back to its root, one line per step. */
export type WhyFunction = (source: WhySource, seq: number) => readonly string[];

/** The chain is cut here, so a corrupt parent loop cannot run on. */
const maxSteps = 10_000;

/** Events whose type alone makes them a root cause, and the word for it. */
const rootKinds: Readonly<Record<string, string>> = {
  'timer/fired': 'a timeout',
  'task/submitted': 'a user call',
  'actor-task/submitted': 'a user call',
  'actor/creation-submitted': 'a user call',
  'object/put': 'a user call',
  'get/requested': 'a user call',
  'wait/requested': 'a user call',
  'cancel/requested': 'a user call',
  'kill/requested': 'a user call',
  'refs/released': 'a user call',
  'owner/stopping': 'a user call',
};

/**
 * What kind of root `entry` is (an injected fault, a thrown error, a crash, a user call or a
 * timeout), or undefined when it is a step on the way to one.
 */
export function rootKind(entry: TraceEntry, notes: readonly TraceNote[]): string | undefined {
  const fault = notes.find((note) => /fault|died|crash|partition/i.test(note.note));
  if (fault !== undefined) return `an injected fault (${fault.note})`;
  const event = entry.event as unknown as Record<string, unknown>;
  if (entry.event.type === 'task/executed') {
    const result = event['result'] as Record<string, unknown> | undefined;
    if (result?.['kind'] === 'threw') return `a thrown error (${resultText(result)})`;
  }
  if (entry.event.type === 'worker/exited') {
    return event['reason'] === 'crashed' ? 'a crash' : `a worker exit (${String(event['reason'])})`;
  }
  return rootKinds[entry.event.type];
}

/**
 * The default why: parent links from `seq` back to the first root (a fault, a thrown error, a
 * crash, a user call or a timeout), each step one line, then the root's kind. A chain that reaches
 * an event with no parent and no such kind ends there (a component's start, usually).
 */
export const parentChain: WhyFunction = (source, seq) => {
  const lines: string[] = [];
  const first = source.entry(seq);
  if (first === undefined) return [`no event with seq ${seq} in this trace`];
  let entry: TraceEntry = first;
  for (let step = 0; step < maxSteps; step++) {
    const notes = source.notesAt(entry.seq);
    lines.push(`${step === 0 ? '' : '← '}${entryLine(entry)}${notes.length === 0 ? '' : `  [${notes.map((note) => note.note).join('; ')}]`}`);
    const kind = rootKind(entry, notes);
    if (kind !== undefined) {
      lines.push(`root: ${kind}${step === 0 ? ' (this event itself)' : ''}`);
      return lines;
    }
    const parent: TraceEntry | undefined = entry.parent === undefined ? undefined : source.entry(entry.parent);
    if (parent === undefined) {
      const missing = entry.parent === undefined ? '' : ` (its parent seq ${entry.parent} is not in the trace)`;
      const start = entry.event.type.endsWith('/started') || entry.event.type === 'driver/connected';
      lines.push(`root: ${start ? 'a start' : 'an event with no recorded cause'}${missing}`);
      return lines;
    }
    entry = parent;
  }
  lines.push(`the chain is longer than ${maxSteps} steps; stopped`);
  return lines;
};
