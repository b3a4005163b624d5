/**
 * The shared-memory handoff between a cluster node and the drivers on its host. A node's store is a
 * SharedArrayBuffer, which no other process can map, so large objects cross between the node and a
 * local driver through files in a folder of /dev/shm (memory, not disk: tmpfs) that both open, in
 * place of chunks over the TCP connection:
 *
 * - a driver's large put is written there at the call (one copy, straight from the caller's arrays,
 *   which is also the put's capture), and the node reads it into its store and removes it;
 * - a large object a driver reads is written there by the node (one copy out of its store), and the
 *   driver reads it into each value it decodes (one copy) until its owner lets go of the object.
 *
 * Each file belongs to one side at a time and is never rewritten, so nothing is read half-written:
 * a put's file is the node's to remove once written, a staged read's is the driver's (the node
 * removes those of a driver that disconnected). The folder is bounded (`limitBytes`, the bytes of
 * its files): a write that would pass it fails naming the limit. The folder is named by the node
 * and records the node's pid; the node removes it when it stops, and any node start or `tsray stop`
 * sweeps the folders of nodes that died without removing theirs.
 *
 * LMDB with writemap was the first choice (DESIGN.md), but lmdb 3.5.6 here aborts in
 * mdb_freelist_save when a large value is put again after one was removed with useWritemap, and
 * without writemap a fresh 64 MiB value went in at ~0.3 GB/s; plain files on tmpfs need no map
 * management and move bytes with one kernel copy each way.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { isRunning } from '../process-liveness.js';

/** The default bound of a node's handoff folder: 1 GiB (a 256 MiB object each way, with room). */
export const defaultHandoffBytes = 1024 * 1024 * 1024;

/** The environment variable that bounds a node's handoff folder, in bytes. */
export const handoffBytesVariable = 'TSRAY_SHM_STORE_BYTES';

/** The environment variable naming the folder handoff folders go in (default /dev/shm). */
export const handoffRootVariable = 'TSRAY_SHM_DIR';

/** The file in a handoff folder that names its node's process and the folder's bound. */
const ownerFileName = 'node.json';

/** What the owner file holds. */
interface HandoffOwner {
  readonly pid: number;
  readonly nodeId: string;
  readonly limitBytes: number;
}

/** A write that would take the handoff folder past its bound. */
export class HandoffFullError extends Error {
  override readonly name = 'HandoffFullError';
}

/** Where handoff folders go: TSRAY_SHM_DIR, else /dev/shm. */
export function handoffRoot(): string {
  const root = process.env[handoffRootVariable];
  return root === undefined || root === '' ? '/dev/shm' : root;
}

/** The prefix of this user's handoff folders (other users' are neither read nor swept). */
function folderPrefix(): string {
  return `tsray-${process.getuid?.() ?? 0}-`;
}

/** The handoff folder of node `nodeId`. */
export function handoffDir(nodeId: string, root = handoffRoot()): string {
  return join(root, `${folderPrefix()}${nodeId}`);
}

