/**
 * A node's spill space: where a put goes when the shared-memory store cannot take it, as Ray spills
 * objects to local disk when its store is full. Each spilled object is one file under the session
 * dir (`<sessionDir>/spill/<nodeId>/`), written once and read by every get of it into private memory.
 *
 * One file per object rather than appended segments: only values of `inlineThresholdBytes` or more
 * ever reach the store, so a file's own cost is small beside its bytes, and freeing an object is one
 * unlink that gives its disk back at once, where a segment would keep the bytes of freed objects until
 * all of its objects were freed or it was compacted. (Ray fuses small objects into shared files to
 * save the IOPS of many small ones; values here are never small.)
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { EncodedData } from '../runtime/values.js';
import { flatLayout } from '../runtime/stored-values.js';
import type { SpilledData } from '../runtime/stored-values.js';

/** The environment variable that sets a node's spill capacity in bytes (`0` turns spilling off). */
export const spillBytesVariable = 'TSRAY_SPILL_BYTES';

/** The default spill capacity, as a multiple of the node's objectStoreMemory (bounded by free disk). */
export const spillStoreMultiple = 4;

/**
 * The share of the disk left free: spilling stops short of filling it (Ray's default stops spilling
 * once the disk is 95% full), so that logs and the rest of the machine keep room.
 */
export const diskHeadroomShare = 0.05;

/**
 * A node's spill capacity: `TSRAY_SPILL_BYTES` when set (a count of bytes; 0 turns spilling off),
 * else `spillStoreMultiple` times its store, bounded by what the disk of `dir` has free beyond its
 * headroom now. A disk whose free space cannot be read bounds nothing.
 */
export function spillCapacityBytes(dir: string, storeBytes: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[spillBytesVariable];
  if (text !== undefined && text.trim() !== '') {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${spillBytesVariable} must be a whole number of bytes ≥ 0 (the most a node spills to disk when its object store is full; 0 turns spilling off), not '${text}'`);
    return value;
  }
  const wanted = spillStoreMultiple * storeBytes;
  try {
    const disk = statfsSync(dir);
    const freeBytes = disk.bavail * disk.bsize - diskHeadroomShare * disk.blocks * disk.bsize;
    return Math.max(0, Math.min(wanted, Math.floor(freeBytes)));
  } catch {
    return wanted;
  }
}

/** The folder of a node's spill files in a session. */
export function spillDir(sessionDir: string, nodeId: string): string {
  return join(sessionDir, 'spill', nodeId);
}

/** The node's spill files, by object. */
export class SpillSpace {
  private readonly files = new Map<string, SpilledData>();
  /** The bytes of the files written and not deleted. */
  usedBytes = 0;
  private made = false;

  /**
   * @param dir the folder of the files (made at the first spill, removed by `close`).
   * @param capacityBytes the most its files may hold together.
   */
  constructor(
    readonly dir: string,
    readonly capacityBytes: number,
  ) {}

  /** The descriptor of `objectId`'s file, if it is spilled here. */
  get(objectId: string): SpilledData | undefined {
    return this.files.get(objectId);
  }

  /**
   * Writes a value to a new file, its parts laid out as in the store (blobs 64-byte aligned), and
   * returns its descriptor; undefined when it would take the space past its capacity. An object
   * already spilled here keeps its file.
   */
  write(objectId: string, data: EncodedData): SpilledData | undefined {
    const known = this.files.get(objectId);
    if (known !== undefined) return known;
    const { sizeBytes, layout } = flatLayout(data);
    if (this.usedBytes + sizeBytes > this.capacityBytes) return undefined;
    if (!this.made) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.made = true;
    }
    const file = join(this.dir, `${encodeURIComponent(objectId)}.spill`);
    const fd = openSync(file, 'w', 0o600);
    try {
      // Each part is written from the caller's memory where it lies: no flattened copy of the value.
      writeAll(fd, data.body, 0);
      data.blobs.forEach((blob, index) => writeAll(fd, new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength), layout.blobs[index]?.[0] ?? 0));
      // The file is as long as the layout says, its alignment padding included (and one byte for a value of none).
      ftruncateSync(fd, sizeBytes);
    } catch (error) {
      closeSync(fd);
      rmSync(file, { force: true });
      throw error;
    }
    closeSync(fd);
    const spilled: SpilledData = { spilledObjectId: objectId, file, totalBytes: sizeBytes, layout };
    this.files.set(objectId, spilled);
    this.usedBytes += sizeBytes;
    return spilled;
  }

  /** Deletes `objectId`'s file, if it is spilled here; whether it was. */
  delete(objectId: string): boolean {
    const spilled = this.files.get(objectId);
    if (spilled === undefined) return false;
    this.files.delete(objectId);
    this.usedBytes -= spilled.totalBytes;
    rmSync(spilled.file, { force: true });
    return true;
  }

  /** Removes every spill file and the folder (at the node's stop: its objects go with it). */
  close(): void {
    this.files.clear();
    this.usedBytes = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Writes all of `bytes` to `fd` at `position`. */
function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}

/** Fills `target` from a spilled value's open file `fd`, starting at `offset` of the file. */
function readAll(fd: number, data: SpilledData, target: Uint8Array, offset: number): void {
  let done = 0;
  while (done < target.byteLength) {
    const read = readSync(fd, target, done, target.byteLength - done, offset + done);
    if (read === 0) throw new Error(`spill file ${data.file} ended after ${offset + done} of ${data.totalBytes} bytes`);
    done += read;
  }
}

/** Reads `lengthBytes` of a spilled value's file from `offset` into a new Buffer (a chunk served to another node). */
export function readSpilledRange(data: SpilledData, offset: number, lengthBytes: number): Buffer {
  const target = Buffer.allocUnsafe(lengthBytes);
  const fd = openSync(data.file, 'r');
  try {
    readAll(fd, data, target, offset);
  } finally {
    closeSync(fd);
  }
  return target;
}

/**
 * Reads a spilled value's file into new memory of this thread (every get reads its own copy, so its
 * arrays are private and writable). A file gone means its object was freed, or its node stopped.
 */
export function readSpilled(data: SpilledData): Uint8Array {
  const target = new Uint8Array(data.totalBytes);
  let fd: number;
  try {
    fd = openSync(data.file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`object ${data.spilledObjectId} was spilled to ${data.file}, which is gone: the object was freed, or its node stopped`);
    throw error;
  }
  try {
    readAll(fd, data, target, 0);
  } finally {
    closeSync(fd);
  }
  return target;
}
