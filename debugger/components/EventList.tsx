/**
 * The event list, virtually scrolled: only the rows on screen are decoded and drawn, so a list over
 * a million events costs what a screenful does.
 */
import { Box, Text } from 'ink';
import { describeEvent } from '../event-text.js';
import { clip } from '../state-view.js';
import type { TraceIndex } from '../trace-index.js';
import { usePlain } from '../hooks/use-plain.js';

/** Props of `EventList`. */
export interface EventListProps {
  readonly trace: TraceIndex;
  /** The events shown (indices into the trace), after filtering. */
  readonly view: Int32Array;
  /** The first view position on screen. */
  readonly top: number;
  /** The view position of the cursor. */
  readonly cursor: number;
  /** Rows to draw. */
  readonly rows: number;
  /** Columns available. */
  readonly width: number;
}

/** One row: marker, seq, time (a live trace's from its first event), address, type and what the event is about. */
export function eventRow(trace: TraceIndex, index: number, selected: boolean, width: number): string {
  const entry = trace.entry(index);
  // A live trace's clock is the wall clock: shown from the first event, so the column stays short.
  const time = trace.header.createdBy === 'live' ? `+${Math.round(entry.atMs - (trace.times[0] ?? 0))}ms` : `${entry.atMs}ms`;
  const text = `${selected ? '▶' : ' '} ${String(entry.seq).padStart(6)} ${time.padStart(9)} ${entry.address.padEnd(13)} ${entry.event.type} ${describeEvent(entry.event)}`;
  return clip(text.trimEnd(), width);
}

/** The visible rows of the list. */
export function EventList({ trace, view, top, cursor, rows, width }: EventListProps) {
  const plain = usePlain();
  const lines: { position: number; text: string }[] = [];
  for (let position = top; position < Math.min(view.length, top + rows); position++) {
    lines.push({ position, text: eventRow(trace, view[position] ?? 0, position === cursor, width) });
  }
  return (
    <Box flexDirection="column" height={rows}>
      {lines.length === 0 ? <Text>no events to show (f then ⏎ clears the filter)</Text> : null}
      {lines.map((line) => (
        <Text key={line.position} inverse={!plain && line.position === cursor} wrap="truncate">
          {line.text}
        </Text>
      ))}
    </Box>
  );
}
