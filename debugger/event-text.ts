/**
 * One-line descriptions of events, for the event list, the timelines and the why chain. The words
 * come from the event's own fields; an event type with nothing special to say lists the ids it
 * names, so a new event variant is described without a change here.
 */
import type { TraceEntry } from '../core/trace/format.js';
import { entitiesOf } from './entities.js';

type Fields = Record<string, unknown>;

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

/** What a task result (`task/replied`, `task/executed`) says, in a few words. */
export function resultText(result: unknown): string {
  if (typeof result !== 'object' || result === null) return '';
  const fields = result as Fields;
  const kind = text(fields['kind']);
  if (kind === 'threw') {
    const error = fields['error'] as Fields | undefined;
    const thrown = fields['thrown'] as Fields | undefined;
    const name = text(error?.['errorClass']) || text(fields['errorClass']) || text(thrown?.['name']) || 'error';
    const message = text(error?.['message']) || text(thrown?.['message']);
    return message === '' ? `threw ${name}` : `threw ${name}: ${message}`;
  }
  if (kind === 'arg-lost') return `arg lost ${text(fields['objectId'])}`;
  return kind;
}

/** A short description of the event's content (without seq, time and address). */
export function describeEvent(event: { readonly type: string }): string {
  const fields = event as unknown as Fields;
  const ids = entitiesOf(event)
    .slice(0, 3)
    .map((entity) => entity.id)
    .join(' ');
  switch (event.type) {
    case 'task/submitted':
      return `${text(fields['name'])} ${ids}`.trim();
    case 'task/replied':
    case 'task/executed':
      return `${text(fields['taskId'])} attempt ${text(fields['attempt'])}: ${resultText(fields['result'])}`;
    case 'task/pushed':
    case 'actor-task/pushed': {
      const spec = fields['spec'] as Fields | undefined;
      return `${text(spec?.['taskId'])} ${text(spec?.['name'])} attempt ${text(fields['attempt'])}`;
    }
    case 'worker/exited':
    case 'worker/died':
    case 'lease/worker-died':
      return `${text(fields['workerId'])} ${text(fields['reason'])}`;
    case 'actor/state-changed':
      return `${text(fields['actorId'])} ${text(fields['state'])} restart ${text(fields['restartCount'])}${fields['deathCause'] === undefined ? '' : `: ${text(fields['deathCause'])}`}`;
    case 'timer/fired':
      return text(fields['timerId']);
    case 'lease/rejected':
      return `${text(fields['leaseId'])} ${text(fields['reason'])}`;
    default:
      return ids;
  }
}

/** `seq 12 @34ms worker:n1.d1 task/submitted ...` for the why chain and timelines. */
export function entryLine(entry: TraceEntry): string {
  const detail = describeEvent(entry.event);
  return `seq ${entry.seq} @${entry.atMs}ms ${entry.address} ${entry.event.type}${detail === '' ? '' : ` ${detail}`}`;
}
