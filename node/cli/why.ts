/**
 * `tsray why TRACE ID`: the causal chain of an entity (task, actor, object, node, worker, lease,
 * job) or of one event (its seq), as text for scripts and CI. A task shows every attempt. An id the
 * trace does not have exits 1 with one line naming the closest ids it does have.
 */
import { parseArgs } from 'node:util';
import { closestIds, indexTrace } from '../../core/trace/entities.js';
import { explainEntity, renderChain, whyChain } from '../../core/trace/why.js';
import { loadTraceFile } from './trace-file.js';
import { UsageError } from './usage.js';

/** Runs `tsray why`; resolves to the exit code. */
export async function whyCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: {} });
  } catch (error) {
    throw new UsageError(`why: ${(error as Error).message}`);
  }
  const [file, id] = parsed.positionals;
  if (file === undefined || id === undefined || parsed.positionals.length > 2) {
    throw new UsageError('why takes a trace file and an id: tsray why TRACE ID (a task, actor, object, node, worker, lease or job id, or an event seq)');
  }
  const { trace } = await loadTraceFile(file);
  const index = indexTrace(trace);
  const seq = /^#?\d+$/.test(id) ? Number(id.replace('#', '')) : undefined;
  if (seq !== undefined) {
    const chain = whyChain(trace, index, seq);
    if (chain === undefined) {
      const last = trace.entries[trace.entries.length - 1]?.seq ?? 0;
      process.stderr.write(`tsray why: ${file} has no event seq ${seq}; its events are seq 1 to ${last}\n`);
      return 1;
    }
    process.stdout.write(`event seq ${seq}:\n${renderChain(chain, '  ').join('\n')}\n`);
    return 0;
  }
  const lines = explainEntity(trace, index, id);
  if (lines === undefined) {
    const close = closestIds(index, id);
    process.stderr.write(`tsray why: ${file} has no entity '${id}'; the closest ids present: ${close.length === 0 ? 'none (the trace has no events)' : close.join(', ')}\n`);
    return 1;
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
