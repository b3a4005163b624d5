/**
 * A worker thread of the debugger's parallel replay pass (parallel-replay.ts): it reads the whole
 * trace file in large chunks, checks the checksum chain of the lines that start in its byte range,
 * and validates and replays the event lines of its components with debugger/replay-step.ts, the same
 * step the pass in one thread takes. It posts snapshots and divergences as it goes, then the ids its
 * events name and the first bad line it found, if any.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { TextHasher } from '../../core/hash.js';
import { mutationNamed } from '../../core/sim/mutations.js';
import { splitSum, traceChainStart } from '../../core/trace/format.js';
import type { ReplayCores } from '../../core/trace/replay.js';
import { EntityRecorder } from '../../debugger/entity-index.js';
import { ComponentsReplay, chainLink } from '../../debugger/replay-step.js';
import type { ComponentDivergence } from '../../debugger/replay-step.js';
import { defaultCores } from '../../debugger/trace-index.js';
import type { ReplayWorkerData, ReplayWorkerMessage } from './parallel-replay.js';

const data = workerData as ReplayWorkerData;
const { events: mine } = data;
const post = (message: ReplayWorkerMessage): void => {
  // A progress message's id pairs move to the main thread rather than being copied.
  const transfer = message.kind === 'progress' ? [message.entities.events.buffer, message.entities.slots.buffer, message.entities.kinds.buffer] : [];
  parentPort?.postMessage(message, transfer as ArrayBuffer[]);
};

/** `,"sum":"` then 16 hex digits and `"}`: how every line of a version 2 trace ends. */
const sumTail = 26;
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

function run(): void {
  const mutation = data.mutation === undefined ? undefined : mutationNamed(data.mutation);
  if (data.mutation !== undefined && mutation === undefined) throw new Error(`no broken recipe '${data.mutation}'`);
  const cores: ReplayCores = { ...defaultCores, ...mutation?.cores };
  let snapshots: [number, number, string][] = [];
  let divergences: [number, ComponentDivergence][] = [];
  const replay = new ComponentsReplay(cores, data.addresses, data.components, data.snapshotEvery, {
    snapshot: (addressId, position, state) => snapshots.push([addressId, position, state]),
    divergence: (addressId, divergence) => divergences.push([addressId, divergence]),
  });
  const entities = new EntityRecorder();
  const hasher = new TextHasher();
  // The sum the next line chains from: 16 hex digits, or none at the chain's start.
  const previous = new Uint8Array(16);
  let atChainStart = true;
  const previousText = (): string => (atChainStart ? traceChainStart : Buffer.from(previous).toString('latin1'));
  const count = mine.index.length;
  // The next of this worker's events, by its position in `mine`.
  let event = 0;
  let lineNumber = 0;
  let problem: { lineNumber: number; chain: boolean; reason: string } | undefined;
  const descriptor = openSync(data.path, 'r');
  let buffer = Buffer.allocUnsafe(data.chunkBytes);
  // The last non-blank line before this worker's chain range, whose sum is not taken yet.
  let pendingStart = -1;
  let pendingEnd = -1;
  const takePending = (): void => {
    if (pendingStart < 0) return;
    // One without a sum leaves the chain as it was; the worker that checks that line reports it.
    if (hasSum(buffer, pendingStart, pendingEnd)) {
      for (let i = 0; i < 16; i++) previous[i] = buffer[pendingEnd - 18 + i] ?? 0;
      atChainStart = false;
    }
    pendingStart = -1;
  };
  let filled = 0;
  let bufferStart = 0;
  try {
    for (;;) {
      const got = bufferStart + filled < data.sizeBytes ? readSync(descriptor, buffer, filled, buffer.length - filled, bufferStart + filled) : 0;
      filled += got;
      const atEnd = got === 0;
      let at = 0;
      while (at < filled && problem === undefined) {
        let newline = buffer.indexOf(10, at);
        if (newline < 0 || newline >= filled) {
          if (!atEnd) break;
          newline = filled;
        }
        const start = at;
        const end = newline;
        at = newline + 1;
        lineNumber++;
        const fileStart = bufferStart + start;
        let text: string | undefined;
        if (buffer[start] !== 0x7b) {
          text = buffer.toString('utf8', start, end);
          if (text.trim() === '') continue;
        }
        const isMine = event < count && fileStart === mine.start[event];
        if (fileStart < data.chainFrom) {
          // Before its range a worker needs only the sum of the last line there, taken when it gets there.
          pendingStart = start;
          pendingEnd = end;
          if (!isMine) continue;
        }
        const checked = fileStart >= data.chainFrom && fileStart < data.chainTo;
        if (!checked && !isMine) continue;
        const summed = hasSum(buffer, start, end);
        if (checked) {
          takePending();
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
            if (link.problem !== undefined) problem = { lineNumber, chain: true, reason: link.problem };
          }
        }
        // A line without a sum leaves the chain where it was (and is reported by whoever checks it).
        if (checked && summed) {
          for (let i = 0; i < 16; i++) previous[i] = buffer[end - 18 + i] ?? 0;
          atChainStart = false;
        }
        if (problem !== undefined) break;
        if (isMine) {
          const content = summed ? `${buffer.toString('utf8', start, end - sumTail)}}` : splitSum(text ?? buffer.toString('utf8', start, end)).content;
          const named = replay.step(content, mine.previousSeq[event] ?? 0, mine.addressId[event] ?? 0, mine.seq[event] ?? 0, data.types[mine.typeId[event] ?? 0] ?? '');
          if (typeof named === 'string') {
            problem = { lineNumber, chain: false, reason: named };
            break;
          }
          entities.add(named, mine.index[event] ?? 0);
          event++;
        }
      }
      if (problem !== undefined || atEnd) break;
      takePending();
      // Keep the unfinished line: at the start of the buffer, in a bigger one if it fills it.
      const rest = filled - at;
      const next = rest * 2 > buffer.length ? Buffer.allocUnsafe(buffer.length * 2) : buffer;
      buffer.copy(next, 0, at, filled);
      buffer = next;
      bufferStart += at;
      filled = rest;
      post({ kind: 'progress', reached: mine.index[event] ?? data.eventCount, bytesDone: bufferStart, snapshots, divergences, entities: entities.take() });
      snapshots = [];
      divergences = [];
    }
  } finally {
    closeSync(descriptor);
  }
  if (problem === undefined && event < count) {
    problem = { lineNumber: mine.lineNumber[event] ?? 0, chain: false, reason: 'the line was not found again: the file changed while it was open; open it again' };
  }
  post({ kind: 'progress', reached: problem === undefined ? data.eventCount : (mine.index[event] ?? data.eventCount), bytesDone: data.sizeBytes, snapshots, divergences, entities: entities.take() });
  post({ kind: 'done', ...(problem === undefined ? {} : { problem }) });
}

try {
  run();
} catch (error) {
  post({ kind: 'failed', reason: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
