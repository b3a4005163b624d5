/**
 * Driver scripts for tests that run tsray in a child process, as a user's script runs: the script is
 * written inside the package (so `import 'tsray'` resolves to it) and removed afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root folder (dist/test/support → ../../..). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A written driver script and a session folder for it; `remove` deletes both. */
export interface DriverScript {
  readonly path: string;
  readonly sessionDir: string;
  readonly remove: () => void;
}

/** Writes `source` as `dist/<name>.mjs` and makes a temporary session folder. */
export function writeDriverScript(name: string, source: string): DriverScript {
  const path = join(packageRoot, 'dist', `${name}.mjs`);
  const sessionDir = mkdtempSync(join(tmpdir(), `tsray-${name}-`));
  writeFileSync(path, source);
  return {
    path,
    sessionDir,
    remove: () => {
      rmSync(path, { force: true });
      rmSync(sessionDir, { recursive: true, force: true });
    },
  };
}
