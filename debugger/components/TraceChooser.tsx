/**
 * `tsray debug` with no trace: the curated traces in traces/ with what each shows, or, when there
 * are none yet, how to make one with `tsray sim`.
 */
import { Box, Text, useInput } from 'ink';
import { useRef, useState } from 'react';
import { clip } from '../state-view.js';
import { usePlain } from '../hooks/use-plain.js';

/** A curated trace as traces/README.md describes it. */
export interface CuratedTrace {
  /** The path to pass to `tsray debug`. */
  readonly path: string;
  /** What to look at in it (one line). */
  readonly description: string;
}

/** Props of `TraceChooser`. */
export interface TraceChooserProps {
  readonly traces: readonly CuratedTrace[];
  /** Where the curated traces live, to name it in the text. */
  readonly folder: string;
  /** Columns available. */
  readonly width: number;
  /** Called with the chosen trace's path on Enter. */
  readonly onOpen: (path: string) => void;
  /** Called on q or Esc. */
  readonly onQuit: () => void;
}

/** The list of curated traces. */
export function TraceChooser({ traces, folder, width, onOpen, onQuit }: TraceChooserProps) {
  const plain = usePlain();
  const [cursor, setCursor] = useState(0);
  // Keys typed quickly (j then Enter) arrive before React re-renders with the moved cursor: the
  // handler reads the cursor from a ref that every move updates at once.
  const cursorNow = useRef(0);
  const move = (to: number): void => {
    cursorNow.current = to;
    setCursor(to);
  };
  useInput((input, key) => {
    if (input === 'q' || key.escape) return onQuit();
    if (key.downArrow || input === 'j') return move(Math.min(traces.length - 1, cursorNow.current + 1));
    if (key.upArrow || input === 'k') return move(Math.max(0, cursorNow.current - 1));
    const chosen = traces[cursorNow.current];
    if (key.return && chosen !== undefined) onOpen(chosen.path);
  });
  if (traces.length === 0) {
    return (
      <Box flexDirection="column" width={width}>
        <Text bold={!plain}>tsray debug: no curated traces in {folder} yet</Text>
        <Text>Make a trace with the simulator, then open it:</Text>
        <Text>{clip('  npx tsray sim examples/sim/fan-out.mjs --seed 1 --faults crashes -o traces', width)}</Text>
        <Text>{clip('  npx tsray debug traces/fan-out-1.jsonl', width)}</Text>
        <Text dimColor={!plain}>q quits</Text>
      </Box>
    );
  }
  return (
    <Box flexDirection="column" width={width}>
      <Text bold={!plain}>tsray debug: curated traces in {folder} (⏎ opens, q quits)</Text>
      {traces.map((trace, index) => (
        <Text key={trace.path} inverse={!plain && index === cursor} wrap="truncate">
          {clip(`${index === cursor ? '▶' : ' '} ${trace.path}: ${trace.description}`, width)}
        </Text>
      ))}
      <Text dimColor={!plain}>or: tsray debug TRACE</Text>
    </Box>
  );
}
