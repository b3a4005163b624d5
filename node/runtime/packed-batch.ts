/**
 * A batch of component messages between two threads of this process, with its task pushes and task
 * replies packed as flat lists of their fields. The structured clone that carries a batch between
 * threads pays per object and per property, on both sides: a `task/pushed` is about ten objects and
 * forty properties, and the driver's thread serialised every push of P1 and deserialised every reply.
 * Packed, a push is its varying fields in a list, and the fields that repeat from one task to the
 * next (the function, its job and owner, the lease, the link) are written once per batch as a
 * template. The receiving thread rebuilds each message as it was sent, so no component, log or trace
 * ever sees the packed form: it lives between `Router.post` and the receivers of thread ports only
 * (worker-threads.ts and worker-main.ts). A message of any other type, or of an unexpected shape
 * (an extra field, a call made inside a task, a result other than returned values), goes as itself.
 * Actor calls pack as pushes do: P3's driver posted each call as the whole message tree (about a dozen
 * objects) and its actor's thread rebuilt it from the clone.
 */
import type { Delivered, Message } from '../../core/protocol.js';
import { packedMap } from '../../core/packed-map.js';

/** A batch between threads, with some of its messages packed (see the module comment). */
export interface PackedBatch {
  readonly kind: 'tsray/packed-messages';
  /** The batch's messages in order: a message as itself, or the index in `fields` where a packed one starts. */
  readonly items: (Delivered<Message> | number)[];
  /** The packed messages' fields, one after the other (see `packPush` and `packReply`). */
  readonly fields: unknown[];
  /** The fields packed messages share, each list once (see `pushTemplate` and `replyTemplate`). */
  readonly templates: unknown[][];
}

/** Whether a thread message is a packed batch. */
export function isPackedBatch(value: unknown): value is PackedBatch {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tsray/packed-messages';
}

/** A packed push's first field (after it, its template's index). */
const pushTag = 0;
/** A packed reply's first field. */
const replyTag = 1;
/** The first field of a packed push whose one argument is an inline value without refs: its data and size are packed instead of the argument lists. */
const inlinePushTag = 2;
/** The first field of a packed reply whose one return is an inline value without refs: its data and size are packed instead of the payload list. */
const inlineReplyTag = 3;

/** A packed actor call's first field. */
const actorPushTag = 4;
/** The first field of a packed actor call whose one argument is an inline value without refs (as `inlinePushTag`). */
const inlineActorPushTag = 5;

/** Whether `payload` is exactly `{ kind: 'inline', data, sizeBytes, refs: [] }`. */
function bareInline(payload: unknown): payload is { readonly kind: 'inline'; readonly data: unknown; readonly sizeBytes: number; readonly refs: readonly unknown[] } {
  if (typeof payload !== 'object' || payload === null) return false;
  const fields = payload as Loose;
  const refs = fields['refs'];
  return fields['kind'] === 'inline' && Array.isArray(refs) && refs.length === 0 && 'data' in fields && typeof fields['sizeBytes'] === 'number' && keyCount(payload) === 4;
}

/**
 * The one empty list that every rebuilt payload without refs, and every rebuilt reply without
 * released borrows, shares. A driver keeps each return's payload in its object's record until the
 * ObjectRef is collected, which waits for a full collection (FinalizationRegistry): an empty list
 * made per reply was 32 bytes more that every actor call's return (P3 in bench/) carried through
 * two scavenges into the old generation. Frozen, as the codec's own empty lists are: nothing
 * writes a payload's refs or a reply's borrows.
 */
const emptyList: readonly never[] = Object.freeze([]);

/** An inline payload without refs, rebuilt. */
function inlinePayload(data: unknown, sizeBytes: unknown): unknown {
  return { kind: 'inline', data, sizeBytes, refs: emptyList };
}

/** The own enumerable keys of `value` (`for...in` on a plain object reads V8's enum cache: no list is made). */
function keyCount(value: object): number {
  let count = 0;
  for (const key in value) if (Object.hasOwn(value, key)) count += 1;
  return count;
}

/** A delivered message's fields, as packing reads them (every one may be absent on an unexpected shape). */
interface Loose {
  readonly [key: string]: unknown;
}

