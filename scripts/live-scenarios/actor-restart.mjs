// A curated live scenario (see scripts/traces.ts): an actor's process dies in a method; the actor
// restarts (maxRestarts) in a new worker, where its constructor runs again and later calls succeed.
import * as tsray from 'tsray';

await tsray.init({ numCpus: 2, sessionDir: process.env.TSRAY_SCENARIO_SESSION });
class Counter {
  count = 0;
  add(n) {
    this.count += n;
    return this.count;
  }
  crash() {
    process.exit(1);
  }
}
const counter = tsray.remote(Counter, { maxRestarts: 1 }).remote();
console.log('before the crash:', await tsray.get(counter.add.remote(5)));
try {
  await tsray.get(counter.crash.remote());
} catch (error) {
  console.log('crash() failed:', error.name);
}
// State is lost with the process: a restarted actor starts from its constructor, as in Ray.
console.log('after the restart:', await tsray.get(counter.add.remote(1)));
await tsray.shutdown();
