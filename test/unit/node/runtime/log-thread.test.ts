/**
 * The log thread (node/store/log-thread.ts) writes the driver's, the raylet's and the workers' logs.
 * A driver script that ends without shutdown() (returning, or calling process.exit) still leaves
 * every event its driver and its raylet applied on disk, and the hashes of their live states: the
 * exit handler hands their last records to the log thread and waits until that thread has written
 * what it buffers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EventLog, openSessionLogs } from '../../../../node/store/event-log.js';
import { writeDriverScript } from '../../../support/driver-script.js';

const tasks = 300;

const script = writeDriverScript('log-thread-exit-check', `import * as tsray from 'tsray';
await tsray.init({ numCpus: 2, sessionDir: process.argv[3] });
const inc = tsray.remote(function inc(x) { return x + 1; });
const values = await tsray.get(Array.from({ length: ${tasks} }, (_, index) => inc.remote(index)));
console.log('sum', values.reduce((total, value) => total + value, 0));
// The workers' records reach the main thread within their lag (50 ms); the driver's last ones wait in its buffer.
await new Promise((resolve) => setTimeout(resolve, 200));
for (let index = 0; index < 5; index += 1) inc.remote(index);
if (process.argv[2] === 'exit') process.exit(0);
`);
after(() => script.remove());

/** The events of each log of the session, by address, and the driver log's recorded state hashes. */
function readSession(sessionDir: string): { events: Map<string, { type: string }[]>; driverHashes: Map<number, string>; driverLastSeq: number; rayletHashes: Map<number, string>; rayletLastSeq: number } {
  const events = new Map<string, { type: string }[]>();
  let driverHashes = new Map<number, string>();
  let driverLastSeq = 0;
  let rayletHashes = new Map<number, string>();
  let rayletLastSeq = 0;
  for (const { address, dir } of openSessionLogs(sessionDir)) {
    const log = EventLog.open(dir);
    const found: { type: string }[] = [];
    for (const record of log.read()) {
      assert.ok(!('corrupt' in record), `a record of ${address} could not be read`);
      found.push(record.event as { type: string });
    }
    events.set(address, found);
    if (address === 'worker:n1.d1') {
      driverHashes = log.readStateHashes();
      driverLastSeq = log.lastSeq;
    }
    if (address === 'raylet:n1') {
      rayletHashes = log.readStateHashes();
      rayletLastSeq = log.lastSeq;
    }
    void log.close();
  }
  return { events, driverHashes, driverLastSeq, rayletHashes, rayletLastSeq };
}

for (const ending of ['exit', 'return'] as const) {
  void test(`a driver that ends without shutdown (${ending === 'exit' ? 'process.exit' : 'returning'}) leaves its last events and its state's hash in its log`, () => {
    const sessionDir = join(script.sessionDir, ending);
    const result = spawnSync(process.execPath, [script.path, ending, sessionDir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`sum ${(tasks * (tasks + 1)) / 2}`));
    const { events, driverHashes, driverLastSeq, rayletHashes, rayletLastSeq } = readSession(sessionDir);
    const driver = events.get('worker:n1.d1') ?? [];
    const count = (list: { type: string }[], type: string): number => list.filter((event) => event.type === type).length;
    // The five submitted last, just before the process ended, are the records that only the exit handler writes.
    assert.equal(count(driver, 'task/submitted'), tasks + 5, 'every submission is in the driver log');
    // Returning, the last five may still run before the process ends.
    const replied = count(driver, 'task/replied');
    assert.ok(replied >= tasks && replied <= tasks + 5, `every reply is in the driver log (${replied})`);
    assert.equal(driverHashes.get(driverLastSeq)?.length, 16, "the hash of the driver's live state after its last event is recorded");
    const raylet = events.get('raylet:n1') ?? [];
    assert.equal(count(raylet, 'node/started'), 1, "the raylet's log starts with its node");
    assert.ok(count(raylet, 'worker/started') >= 2, "the raylet's log holds its workers' starts");
    assert.equal(rayletHashes.get(rayletLastSeq)?.length, 16, "the hash of the raylet's live state after its last event is recorded");
    const workers = [...events].filter(([address]) => /^worker:n1\.w\d+$/.test(address)).map(([, list]) => list);
    const executed = workers.reduce((total, list) => total + count(list, 'task/executed'), 0);
    assert.ok(executed >= tasks && executed <= tasks + 5, `every execution reached the log of its worker (${executed})`);
  });
}
