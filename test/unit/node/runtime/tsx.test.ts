/**
 * A driver written in TypeScript and run with tsx: TypeScript modules are shipped by reference (their
 * workers load them through tsx too), and by-source functions survive esbuild's rewriting.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const sessionDir = mkdtempSync(join(tmpdir(), 'tsray-tsx-'));
after(() => rmSync(sessionDir, { recursive: true, force: true }));

void test('a tsx driver runs functions from a .ts module by reference and by-source functions rewritten by esbuild, nested ones too', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/fixtures/tsx-driver.ts'), sessionDir], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}'), { module: { text: 'hello world' }, source: 42, nested: 2 });
});
