/**
 * Values of a simulated run. A script's values are encoded by the same codec as live (so whatever
 * cannot travel live fails the same way here, naming its path), captured at the call, and kept in a
 * table of the run; the core, and so the trace, carries a reference to each with a short rendering
 * of it for the debugger. Keeping the bytes out of the events keeps traces small and their text
 * independent of how binary data would print.
 */
import { inspect } from 'node:util';
import type { ValueData } from '../../core/owner/index.js';
import { decodeValue, encodeValue } from '../codec/index.js';
import type { CodecHooks } from '../codec/index.js';
import type { OwnerValues } from '../runtime/owner-runtime.js';
import { withoutRunTag } from '../runtime/shipping.js';

/** What a simulated event carries for a value: its id in the run's table and how it prints. */
export interface SimValueData {
  readonly value: string;
  readonly shows: string;
}

/** The longest rendering of a value kept in a trace. */
const showsMaxChars = 120;

/** A bound on values kept by one run, so a runaway script fails with the limit named. */
export const maxValuesPerRun = 1_000_000;

/** The value table of one simulated run. */
export class SimValues implements OwnerValues {
  private readonly table = new Map<string, { readonly body: Uint8Array; readonly blobs: readonly Uint8Array[] }>();
  private count = 0;

  /** Encodes `value` as live, keeps a private copy of its bytes, and gives the core a reference. */
  encode(value: unknown, hooks: CodecHooks, rootPath: string): ValueData {
    const encoded = encodeValue(value, hooks, { rootPath });
    if (this.count >= maxValuesPerRun) throw new RangeError(`a simulated run may hold at most ${maxValuesPerRun} values (maxValuesPerRun); the script makes values without end`);
    const id = `v${++this.count}`;
    // Copies: msgpackr may reuse its buffer, and the caller may write to its arrays after the call.
    this.table.set(id, { body: encoded.body.slice(), blobs: encoded.blobs.map((blob) => new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength).slice()) });
    const data: SimValueData = { value: id, shows: shows(value) };
    return { data, sizeBytes: encoded.sizeBytes, refs: encoded.refs };
  }

  /** Decodes a value of this run; each decode gets arrays of its own. */
  decode(value: ValueData, hooks: CodecHooks): unknown {
    const id = (value.data as Partial<SimValueData> | null)?.value;
    const stored = typeof id === 'string' ? this.table.get(id) : undefined;
    if (stored === undefined) throw new Error(`simulated value ${String(id)} is not in this run's table: a value from another run or from outside the simulation`);
    return decodeValue(stored.body, stored.blobs.map((blob) => blob.slice()), hooks);
  }
}

/** A short, deterministic rendering of a value for traces, at most `maxChars` long. */
export function shows(value: unknown, maxChars = showsMaxChars): string {
  const text = withoutRunTag(inspect(value, { depth: 2, breakLength: Infinity, maxArrayLength: 8, maxStringLength: 60, compact: true, sorted: true }));
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}
