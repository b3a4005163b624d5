/**
 * Counts in messages a user reads: "1 task", "2 tasks", "0 lease requests", so that an explanation
 * of what a get waits for reads as a sentence.
 */

/** `count` and `noun`, with an s after the noun unless the count is exactly 1. */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
