/**
 * The edge check for messages: frames read from sockets and events read from trace lines are
 * `unknown` until they pass here, so a reducer only ever sees a message of the shape protocol.ts
 * declares. Only the top-level fields are checked (their presence and JSON kind); the senders are
 * tsray processes of the same cluster, so this guards against corruption and version skew, not
 * against an adversary (the cluster token does that).
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Delivered, Message, MessageOf, Via } from './protocol.js';

/** The JSON kinds a field may have. `unknown` accepts anything, including a missing value. */
export type FieldKind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'unknown';

/** The kinds a TypeScript type may take at run time, one per member of a union. */
type KindOf<V> = unknown extends V
  ? 'unknown'
  : V extends string
    ? 'string'
    : V extends number
      ? 'number'
      : V extends boolean
        ? 'boolean'
        : V extends readonly unknown[]
          ? 'array'
          : V extends object
            ? 'object'
            : never;

/** A single kind, or two alternatives as `a|b` (in either order). */
type KindRule<K extends FieldKind> = { [A in K]: [Exclude<K, A>] extends [never] ? A : `${A}|${Exclude<K, A>}` }[K];

/** The rule for field `Key` of message `M`: its kinds, with a trailing `?` when the field is optional. */
type RuleOf<M, Key extends keyof M> = object extends Pick<M, Key> ? `${KindRule<KindOf<Exclude<M[Key], undefined>>>}?` : KindRule<KindOf<M[Key]>>;

/** The fields of one message type (all but `type`) and the rule each must satisfy. */
export type FieldSpec<M = Message> = { readonly [Key in Exclude<keyof M, 'type'>]-?: RuleOf<M, Key> };

/** Every message type with its field rules. */
export type MessageTable = { readonly [T in Message['type']]: FieldSpec<MessageOf<T>> };

/**
 * Every message of protocol.ts. The type makes the compiler reject a missing or unknown message type,
 * a missing or extra field, a field whose kind differs from protocol.ts, and optional fields
 * without `?` (or required ones with it), so the table cannot drift from the protocol.
 */
