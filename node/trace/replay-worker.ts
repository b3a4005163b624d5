/**
 * A worker thread of the debugger's parallel replay pass (parallel-replay.ts). It starts as the
 * index pass starts, on the core that pass leaves free, and checks the checksum chain of the lines
 * that start in its byte range, which needs no index. Then, given its components' events from the
 * index, it validates and replays them with debugger/replay-step.ts (the step the pass in one thread
 * takes), reading only their lines. It posts snapshots, divergences and the ids its events name as it
 * goes, then the first bad line it found, if any.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { TextHasher } from '../../core/hash.js';
import { mutationNamed } from '../../core/sim/mutations.js';
import { splitSum, traceChainStart, traceSumTailLength } from '../../core/trace/format.js';
import type { ReplayCores } from '../../core/trace/replay.js';
import { EntityRecorder } from '../../debugger/entity-index.js';
import { ComponentsReplay, chainLink } from '../../debugger/replay-step.js';
import type { ComponentDivergence } from '../../debugger/replay-step.js';
import { defaultCores } from '../../debugger/trace-index.js';
import type { ReplayWorkerData, ReplayWorkerJob, ReplayWorkerMessage, WorkerProblem } from './parallel-replay.js';

const data = workerData as ReplayWorkerData;

const post = (message: ReplayWorkerMessage): void => {
  // A progress message's id pairs move to the main thread rather than being copied.
  const transfer = message.kind === 'progress' ? [message.entities.events.buffer, message.entities.slots.buffer, message.entities.kindSlots.buffer, message.entities.kindMasks.buffer] : [];
  parentPort?.postMessage(message, transfer as ArrayBuffer[]);
};

const sumTail = traceSumTailLength;
const sumOpen = Buffer.from(',"sum":"');

/** Whether `bytes[start..end)` ends with a sum field that `splitSum` would read. */
function hasSum(bytes: Buffer, start: number, end: number): boolean {
  if (end - start < sumTail + 1) return false;
  const at = end - sumTail;
  for (let i = 0; i < sumOpen.length; i++) if (bytes[at + i] !== sumOpen[i]) return false;
  for (let i = at + 8; i < end - 2; i++) {
    const byte = bytes[i] ?? 0;
    if (!((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66))) return false;
  }
  return bytes[end - 2] === 0x22 && bytes[end - 1] === 0x7d;
}

/** Reads `length` bytes at `offset` in the file into `buffer` from `at`; returns how many (fewer only at the end). */
function readAt(descriptor: number, buffer: Buffer, offset: number, length: number, at = 0): number {
  let filled = 0;
  while (filled < length) {
    const got = readSync(descriptor, buffer, at + filled, length - filled, offset + filled);
    if (got === 0) break;
    filled += got;
  }
  return filled;
}

/** The 1-based number of the line that starts at byte `offset`: the newlines before it, plus one. */
function lineNumberAt(descriptor: number, offset: number, chunkBytes: number): number {
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let lines = 1;
  for (let from = 0; from < offset; from += chunkBytes) {
    const got = readAt(descriptor, buffer, from, Math.min(chunkBytes, offset - from));
    for (let at = buffer.indexOf(10, 0); at >= 0 && at < got; at = buffer.indexOf(10, at + 1)) lines++;
    if (got === 0) break;
  }
  return lines;
}

/** Bytes read at a time while looking around one place in the file. */
const windowBytes = 1 << 16;

/** The start of the first line that starts at or after byte `from`. */
function nextLineStart(descriptor: number, from: number): number {
  if (from === 0) return 0;
  const buffer = Buffer.allocUnsafe(windowBytes);
  for (let offset = from - 1; offset < data.sizeBytes; offset += windowBytes) {
    const got = readAt(descriptor, buffer, offset, windowBytes);
    const newline = buffer.subarray(0, got).indexOf(10);
    if (newline >= 0) return offset + newline + 1;
    if (got === 0) break;
  }
  return data.sizeBytes;
}

/** Whitespace bytes in ASCII, as `trim` takes them. */
function isAsciiSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/**
 * The sum the line starting at `lineStart` chains from: that of the last non-blank line before it,
 * or undefined at the chain's start. A non-blank line there without a sum also gives undefined: the
 * worker whose range holds that line reports it, on an earlier line than any this one could.
 */