/** Whether `via` is an envelope with exactly from, incarnation, seq and, if present, cause. */
function plainVia(via: unknown): via is { readonly from: string; readonly incarnation: number; readonly seq: number; readonly cause?: number } {
  if (typeof via !== 'object' || via === null) return false;
  const fields = via as Loose;
  return typeof fields['from'] === 'string' && typeof fields['incarnation'] === 'number' && typeof fields['seq'] === 'number' && keyCount(via) === (fields['cause'] === undefined ? 3 : 4) && (fields['cause'] === undefined || typeof fields['cause'] === 'number');
}

/**
 * Packs a `task/pushed` of the usual shape into `fields`; returns false (packing nothing) for any
 * other. Its spec must have exactly the fields `taskSpecOf` gives a plain task (no parent task, no
 * actor); its `args`, when they are the spec's value arguments wrapped again (as every push of
 * values makes them), are packed as `true` and rebuilt from the spec's; one such argument, inline
 * and without refs, is packed as its data and size alone.
 */
function packPush(message: Loose, fields: unknown[], templates: unknown[][]): boolean {
  const spec = message['spec'] as Loose | undefined;
  const after = message['after'] as Loose | undefined;
  const via = message['via'];
  const to = message['to'];
  if (typeof spec !== 'object' || spec === null || !plainVia(via) || typeof to !== 'string') return false;
  if (keyCount(message) !== (after === undefined ? 7 : 8) || keyCount(spec) !== 11) return false;
  if (after !== undefined && (typeof after !== 'object' || after === null || keyCount(after) !== 2 || typeof after['taskId'] !== 'string' || typeof after['attempt'] !== 'number')) return false;
  const specArgs = spec['args'];
  const args = message['args'];
  if (!Array.isArray(specArgs) || !Array.isArray(args) || !('taskId' in spec && 'jobId' in spec && 'owner' in spec && 'returnIds' in spec && 'name' in spec && 'functionId' in spec && 'resources' in spec && 'maxRetries' in spec && 'retryExceptions' in spec && 'strategy' in spec)) return false;
  if (!('attempt' in message && 'leaseId' in message)) return false;
  const template = pushTemplateIndex(templates, spec, message, via, to);
  const returnIds = spec['returnIds'];
  // One return id (the usual case) goes as itself, not as a list of one.
  const packedReturnIds = Array.isArray(returnIds) && returnIds.length === 1 && typeof returnIds[0] === 'string' ? returnIds[0] : returnIds;
  const mirrored = mirrors(args, specArgs);
  const only = specArgs.length === 1 ? (specArgs[0] as Loose) : undefined;
  if (mirrored && only !== undefined && keyCount(only) === 2 && bareInline(only['payload'])) {
    const payload = only['payload'];
    fields.push(inlinePushTag, template, spec['taskId'], packedReturnIds, payload.data, payload.sizeBytes, message['attempt'], after === undefined ? null : after['taskId'], after === undefined ? 0 : after['attempt'], via.seq, via.cause ?? null);
    return true;
  }
  fields.push(pushTag, template, spec['taskId'], packedReturnIds, specArgs, mirrored ? true : args, message['attempt'], after === undefined ? null : after['taskId'], after === undefined ? 0 : after['attempt'], via.seq, via.cause ?? null);
  return true;
}

/**
 * The index in `templates` of a push's template (see `packPush`): the last one when its fields are
 * this push's, which they are for every push of a batch on one lease, else a new one added. As for
 * an actor call's (`actorTemplateIndex`), the fields are compared where they are: a list made per
 * push to be compared and dropped was twelve slots, about 110 bytes a tiny task on the driver's
 * thread in P1 of bench/.
 */
function pushTemplateIndex(templates: unknown[][], spec: Loose, message: Loose, via: { readonly from: string; readonly incarnation: number }, to: string): number {
  const last = templates.length - 1;
  const t = templates[last];
  if (t !== undefined && t.length === 12 && sameSpecFields(t, spec) && t[8] === message['leaseId'] && t[9] === via.from && t[10] === via.incarnation && t[11] === to) return last;
  templates.push([...specFields(spec), message['leaseId'], via.from, via.incarnation, to]);
  return last + 1;
}

/** The fields of a spec that a push's or an actor call's template holds first, in this order. */
function specFields(spec: Loose): unknown[] {
  return [spec['jobId'], spec['owner'], spec['name'], spec['functionId'], spec['resources'], spec['maxRetries'], spec['retryExceptions'], spec['strategy']];
}