export const messageTable: MessageTable = {
  'lease/requested': {
    leaseId: 'string',
    requester: 'string',
    resources: 'object',
    placementResources: 'object',
    strategy: 'string|object',
    spillbackCount: 'number',
    actorId: 'string?',
  },
  'lease/cancelled': { leaseId: 'string' },
  'lease/granted': { leaseId: 'string', workerId: 'string', nodeId: 'string' },
  'lease/spilled': { leaseId: 'string', toNodeId: 'string' },
  'lease/rejected': { leaseId: 'string', reason: 'string', permanent: 'boolean' },
  'lease/infeasible': { leaseId: 'string', reason: 'string' },
  'lease/returned': { leaseId: 'string', workerId: 'string', disconnectWorker: 'boolean' },
  'lease/return-requested': { leaseId: 'string' },
  'lease/worker-died': { leaseId: 'string', workerId: 'string', reason: 'string' },
  'worker/blocked': { workerId: 'string', spell: 'number?', leaseId: 'string?' },
  'worker/unblocked': { workerId: 'string', spell: 'number?', leaseId: 'string?' },
  'worker/resumed': { workerId: 'string', spell: 'number?' },
  'worker/exit-requested': { workerId: 'string', turn: 'number' },
  'worker/exit-agreed': { workerId: 'string', turn: 'number' },
  'worker/kill-requested': { workerId: 'string', reason: 'string' },
  'object/put-requested': { objectId: 'string', owner: 'string', data: 'unknown', sizeBytes: 'number', refs: 'array' },
  'object/put-acked': { objectId: 'string' },
  'object/put-rejected': { objectId: 'string', reason: 'string' },
  'object/fetch-requested': { objectId: 'string', requester: 'string' },
  'object/fetched': { objectId: 'string', data: 'unknown', sizeBytes: 'number', refs: 'array' },
  'object/fetch-failed': { objectId: 'string', nodeId: 'string' },
  'object/free-requested': { objectIds: 'array' },
  'object/copy-added': { objectId: 'string', nodeId: 'string' },
  'object/chunk-requested': { objectId: 'string', pullId: 'string', offset: 'number', lengthBytes: 'number', requester: 'string' },
  'object/chunk-sent': { objectId: 'string', pullId: 'string', offset: 'number', totalBytes: 'number', bytes: 'unknown' },
  'object/chunk-failed': { objectId: 'string', pullId: 'string', reason: 'string' },
  'task/pushed': { spec: 'object', attempt: 'number', leaseId: 'string', args: 'array', after: 'object?' },
  'actor-task/pushed': { spec: 'object', attempt: 'number', caller: 'string', restartCount: 'number', seqNo: 'number', args: 'array' },
  'task/replied': { taskId: 'string', attempt: 'number', workerId: 'string', nodeId: 'string', result: 'object', releasedBorrows: 'array' },
  'task/cancel-requested': { taskId: 'string', recursive: 'boolean' },
  'object/status-requested': { objectId: 'string', requester: 'string' },
  'object/status-replied': { objectId: 'string', outcome: 'object' },
  'borrow/added': { objectId: 'string', borrower: 'string', ackTo: 'string', ackId: 'string' },
  'borrow/add-acked': { ackId: 'string' },
  'borrow/released': { objectId: 'string', borrower: 'string' },
  'node/registered': { nodeId: 'string', resources: 'object', transferAddress: 'string?' },
  'node/heartbeat': { nodeId: 'string', available: 'object', demand: 'array?' },
  'node/died': { nodeId: 'string' },
  'cluster/view-published': { nodes: 'array' },
  'worker/died': { workerId: 'string', nodeId: 'string', reason: 'string' },
  'job/registration-requested': { driverId: 'string', namespace: 'string' },
  'job/registration-replied': { jobId: 'string' },
  'job/finished': { jobId: 'string' },
  'job/finish-acked': { jobId: 'string' },
  'actor/registration-requested': { spec: 'object' },
  'actor/registration-replied': { requestedActorId: 'string', actorId: 'string', error: 'string?' },
  'actor/lookup-requested': { requestId: 'string', name: 'string', namespace: 'string', requester: 'string' },
  'actor/lookup-replied': { requestId: 'string', actorId: 'string?', spec: 'object?' },
  'actor/subscribed': { actorId: 'string', subscriber: 'string' },
  'actor/status-requested': { actorId: 'string' },
  'actor/status-replied': { actorId: 'string', aliasOf: 'string?', deathCause: 'string?' },
  'actor/infeasible': { actorId: 'string', restartCount: 'number', reason: 'string' },
  'actor/state-changed': {
    actorId: 'string',
    state: 'string',
    restartCount: 'number',
    workerId: 'string?',
    nodeId: 'string?',
    deathCause: 'string?',
    deathError: 'object?',
    spec: 'object?',
  },
  'actor/kill-requested': { actorId: 'string', noRestart: 'boolean' },
  'actor/creation-pushed': { spec: 'object', restartCount: 'number', leaseId: 'string' },
  'actor/creation-replied': { actorId: 'string', restartCount: 'number', workerId: 'string', error: 'object?' },
  'actor/out-of-scope': { actorId: 'string' },
  'actor/dispose-requested': { actorId: 'string', restartCount: 'number' },
  'actor/disposed': { actorId: 'string', restartCount: 'number', workerId: 'string' },
  'cluster/nodes-requested': { requestId: 'string', requester: 'string' },
  'cluster/nodes-replied': { requestId: 'string', nodes: 'array', pendingActors: 'array?' },
  'cluster/jobs-requested': { requestId: 'string', requester: 'string' },
  'cluster/jobs-replied': { requestId: 'string', jobs: 'array' },
  'state/cluster-requested': { requestId: 'string', requester: 'string', limit: 'number', filters: 'object?' },
  'state/cluster-replied': { requestId: 'string', report: 'object' },
  'state/node-requested': { requestId: 'string', requester: 'string', limit: 'number', filters: 'object?' },
  'state/node-replied': { requestId: 'string', report: 'object' },
  'state/owner-requested': { requestId: 'string', requester: 'string', limit: 'number', filters: 'object?' },
  'state/owner-replied': { requestId: 'string', report: 'object' },
  'logs/index-requested': { requestId: 'string', requester: 'string' },
  'logs/index-replied': { requestId: 'string', source: 'string', logs: 'array', error: 'string?' },
  'logs/events-requested': { requestId: 'string', requester: 'string', address: 'string', fromSeq: 'number', toSeq: 'number', maxBytes: 'number' },
  'logs/events-replied': { requestId: 'string', address: 'string', events: 'array', error: 'string?' },
};

