/**
 * The screen while a trace loads: its name, a progress bar over the bytes read and the events
 * indexed so far.
 */
import { Box, Text } from 'ink';
import type { LoadProgress } from '../trace-index.js';
import { ProgressBar } from './ProgressBar.js';
import { usePlain } from '../hooks/use-plain.js';

/** Props of `Loading`. */
export interface LoadingProps {
  /** The trace's file name. */
  readonly name: string;
  readonly progress: LoadProgress;
  /** Columns available. */
  readonly width: number;
}

/** The loading screen. */
export function Loading({ name, progress, width }: LoadingProps) {
  const plain = usePlain();
  const fraction = progress.bytesTotal === 0 ? 1 : progress.bytesDone / progress.bytesTotal;
  return (
    <Box flexDirection="column">
      <Text>Opening {name}: indexing its events (replay follows in the background)</Text>
      <ProgressBar fraction={fraction} width={Math.max(10, Math.min(50, width - 8))} />
      <Text>
        {progress.events.toLocaleString('en-US')} events, {(progress.bytesDone / 2 ** 20).toFixed(1)} of {(progress.bytesTotal / 2 ** 20).toFixed(1)} MiB
      </Text>
      <Text dimColor={!plain}>q or Ctrl-C quits</Text>
    </Box>
  );
}
