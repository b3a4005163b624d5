/**
 * A number or boolean argument is kept in the driver's state as itself, not as its encoded bytes (a
 * queued tiny task then keeps no byte view for it: P5 in bench/), and still reaches the task
 * unchanged, through the worker's decoding and through the driver's log replayed under immer. So is
 * a number or boolean a task or actor method returns, which then crosses threads and reaches its get
 * undecoded; either way its size is that of its encoding. A pending get rejects through its resolve
 * function alone, without an unhandled rejection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AnyEvent, ComponentCore } from '../../../../core/component.js';
import { hashState } from '../../../../core/hash.js';
import { taskOfObject } from '../../../../core/ids.js';
import { argsOf, ownerCore } from '../../../../core/owner/index.js';
import { applyUnderImmer } from '../../../../core/step.js';
import { tableGet } from '../../../../core/table.js';
import { encodeValue } from '../../../../node/codec/index.js';
import * as tsray from '../../../../node/index.js';
import { codecHooks } from '../../../../node/runtime/handles.js';
import { bareSizeBytes } from '../../../../node/runtime/values.js';
import { setRuntime } from '../../../../node/runtime/context.js';
import { EmbeddedCluster } from '../../../../node/runtime/embedded.js';
import { EventLog, openSessionLogs } from '../../../../node/store/event-log.js';

const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-bare-args-'));
let cluster: EmbeddedCluster | undefined;
let stopped = false;

before(async () => {
  cluster = await EmbeddedCluster.start({ namespace: 'default', numCpus: 2, sessionDir });
  setRuntime(cluster.driver);
});

after(async () => {
  setRuntime(undefined);
  if (!stopped) await cluster?.stop();
  rmSync(sessionDir, { recursive: true, force: true });
});

function theCluster(): EmbeddedCluster {
  if (cluster === undefined) throw new Error('the cluster did not start');
  return cluster;
}

/** What the task received: its argument, and its type and sign as the task saw them. */
const echo = tsray.remote((value: unknown) => ({ value, type: typeof value, negativeZero: Object.is(value, -0) }));

/** The data the driver's state keeps for the first argument of the task that returns `ref`. */
function argumentData(ref: tsray.ObjectRef): unknown {
  const taskId = taskOfObject(ref.id);
  assert.ok(taskId !== undefined);
  const task = tableGet(theCluster().driver.state.tasks, taskId);
  assert.ok(task !== undefined, `the driver keeps task ${taskId} while it is pending`);
  const [arg] = argsOf(task.spec);
  assert.ok(arg?.kind === 'value' && arg.payload.kind === 'inline', 'a small argument rides in the spec');
  return arg.payload.data;
}

void test('finite numbers and booleans are kept as themselves and reach the task unchanged; -0, NaN, the infinities and other values are encoded', async () => {
  const bare = [0, 1, -1, 127, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, 1.5, -2.25e-300, Number.MAX_VALUE, true, false];
  const refs = bare.map((value) => {
    const ref = echo.remote(value);
    assert.ok(Object.is(argumentData(ref), value), `the driver keeps ${String(value)} as itself`);
    return ref;
  });
  const results: { value: unknown; type: string }[] = await tsray.get(refs);
  results.forEach((result, index) => {
    assert.ok(Object.is(result.value, bare[index]), `task ${index} received ${String(result.value)}, not ${String(bare[index])}`);
    assert.equal(result.type, typeof bare[index]);
  });

  // -0 would come back from the log as 0, and NaN and the infinities from a collected (JSON) trace
  // as null; strings, null and objects keep their encoded bytes.
  for (const value of [-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 'text', null, { a: 1 }, [1, 2]]) {
    const ref = echo.remote(value);
    const data = argumentData(ref) as { body?: unknown };
    assert.ok(data.body instanceof Uint8Array, `${JSON.stringify(value)} is kept encoded`);
    const result = await tsray.get(ref);
    assert.deepEqual(result.value, value);
    assert.equal(result.negativeZero, Object.is(value, -0));
  }
});

