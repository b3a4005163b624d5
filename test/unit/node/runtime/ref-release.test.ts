/**
 * Refs the driver's code drops are released once collected, and a collection's refs go to the owner
 * together: one `refs/released` event (and one log record) for many refs, not one each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tsray from '../../../../node/index.js';
import { collectGarbage } from '../../../../node/runtime/collect.js';
import { EventLog, openSessionLogs, type LoggedEvent } from '../../../../node/store/event-log.js';
import { eventually } from '../../../support/eventually.js';

const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-ref-release-'));
after(() => rmSync(sessionDir, { recursive: true, force: true }));

/** The driver's own objects, as the state API lists them. */
async function ownedByDriver(): Promise<number> {
  return (await tsray.state.listObjects()).filter((object) => object.owner === 'n1.d1').length;
}

/** The objects the driver still owns once collections have let it release all it can (or the wait gave up). */
function ownedAfterCollections(): Promise<number> {
  return eventually(
    async () => {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 10));
      return ownedByDriver();
    },
    (owned) => owned === 0,
  );
}

void test('refs collected together are released in one event', async () => {
  await tsray.init({ numCpus: 1, sessionDir });
  const count = 200;
  try {
    // Made in a function of their own, so that nothing on this frame keeps them reachable.
    (() => {
      for (let index = 0; index < count; index += 1) tsray.put({ index });
    })();
    assert.equal(await ownedByDriver(), count);
    assert.equal(await ownedAfterCollections(), 0);
  } finally {
    await tsray.shutdown();
  }
  const driverLog = openSessionLogs(sessionDir).find((log) => log.address === 'worker:n1.d1');
  assert.ok(driverLog !== undefined, 'the driver kept no log');
  const log = EventLog.open(driverLog.dir);
  const released = [...log.read(1)].map((record) => (record as LoggedEvent).event as { type: string; objectIds?: string[] }).filter((event) => event.type === 'refs/released');
  await log.close();
  assert.equal(released.flatMap((event) => event.objectIds ?? []).length, count);
  // One collection finalizes many refs; a few collections may be needed, never one event per ref.
  assert.ok(released.length <= 10, `${count} refs were released in ${released.length} events`);
});

void test('refs a get took as they were made are released once the get ended and they were collected', async () => {
  await tsray.init({ numCpus: 1, sessionDir });
  try {
    const twice = tsray.remote((value: number) => value * 2);
    const slow = tsray.remote(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return 1;
    });
    // In a function of their own, so that nothing on this frame keeps the refs reachable.
    await (async () => {
      // Each ref is taken by its get as it is made: the get registers it for collection when it ends.
      const values = await Promise.all(Array.from({ length: 50 }, (_, index) => tsray.get(twice.remote(index))));
      assert.equal(values[49], 98);
      // Two gets of one ref: the first took it, the second found it taken.
      const shared = twice.remote(5);
      assert.deepEqual(await Promise.all([tsray.get(shared), tsray.get(shared)]), [10, 10]);
      // A get that gives up (its timeout) ends too; the task finishes later.
      await assert.rejects(tsray.get(slow.remote(), { timeout: 20 }), tsray.GetTimeoutError);
      // A ref made and dropped without a get is registered on the next microtask.
      twice.remote(7);
    })();
    assert.equal(await ownedAfterCollections(), 0);
  } finally {
    await tsray.shutdown();
  }
});
