/**
 * The help overlay: every key and what it does, from the one list in keys.ts.
 */
import { Box, Text } from 'ink';
import { keyHelp } from '../keys.js';
import { clip } from '../state-view.js';
import { usePlain } from '../hooks/use-plain.js';

/** Props of `Help`. */
export interface HelpProps {
  /** Columns available. */
  readonly width: number;
  /** Rows available; the list is cut to fit. */
  readonly rows: number;
}

/** The key list. */
export function Help({ width, rows }: HelpProps) {
  const plain = usePlain();
  const keyWidth = Math.max(...keyHelp.map((key) => key.keys.length)) + 2;
  const lines = keyHelp.map((key) => clip(`${key.keys.padEnd(keyWidth)}${key.does}`, width));
  return (
    <Box flexDirection="column">
      <Text bold={!plain}>Keys (any key closes this help)</Text>
      {lines.slice(0, Math.max(1, rows - 1)).map((line, index) => (
        <Text key={index}>{line}</Text>
      ))}
    </Box>
  );
}
