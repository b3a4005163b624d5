/**
 * Reading a trace file. A bad header makes the whole file unreadable; a bad event line is collected
 * with its line number, seq and source, and left out, so that replay never applies input it could not
 * check and the user learns exactly which line to look at.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { MintedIds } from './snapshots.js';
import { deliveredProblem, isMessageType, messageProblem } from '../protocol-decode.js';
import { chainSum, componentOfAddress, isReadableFormatVersion, splitSum, traceChainStart, traceFormatVersion } from './format.js';
import type { ComponentKind, Trace, TraceDecodeError, TraceEnd, TraceEntry, TraceHeader, TraceNote, TraceRejection, TraceSnapshot } from './format.js';
import { counted } from '../counted.js';

const recollect = 'the trace is corrupted: record or collect it again';
const headerHint = 'pass a trace written by `tsray trace collect` or `tsray sim`';

/** How to decode. */
export interface DecodeTraceOptions {
  /**
   * Whether to recompute the checksum chain (the default). Hashing every line costs about 15 ns per
   * character (a third of decoding); a viewer that opens a large trace at once may skip it and check
   * the file with another decode in the background. The closing line is still required.
   */
  readonly checksums?: boolean;
}

/**
 * Decodes a whole trace file. The Left is for a file without a valid header (including a format
 * version this tsray does not read); bad event lines go to `rejected`, and every break in the
 * checksum chain (an edited, moved, removed or added line, a missing closing line) to `integrity`.
 */
export function decodeTrace(text: string, options: DecodeTraceOptions = {}): E.Either<TraceDecodeError, Trace> {
  const lines = text.split('\n');
  let index = 0;
  while (index < lines.length && (lines[index] ?? '').trim() === '') index++;
  if (index === lines.length) return E.left({ lineNumber: 1, reason: `the trace is empty; ${headerHint}` });
  const headerLineNumber = index + 1;
  const headerLine = splitSum(lines[index] ?? '');
  const header = decodeHeader(headerLine.content);
  if (E.isLeft(header)) return E.left({ lineNumber: headerLineNumber, reason: `line ${headerLineNumber}: ${header.left}` });

  const entries: TraceEntry[] = [];
  const notes: TraceNote[] = [];
  const snapshots: TraceSnapshot[] = [];
  const rejected: TraceRejection[] = [];
  const integrity: TraceRejection[] = [];
  const chain = new ChainCheck(integrity, options.checksums ?? true);
  chain.check(headerLineNumber, headerLine, {});
  let lastSeq = 0;
  let ended = false;
  // The text ends with a newline, so its last piece is empty and is not a line.
  const lineCount = lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  for (index++; index < lineCount; index++) {
    const line = lines[index] ?? '';
    const lineNumber = index + 1;
    if (ended) {
      integrity.push({ lineNumber, reason: `line ${lineNumber}: a line follows the closing line; ${edited}` });
      continue;
    }
    if (line.trim() === '') {
      integrity.push({ lineNumber, reason: `line ${lineNumber}: a blank line inside the trace; ${edited}` });
      continue;
    }
    const split = splitSum(line);
    const decoded = decodeLine(split.content, lastSeq);
    if (E.isLeft(decoded)) {
      rejected.push({ lineNumber, ...decoded.left, reason: `line ${lineNumber}: ${decoded.left.reason}` });
      // A line that cannot be read is reported once, as rejected; the chain resumes at its sum if it kept one.
      chain.skip(split.sum);
      continue;
    }
    const value = decoded.right;
    if ('end' in value) {
      const before = chain.checked;
      chain.check(lineNumber, split, {});
      ended = true;
      if (value.lines !== before) {
        integrity.push({ lineNumber, reason: `line ${lineNumber}: the closing line counts ${value.lines} lines before it but the file has ${before}; ${edited}` });
      }
    } else if ('note' in value) {
      chain.check(lineNumber, split, value.seq === undefined ? {} : { seq: value.seq });
      notes.push(value);
    } else if ('snapshot' in value) {
      chain.check(lineNumber, split, { source: value.snapshot });
      snapshots.push(value);
    } else {
      chain.check(lineNumber, split, { seq: value.seq, source: value.address });
      entries.push(value);
      lastSeq = value.seq;
    }
  }
  if (!ended) {
    const lineNumber = lineCount + 1;
    integrity.push({ lineNumber, reason: `line ${lineNumber}: the trace has no closing line: it was cut short (truncated) or is still being written; collect or record it again` });
  }
  return E.right({ header: header.right, entries, notes, snapshots, rejected, integrity });
}

