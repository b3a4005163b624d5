/**
 * Polling for live tests: what the runtime does on its own time (collection, restarts, a body that
 * settles) is awaited by probing until it shows, within a bound, never by a fixed sleep.
 */

/** Probes every 25 ms until `done` holds of the probed value or `tries` probes were made; returns the last value. */
export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, tries = 400): Promise<T> {
  let value = await probe();
  for (let attempt = 0; attempt < tries && !done(value); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await probe();
  }
  return value;
}
