/**
 * tsray's threads carry names the OS shows (node/thread-name.ts), so that per-thread CPU from /proc
 * (bench/hot-path.ts, bench/log-cost.ts) tells the log thread and the workers from V8's and libuv's
 * threads, all of which Node 20 names `node`. A name lands on the thread that asks, never on another.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import * as tsray from '../../../node/index.js';
import { logThreadName, maxThreadNameBytes, workerThreadName } from '../../../node/thread-name.js';

const linux = process.platform === 'linux';
const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-thread-name-'));
after(() => rmSync(sessionDir, { recursive: true, force: true }));

/** The OS name of every thread of this process, by tid. */
function threadNames(): Map<number, string> {
  const names = new Map<number, string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      names.set(Number(tid), readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    } catch {
      // The thread ended while it was read.
    }
  }
  return names;
}

void test('a thread that names itself is named, and the main thread keeps its name', { skip: !linux }, async () => {
  const mainName = threadNames().get(process.pid);
  const source = `const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(new URL('../../../node/thread-name.js', import.meta.url).href)}).then(({ nameThisThread }) => {
      parentPort.postMessage(nameThisThread('thread-name-test-long'));
      parentPort.once('message', () => process.exit(0));
    });`;
  const worker = new Worker(source, { eval: true });
  try {
    const named: unknown = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(named, true);
    const names = [...threadNames().values()];
    // Linux keeps 15 bytes of a name: the rest is cut, not refused.
    assert.equal(names.filter((name) => name === 'thread-name-test-long'.slice(0, maxThreadNameBytes)).length, 1);
    assert.equal(threadNames().get(process.pid), mainName);
  } finally {
    worker.postMessage('end');
    await new Promise((resolve) => worker.once('exit', resolve));
  }
});

void test('an embedded cluster names its log thread and its worker threads', { skip: !linux }, async () => {
  await tsray.init({ numCpus: 2, sessionDir });
  try {
    const inc = tsray.remote(function inc(value: number) {
      return value + 1;
    });
    assert.deepEqual(await tsray.get([inc.remote(1), inc.remote(2)]), [2, 3]);
    // The log thread starts with the first worker (it is handed that worker's channel) and names itself as it starts;
    // both prestarted workers name themselves as they boot, and the second may still be booting when both tasks ran on the first.
    const deadline = Date.now() + 5_000;
    let names = [...threadNames().values()];
    const workers = (): number => names.filter((name) => name === workerThreadName).length;
    while ((!names.includes(logThreadName) || workers() < 2) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      names = [...threadNames().values()];
    }
    assert.equal(names.filter((name) => name === logThreadName).length, 1, `threads: ${names.join(', ')}`);
    assert.ok(names.filter((name) => name === workerThreadName).length >= 2, `threads: ${names.join(', ')}`);
  } finally {
    await tsray.shutdown();
  }
});
