/**
 * The embedded cluster of a live test file: started before its tests in a session folder of its
 * own, shut down after them, and the folder removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import * as tsray from '../../node/index.js';

/** Registers `before`/`after` hooks that run tsray with `options` (2 CPUs by default); returns the session folder. */
export function useEmbeddedCluster(name: string, options: tsray.InitOptions = {}): string {
  const sessionDir = mkdtempSync(join(tmpdir(), `tsray-${name}-`));
  before(async () => {
    await tsray.init({ numCpus: 2, ...options, sessionDir });
  });
  after(async () => {
    await tsray.shutdown();
    rmSync(sessionDir, { recursive: true, force: true });
  });
  return sessionDir;
}
