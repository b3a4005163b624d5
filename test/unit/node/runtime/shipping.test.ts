/**
 * Code created by code shipped by source ships by source too, at any depth: remote functions and actor
 * classes defined inside task bodies and actor methods. Module code keeps shipping by reference when
 * it registers its functions at its top level. The checks run in a real entry script (the only place
 * whose functions ship by source by definition), in a child process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { packageRoot, writeDriverScript } from '../../../support/driver-script.js';

const script = writeDriverScript('shipping-nested-check', `import * as tsray from 'tsray';
const moduleUrl = process.argv[3];
await tsray.init({ numCpus: 2, sessionDir: process.argv[2] });
const results = {};
async function check(name, run) {
  try {
    results[name] = await run();
  } catch (error) {
    results[name] = 'failed: ' + error.message;
  }
}
await check('functionInTask', () => tsray.get(tsray.remote(async (x) => {
  const inner = tsray.remote((y) => y * 2);
  return [inner.descriptor.kind, await tsray.get(inner.remote(x))];
}).remote(21)));
await check('actorInTask', () => tsray.get(tsray.remote(async (start) => {
  const Counter = tsray.remote(class Counter {
    constructor(value) { this.value = value; }
    bump() { this.value += 1; return this.value; }
    async viaTask() {
      const add = tsray.remote((a, b) => a + b);
      return tsray.get(add.remote(this.value, 100));
    }
  });
  const counter = Counter.remote(start);
  await tsray.get(counter.bump.remote());
  return [Counter.descriptor.kind, await tsray.get(counter.bump.remote()), await tsray.get(counter.viaTask.remote())];
}).remote(10)));
await check('depthThree', () => tsray.get(tsray.remote(async (x) => {
  const middle = tsray.remote(async (y) => {
    const inner = tsray.remote((z) => 'inner saw ' + z);
    return tsray.get(inner.remote(y + 1));
  });
  return tsray.get(middle.remote(x + 1));
}).remote(1)));
await check('moduleImportedInTask', () => tsray.get(tsray.remote(async (url) => {
  const module = await import(url);
  return [module.tripleRemote.descriptor.kind, await tsray.get(module.tripleRemote.remote(5))];
}).remote(moduleUrl)));
await check('moduleFactoryInTask', () => tsray.get(tsray.remote(async (url) => {
  const module = await import(url);
  const doubler = module.makeDoubler();
  return [doubler.descriptor.kind, await tsray.get(doubler.remote(8))];
}).remote(moduleUrl)));
const module = await import(moduleUrl);
await check('moduleFactoryInDriver', async () => {
  const doubler = module.makeDoubler();
  return [doubler.descriptor.kind, await tsray.get(doubler.remote(4))];
});
await check('moduleInDriver', async () => [module.tripleRemote.descriptor.kind, await tsray.get(module.tripleRemote.remote(7))]);
console.log(JSON.stringify(results));
await tsray.shutdown();
`);
after(() => script.remove());

const expected = {
  functionInTask: ['source', 42],
  actorInTask: ['source', 12, 112],
  depthThree: 'inner saw 3',
  moduleImportedInTask: ['module', 15],
  moduleFactoryInTask: ['source', 16],
  moduleFactoryInDriver: ['source', 8],
  moduleInDriver: ['module', 21],
};

function runScript(nodeFlags: string[], sessionDir: string, scriptPath = script.path): unknown {
  const moduleUrl = pathToFileURL(join(packageRoot, 'dist/test/support/shipping-module.js')).href;
  const result = spawnSync(process.execPath, [...nodeFlags, scriptPath, sessionDir, moduleUrl], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}');
}

void test('remote functions and actors defined by by-source code ship by source at any depth; module top levels ship by reference', () => {
  assert.deepEqual(runScript([], join(script.sessionDir, 'plain')), expected);
});

void test('with --enable-source-maps a compiled module still ships by reference as the file that runs, not its TypeScript source', () => {
  assert.deepEqual(runScript(['--enable-source-maps'], join(script.sessionDir, 'source-maps')), expected);
});

void test('an entry script run through a symlink is still the entry script: its functions ship by source', () => {
  const link = join(script.sessionDir, 'linked-driver.mjs');
  symlinkSync(script.path, link);
  assert.deepEqual(runScript([], join(script.sessionDir, 'symlink'), link), expected);
});

void test('code given to node -e or on stdin as a module is the entry script: its functions and actors ship by source', () => {
  const source = `import * as tsray from 'tsray';
const inc = tsray.remote((x) => x + 1);
const Counter = tsray.remote(class Counter { value = 0; bump() { return ++this.value; } });
await tsray.init({ numCpus: 2, sessionDir: process.env.SESSION_DIR });
const counter = Counter.remote();
await tsray.get(counter.bump.remote());
console.log(JSON.stringify([inc.descriptor.kind, Counter.descriptor.kind, await tsray.get(inc.remote(41)), await tsray.get(counter.bump.remote())]));
await tsray.shutdown();
`;
  // Node names such code file:///<cwd>/[eval1]; from the package's dist/, 'tsray' resolves to the package.
  const cwd = join(packageRoot, 'dist');
  for (const [how, args, input] of [['-e', ['--input-type=module', '-e', source], undefined], ['stdin', ['--input-type=module'], source]] as const) {
    const result = spawnSync(process.execPath, args, { cwd, input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, SESSION_DIR: join(script.sessionDir, `eval-${how}`) } });
    assert.equal(result.status, 0, `${how}: ${result.stderr}`);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').pop() ?? '[]'), ['source', 'source', 42, 2], how);
  }
});