/** Whether template `t` starts with `spec`'s fields as `specFields` lists them, compared where they are (no list is made). */
function sameSpecFields(t: readonly unknown[], spec: Loose): boolean {
  return (
    t[0] === spec['jobId'] &&
    t[1] === spec['owner'] &&
    t[2] === spec['name'] &&
    t[3] === spec['functionId'] &&
    t[4] === spec['resources'] &&
    t[5] === spec['maxRetries'] &&
    t[6] === spec['retryExceptions'] &&
    t[7] === spec['strategy']
  );
}

/**
 * Packs an `actor-task/pushed` of the usual shape into `fields`; returns false (packing nothing) for
 * any other. Its spec must have exactly the fields `taskSpecOf` gives an actor call made outside a
 * task (no parent task); the actor, caller, incarnation and the call's function go in the template,
 * and its arguments as a push's do.
 */
function packActorPush(message: Loose, fields: unknown[], templates: unknown[][]): boolean {
  const spec = message['spec'] as Loose | undefined;
  const via = message['via'];
  const to = message['to'];
  if (typeof spec !== 'object' || spec === null || !plainVia(via) || typeof to !== 'string') return false;
  if (keyCount(message) !== 9 || keyCount(spec) !== 12) return false;
  const actor = spec['actor'] as Loose | undefined;
  if (typeof actor !== 'object' || actor === null || keyCount(actor) !== 2 || typeof actor['actorId'] !== 'string' || typeof actor['method'] !== 'string') return false;
  const specArgs = spec['args'];
  const args = message['args'];
  if (!Array.isArray(specArgs) || !Array.isArray(args) || !('taskId' in spec && 'jobId' in spec && 'owner' in spec && 'returnIds' in spec && 'name' in spec && 'functionId' in spec && 'resources' in spec && 'maxRetries' in spec && 'retryExceptions' in spec && 'strategy' in spec)) return false;
  if (!('attempt' in message && 'caller' in message && 'restartCount' in message && 'seqNo' in message)) return false;
  const template = actorTemplateIndex(templates, spec, actor, message, via, to);
  const returnIds = spec['returnIds'];
  const packedReturnIds = Array.isArray(returnIds) && returnIds.length === 1 && typeof returnIds[0] === 'string' ? returnIds[0] : returnIds;
  // The pushed args are the spec's own list when every argument is a value (see pushedArgs).
  const same = args === specArgs;
  const only = specArgs.length === 1 ? (specArgs[0] as Loose) : undefined;
  if (same && only !== undefined && keyCount(only) === 2 && only['kind'] === 'value' && bareInline(only['payload'])) {
    const payload = only['payload'];
    fields.push(inlineActorPushTag, template, spec['taskId'], packedReturnIds, payload.data, payload.sizeBytes, message['attempt'], message['seqNo'], via.seq, via.cause ?? null);
    return true;
  }
  fields.push(actorPushTag, template, spec['taskId'], packedReturnIds, specArgs, same ? true : args, message['attempt'], message['seqNo'], via.seq, via.cause ?? null);
  return true;
}

/**
 * The index in `templates` of an actor call's template (see `packActorPush`): the last one when its
 * fields are this call's, which they are for every call of a batch to one actor's method, else a
 * new one added. The fields are compared where they are, so that a call like the one before makes
 * no list (fifteen slots per call, made to be compared and dropped).
 */
function actorTemplateIndex(templates: unknown[][], spec: Loose, actor: Loose, message: Loose, via: { readonly from: string; readonly incarnation: number }, to: string): number {
  const last = templates.length - 1;
  const t = templates[last];
  if (
    t !== undefined &&
    t.length === 15 &&
    sameSpecFields(t, spec) &&
    t[8] === actor['actorId'] &&
    t[9] === actor['method'] &&
    t[10] === message['caller'] &&
    t[11] === message['restartCount'] &&
    t[12] === via.from &&
    t[13] === via.incarnation &&
    t[14] === to
  ) {
    return last;
  }
  templates.push([...specFields(spec), actor['actorId'], actor['method'], message['caller'], message['restartCount'], via.from, via.incarnation, to]);
  return last + 1;
}