const edited = 'the file was changed after it was recorded: record or collect it again';

/** Follows the checksum chain line by line, reporting each line whose sum does not follow from the one before. */
class ChainCheck {
  /** The sum the next line must chain from; undefined after a line that could not be read. */
  private previous: string | undefined = traceChainStart;
  /** Lines taken into the chain so far (the closing line counts them). */
  checked = 0;

  constructor(
    private readonly problems: TraceRejection[],
    private readonly recompute: boolean,
  ) {}

  check(lineNumber: number, line: { readonly content: string; readonly sum?: string }, known: { readonly seq?: number; readonly source?: string }): void {
    this.checked += 1;
    const where = `line ${lineNumber}: ${describeEvent(known)}`;
    if (line.sum === undefined) {
      this.problems.push({ lineNumber, ...known, reason: `${where}the line has no checksum (it should end with "sum":"<16 hex digits>"); ${edited}` });
      this.previous = undefined;
      return;
    }
    // After an unreadable line the link cannot be checked; that line is already reported.
    if (this.recompute && this.previous !== undefined && chainSum(this.previous, line.content) !== line.sum) {
      this.problems.push({ lineNumber, ...known, reason: `${where}the checksum does not match: this line or the one before it was edited, moved, added or removed; ${edited}` });
    }
    // Chaining on the recorded sum keeps one edit to one report.
    this.previous = line.sum;
  }

  skip(sum: string | undefined): void {
    this.checked += 1;
    this.previous = sum;
  }
}

/**
 * Every problem of a decoded trace (rejected lines and breaks in its checksum chain), one line each,
 * in file order.
 */
export function traceProblems(trace: Trace): string[] {
  return [...trace.rejected, ...(trace.integrity ?? [])].sort((a, b) => a.lineNumber - b.lineNumber).map((problem) => problem.reason);
}

/**
 * A short report of many problems: the first `shown` as they are, then one line counting the rest,
 * so that a badly damaged file never prints hundreds of lines.
 */
export function summariseProblems(problems: readonly string[], shown = 5): string[] {
  if (problems.length <= shown) return [...problems];
  const rest = problems.length - shown;
  return [...problems.slice(0, shown), `and ${counted(rest, 'more problem')}`];
}

/**
 * The fixed prefix `encodeTraceLine` writes for an event line, up to the event object, in JSON's own
 * grammar (no leading zeros, no control characters in strings), so that what it matches is exactly
 * what `JSON.parse` would read there.
 */
// eslint-disable-next-line no-control-regex -- JSON strings cannot hold raw control characters, so neither can the prefix.
const writtenPrefix = /\{"seq":([1-9]\d*),"address":"([^"\\\x00-\x1f]+)","component":"(gcs|raylet|owner)","atMs":(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?),(?:"parent":([1-9]\d*),)?(?:"minted":(\{[^{}]*\}),)?"event":/y;

/** `,"hash":"` then 16 lowercase hex digits and `"`: how `encodeTraceLine` ends an entry with a hash, before its `}`. */
const writtenHash = /,"hash":"([0-9a-f]{16})"$/;

/**
 * `decodeLine` for an event line in the shape `encodeTraceLine` writes, parsing only its event:
 * `body` is the line without its sum and without the closing `}`. Gives the entry `decodeLine` gives,
 * or undefined when the line is not of that shape or has any problem (`decodeLine` then says which).
 * The replay pass reads a million lines; their fixed fields cost a regular expression, not a parse.
 */
