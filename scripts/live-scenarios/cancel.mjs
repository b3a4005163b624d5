// A curated live scenario (see scripts/traces.ts): a long task is cancelled while it runs; its get
// rejects with TaskCancelledError at once, and the body sees its signal aborted.
import * as tsray from 'tsray';

await tsray.init({ numCpus: 2, sessionDir: process.env.TSRAY_SCENARIO_SESSION });
const slow = tsray.remote(async function slow() {
  const { signal } = tsray.getRuntimeContext();
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 30_000);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return signal.aborted ? 'stopped early' : 'finished';
});
const ref = slow.remote();
await new Promise((resolve) => setTimeout(resolve, 300));
tsray.cancel(ref);
try {
  await tsray.get(ref);
} catch (error) {
  console.log('get after cancel:', error.name);
}
await tsray.shutdown();
