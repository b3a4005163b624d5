import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateClusterToken, readTokenFile, tokenProblem, tokensMatch, writeTokenFile } from '../../../../node/transport/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsray-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void test('tokens are 64 hex digits, different each time, and compare equal only to themselves', () => {
  const a = generateClusterToken();
  const b = generateClusterToken();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, b);
  assert.equal(tokenProblem(a), undefined);
  assert.ok(tokensMatch(a, a));
  assert.ok(!tokensMatch(b, a));
  assert.ok(!tokensMatch(a.slice(0, 10), a), 'a prefix does not match (and lengths may differ)');
  assert.ok(!tokensMatch('', a));
  assert.match(tokenProblem('xyz') ?? '', /hex digits only/);
  assert.match(tokenProblem('abcd') ?? '', /64 hex digits but has 4/);
});

void test('the token file is written mode 0600, even over a file that was world-readable, and reads back', () => {
  const path = join(dir, 'token');
  writeFileSync(path, 'old\n', { mode: 0o644 });
  chmodSync(path, 0o644);
  const token = generateClusterToken();
  writeTokenFile(path, token);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(readTokenFile(path), token);
});

void test('a missing or malformed token file is a one-line error naming it', () => {
  assert.throws(() => readTokenFile(join(dir, 'absent')), /^Error: cannot read the cluster token from .*absent \(ENOENT\); pass --token/);
  const bad = join(dir, 'bad');
  writeFileSync(bad, 'not a token\n');
  assert.throws(() => readTokenFile(bad), /the token file .*bad is not valid: the cluster token should be hex digits only/);
});
