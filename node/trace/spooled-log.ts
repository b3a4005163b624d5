/**
 * The logs that `tsray trace collect --address` fetches from a cluster's live processes, kept in
 * files while they arrive and read back event by event as the merge takes them. Fetched whole, a
 * log's events were all held at once, as objects (a session of 400,000 tiny tasks is 1.6 million
 * events, some 3 GB); the merge needs only each log's next event. A log is fetched in chunks over
 * its process's connection (node/cluster/cluster-tool.ts): each chunk's events are appended to the
 * log's file here, one line each, and the file is read in blocks once every log has arrived. The
 * files live in a folder of the system's temporary folder, which `LogSpool.remove` deletes (or, when
 * its process was killed outright, the next collect).
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Address } from '../../core/ids.js';
import type { ComponentKind } from '../../core/trace/format.js';
import type { LogEventRecord, LogIndexEntry } from '../../core/protocol.js';
import { isRunning } from '../process-liveness.js';
import { CollectError, fetchedEvent, firstEventCount, liveHashesOf, type CollectedEvent, type LogSource } from './collect.js';

/** Lines written to a log's file in one write, at most about this many characters. */
const writeBatchChars = 1024 * 1024;
/** How many bytes of a log's file are read at once. */
const readBlockBytes = 1024 * 1024;

/** How a spool's folder is named in the temporary folder: this, the pid of its process, a dash and a random tail. */
const spoolPrefix = 'tsray-collect-';
/** A spool's folder name, with its process's pid. */
const spoolName = new RegExp(`^${spoolPrefix}(\\d+)-`);

/** Deletes the spools in the temporary folder whose process no longer runs; one that cannot be read or deleted is left. */
function removeAbandonedSpools(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = spoolName.exec(name)?.[1];
    if (pid === undefined || isRunning(Number(pid))) continue;
    try {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    } catch {
      // Another user's, or in use after all: it stays.
    }
  }
}

/** A folder of spooled logs, made in the system's temporary folder. */
export class LogSpool {
  readonly dir: string;
  /**
   * The memory every source of this spool reads its file's blocks into: the merge reads one source
   * at a time, and each block is decoded into text before the next read, so one serves them all
   * (a block per source held a MiB for each of a cluster's logs, hundreds of them with many workers).
   */
  readonly block = Buffer.allocUnsafe(readBlockBytes);
  private files = 0;
  private readonly open = new Set<number>();

  /**
   * Makes the folder, named after this process, once the folders of collects whose process no longer
   * runs (killed outright, where nothing could delete them) are deleted.
   *
   * @throws CollectError (one line) when no folder can be made in the temporary folder.
   */
  constructor() {
    removeAbandonedSpools();
    try {
      this.dir = mkdtempSync(join(tmpdir(), `${spoolPrefix}${process.pid}-`));
    } catch (error) {
      throw new CollectError(`cannot make a folder for the fetched logs in ${tmpdir()}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; set TMPDIR to a writable folder with room for them`);
    }
  }

  /**
   * A new log file, into which the events of the log that `entry` lists are written as `name` (a
   * node or a driver) sends them; it becomes a source when `finish`ed.
   */
  writer(name: string, entry: LogIndexEntry): SpoolWriter {
    const path = join(this.dir, `${this.files++}.log`);
    const fd = openSync(path, 'w');
    this.open.add(fd);
    return new SpoolWriter(name, entry, path, fd, (closed) => this.open.delete(closed));
  }

  /** Deletes the folder and every file in it (a source read after this fails). */
  remove(): void {
    for (const fd of this.open) closeSync(fd);
    this.open.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Called by a source when it opened its file for reading, so `remove` closes it. */
  opened(fd: number): () => void {
    this.open.add(fd);
    return () => {
      if (this.open.delete(fd)) closeSync(fd);
    };
  }
}

/** Writes one fetched log to its file, line by line: seq, time, parent and the event's JSON text, tab-separated. */
export class SpoolWriter {
  private pending: string[] = [];
  private pendingChars = 0;
  private lastSeq = 0;
  private readonly firstEvents: CollectedEvent[] = [];

  constructor(
    private readonly name: string,
    private readonly entry: LogIndexEntry,
    private readonly path: string,
    private readonly fd: number,
    private readonly closed: (fd: number) => void,
  ) {}