function sumBefore(descriptor: number, lineStart: number): Uint8Array | undefined {
  const tail = Buffer.allocUnsafe(sumTail + 1);
  // The line before ends at `end` (its newline).
  let end = lineStart - 1;
  while (end > 0) {
    const tailStart = Math.max(0, end - sumTail - 1);
    const got = readAt(descriptor, tail, tailStart, end - tailStart);
    if (got === sumTail + 1 && tail[0] !== 10 && hasSum(tail, 0, got)) return Uint8Array.from(tail.subarray(got - 18, got - 2));
    // No sum: a blank line is skipped, any other ends the search.
    let start = end;
    const window = Buffer.allocUnsafe(windowBytes);
    for (;;) {
      const from = Math.max(0, start - windowBytes);
      const read = readAt(descriptor, window, from, start - from);
      let at = read - 1;
      while (at >= 0 && window[at] !== 10) {
        const byte = window[at] ?? 0;
        if (byte < 0x80 && !isAsciiSpace(byte)) return undefined;
        at--;
      }
      if (at >= 0 || from === 0) {
        start = from + at + 1;
        break;
      }
      start = from;
    }
    const text = Buffer.allocUnsafe(end - start);
    readAt(descriptor, text, start, end - start);
    if (text.toString('utf8').trim() !== '') return undefined;
    end = start - 1;
  }
  return undefined;
}

/**
 * The first line starting in [chainFrom, chainTo) whose link in the chain is broken, if any. The
 * chain needs only each line and the sum on the non-blank line before it, so the range is read
 * alone, after that one sum.
 */
function checkChain(descriptor: number): WorkerProblem | undefined {
  const hasher = new TextHasher();
  let bufferStart = nextLineStart(descriptor, data.chainFrom);
  if (bufferStart >= data.chainTo) return undefined;
  // The sum the next line chains from: 16 hex digits, or none at the chain's start.
  const before = sumBefore(descriptor, bufferStart);
  const previous = before ?? new Uint8Array(16);
  let atChainStart = before === undefined;
  const previousText = (): string => (atChainStart ? traceChainStart : Buffer.from(previous).toString('latin1'));
  let buffer = Buffer.allocUnsafe(data.chunkBytes);
  let filled = 0;
  for (;;) {
    const got = bufferStart + filled < data.sizeBytes ? readAt(descriptor, buffer, bufferStart + filled, buffer.length - filled, filled) : 0;
    filled += got;
    const atEnd = got === 0 || bufferStart + filled >= data.sizeBytes;
    let at = 0;
    while (at < filled) {
      let newline = buffer.indexOf(10, at);
      if (newline < 0 || newline >= filled) {
        if (!atEnd) break;
        newline = filled;
      }
      const start = at;
      const end = newline;
      at = newline + 1;
      const fileStart = bufferStart + start;
      if (fileStart >= data.chainTo) return undefined;
      let text: string | undefined;
      if (buffer[start] !== 0x7b) {
        text = buffer.toString('utf8', start, end);
        if (text.trim() === '') continue;
      }
      const summed = hasSum(buffer, start, end);
      if (fileStart >= data.chainFrom) {
        let matches = false;
        if (summed) {
          hasher.reset();
          if (!atChainStart) hasher.putAscii(previous, 0, 16);
          matches = hasher.put('\n').putAscii(buffer, start, end - sumTail) && hasher.put('}').matchesHex(buffer, end - 18);
        }
        if (!matches) {
          // Not ASCII, no sum, or a mismatch: decide as the pass in one thread does, from the text.
          text ??= buffer.toString('utf8', start, end);
          const link = chainLink(previousText(), text);
          if (link.problem !== undefined) return { lineNumber: lineNumberAt(descriptor, fileStart, data.chunkBytes), chain: true, reason: link.problem };
        }
      }
      // A line without a sum leaves the chain where it was (and is reported by whoever checks it).
      if (summed) {
        for (let i = 0; i < 16; i++) previous[i] = buffer[end - 18 + i] ?? 0;
        atChainStart = false;
      }
    }
    if (atEnd) return undefined;
    // Keep the unfinished line: at the start of the buffer, in a bigger one if it fills it.
    const rest = filled - at;
    const next = rest * 2 > buffer.length ? Buffer.allocUnsafe(buffer.length * 2) : buffer;
    buffer.copy(next, 0, at, filled);
    buffer = next;
    bufferStart += at;
    filled = rest;
  }
}

