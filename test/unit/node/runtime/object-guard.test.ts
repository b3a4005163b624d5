/**
 * Objects in the shared store: a write through a view that `get` handed out is reported, naming the
 * object and who read it; `get(ref, { copy: true })` gives a private, writable copy; a put that could
 * never fit in the store throws at the call; and the event logs never hold the bytes of large values.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { collectGarbage } from '../../../../node/runtime/collect.js';
import { EmbeddedCluster } from '../../../../node/runtime/embedded.js';
import { logDirFor } from '../../../../node/store/event-log.js';

const mib = 1024 * 1024;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsray-guard-'));
  dirs.push(dir);
  return dir;
}

/** Collects the stderr lines written while `body` runs (and its views are collected). */
async function stderrDuring(body: (lines: readonly string[]) => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return (write as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean)(chunk, ...rest);
  });
  try {
    await body(lines);
  } finally {
    process.stderr.write = write;
  }
  return lines;
}

/** Collects garbage a few times so that unreachable views end their pins (and their checks run). */
async function settle(): Promise<void> {
  for (let round = 0; round < 4; round += 1) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Disk blocks a folder's files take (like `du`: LMDB files may be sparse, so not their apparent size). */
function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stats = statSync(path);
    total += stats.isDirectory() ? diskBytes(path) : stats.blocks * 512;
  }
  return total;
}

void describe('shared views, copies and the store bound', () => {
  before(async () => {
    // A spill space smaller than the store: a put too large for the store is too large for both.
    process.env['TSRAY_SPILL_BYTES'] = String(8 * mib);
    await tsray.init({ numCpus: 1, sessionDir: tempDir(), objectStoreMemory: 32 * mib });
    delete process.env['TSRAY_SPILL_BYTES'];
  });
  after(async () => {
    await tsray.shutdown();
  });

  /** Puts an array, writes `(await get(ref))[index] = 123`, drops the view, and returns the reports. */
  async function writeThroughView(index: number): Promise<{ id: string; reports: string[] }> {
    const ref = tsray.put(new Float64Array(mib / 8).fill(1));
    const lines = await stderrDuring(async () => {
      let view: Float64Array | undefined = await tsray.get(ref);
      view[index] = 123;
      view = undefined;
      await settle();
    });
    return { id: ref.id, reports: lines.filter((line) => line.startsWith('tsray: ')) };
  }

  void test('a write through a view from get is reported when the view is collected, naming the object and the reader', async () => {
    const { id, reports } = await writeThroughView(0);
    assert.equal(reports.length, 1, `one report, got: ${reports.join('')}`);
    assert.match(reports[0] ?? '', new RegExp(`object ${id.replace(/\./g, '\\.')} was written after it was stored`));
    assert.match(reports[0] ?? '', /read by the driver/);
    assert.match(reports[0] ?? '', /copy: true/);
  });

  void test('with TSRAY_CHECK_WRITES=1 a write anywhere in the object is reported', async () => {
    process.env.TSRAY_CHECK_WRITES = '1';
    try {
      for (const index of [1000, 54_321, mib / 8 - 70]) {
        const { id, reports } = await writeThroughView(index);
        assert.equal(reports.length, 1, `a report for a write at ${index}`);
        assert.ok(reports[0]?.startsWith(`tsray: object ${id} `));
      }
    } finally {
      delete process.env.TSRAY_CHECK_WRITES;
    }
  });

  void test('a write to the first element, through a view kept until the object is freed, is reported when it is freed', async () => {
    let ref: tsray.ObjectRef<{ data: Int32Array }> | undefined = tsray.put({ data: new Int32Array(mib / 4) });
    const id = ref.id;
    const view = (await tsray.get(ref)).data;
    const lines = await stderrDuring(async () => {
      view[0] = 7;
      ref = undefined;
      await settle();
    });
    assert.ok(view.length > 0);
    const report = lines.find((line) => line.startsWith(`tsray: object ${id} `));
    assert.ok(report !== undefined, `a report for ${id}, got: ${lines.join('')}`);
    assert.match(report, /freed; read in place by the driver/);
  });

  void test('a write by a task through its argument view is reported, naming the object and the worker', async () => {
    let ref: tsray.ObjectRef<Float64Array> | undefined = tsray.put(new Float64Array(mib / 8).fill(3));
    const id = ref.id;
    const scribble = tsray.remote((values: Float64Array) => {
      values[0] = -1;
      return values.length;
    });
    const lines = await stderrDuring(async (seen) => {
      assert.equal(await tsray.get(scribble.remote(ref as tsray.ObjectRef<Float64Array>)), mib / 8);
      ref = undefined;
      for (let round = 0; round < 20 && !seen.some((line) => line.startsWith(`tsray: object ${id} `)); round += 1) await settle();
    });
    const report = lines.find((line) => line.startsWith(`tsray: object ${id} `));
    assert.ok(report !== undefined, `a report for ${id}, got: ${lines.join('')}`);
    assert.match(report, /worker n1\.w\d+/);
  });

  void test('get with copy: true gives a private, writable copy that no other get sees', async () => {
    const ref = tsray.put(new Float64Array(mib / 8).fill(2));
    const lines = await stderrDuring(async () => {
      let copy: Float64Array | undefined = await tsray.get(ref, { copy: true });
      assert.equal(copy.buffer instanceof SharedArrayBuffer, false);
      copy[0] = 99;
      copy.fill(5, 10, 20);
      const [again] = await tsray.get([ref], { copy: true });
      assert.equal((again as Float64Array)[0], 2);
      const shared = await tsray.get(ref);
      assert.equal(shared.buffer instanceof SharedArrayBuffer, true);
      assert.equal(shared[0], 2);
      assert.equal(shared[15], 2);
      copy = undefined;
      await settle();
    });
    assert.deepEqual(lines.filter((line) => line.startsWith('tsray: ')), []);
    await assert.rejects(tsray.get(ref, { copy: 'yes' as unknown as boolean }), /copy must be true or false/);
  });

  void test('a put bigger than the whole store throws ObjectStoreFullError at the call, as does such an argument', () => {
    const huge = new Uint8Array(40 * mib);
    assert.throws(
      () => tsray.put(huge),
      (error: unknown) => error instanceof tsray.ObjectStoreFullError && /41943\d+ bytes/.test(error.message) && /33554432 bytes \(objectStoreMemory\)/.test(error.message),
    );
    const length = tsray.remote((value: Uint8Array) => value.length);
    assert.throws(() => length.remote(huge), tsray.ObjectStoreFullError);
  });
});

