// Tests that the lists of the hot paths have one hidden class, whether the code that made them is optimised or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { packedMap } from '../../../core/packed-map.js';

/**
 * Runs `script` (an ES module) in a child with V8's natives syntax; returns what it printed as JSON.
 * Optimisation runs on the child's own thread, so that code left to tier up is optimised by the time
 * it is asked, however busy the machine (a background compile may finish later).
 */
function natives(script: string): unknown {
  const result = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as unknown;
}

void test('packedMap maps as Array.prototype.map does, this and index included', () => {
  assert.deepEqual(packedMap([1, 2, 3], (item, index) => item * 10 + index), [10, 21, 32]);
  assert.deepEqual(packedMap([], () => 1), []);
  const scale = { by: 3 };
  assert.deepEqual(
    packedMap(
      [1, 2],
      function (this: { by: number }, item) {
        return item * this.by;
      },
      scale,
    ),
    [3, 6],
  );
});

void test("a list made by packedMap has the same hidden class before and after its maker is optimised, and for one item as for more, where map's does not", () => {
  // V8's own map makes a packed list in the interpreter and a holey one in TurboFan's code, so that
  // every reader compiled for the first was thrown away at the second: only V8's natives tell.
  const core = new URL('../../../core/packed-map.js', import.meta.url).href;
  const batch = new URL('../../../node/runtime/packed-batch.js', import.meta.url).href;
  const script = `
    const { packedMap } = await import(${JSON.stringify(core)});
    const { packBatch, unpackBatch } = await import(${JSON.stringify(batch)});
    const status = (fn) => %GetOptimizationStatus(fn);
    const out = {};
    const viaMap = (items) => items.map((item) => ({ item }));
    const viaPackedMap = (items) => packedMap(items, (item) => ({ item }));
    for (const [name, make] of [['map', viaMap], ['packedMap', viaPackedMap]]) {
      %PrepareFunctionForOptimization(make);
      const early = make([1, 2]);
      make([3]);
      %OptimizeFunctionOnNextCall(make);
      const late = make([1, 2]);
      const one = make([4]);
      out[name] = { status: status(make), sameMap: %HaveSameMap(early, late) && %HaveSameMap(one, late), holey: %HasHoleyElements(late) || %HasHoleyElements(one) };
    }
    // A push rebuilt from a packed batch (its args list made by packedMap), first and once hot: left to
    // tier up as a worker's are, so that the function making the list (not exported) is optimised too.
    const functionId = JSON.stringify({ kind: 'module', moduleUrl: 'file:///m.js', key: 'file:///m.js#echo#1', name: 'echo' });
    const push = (index) => {
      const specArgs = [{ kind: 'value', payload: { kind: 'inline', data: index, sizeBytes: 3, refs: [] } }];
      const message = { type: 'task/pushed', spec: { taskId: 'n1.d1.t' + index, jobId: 'j1', owner: 'n1.d1', returnIds: ['n1.d1.t' + index + '.r0'], name: 'echo', functionId, args: specArgs, resources: { CPU: 1 }, maxRetries: 3, retryExceptions: false, strategy: 'DEFAULT' }, attempt: 1, leaseId: 'n1.d1.l1', args: specArgs.map((arg) => ({ kind: 'value', payload: arg.payload })) };
      message.via = { from: 'worker:n1.d1', incarnation: 0, seq: index, cause: 7 };
      message.to = 'worker:n1.w1';
      return message;
    };
    const packed = packBatch([push(1), push(2)]);
    const early = unpackBatch(packed)[0].args;
    for (let round = 0; round < 100000; round += 1) unpackBatch(packed);
    const late = unpackBatch(packed)[1].args;
    out.unpackBatch = { status: status(unpackBatch), sameMap: %HaveSameMap(early, late), holey: %HasHoleyElements(late) };
    console.log(JSON.stringify(out));
  `;
  const out = natives(script) as Record<'map' | 'packedMap' | 'unpackBatch', { status: number; sameMap: boolean; holey: boolean }>;
  // V8's status bit 16: optimised. Each maker ran optimised the second time.
  for (const name of ['map', 'packedMap', 'unpackBatch'] as const) assert.equal(out[name].status & 16, 16, `${name} was not optimised (status ${out[name].status})`);
  // The reason for packedMap: V8's map changes the list's class once optimised (if a V8 stops doing so, packedMap is merely as good).
  if (!out.map.sameMap) assert.equal(out.map.holey, true);
  assert.deepEqual(out.packedMap, { status: out.packedMap.status, sameMap: true, holey: false });
  assert.deepEqual(out.unpackBatch, { status: out.unpackBatch.status, sameMap: true, holey: false });
});
