// Fault tolerance: a task whose worker dies is run again on another worker, up to maxRetries times
// (3 by default), and the driver only sees the result. With no retries left, get() throws
// WorkerCrashedError instead.
//   node examples/fault-demo.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tsray from 'tsray';

// The body cannot see which attempt it is, so it leaves a marker file: the first attempt finds none,
// writes it and kills its worker thread; the retry finds it and finishes. The marker's path is an
// argument because a function shipped by source cannot use this script's variables.
const crashOnce = tsray.remote(async function crashOnce(marker) {
  const { existsSync, readFileSync, writeFileSync } = await import('node:fs');
  if (!existsSync(marker)) {
    writeFileSync(marker, `crashed at ${new Date().toISOString()}`);
    process.exit(1); // In a worker thread this ends the thread, as a native crash or OOM would.
  }
  return `finished on a retry; the first attempt ${readFileSync(marker, 'utf8')}`;
});

const markers = mkdtempSync(join(tmpdir(), 'tsray-fault-demo-'));
await tsray.init();

console.log('1. crashOnce with the default maxRetries (3):');
console.log(`   ${await tsray.get(crashOnce.remote(join(markers, 'first')))}`);

console.log('2. crashOnce with maxRetries: 0:');
try {
  await tsray.get(crashOnce.options({ maxRetries: 0 }).remote(join(markers, 'second')));
  console.log('   it finished, which it should not have');
} catch (error) {
  // Every tsray error is a class of its own, so a driver can tell a dead worker from a task that threw.
  if (!(error instanceof tsray.WorkerCrashedError)) throw error;
  console.log(`   ${error.constructor.name}: ${error.message}`);
}

await tsray.shutdown();
rmSync(markers, { recursive: true, force: true });