void test('a stored value that the raylet recipe turns away goes back to the store', async () => {
  const cluster = await EmbeddedCluster.start({ namespace: 'default', numCpus: 1, sessionDir: tempDir(), objectStoreMemory: 8 * mib });
  try {
    const objectId = 'n1.d1.p99';
    const data = cluster.nodeStore.storeNow(objectId, { body: new Uint8Array(10), blobs: [new Uint8Array(mib)] });
    assert.ok(data !== undefined);
    const usedBefore = cluster.store.usedBytes;
    // The recipe counts the size the message gives: more than the store holds.
    cluster.router.send('worker:n1.d1', 0, 'raylet:n1', { type: 'object/put-requested', objectId, owner: 'n1.d1', data, sizeBytes: 9 * mib, refs: [] });
    cluster.router.flush();
    assert.equal(cluster.raylet.state.objects[objectId], undefined);
    assert.equal(cluster.store.get(objectId), undefined);
    assert.ok(cluster.store.usedBytes < usedBefore, 'its memory is free again');
  } finally {
    await cluster.stop();
  }
});

void describe('event logs', () => {
  const sessionDir = tempDir();
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  void test('50 puts of 2 MiB and 10 returns of 2 MiB leave logs far smaller than their bytes', async () => {
    await tsray.init({ numCpus: 1, sessionDir });
    try {
      for (let index = 0; index < 50; index += 1) {
        const ref = tsray.put(new Uint8Array(2 * mib).fill(index));
        assert.equal((await tsray.get(ref))[5], index);
      }
      const big = tsray.remote((index: number) => new Uint8Array(2 * 1024 * 1024).fill(index));
      for (let index = 0; index < 10; index += 1) assert.equal((await tsray.get(big.remote(index)))[7], index);
    } finally {
      await tsray.shutdown();
    }
    const driverLog = diskBytes(logDirFor(sessionDir, 'worker:n1.d1'));
    const allLogs = diskBytes(join(sessionDir, 'logs'));
    console.log(`driver log ${driverLog} bytes, all logs ${allLogs} bytes on disk`);
    assert.ok(driverLog < 5 * mib, `the driver log takes ${driverLog} bytes`);
    assert.ok(allLogs < 10 * mib, `the logs take ${allLogs} bytes`);
  });
});