/** The bound TSRAY_SHM_STORE_BYTES sets (default `defaultHandoffBytes`); throws naming it when it is not a whole number. */
export function handoffLimitBytes(): number {
  const text = process.env[handoffBytesVariable];
  if (text === undefined || text === '') return defaultHandoffBytes;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${handoffBytesVariable} must be a whole number of bytes (0 turns the shared mapping off), not '${text}'`);
  return value;
}

function readOwner(dir: string): HandoffOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(dir, ownerFileName), 'utf8')) as HandoffOwner;
    return typeof owner.pid === 'number' && typeof owner.limitBytes === 'number' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the handoff folders of this user whose node process is no longer running (it was killed,
 * or crashed before removing its own); returns how many.
 */
export function sweepStaleHandoffs(root = handoffRoot()): number {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return 0;
  }
  let swept = 0;
  for (const name of names) {
    if (!name.startsWith(folderPrefix())) continue;
    const dir = join(root, name);
    const owner = readOwner(dir);
    // A folder being made has no owner file for a moment: only one older than that counts as stale.
    if (owner === undefined && Date.now() - safeMtimeMs(dir) < 10_000) continue;
    if (owner !== undefined && isRunning(owner.pid)) continue;
    rmSync(dir, { recursive: true, force: true });
    swept += 1;
  }
  return swept;
}

function safeMtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Whether a file name is one a handoff folder holds (no path separators, no dot names). */
function isFileName(name: string): boolean {
  return /^[pgd]-[A-Za-z0-9._:-]+$/.test(name) && !name.includes('..');
}

/** How a driver's files in its node's handoff folder are named: the last part of its worker id (`d1a2b3c4d`). */
export function driverKeyOf(workerId: string): string {
  return workerId.slice(workerId.lastIndexOf('.') + 1);
}

/** One part of a file: bytes to write at an offset. */
export interface HandoffPart {
  readonly at: number;
  readonly bytes: Uint8Array;
}

/** A node's handoff folder, as the node or one of its local drivers opens it. */
export class ShmHandoff {
  private constructor(
    readonly dir: string,
    readonly limitBytes: number,
    /** Whether this process made the folder (and removes it when it closes). */
    private readonly owned: boolean,
  ) {}

  /**
   * The node makes its folder; returns it, or the one-line reason there is none (no such root, a
   * bound of 0), in which case its drivers use TCP.
   */
  static create(nodeId: string, limitBytes: number, root = handoffRoot()): ShmHandoff | string {
    if (limitBytes === 0) return `${handoffBytesVariable} is 0`;
    const dir = handoffDir(nodeId, root);
    try {
      if (!statSync(root).isDirectory()) return `${root} is not a folder`;
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, ownerFileName), JSON.stringify({ pid: process.pid, nodeId, limitBytes } satisfies HandoffOwner), { mode: 0o600 });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      return `cannot make ${dir}: ${(error as Error).message}`;
    }
    return new ShmHandoff(dir, limitBytes, true);
  }

  /**
   * A driver opens the folder of node `nodeId`, if it is on this host; returns it, or the one-line
   * reason it cannot (the node is on another host, or made no folder).
   */
  static attach(nodeId: string, root = handoffRoot()): ShmHandoff | string {
    const dir = handoffDir(nodeId, root);
    const owner = readOwner(dir);
    if (owner === undefined || owner.nodeId !== nodeId || !isRunning(owner.pid)) return `no shared mapping of node ${nodeId} at ${dir} (it runs on another host, or made none)`;
    return new ShmHandoff(dir, owner.limitBytes, false);
  }

  private path(name: string): string {
    if (!isFileName(name)) throw new Error(`'${name}' is not a handoff file name`);
    return join(this.dir, name);
  }

  /** Whether the folder holds `name`. */
  has(name: string): boolean {
    try {
      statSync(this.path(name));
      return true;
    } catch {
      return false;
    }
  }

  /** The bytes the folder's object files take now. */
  usedBytes(): number {
    let total = 0;
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      if (!name.startsWith('p-') && !name.startsWith('g-')) continue;
      try {
        total += statSync(join(this.dir, name)).size;
      } catch {
        // Removed meanwhile by the other side.
      }
    }
    return total;
  }

  /** Writes a small marker file (a driver's, so that its node knows it reads through the folder). */
  mark(name: string): void {
    writeFileSync(this.path(name), String(process.pid), { mode: 0o600 });
  }

  /**
   * Writes `parts` into a new file `name` of `totalBytes` (one copy of each part); throws
   * HandoffFullError, naming the bound, when the folder would pass it.
   */
  write(name: string, totalBytes: number, parts: readonly HandoffPart[]): void {
    const path = this.path(name);
    const fd = this.createSized(path, totalBytes);
    try {
      for (const { at, bytes } of parts) {
        let done = 0;
        while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, at + done);
      }
    } catch (error) {
      rmSync(path, { force: true });
      throw error;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * As `write`, with the bytes copied off the main thread (by libuv's pool), so that a node stays
   * responsive while it stages a large object. The bound is checked, and the file made at its full
   * size, before the first await: writes under way count against the bound.
   */
  async writeAsync(name: string, totalBytes: number, parts: readonly HandoffPart[]): Promise<void> {
    const path = this.path(name);
    const fd = this.createSized(path, totalBytes);
    closeSync(fd);
    try {
      const handle = await open(path, 'r+');
      try {
        for (const { at, bytes } of parts) {
          let done = 0;
          while (done < bytes.byteLength) done += (await handle.write(bytes, done, bytes.byteLength - done, at + done)).bytesWritten;
        }
      } finally {
        await handle.close();
      }
    } catch (error) {
      rmSync(path, { force: true });
      throw error;
    }
  }

  /** Makes file `path` of `totalBytes`, or throws HandoffFullError naming the bound; returns its descriptor. */
  private createSized(path: string, totalBytes: number): number {
    const usedBytes = this.usedBytes();
    if (usedBytes + totalBytes > this.limitBytes) {
      throw new HandoffFullError(`the shared mapping ${this.dir} is full: ${totalBytes} bytes do not fit (${usedBytes} of ${this.limitBytes} bytes in use; ${handoffBytesVariable} on the node's \`tsray start\`); let go of large objects or raise it`);
    }
    const fd = openSync(path, 'wx', 0o600);
    try {
      ftruncateSync(fd, totalBytes);
    } catch (error) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw error;
    }
    return fd;
  }

  /** As `readInto`, with the bytes copied off the main thread (by libuv's pool). */
  async readIntoAsync(name: string, target: Uint8Array): Promise<void> {
    const handle = await open(this.path(name), 'r');
    try {
      let done = 0;
      while (done < target.byteLength) {
        const { bytesRead } = await handle.read(target, done, target.byteLength - done, done);
        if (bytesRead === 0) throw new Error(`handoff file ${name} ended after ${done} of ${target.byteLength} bytes`);
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }

  /** Reads file `name`, which must be `target.byteLength` bytes long, into `target` (one copy). */
  readInto(name: string, target: Uint8Array): void {
    const fd = openSync(this.path(name), 'r');
    try {
      let done = 0;
      while (done < target.byteLength) {
        const read = readSync(fd, target, done, target.byteLength - done, done);
        if (read === 0) throw new Error(`handoff file ${name} ended after ${done} of ${target.byteLength} bytes`);
        done += read;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Removes file `name`, if it is there. */
  remove(name: string): void {
    rmSync(this.path(name), { force: true });
  }

  /** Removes the files of driver `driverKey` (its marker, its puts and the reads staged for it). */
  removeDriver(driverKey: string): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name === `d-${driverKey}` || name.startsWith(`p-${driverKey}-`) || name.startsWith(`g-${driverKey}-`)) rmSync(join(this.dir, name), { force: true });
    }
  }

  /** The node removes its folder and everything in it; a driver only stops using it. */
  close(): void {
    if (this.owned) rmSync(this.dir, { recursive: true, force: true });
  }
}