/** Validates and replays this worker's events (those before `stopLine`), reading only their lines. */
function replayEvents(descriptor: number, job: ReplayWorkerJob, stopLine: number): WorkerProblem | undefined {
  const mutation = job.mutation === undefined ? undefined : mutationNamed(job.mutation);
  if (job.mutation !== undefined && mutation === undefined) throw new Error(`no broken recipe '${job.mutation}'`);
  const cores: ReplayCores = { ...defaultCores, ...mutation?.cores };
  const mine = job.events;
  let snapshots: [number, number, string][] = [];
  let divergences: [number, ComponentDivergence][] = [];
  const replay = new ComponentsReplay(cores, job.addresses, job.components, job.snapshotEvery, {
    snapshot: (addressId, position, state) => snapshots.push([addressId, position, state]),
    divergence: (addressId, divergence) => divergences.push([addressId, divergence]),
  }, job.snapshotBytesPerEvent, job.applies);
  const entities = new EntityRecorder();
  const count = mine.index.length;
  let buffer = Buffer.allocUnsafe(data.chunkBytes);
  let bufferStart = 0;
  let filled = 0;
  let problem: WorkerProblem | undefined;
  let event = 0;
  while (event < count && problem === undefined) {
    const lineNumber = mine.lineNumber[event] ?? 0;
    if (lineNumber >= stopLine) break;
    const start = mine.start[event] ?? 0;
    const end = mine.end[event] ?? 0;
    // The line with the byte before it and its newline, to see that it is still a line there.
    const first = Math.max(0, start - 1);
    if (first < bufferStart || end + 1 > bufferStart + filled) {
      post({ kind: 'progress', reached: mine.index[event] ?? job.eventCount, bytesDone: start, snapshots, divergences, entities: entities.take() });
      snapshots = [];
      divergences = [];
      if (end + 1 - first > buffer.length) buffer = Buffer.allocUnsafe(Math.max(buffer.length * 2, end + 1 - first));
      bufferStart = first;
      filled = readAt(descriptor, buffer, first, buffer.length);
    }
    const from = start - bufferStart;
    const to = end - bufferStart;
    const endsThere = end === data.sizeBytes ? to <= filled : to < filled && buffer[to] === 10;
    const startsThere = start === 0 || buffer[from - 1] === 10;
    if (!endsThere || !startsThere) {
      problem = { lineNumber, chain: false, reason: 'the line was not found again: the file changed while it was open; open it again' };
      break;
    }
    const lastSeq = mine.previousSeq[event] ?? 0;
    const addressId = mine.addressId[event] ?? 0;
    const seq = mine.seq[event] ?? 0;
    const type = job.types[mine.typeId[event] ?? 0] ?? '';
    const index = mine.index[event] ?? 0;
    const bad = hasSum(buffer, from, to)
      ? replay.stepBody(buffer.toString('utf8', from, to - sumTail), lastSeq, addressId, seq, type, entities, index)
      : replay.step(splitSum(buffer.toString('utf8', from, to)).content, lastSeq, addressId, seq, type, entities, index);
    if (bad !== undefined) {
      problem = { lineNumber, chain: false, reason: bad };
      break;
    }
    event++;
  }
  const reached = event < count ? (mine.index[event] ?? job.eventCount) : job.eventCount;
  post({ kind: 'progress', reached, bytesDone: data.sizeBytes, snapshots, divergences, entities: entities.take() });
  return problem;
}

/** The first bad line of two, in file order; on the same line, a broken chain first. */
function earlier(a: WorkerProblem | undefined, b: WorkerProblem | undefined): WorkerProblem | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.lineNumber < b.lineNumber || (a.lineNumber === b.lineNumber && a.chain) ? a : b;
}

const failed = (error: unknown): void => post({ kind: 'failed', reason: error instanceof Error ? (error.stack ?? error.message) : String(error) });
let descriptor = -1;
let chained: WorkerProblem | undefined;
let ready = false;
try {
  descriptor = openSync(data.path, 'r');
  if (!data.chainAfterReplay) chained = checkChain(descriptor);
  ready = true;
} catch (error) {
  if (descriptor >= 0) closeSync(descriptor);
  // Without a listener the thread then ends: the main thread runs the pass itself.
  failed(error);
}
if (ready) parentPort?.once('message', (job: ReplayWorkerJob) => {
  try {
    // A chain checked later does not stop the replay: its bad line is compared with the replay's after.
    const problem = replayEvents(descriptor, job, chained?.lineNumber ?? Infinity);
    if (data.chainAfterReplay) chained = checkChain(descriptor);
    const first = earlier(chained, problem);
    post({ kind: 'done', ...(first === undefined ? {} : { problem: first }) });
  } catch (error) {
    failed(error);
  } finally {
    closeSync(descriptor);
  }
});
