/**
 * A titled pane of text lines (state, diff, timeline, why), scrolled by the caller and cut to its
 * rows and columns.
 */
import { Box, Text } from 'ink';
import { clip } from '../state-view.js';
import { usePlain } from '../hooks/use-plain.js';

/** Props of `LinesPane`. */
export interface LinesPaneProps {
  readonly title: string;
  readonly lines: readonly string[];
  /** The first line shown. */
  readonly scroll: number;
  /** Rows for the lines (the title takes one more). */
  readonly rows: number;
  /** Columns available. */
  readonly width: number;
}

/** The pane. */
export function LinesPane({ title, lines, scroll, rows, width }: LinesPaneProps) {
  const plain = usePlain();
  const first = Math.max(0, Math.min(scroll, Math.max(0, lines.length - rows)));
  const shown = lines.slice(first, first + rows);
  const position = lines.length > rows ? ` ${first + 1}-${first + shown.length}/${lines.length}` : '';
  return (
    <Box flexDirection="column">
      <Text bold={!plain} wrap="truncate">
        {clip(`── ${title}${position} ${'─'.repeat(width)}`, width)}
      </Text>
      <Box flexDirection="column" height={rows}>
        {shown.map((line, index) => (
          <Text key={first + index} wrap="truncate">
            {clip(line, width)}
          </Text>
        ))}
      </Box>
    </Box>
  );
}