/** Rebuilds the actor call packed at `start`. */
function unpackActorPush(fields: readonly unknown[], start: number, templates: readonly unknown[][]): Delivered<Message> {
  const t = templates[fields[start + 1] as number] as unknown[];
  let specArgs: unknown;
  let args: unknown;
  if (fields[start] === inlineActorPushTag) {
    specArgs = [{ kind: 'value', payload: inlinePayload(fields[start + 4], fields[start + 5]) }];
    args = specArgs;
  } else {
    specArgs = fields[start + 4];
    args = fields[start + 5] === true ? specArgs : fields[start + 5];
  }
  const returnIds = fields[start + 3];
  // The fields in the order taskSpecOf and pumpActor write them, so the rebuilt message is the same text as sent.
  const spec = { taskId: fields[start + 2], jobId: t[0], owner: t[1], returnIds: typeof returnIds === 'string' ? [returnIds] : returnIds, name: t[2], functionId: t[3], args: specArgs, resources: t[4], maxRetries: t[5], retryExceptions: t[6], strategy: t[7], actor: { actorId: t[8], method: t[9] } };
  const message: Record<string, unknown> = { type: 'actor-task/pushed', spec, attempt: fields[start + 6], caller: t[10], restartCount: t[11], seqNo: fields[start + 7], args };
  message['via'] = viaOf(t[12], t[13], fields[start + 8], fields[start + 9]);
  message['to'] = t[14];
  return message as unknown as Delivered<Message>;
}

/** Whether `args` are `specArgs`' value arguments, each wrapped again as exactly `{ kind: 'value', payload }` with the same payload. */
function mirrors(args: readonly unknown[], specArgs: readonly unknown[]): boolean {
  if (args.length !== specArgs.length) return false;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as Loose | null;
    const specArg = specArgs[index] as Loose | null;
    if (typeof arg !== 'object' || arg === null || typeof specArg !== 'object' || specArg === null) return false;
    if (arg['kind'] !== 'value' || specArg['kind'] !== 'value' || arg['payload'] !== specArg['payload'] || keyCount(arg) !== 2) return false;
  }
  return true;
}

/** Rebuilds the push packed at `start`. */
function unpackPush(fields: readonly unknown[], start: number, templates: readonly unknown[][]): Delivered<Message> {
  const t = templates[fields[start + 1] as number] as unknown[];
  let specArgs: { readonly kind?: unknown; readonly payload: unknown }[];
  let packedArgs: unknown;
  if (fields[start] === inlinePushTag) {
    // The payload is shared by the spec's argument and the pushed one, as the sender's were.
    specArgs = [{ kind: 'value', payload: inlinePayload(fields[start + 4], fields[start + 5]) }];
    packedArgs = true;
  } else {
    specArgs = fields[start + 4] as { readonly payload: unknown }[];
    packedArgs = fields[start + 5];
  }
  const returnIds = fields[start + 3];
  // The fields in the order taskSpecOf and pushTask write them, so the rebuilt message is the same text as sent.
  const spec = { taskId: fields[start + 2], jobId: t[0], owner: t[1], returnIds: typeof returnIds === 'string' ? [returnIds] : returnIds, name: t[2], functionId: t[3], args: specArgs, resources: t[4], maxRetries: t[5], retryExceptions: t[6], strategy: t[7] };
  const args = packedArgs === true ? packedMap(specArgs, (arg) => ({ kind: 'value', payload: arg.payload })) : packedArgs;
  const afterTaskId = fields[start + 7];
  const message: Record<string, unknown> =
    afterTaskId === null
      ? { type: 'task/pushed', spec, attempt: fields[start + 6], leaseId: t[8], args }
      : { type: 'task/pushed', spec, attempt: fields[start + 6], leaseId: t[8], args, after: { taskId: afterTaskId, attempt: fields[start + 8] } };
  message['via'] = viaOf(t[9], t[10], fields[start + 9], fields[start + 10]);
  message['to'] = t[11];
  return message as unknown as Delivered<Message>;
}

/** An envelope rebuilt, with `cause` only when it had one. */
function viaOf(from: unknown, incarnation: unknown, seq: unknown, cause: unknown): unknown {
  return cause === null ? { from, incarnation, seq } : { from, incarnation, seq, cause };
}

/**
 * Packs a `task/replied` of the usual shape (a result of returned values: exactly `kind` and
 * `payloads`) into `fields`; returns false for any other. An empty `releasedBorrows` is packed as
 * null, and one inline return without refs as its data and size.
 */