/** Tasks and an actor that hand back what they are given. */
const identity = tsray.remote((value: unknown) => value);
const Keeper = tsray.remote(
  class Keeper {
    give(value: unknown): unknown {
      return value;
    }
  },
);

/** The data and size the driver's state keeps for the value of `ref`, once ready. */
function objectPayload(ref: tsray.ObjectRef): { data: unknown; sizeBytes: number } {
  const object = tableGet(theCluster().driver.state.objects, ref.id);
  assert.ok(object?.payload?.kind === 'inline', `object ${ref.id} is ready with an inline value`);
  return { data: object.payload.data, sizeBytes: object.payload.sizeBytes };
}

void test("a bare value's size is that of its encoding", () => {
  const hooks = codecHooks(
    () => undefined,
    () => undefined,
  );
  const values: (number | boolean)[] = [true, false, 1.5, -2.25e-300, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, -(2 ** 53)];
  for (let bits = 0; bits <= 33; bits += 1) for (const offset of [-1, 0, 1]) values.push(2 ** bits + offset, -(2 ** bits) + offset);
  for (let value = -300; value <= 300; value += 1) values.push(value);
  for (const value of values) {
    if (Object.is(value, -0)) continue;
    assert.equal(bareSizeBytes(value), encodeValue(value, hooks).sizeBytes, `the size of ${String(value)}`);
  }
});

void test('numbers and booleans returned by a task or an actor method are kept as themselves; other values are encoded', async () => {
  const keeper = Keeper.remote();
  const bare = [0, 1, -1, 64, 2 ** 31, -(2 ** 31) - 1, 1.5, Number.MAX_VALUE, true, false];
  for (const value of bare) {
    for (const ref of [identity.remote(value), keeper.give.remote(value)]) {
      assert.ok(Object.is(await tsray.get(ref), value), `${String(value)} comes back as itself`);
      const { data, sizeBytes } = objectPayload(ref);
      assert.ok(Object.is(data, value), `the driver keeps the returned ${String(value)} as itself`);
      assert.equal(sizeBytes, bareSizeBytes(value));
    }
  }
  for (const value of [-0, Number.NaN, Number.POSITIVE_INFINITY, 'text', null, [1, 2]]) {
    for (const ref of [identity.remote(value), keeper.give.remote(value)]) {
      assert.deepEqual(await tsray.get(ref), value);
      assert.ok((objectPayload(ref).data as { body?: unknown }).body instanceof Uint8Array, `the returned ${JSON.stringify(value)} is kept encoded`);
    }
  }
});

void test('a get that fails rejects with its error and leaves no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const never = tsray.remote(() => 1, { resources: { missing: 1 } });
    await assert.rejects(tsray.get(never.remote(), { timeout: 50 }), tsray.GetTimeoutError);
    const fails = tsray.remote((value: number) => {
      throw new RangeError(`bad ${value}`);
    });
    await assert.rejects(tsray.get(fails.remote(3)), (error: unknown) => error instanceof tsray.RayTaskError && /bad 3/.test(error.message));
    // Node reports unhandled rejections after the microtasks of a turn: let a few turns pass.
    for (let turn = 0; turn < 3; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

void test("the driver's log, replayed under immer, reproduces its state with bare arguments in it", async () => {
  const live = theCluster();
  // A last task with bare arguments still pending at the stop keeps them in the state compared.
  const blocked = tsray.remote((value: number, flag: boolean) => value + Number(flag), { resources: { missing: 1 } });
  blocked.remote(41, true);
  stopped = true;
  setRuntime(undefined);
  await live.stop();
  const expected = hashState(live.driver.state);
  const driverLog = openSessionLogs(sessionDir).find((log) => log.address === 'worker:n1.d1');
  assert.ok(driverLog !== undefined, 'the driver kept a log');
  const log = EventLog.open(driverLog.dir);
  const core = ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>;
  let state = core.initial();
  try {
    for (const record of log.read()) {
      assert.ok(!('corrupt' in record), 'every record of the driver reads back');
      state = applyUnderImmer(core, state, record.event as AnyEvent).state;
    }
  } finally {
    await log.close();
  }
  assert.equal(hashState(state), expected);
});