export function decodeWrittenEntry(body: string, lastSeq: number): TraceEntry | undefined {
  writtenPrefix.lastIndex = 0;
  const prefix = writtenPrefix.exec(body);
  if (prefix === null) return undefined;
  const seq = Number(prefix[1]);
  const address = prefix[2] ?? '';
  const component = prefix[3] as ComponentKind;
  const atMs = Number(prefix[4]);
  const parent = prefix[5] === undefined ? undefined : Number(prefix[5]);
  if (seq <= lastSeq || componentOfAddress(address) !== component || !Number.isFinite(atMs) || (parent !== undefined && parent >= seq)) return undefined;
  // The hash, if any, is the last field: a field of the event cannot end the body, whose last `}` closes the event.
  const hash = body.charCodeAt(body.length - 1) === 0x22 ? writtenHash.exec(body) : null;
  const eventEnd = hash === null ? body.length : body.length - hash[0].length;
  let event: unknown;
  let minted: unknown;
  try {
    event = JSON.parse(body.slice(writtenPrefix.lastIndex, eventEnd));
    if (prefix[6] !== undefined) minted = JSON.parse(prefix[6]);
  } catch {
    return undefined;
  }
  if (eventProblem(component, event) !== undefined) return undefined;
  const typed = event as TraceEntry['event'];
  if (minted !== undefined) {
    if (mintedProblem(minted) !== undefined) return undefined;
    const entry = { seq, address, component, atMs, ...(parent === undefined ? {} : { parent }), minted: minted as MintedIds, event: typed };
    return hash === null ? entry : { ...entry, hash: hash[1] ?? '' };
  }
  // Four literals rather than spreads of temporary objects (a million lines make a million of those
  // for the collector), each with the key order JSON.parse of the whole line gives.
  if (parent === undefined) return hash === null ? { seq, address, component, atMs, event: typed } : { seq, address, component, atMs, event: typed, hash: hash[1] ?? '' };
  return hash === null ? { seq, address, component, atMs, parent, event: typed } : { seq, address, component, atMs, parent, event: typed, hash: hash[1] ?? '' };
}

/** Decodes a header line; the Left says what is wrong and what to do. */
export function decodeHeader(line: string): E.Either<string, TraceHeader> {
  const parsed = parseJson(line);
  if (E.isLeft(parsed)) return E.left(`the header is not valid JSON (${parsed.left}); ${headerHint}`);
  const header = parsed.right;
  if (!isRecord(header) || header['kind'] !== 'tsray-trace') return E.left(`this is not a tsray trace (the first line has no kind 'tsray-trace'); ${headerHint}`);
  const version = header['formatVersion'];
  if (!isReadableFormatVersion(version)) {
    if (typeof version === 'number' && version > traceFormatVersion) return E.left(`trace format version ${version} is newer than this tsray reads (${traceFormatVersion}); upgrade tsray`);
    if (typeof version === 'number' && Number.isInteger(version) && version >= 1) {
      return E.left(`trace format version ${version} is older than this tsray reads (2 and later add a checksum on every line): record or collect the trace again`);
    }
    return E.left(`trace format version ${describe(version)} is not one this tsray reads (2 or ${traceFormatVersion}); ${headerHint}`);
  }
  const reducers = header['reducers'];
  if (!isRecord(reducers) || !(['gcs', 'raylet', 'owner'] as const).every((kind) => Number.isInteger(reducers[kind]))) {
    return E.left(`the header's 'reducers' should give an integer version for gcs, raylet and owner; ${headerHint}`);
  }
  if (header['createdBy'] !== 'sim' && header['createdBy'] !== 'live') {
    return E.left(`the header's 'createdBy' should be 'sim' or 'live' but is ${describe(header['createdBy'])}; ${headerHint}`);
  }
  if (!('cluster' in header)) return E.left(`the header has no 'cluster' configuration; ${headerHint}`);
  for (const field of ['seed', 'workload'] as const) {
    if (header[field] !== undefined && typeof header[field] !== 'string') {
      return E.left(`the header's '${field}' should be a string but is ${describe(header[field])}; ${headerHint}`);
    }
  }
  return E.right(header as unknown as TraceHeader);
}

/** A bad line's details, as `decodeLine` reports them before the caller adds the line number. */
export type TraceLineProblem = Omit<TraceRejection, 'lineNumber'>;

/**
 * Decodes one line after the header, without its checksum (see `splitSum`): an event entry, a note
 * or the closing line. `lastSeq` is the seq of the previous valid entry (0 before the first),
 * because seqs must strictly increase.
 */