function packReply(message: Loose, fields: unknown[], templates: unknown[][]): boolean {
  const result = message['result'] as Loose | undefined;
  const via = message['via'];
  const to = message['to'];
  const borrows = message['releasedBorrows'];
  if (typeof result !== 'object' || result === null || result['kind'] !== 'returned' || !Array.isArray(result['payloads']) || keyCount(result) !== 2) return false;
  if (!plainVia(via) || typeof to !== 'string' || !Array.isArray(borrows) || keyCount(message) !== 9) return false;
  if (!('taskId' in message && 'attempt' in message && 'workerId' in message && 'nodeId' in message)) return false;
  const template = replyTemplateIndex(templates, message, via, to);
  const payloads = result['payloads'] as readonly unknown[];
  const only = payloads.length === 1 ? payloads[0] : undefined;
  if (bareInline(only)) fields.push(inlineReplyTag, template, message['taskId'], message['attempt'], only.data, borrows.length === 0 ? null : borrows, via.seq, via.cause ?? null, only.sizeBytes);
  else fields.push(replyTag, template, message['taskId'], message['attempt'], payloads, borrows.length === 0 ? null : borrows, via.seq, via.cause ?? null, null);
  return true;
}

/** The index in `templates` of a reply's template, compared where its fields are (as `pushTemplateIndex`). */
function replyTemplateIndex(templates: unknown[][], message: Loose, via: { readonly from: string; readonly incarnation: number }, to: string): number {
  const last = templates.length - 1;
  const t = templates[last];
  if (t !== undefined && t.length === 5 && t[0] === message['workerId'] && t[1] === message['nodeId'] && t[2] === via.from && t[3] === via.incarnation && t[4] === to) return last;
  templates.push([message['workerId'], message['nodeId'], via.from, via.incarnation, to]);
  return last + 1;
}

/** Rebuilds the reply packed at `start`. */
function unpackReply(fields: readonly unknown[], start: number, templates: readonly unknown[][]): Delivered<Message> {
  const t = templates[fields[start + 1] as number] as unknown[];
  const borrows = fields[start + 5];
  const message: Record<string, unknown> = { type: 'task/replied', taskId: fields[start + 2], attempt: fields[start + 3], workerId: t[0], nodeId: t[1], result: { kind: 'returned', payloads: fields[start] === inlineReplyTag ? [inlinePayload(fields[start + 4], fields[start + 8])] : fields[start + 4] }, releasedBorrows: borrows === null ? emptyList : borrows };
  message['via'] = viaOf(t[2], t[3], fields[start + 6], fields[start + 7]);
  message['to'] = t[4];
  return message as unknown as Delivered<Message>;
}

/**
 * `messages` (stamped for another thread: each with its `via` and `to`) as a packed batch, or
 * undefined when none of them packs (the batch then goes as it is).
 */
export function packBatch(messages: readonly Delivered<Message>[]): PackedBatch | undefined {
  let items: (Delivered<Message> | number)[] | undefined;
  const fields: unknown[] = [];
  const templates: unknown[][] = [];
  for (let index = 0; index < messages.length; index += 1) {
    const message = messages[index] as Delivered<Message>;
    const start = fields.length;
    const type = message.type;
    const packed = type === 'task/pushed' ? packPush(message, fields, templates) : type === 'task/replied' ? packReply(message, fields, templates) : type === 'actor-task/pushed' ? packActorPush(message, fields, templates) : false;
    if (packed) {
      items ??= messages.slice(0, index);
      items.push(start);
    } else items?.push(message);
  }
  return items === undefined ? undefined : { kind: 'tsray/packed-messages', items, fields, templates };
}

/** The message packed at `start` of `fields`, rebuilt; throws on an unknown tag. */
function unpackOne(fields: readonly unknown[], start: number, templates: readonly unknown[][]): Delivered<Message> {
  const tag = fields[start];
  if (tag === pushTag || tag === inlinePushTag) return unpackPush(fields, start, templates);
  if (tag === replyTag || tag === inlineReplyTag) return unpackReply(fields, start, templates);
  if (tag === actorPushTag || tag === inlineActorPushTag) return unpackActorPush(fields, start, templates);
  throw new TypeError(`a packed batch holds an unknown message tag ${String(tag)} at field ${start}`);
}

/** The messages of a packed batch, each rebuilt as it was sent (this thread's own objects). */
export function unpackBatch(batch: PackedBatch): Delivered<Message>[] {
  const { items, fields, templates } = batch;
  const messages: Delivered<Message>[] = [];
  for (const item of items) messages.push(typeof item === 'number' ? unpackOne(fields, item, templates) : item);
  if (unpackedOrigins.wanted) unpackedOrigins.note(messages, items, fields, templates);
  return messages;
}

