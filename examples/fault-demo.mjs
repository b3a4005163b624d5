// Fault tolerance: a task whose worker dies is run again on another worker, up to maxRetries times
// (3 by default), and the driver only sees the result. With no retries left, get() throws
// WorkerCrashedError instead.
//   node examples/fault-demo.mjs
//   npx tsray sim examples/fault-demo.mjs --runs 20 --faults crashes
import * as tsray from 'tsray';

// Counts the attempts of each job: an actor outlives the workers of the tasks that call it.
class Attempts {
  constructor() {
    this.seen = {};
  }

  /** This attempt's number for `job`, from 1. */
  arrive(job) {
    this.seen[job] = (this.seen[job] ?? 0) + 1;
    return this.seen[job];
  }
}

// The body asks the actor which attempt it is: the first ends its worker, as a native crash or an
// out-of-memory kill would; a retry finishes.
const crashOnce = tsray.remote(async function crashOnce(attempts, job) {
  const attempt = await tsray.get(attempts.arrive.remote(job));
  if (attempt === 1) process.exit(1); // In a worker thread this ends the thread, not the driver.
  return `finished on attempt ${attempt}; the first attempt crashed its worker`;
});

await tsray.init();
const attempts = tsray.remote(Attempts).remote();

console.log('1. crashOnce with the default maxRetries (3):');
console.log(`   ${await tsray.get(crashOnce.remote(attempts, 'first'))}`);

console.log('2. crashOnce with maxRetries: 0:');
try {
  await tsray.get(crashOnce.options({ maxRetries: 0 }).remote(attempts, 'second'));
  console.log('   it finished, which it should not have');
} catch (error) {
  // Every tsray error is a class of its own, so a driver can tell a dead worker from a task that threw.
  if (!(error instanceof tsray.WorkerCrashedError)) throw error;
  console.log(`   ${error.constructor.name}: ${error.message}`);
}

await tsray.shutdown();