export function decodeLine(line: string, lastSeq: number): E.Either<TraceLineProblem, TraceEntry | TraceNote | TraceEnd | TraceSnapshot> {
  const parsed = parseJson(line);
  if (E.isLeft(parsed)) {
    const known = salvage(line);
    return E.left({ ...known, reason: `${describeEvent(known)}not valid JSON (${parsed.left}); ${recollect}` });
  }
  const value = parsed.right;
  if (!isRecord(value)) return E.left({ reason: `expected an event object but found ${describe(value)}; ${recollect}` });
  if ('note' in value && !('event' in value)) return decodeNote(value);
  if ('end' in value && !('event' in value)) return decodeEnd(value);
  if ('snapshot' in value && !('event' in value)) return decodeSnapshot(value);

  const seq = Number.isInteger(value['seq']) && (value['seq'] as number) >= 1 ? (value['seq'] as number) : undefined;
  const address = typeof value['address'] === 'string' && value['address'] !== '' ? value['address'] : undefined;
  const problem = entryProblem(value, seq, address, lastSeq);
  if (problem === undefined) return E.right(value as unknown as TraceEntry);
  // Built only for a bad line: a million good lines would each pay for it.
  const known = { ...(seq === undefined ? {} : { seq }), ...(address === undefined ? {} : { source: address }) };
  return E.left({ ...known, reason: `${describeEvent(known)}${problem}` });
}

function decodeEnd(value: Record<string, unknown>): E.Either<TraceLineProblem, TraceEnd> {
  const lines = value['lines'];
  if (value['end'] !== 'tsray-trace' || !(Number.isInteger(lines) && (lines as number) >= 1)) {
    return E.left({ reason: `the closing line should be {"end":"tsray-trace","lines":<count>} but has end ${describe(value['end'])} and lines ${describe(lines)}; ${recollect}` });
  }
  return E.right({ end: 'tsray-trace', lines: lines as number });
}

function decodeSnapshot(value: Record<string, unknown>): E.Either<TraceLineProblem, TraceSnapshot> {
  const address = value['snapshot'];
  if (typeof address !== 'string' || componentOfAddress(address) === undefined) {
    return E.left({ reason: `a snapshot line's 'snapshot' should be a component address but is ${describe(address)}; ${recollect}` });
  }
  const position = value['position'];
  if (!(Number.isInteger(position) && (position as number) >= 0)) {
    return E.left({ source: address, reason: `a snapshot line's 'position' should be an integer >= 0 but is ${describe(position)}; ${recollect}` });
  }
  if (!isRecord(value['state'])) return E.left({ source: address, reason: `a snapshot line's 'state' should be an object but is ${describe(value['state'])}; ${recollect}` });
  return E.right(value as unknown as TraceSnapshot);
}

function decodeNote(value: Record<string, unknown>): E.Either<TraceLineProblem, TraceNote> {
  if (typeof value['note'] !== 'string') return E.left({ reason: `a note line's 'note' should be a string but is ${describe(value['note'])}; ${recollect}` });
  const seq = value['seq'];
  if (seq !== undefined && !(Number.isInteger(seq) && (seq as number) >= 1)) {
    return E.left({ reason: `a note line's 'seq' should be an integer >= 1 but is ${describe(seq)}; ${recollect}` });
  }
  return E.right(value as unknown as TraceNote);
}

