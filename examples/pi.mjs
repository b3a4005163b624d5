// Monte-Carlo π over every core: throw random points at the unit square and count those inside the
// quarter circle. Each task throws one batch; the driver collects batches as they finish, so it can
// show progress while the rest are still running.
//   node examples/pi.mjs [SAMPLES]        (default 100,000,000: a few seconds on two cores)
import * as tsray from 'tsray';

const samples = Number(process.argv[2] ?? 100_000_000);
if (!Number.isSafeInteger(samples) || samples < 1) {
  console.error(`usage: node examples/pi.mjs [SAMPLES]; ${process.argv[2]} is not a whole number ≥ 1`);
  process.exit(2);
}

// Defined in this script, the function is shipped to the workers by its source text: it may use its
// arguments and globals (Math) only, not this script's variables.
const countInside = tsray.remote(function countInside(throws) {
  let inside = 0;
  for (let i = 0; i < throws; i += 1) {
    const x = Math.random();
    const y = Math.random();
    if (x * x + y * y <= 1) inside += 1;
  }
  return inside;
});

const { sessionDir } = await tsray.init();
const cpus = (await tsray.clusterResources()).CPU;

// Many more batches than cores, so that the progress line moves and no core waits for a long batch.
const batches = Math.min(samples, 100);
const batchSize = Math.floor(samples / batches);
let pending = Array.from({ length: batches }, (_, index) => countInside.remote(index < samples % batches ? batchSize + 1 : batchSize));

// On a terminal the line is rewritten in place; in a pipe or a log, each update is a line of its own.
const showProgress = (text) => (process.stdout.isTTY ? process.stdout.write(`\r${text}`) : console.log(text));
const started = performance.now();
let inside = 0;
let done = 0;
let lastShown = 0;
while (pending.length > 0) {
  let ready;
  [ready, pending] = await tsray.wait(pending, { numReturns: 1 });
  for (const count of await tsray.get(ready)) inside += count;
  done += ready.length;
  // Show every tenth of the work at most, so that a pipe does not receive a hundred lines.
  if (process.stdout.isTTY || done === batches || done - lastShown >= batches / 10) {
    lastShown = done;
    showProgress(`${String(Math.round((100 * done) / batches)).padStart(3)}% of ${samples.toLocaleString('en')} samples on ${cpus} CPUs: π ≈ ${((4 * inside) / (done * batchSize)).toFixed(6)}`);
  }
}
if (process.stdout.isTTY) process.stdout.write('\n');

const estimate = (4 * inside) / samples;
const seconds = (performance.now() - started) / 1000;
console.log(`π ≈ ${estimate.toFixed(6)} (error ${(estimate - Math.PI).toExponential(2)}) from ${samples.toLocaleString('en')} samples in ${seconds.toFixed(2)} s`);
console.log(`logs and traces of this run: ${sessionDir}`);
await tsray.shutdown();
