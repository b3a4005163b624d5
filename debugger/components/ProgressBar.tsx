/**
 * A progress bar drawn with block characters, readable without colour: `[█████░░░░░]  45%`.
 */
import { Text } from 'ink';

/** Props of `ProgressBar`. */
export interface ProgressBarProps {
  /** Done so far, 0..1 (clamped). */
  readonly fraction: number;
  /** Characters between the brackets. */
  readonly width: number;
}

/** The bar and its percentage. */
export function ProgressBar({ fraction, width }: ProgressBarProps) {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * width);
  return (
    <Text>
      [{'█'.repeat(filled)}
      {'░'.repeat(width - filled)}] {String(Math.floor(clamped * 100)).padStart(3)}%
    </Text>
  );
}
