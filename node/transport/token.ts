/**
 * The cluster token: a secret that every connection's hello carries. The cluster runs shipped code,
 * so an open port without it would be remote code execution (DESIGN.md, Cluster).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, openSync, closeSync, readFileSync, renameSync, writeSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Bytes of randomness in a token; its hex form is twice as long. */
export const tokenBytes = 32;

/** A new cluster token: 32 random bytes as 64 lowercase hex digits. */
export function generateClusterToken(): string {
  return randomBytes(tokenBytes).toString('hex');
}

/** What is wrong with `token` as a cluster token, as one line, or undefined when it is well formed. */
export function tokenProblem(token: string): string | undefined {
  if (token === '') return 'the cluster token is empty';
  if (!/^[0-9a-f]+$/.test(token)) return 'the cluster token should be hex digits only (copy it exactly as `tsray start --head` printed it)';
  if (token.length !== tokenBytes * 2) return `the cluster token should be ${tokenBytes * 2} hex digits but has ${token.length}`;
  return undefined;
}

/**
 * Whether two tokens are equal, in time that depends on neither: both are hashed to 32 bytes first,
 * so their lengths leak nothing either (timingSafeEqual needs equal lengths).
 */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Writes `token` to `path`, readable by this user only (mode 0600), atomically: the file is written
 * under a temporary name with that mode and then renamed, so no reader sees a partial token and no
 * moment exists when it is readable by others (even if a file with a wider mode was there before).
 */
export function writeTokenFile(path: string, token: string): void {
  const problem = tokenProblem(token);
  if (problem !== undefined) throw new TypeError(`refusing to write a bad token to ${path}: ${problem}`);
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', 0o600);
  try {
    // The mode argument is masked by the umask; fchmod-equivalent on the path makes it exact.
    chmodSync(temporary, 0o600);
    writeSync(fd, `${token}\n`);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, path);
}

/** Reads a token written by `writeTokenFile`; a missing or malformed file throws a one-line error naming it. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read the cluster token from ${path} (${code ?? (error as Error).message}); pass --token, or run this on the head node`);
  }
  const token = text.trim();
  const problem = tokenProblem(token);
  if (problem !== undefined) throw new Error(`the token file ${path} is not valid: ${problem}`);
  return token;
}