  /**
   * Adds one event as it came. Its JSON text is checked as it would be read whole: the first few
   * events, which a trace's header is made from, are parsed now, and every other text when the merge
   * reads it.
   *
   * @throws CollectError (one line) when the text of one of the first events, or of one that holds a
   *   line break, is not JSON.
   */
  add(record: LogEventRecord): void {
    const parent = Number.isInteger(record.parent) ? (record.parent as number) : undefined;
    const first = this.firstEvents.length < firstEventCount;
    // A line break may stand between JSON's tokens (never inside a string, where it is escaped): such
    // text is parsed now, and its trace form (which has none) written, so that each event stays one
    // line; text that is no JSON fails here.
    const parsed = first || record.json.includes('\n') ? fetchedEvent(this.name, this.entry.address, record.seq, record.atMs, record.json, parent) : undefined;
    if (first && parsed !== undefined) this.firstEvents.push(parsed);
    const json = parsed?.text ?? record.json;
    const line = `${record.seq}\t${record.atMs}\t${parent ?? ''}\t${json}\n`;
    this.pending.push(line);
    this.pendingChars += line.length;
    this.lastSeq = record.seq;
    if (this.pendingChars >= writeBatchChars) this.writePending();
  }

  /** Ends the file; returns the log as a source that reads it from `spool`. */
  finish(spool: LogSpool): LogSource {
    this.writePending();
    closeSync(this.fd);
    this.closed(this.fd);
    return new SpooledSource(this.name, this.entry, this.path, this.lastSeq, this.firstEvents, spool);
  }

  /** @throws CollectError (one line) when the file cannot take them (a full disk). */
  private writePending(): void {
    if (this.pending.length === 0) return;
    try {
      writeSync(this.fd, this.pending.join(''));
    } catch (error) {
      throw new CollectError(`cannot write the fetched log of ${this.entry.address} to ${this.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; free room there or set TMPDIR to a folder with room`);
    }
    this.pending = [];
    this.pendingChars = 0;
  }
}

/** A spooled log read back as the merge takes its events (see `LogSource`). */
class SpooledSource implements LogSource {
  readonly address: Address;
  readonly component: ComponentKind;
  readonly liveHashes: ReadonlyMap<number, string>;
  private fd: number | undefined;
  private close: (() => void) | undefined;
  private readonly decoder = new StringDecoder('utf8');
  /** Text read but not yet taken apart into lines, and where in it the next line starts. */
  private text = '';
  private at = 0;
  private ended = false;
  private head: CollectedEvent | undefined;

  constructor(
    private readonly name: string,
    entry: LogIndexEntry,
    private readonly path: string,
    readonly lastSeq: number,
    readonly firstEvents: readonly CollectedEvent[],
    private readonly spool: LogSpool,
  ) {
    this.address = entry.address;
    this.component = entry.component;
    this.liveHashes = liveHashesOf(entry);
  }

  peek(): CollectedEvent | undefined {
    this.head ??= this.next();
    return this.head;
  }

  take(): void {
    this.head = undefined;
  }

  /** The next event of the file, or undefined at its end (when the file is closed). */
  private next(): CollectedEvent | undefined {
    const line = this.nextLine();
    if (line === undefined) return undefined;
    const firstTab = line.indexOf('\t');
    const secondTab = line.indexOf('\t', firstTab + 1);
    const thirdTab = line.indexOf('\t', secondTab + 1);
    const seq = Number(line.slice(0, firstTab));
    const atMs = Number(line.slice(firstTab + 1, secondTab));
    const parentText = line.slice(secondTab + 1, thirdTab);
    if (thirdTab < 0 || !Number.isInteger(seq) || !Number.isFinite(atMs)) throw new CollectError(`the spooled log of ${this.address} in ${this.path} is damaged; collect again`);
    return fetchedEvent(this.name, this.address, seq, atMs, line.slice(thirdTab + 1), parentText === '' ? undefined : Number(parentText));
  }

  /** The next line of the file, without its line break; undefined at its end. */
  private nextLine(): string | undefined {
    for (;;) {
      const end = this.text.indexOf('\n', this.at);
      if (end >= 0) {
        const line = this.text.slice(this.at, end);
        this.at = end + 1;
        return line;
      }
      if (this.ended) return undefined;
      this.readBlock();
    }
  }

  /** Reads the next block of the file onto what is left of the text; at the end, closes the file. */
  private readBlock(): void {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, 'r');
      this.close = this.spool.opened(this.fd);
    }
    const block = this.spool.block;
    const read = readSync(this.fd, block, 0, block.length, null);
    this.text = this.text.slice(this.at) + (read === 0 ? this.decoder.end() : this.decoder.write(block.subarray(0, read)));
    this.at = 0;
    if (read === 0) {
      this.ended = true;
      this.close?.();
    }
  }
}