/** How many fields a packed message of each tag has (see `packPush`, `packReply` and `packActorPush`). */
const fieldCounts: readonly number[] = [11, 9, 11, 9, 10, 10];

/** How many fields the message packed with `tag` has, or undefined for no tag of a packed message. */
export function packedFieldCount(tag: unknown): number | undefined {
  return typeof tag === 'number' ? fieldCounts[tag] : undefined;
}

/**
 * The template a packed message of `tag` had, read back from `message`, a message of the same type
 * rebuilt from it (whose `to` was taken off on delivery: it is left undefined), or undefined when
 * `message` is not one. With it, a log stores a packed message as its fields alone, against an
 * earlier message stored whole (version 5 in node/store/event-log-codec.ts).
 */
export function templateOf(tag: unknown, message: unknown): unknown[] | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const loose = message as Loose;
  const via = loose['via'] as Loose | undefined;
  if (typeof via !== 'object' || via === null) return undefined;
  if (tag === replyTag || tag === inlineReplyTag) return loose['type'] === 'task/replied' ? [loose['workerId'], loose['nodeId'], via['from'], via['incarnation'], undefined] : undefined;
  const spec = loose['spec'] as Loose | undefined;
  if (typeof spec !== 'object' || spec === null) return undefined;
  if (tag === pushTag || tag === inlinePushTag) return loose['type'] === 'task/pushed' ? [...specFields(spec), loose['leaseId'], via['from'], via['incarnation'], undefined] : undefined;
  const actor = spec['actor'] as Loose | undefined;
  if ((tag === actorPushTag || tag === inlineActorPushTag) && loose['type'] === 'actor-task/pushed' && typeof actor === 'object' && actor !== null) {
    return [...specFields(spec), actor['actorId'], actor['method'], loose['caller'], loose['restartCount'], via['from'], via['incarnation'], undefined];
  }
  return undefined;
}

/**
 * The message packed as `fields` (one message's, from its tag on) with `template`, rebuilt as it was
 * delivered: without the `to` its receiver took off. Throws on an unknown tag.
 */
export function unpackDelivered(fields: readonly unknown[], template: unknown[]): Delivered<Message> {
  const message = unpackOne(fields, 0, [template]) as Delivered<Message> & { to?: unknown };
  delete message.to;
  return message;
}

/**
 * The messages of the last packed batch this thread rebuilt, and where each packed one's fields
 * start in that batch: its receiving component's log stores such a message
 * as those fields (see `ComponentShell.apply`), which costs a fraction of comparing the message with
 * an earlier one field by field. Messages are delivered in the order of their batch, so each look-up
 * starts where the last one found its message.
 */
class UnpackedOrigins {
  /** Whether a log of this thread stores packed fields (see `ComponentShell`): without one, no batch is kept. */
  wanted = false;
  private messages: readonly object[] = emptyList;
  /** The batch's items: where each packed message's fields start, or a message that went as itself. */
  private items: readonly unknown[] = emptyList;
  private next = 0;
  /** The batch's packed fields and templates. */
  fields: readonly unknown[] = emptyList;
  templates: readonly unknown[][] = emptyList;

  /** Keeps the batch just rebuilt: its `messages`, and its `items` (see `PackedBatch.items`), `fields` and `templates`. */
  note(messages: readonly object[], items: readonly unknown[], fields: readonly unknown[], templates: readonly unknown[][]): void {
    this.messages = messages;
    this.items = items;
    this.fields = fields;
    this.templates = templates;
    this.next = 0;
  }

  /**
   * Where the fields of `message` start in `fields`, when it is the next message of the last batch
   * (or one of the few after it: a message routed elsewhere is skipped); else -1. The batch is let go
   * once its last message is found, so it holds no message longer than its delivery.
   */
  startOf(message: object): number {
    const messages = this.messages;
    const end = Math.min(messages.length, this.next + maxSkippedMessages + 1);
    for (let index = this.next; index < end; index += 1) {
      if (messages[index] !== message) continue;
      const item = this.items[index];
      this.next = index + 1;
      if (this.next === messages.length) {
        this.messages = emptyList;
        this.items = emptyList;
      }
      return typeof item === 'number' ? item : -1;
    }
    return -1;
  }
}

/** How many messages of a batch a look-up of `UnpackedOrigins` passes over for a message that went elsewhere. */
const maxSkippedMessages = 4;

/** This thread's last packed batch rebuilt (see `UnpackedOrigins`). */
export const unpackedOrigins = new UnpackedOrigins();
