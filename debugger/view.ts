/**
 * Which events the list shows (filters) and which ones a search finds. A filter is a few terms,
 * all of which an event must match: an entity id (its events), an event type or type prefix, or a
 * component address. A search matches text anywhere in an event's type, address or the ids it names.
 */
import type { TraceIndex } from './trace-index.js';

/** A filter's result: the events shown (indices, ascending), or why the filter matched nothing it knows. */
export type FilterResult = { readonly ok: true; readonly events: Int32Array; readonly label: string } | { readonly ok: false; readonly reason: string };

/** The event mask one filter term selects, or undefined for a term that names nothing in the trace. */
function termMask(trace: TraceIndex, term: string): Uint8Array | undefined {
  const mask = new Uint8Array(trace.count);
  const entity = trace.entities.get(term);
  if (entity !== undefined) {
    for (const index of entity.events) mask[index] = 1;
    return mask;
  }
  const typeIds = new Set<number>();
  trace.types.forEach((type, id) => {
    if (type === term || type.startsWith(term.endsWith('/') ? term : `${term}/`)) typeIds.add(id);
  });
  const addressIds = new Set<number>();
  trace.addresses.forEach((address, id) => {
    if (address === term) addressIds.add(id);
  });
  if (typeIds.size === 0 && addressIds.size === 0) return undefined;
  for (let index = 0; index < trace.count; index++) {
    if (typeIds.has(trace.typeIds[index] ?? -1) || addressIds.has(trace.addressIds[index] ?? -1)) mask[index] = 1;
  }
  return mask;
}

/** A few ids of the trace that contain `text`, for an error message. */
export function closestIds(trace: TraceIndex, text: string, limit = 3): string[] {
  const found: string[] = [];
  for (const id of trace.entities.keys()) {
    if (id.includes(text) || text.includes(id)) found.push(id);
    if (found.length >= limit) break;
  }
  return found;
}

/** Applies a filter of space-separated terms (all must match); an empty filter shows every event. */
export function applyFilter(trace: TraceIndex, spec: string): FilterResult {
  const terms = spec.split(/\s+/).filter((term) => term !== '');
  if (terms.length === 0) return { ok: true, events: allEvents(trace), label: '' };
  let combined: Uint8Array | undefined;
  for (const term of terms) {
    const mask = termMask(trace, term);
    if (mask === undefined) {
      const near = closestIds(trace, term);
      return { ok: false, reason: `no entity id, event type or address '${term}' in this trace${near.length > 0 ? `; close: ${near.join(', ')}` : ''}` };
    }
    if (combined === undefined) combined = mask;
    else for (let index = 0; index < combined.length; index++) combined[index] = (combined[index] ?? 0) & (mask[index] ?? 0);
  }
  const events: number[] = [];
  combined?.forEach((on, index) => {
    if (on === 1) events.push(index);
  });
  return { ok: true, events: Int32Array.from(events), label: terms.join(' ') };
}

/** Every event of the trace, in order. */
export function allEvents(trace: TraceIndex): Int32Array {
  const events = new Int32Array(trace.count);
  for (let index = 0; index < events.length; index++) events[index] = index;
  return events;
}

/** The mask of events whose type, address or any named id contains `text` (case-insensitive). */
export function searchMask(trace: TraceIndex, text: string): Uint8Array {
  const needle = text.toLowerCase();
  const mask = new Uint8Array(trace.count);
  const typeIds = new Set<number>();
  trace.types.forEach((type, id) => {
    if (type.toLowerCase().includes(needle)) typeIds.add(id);
  });
  const addressIds = new Set<number>();
  trace.addresses.forEach((address, id) => {
    if (address.toLowerCase().includes(needle)) addressIds.add(id);
  });
  for (let index = 0; index < trace.count; index++) {
    if (typeIds.has(trace.typeIds[index] ?? -1) || addressIds.has(trace.addressIds[index] ?? -1)) mask[index] = 1;
  }
  trace.entities.markEvents((id) => id.toLowerCase().includes(needle), mask);
  return mask;
}

/** The view position of the next match after `from` (wrapping around), or undefined. */
export function nextMatch(view: Int32Array, mask: Uint8Array, from: number): number | undefined {
  for (let step = 1; step <= view.length; step++) {
    const position = (from + step) % view.length;
    if (mask[view[position] ?? 0] === 1) return position;
  }
  return undefined;
}

/** The view position of event `index`, or of the nearest event after it (the last position when none). */
export function positionOf(view: Int32Array, index: number): number {
  let low = 0;
  let high = view.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((view[middle] ?? 0) < index) low = middle + 1;
    else high = middle;
  }
  return Math.min(low, Math.max(0, view.length - 1));
}