/** Every message type, in table order. */
export const messageTypes: readonly Message['type'][] = Object.keys(messageTable) as Message['type'][];

/**
 * The message types as a set: a trace line's type is a string of its own (not the interned key), and
 * a set finds it faster than the table's own property lookup, which interns it first.
 */
const messageTypeSet: ReadonlySet<string> = new Set(messageTypes);

/** True when `type` names a message of protocol.ts. */
export function isMessageType(type: unknown): type is Message['type'] {
  return typeof type === 'string' && messageTypeSet.has(type);
}

const fixHint = 'check that the sender runs the same tsray version';

/**
 * What is wrong with `u` as a message, as one line without advice (callers add their own: a socket
 * and a trace file call for different remedies), or undefined when it is a valid message.
 */
export function messageProblem(u: unknown): string | undefined {
  // Every frame and trace line passes here: the compiled rules answer the usual case (a valid
  // message) without building anything; the words for a bad one come from the table itself.
  if (fitsCompiledRules(u)) return undefined;
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return `not a tsray message: expected an object with a 'type' but got ${describe(u)}`;
  const record = u as Record<string, unknown>;
  const type = record['type'];
  if (typeof type !== 'string') return `not a tsray message: 'type' should be a string but is ${describe(type)}`;
  if (!isMessageType(type)) return `'${oneLine(type)}' is not a tsray message type`;
  const spec = messageTable[type] as Readonly<Record<string, string>>;
  for (const [field, rule] of Object.entries(spec)) {
    const problem = checkField(record, field, rule);
    if (problem !== undefined) return `message '${type}' ${problem}`;
  }
  return undefined;
}

/** Bits of `FieldKind`s, for the compiled rules. */
const kindBits: Readonly<Record<FieldKind, number>> = { string: 1, number: 2, boolean: 4, object: 8, array: 16, unknown: 32 };

/** One field's rule, compiled: the kinds allowed as bits (`unknown` allows anything) and whether it may be missing. */
interface CompiledRule {
  readonly field: string;
  readonly kinds: number;
  readonly optional: boolean;
}

/** The message table with each rule parsed once, by type. */
const compiledTable: ReadonlyMap<string, readonly CompiledRule[]> = new Map(
  Object.entries(messageTable).map(([type, spec]): [string, CompiledRule[]] => [
    type,
    Object.entries(spec as Readonly<Record<string, string>>).map(([field, rule]) => {
      const optional = rule.endsWith('?');
      const kinds = (optional ? rule.slice(0, -1) : rule).split('|') as FieldKind[];
      return { field, optional, kinds: kinds.reduce((bits, kind) => bits | kindBits[kind], 0) };
    }),
  ]),
);

/** The bit of a present value's JSON kind, as `kindOf` decides it (0 for none of the kinds). */
function kindBit(value: unknown): number {
  if (typeof value === 'string') return kindBits.string;
  if (typeof value === 'number') return Number.isFinite(value) ? kindBits.number : 0;
  if (typeof value === 'boolean') return kindBits.boolean;
  if (typeof value !== 'object' || value === null) return 0;
  return Array.isArray(value) ? kindBits.array : kindBits.object;
}

