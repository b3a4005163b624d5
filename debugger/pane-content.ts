/**
 * What the lower pane shows for the event at the cursor: the state of a component folded to the
 * selected entity, the event's immer patches, the selected entity's timeline, or the why chain.
 */
import type { WhyFunction } from './causal-chain.js';
import { flatTables } from '../core/table.js';
import { foldState, outlineState, patchLines, valueLines } from './state-view.js';
import { timelineOf } from './timeline.js';
import type { TraceIndex } from './trace-index.js';

/** The panes the debugger can show. */
export type PaneKind = 'state' | 'diff' | 'timeline' | 'why';

/** What to draw in a pane. */
export interface PaneContent {
  readonly title: string;
  readonly lines: readonly string[];
}

/** The pane's subject. */
export interface PaneRequest {
  readonly pane: PaneKind;
  /** The event at the cursor. */
  readonly index: number;
  /** The selected entity id, if any. */
  readonly entity?: string;
  /** The component whose state is shown (an address id); the cursor event's own by default. */
  readonly addressId?: number;
  readonly why: WhyFunction;
  readonly width: number;
}

/** Where the replay pass stands, for a pane that has to wait for it. */
export function replayingLine(trace: TraceIndex): string {
  const percent = trace.count === 0 ? 100 : Math.floor((100 * trace.replayedCount) / trace.count);
  return `still replaying the trace (${percent}%, up to seq ${trace.seqs[Math.max(0, trace.replayedCount - 1)] ?? 0}); this appears when replay gets there`;
}

/** The content of the requested pane. */
export function paneContent(trace: TraceIndex, request: PaneRequest): PaneContent {
  const { index, width } = request;
  if (trace.count === 0) return { title: 'empty trace', lines: ['this trace has no events'] };
  const seq = trace.seqs[index] ?? 0;
  switch (request.pane) {
    case 'state': {
      const addressId = request.addressId ?? trace.addressIds[index] ?? 0;
      const at = trace.stateAt(addressId, index);
      if (at === undefined) return { title: `state of ${trace.addresses[addressId] ?? '?'} after seq ${seq}`, lines: [replayingLine(trace)] };
      const folded = request.entity === undefined ? outlineState(at.state) : valueLines(foldState(flatTables(at.state), [request.entity]), width);
      const by = request.entity === undefined ? 'outline' : `folded to ${request.entity}`;
      return {
        title: `state of ${trace.addresses[addressId] ?? '?'} after seq ${seq}, ${by} (replayed ${at.replayed})`,
        lines: [...(at.divergence === undefined ? [] : [at.divergence]), ...folded],
      };
    }
    case 'diff': {
      const at = trace.stateAt(trace.addressIds[index] ?? 0, index, true);
      if (at === undefined) return { title: `diff of seq ${seq}`, lines: [replayingLine(trace)] };
      const lines = at.divergence !== undefined ? [at.divergence] : at.patches === undefined || at.patches.length === 0 ? ['this event changed nothing'] : patchLines(at.patches, width);
      return { title: `diff of seq ${seq} on ${trace.addressOf(index)} (immer patches)`, lines };
    }
    case 'timeline':
      if (!trace.complete) return { title: `timeline of ${request.entity ?? '?'}`, lines: [replayingLine(trace)] };
      if (request.entity === undefined) return { title: 'timeline', lines: ['this event names no entity; move to one that does, or filter by an id (f)'] };
      return { title: `timeline of ${request.entity}`, lines: timelineOf(trace, request.entity) };
    case 'why': {
      const source = { entry: (wanted: number) => (trace.indexOfSeq(wanted) === undefined ? undefined : trace.entry(trace.indexOfSeq(wanted) ?? 0)), notesAt: (wanted: number) => trace.notesAt(wanted) };
      return { title: `why seq ${seq}`, lines: request.why(source, seq) };
    }
  }
}