/** What is wrong with an entry, or undefined when it may be applied. */
function entryProblem(value: Record<string, unknown>, seq: number | undefined, address: string | undefined, lastSeq: number): string | undefined {
  if (seq === undefined) return `'seq' should be an integer >= 1 but is ${describe(value['seq'])}; ${recollect}`;
  if (seq <= lastSeq) return `seq ${seq} does not follow seq ${lastSeq} (seqs must strictly increase); the merged trace is out of order or has a duplicate: collect it again`;
  if (address === undefined) return `'address' should be a component address but is ${describe(value['address'])}; ${recollect}`;
  const component = value['component'];
  if (component !== 'gcs' && component !== 'raylet' && component !== 'owner') {
    return `'component' should be gcs, raylet or owner but is ${describe(component)}; ${recollect}`;
  }
  const expected: ComponentKind | undefined = componentOfAddress(address);
  if (expected !== component) {
    return `address '${oneLine(address)}' does not belong to a ${component} (addresses are gcs, raylet:<node> or worker:<worker>); ${recollect}`;
  }
  const atMs = value['atMs'];
  if (typeof atMs !== 'number' || !Number.isFinite(atMs)) return `'atMs' should be a number but is ${describe(atMs)}; ${recollect}`;
  const parent = value['parent'];
  if (parent !== undefined && !(Number.isInteger(parent) && (parent as number) >= 1 && (parent as number) < seq)) {
    return `'parent' should be the seq of an earlier event but is ${describe(parent)}; ${recollect}`;
  }
  const hash = value['hash'];
  if (hash !== undefined && !(typeof hash === 'string' && /^[0-9a-f]{16}$/.test(hash))) {
    return `'hash' should be 16 lowercase hex digits but is ${describe(hash)}; ${recollect}`;
  }
  if (value['minted'] !== undefined) {
    const problem = mintedProblem(value['minted']);
    if (problem !== undefined) return `${problem}; ${recollect}`;
  }
  return eventProblem(component, value['event']);
}

/** What is wrong with an entry's minted ids, or undefined. */
function mintedProblem(minted: unknown): string | undefined {
  const ids = (value: unknown): boolean => typeof value === 'string' && value !== '';
  if (!isRecord(minted)) return `'minted' should be an object but is ${describe(minted)}`;
  if (!Array.isArray(minted['objectIds']) || !minted['objectIds'].every(ids)) return `'minted' should list its 'objectIds' as strings`;
  for (const field of ['taskId', 'actorId'] as const) {
    if (minted[field] !== undefined && !ids(minted[field])) return `'minted.${field}' should be an id but is ${describe(minted[field])}`;
  }
  return undefined;
}

/**
 * A component's own events whose type is also a message's type (the owner's `actor/disposed` is the
 * shell's report that the instance's dispose method ran; the message of that name is what the owner
 * then sends the GCS, with its worker id). Logged without `via`, they are not messages and must not be
 * held to a message's fields. A test checks this set against the event unions when it compiles, so a
 * new clash cannot go unnoticed.
 */
export const localEventsNamedLikeMessages = {
  gcs: new Set<never>(),
  raylet: new Set<never>(),
  owner: new Set(['actor/disposed'] as const),
} satisfies Readonly<Record<ComponentKind, ReadonlySet<string>>>;

/** What is wrong with the event itself; a message event must also pass the protocol's edge check. */
function eventProblem(component: ComponentKind, event: unknown): string | undefined {
  if (!isRecord(event) || typeof event['type'] !== 'string' || event['type'] === '') {
    return `'event' should be an object with a string 'type'; ${recollect}`;
  }
  if (!isMessageType(event['type'])) return undefined;
  if (!('via' in event) && (localEventsNamedLikeMessages[component] as ReadonlySet<string>).has(event['type'])) return undefined;
  const problem = 'via' in event ? deliveredProblem(event) : messageProblem(event);
  return problem === undefined ? undefined : `${problem}; the line is corrupted or was written by another tsray version: replay it with the tsray that recorded it, or collect it again`;
}

/** Best effort for a line that is not JSON: its seq and address, if they can still be read. */
function salvage(line: string): { seq?: number; source?: string } {
  const seq = /"seq"\s*:\s*(\d+)/.exec(line)?.[1];
  const address = /"address"\s*:\s*"([^"\\]+)"/.exec(line)?.[1];
  return { ...(seq === undefined ? {} : { seq: Number(seq) }), ...(address === undefined ? {} : { source: address }) };
}

function describeEvent(known: { seq?: number; source?: string }): string {
  if (known.seq === undefined) return known.source === undefined ? '' : `event for ${known.source}: `;
  return known.source === undefined ? `seq ${known.seq}: ` : `seq ${known.seq} (${known.source}): `;
}

function parseJson(line: string): E.Either<string, unknown> {
  try {
    return E.right(JSON.parse(line) as unknown);
  } catch (error) {
    return E.left(oneLine(error instanceof Error ? error.message : String(error)));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short, one-line description of a bad value. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(oneLine(value));
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : `a ${typeof value}`;
}

/** Clips text for a one-line message. */
function oneLine(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
