/**
 * The terminal's size, following resizes; a size given by the caller (tests, a fixed layout) wins.
 */
import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

/** Columns and rows to lay out in. */
export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/** The size to draw in: `fixed` when given, else the terminal's, else 80×24. */
export function useTerminalSize(fixed?: Partial<TerminalSize>): TerminalSize {
  const { stdout } = useStdout();
  const read = (): TerminalSize => ({ width: fixed?.width ?? (stdout.columns || 80), height: fixed?.height ?? (stdout.rows || 24) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
    // `read` closes over the props; re-subscribing on each render is what this avoids.
  }, [stdout]);
  return fixed?.width !== undefined && fixed.height !== undefined ? { width: fixed.width, height: fixed.height } : size;
}