/** Whether `u` is a valid message: the same answer as `messageProblem(u) === undefined`, faster. */
function fitsCompiledRules(u: unknown): boolean {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return false;
  const type = (u as Record<string, unknown>)['type'];
  if (typeof type !== 'string' || !isMessageType(type)) return false;
  const rules = compiledTable.get(type);
  if (rules === undefined) return false;
  for (const rule of rules) {
    if ((rule.kinds & kindBits.unknown) !== 0) continue;
    const value = (u as Record<string, unknown>)[rule.field];
    if (value === undefined) {
      if (!rule.optional) return false;
    } else if ((kindBit(value) & rule.kinds) === 0) {
      return false;
    }
  }
  return true;
}

/** As `messageProblem`, for a delivered message: also checks its `via` envelope. */
export function deliveredProblem(u: unknown): string | undefined {
  const problem = messageProblem(u);
  if (problem !== undefined) return problem;
  const viaProblem = checkVia((u as { via?: unknown }).via);
  return viaProblem === undefined ? undefined : `message '${(u as Message).type}' ${viaProblem}`;
}

/** Checks `u` against the message table; the Left is one line saying what is wrong and what to do. */
export function decodeMessage(u: unknown): E.Either<string, Message> {
  const problem = messageProblem(u);
  return problem === undefined ? E.right(u as Message) : E.left(`${problem}; ${fixHint}`);
}

/** Checks a delivered message: the message itself and its `via` envelope (sender, incarnation, sequence number). */
export function decodeDelivered(u: unknown): E.Either<string, Delivered<Message>> {
  const problem = deliveredProblem(u);
  return problem === undefined ? E.right(u as Delivered<Message>) : E.left(`${problem}; ${fixHint}`);
}

/** What is wrong with `via`, or undefined when it is a valid envelope. */
function checkVia(via: unknown): string | undefined {
  if (typeof via !== 'object' || via === null || Array.isArray(via)) return `has no 'via' envelope (got ${describe(via)})`;
  const { from, incarnation, seq, cause } = via as Partial<Record<keyof Via, unknown>>;
  if (typeof from !== 'string' || from === '') return `'via.from' should be a non-empty address but is ${describe(from)}`;
  if (!isCount(incarnation)) return `'via.incarnation' should be an integer >= 0 but is ${describe(incarnation)}`;
  if (!isCount(seq)) return `'via.seq' should be an integer >= 0 but is ${describe(seq)}`;
  if (cause !== undefined && !isCount(cause)) return `'via.cause' should be an event seq (an integer >= 0) but is ${describe(cause)}`;
  return undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** What is wrong with `record[field]` under `rule` (e.g. `string|object?`), or undefined when it fits. */
function checkField(record: Record<string, unknown>, field: string, rule: string): string | undefined {
  const optional = rule.endsWith('?');
  const kinds = (optional ? rule.slice(0, -1) : rule).split('|') as FieldKind[];
  if (kinds.includes('unknown')) return undefined;
  const value = record[field];
  if (value === undefined) return optional ? undefined : `is missing field '${field}' (${kinds.join(' or ')})`;
  const actual = kindOf(value);
  if ((kinds as string[]).includes(actual)) return undefined;
  return `field '${field}' should be ${kinds.map(article).join(' or ')} but is ${describe(value)}`;
}

/** The JSON kind of a present value; a non-finite number counts as no number at all. */
function kindOf(value: unknown): FieldKind | 'null' | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return Number.isFinite(value) ? 'number' : 'other';
  if (typeof value === 'boolean') return 'boolean';
  return typeof value === 'object' ? 'object' : 'other';
}

function article(kind: FieldKind): string {
  return kind === 'object' || kind === 'array' ? `an ${kind}` : `a ${kind}`;
}

/** A short description of a bad value for an error message, always on one line. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(oneLine(value))}`;
  if (typeof value === 'number') return Number.isFinite(value) ? `the number ${value}` : `the non-finite number ${value}`;
  return `a ${typeof value}`;
}

/** Clips text that goes into a one-line message: no line breaks, at most 60 characters. */
function oneLine(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
