/**
 * Errors of wrong use of the CLI: the message is the one line the user sees, and the exit code is 2.
 */

/** A bad command line: unknown command, missing argument, bad option value. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses a whole number option, or fails naming the option and what is allowed. */
export function wholeNumber(option: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${option} takes a whole number ≥ ${min}, not '${text}'`);
  return value;
}

/** The first line of a message (node:util parseArgs adds lines of advice that a one-line reason leaves out). */
export function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline < 0 ? text : text.slice(0, newline);
}
