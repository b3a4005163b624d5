/**
 * Driving an Ink app rendered by ink-testing-library: keys in, frames out. Shared by the debugger's
 * tests.
 */
import type { render } from 'ink-testing-library';

/** A rendered app. */
export type Instance = ReturnType<typeof render>;

/** Lets Ink take in the input and draw. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 10));
}

/** Types each key in turn, waiting for the frame it draws (or half a second, for a key that draws nothing); the last frame. */
export async function press(instance: Instance, ...sequence: string[]): Promise<string> {
  for (const key of sequence) {
    const drawn = instance.frames.length;
    instance.stdin.write(key);
    for (let wait = 0; wait < 50 && instance.frames.length === drawn; wait++) await settle();
  }
  await settle();
  return instance.lastFrame() ?? '';
}

/** Types `text` one character at a time (a prompt's text with ⏎ as \r, Tab as \t); the last frame. */
export function type(instance: Instance, text: string): Promise<string> {
  return press(instance, ...text);
}
