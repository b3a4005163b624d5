/**
 * `tsray replay TRACE [--verify]`: decode a trace, report lines that cannot be applied, re-run the
 * reducers over it, and compare every recorded state hash. With --verify the exit code says whether
 * every recorded hash was reproduced.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as E from 'fp-ts/lib/Either.js';
import { gcsCore } from '../../core/gcs/index.js';
import { ownerCore } from '../../core/owner/index.js';
import { rayletCore } from '../../core/raylet/index.js';
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import { decodeTrace } from '../../core/trace/decode.js';
import { replayTrace } from '../../core/trace/replay.js';
import { mutationNamed } from '../../core/sim/mutations.js';
import { UsageError } from './usage.js';

/** Runs `tsray replay`; resolves to the exit code. */
export async function replayCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { verify: { type: 'boolean', default: false } } });
  } catch (error) {
    throw new UsageError(`replay: ${(error as Error).message}`);
  }
  const file = parsed.positionals[0];
  if (file === undefined || parsed.positionals.length > 1) throw new UsageError('replay takes exactly one trace file: tsray replay TRACE [--verify]');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read trace ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; pass a file written by tsray sim or tsray trace collect`);
  }
  const decoded = decodeTrace(text);
  if (E.isLeft(decoded)) throw new Error(`${file} is not a tsray trace: line ${decoded.left.lineNumber}: ${decoded.left.reason}`);
  const trace = decoded.right;
  for (const rejected of trace.rejected) process.stderr.write(`tsray replay: skipped ${rejected.reason}\n`);
  const mutationName = trace.header.mutation;
  const mutation = mutationName === undefined ? undefined : mutationNamed(mutationName);
  if (mutationName !== undefined && mutation === undefined) throw new Error(`${file} was recorded under a broken recipe '${mutationName}' that this tsray does not have; replay it with the tsray that wrote it`);
  if (mutation !== undefined) process.stderr.write(`tsray replay: this run used a deliberately broken recipe, replayed as recorded: ${mutation.description}\n`);
  const cores = {
    gcs: gcsCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
    raylet: rayletCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
    owner: ownerCore as unknown as ComponentCore<unknown, AnyEvent, unknown>,
    ...mutation?.cores,
  };
  const result = replayTrace(trace, cores);
  if (!result.ok) {
    process.stderr.write(`tsray replay: diverged at seq ${result.seq} (${result.address}): ${result.reason}\n`);
    return 1;
  }
  process.stdout.write(`replayed ${result.events} events; ${result.checkedHashes} recorded state hashes reproduced${result.skippedHashes > 0 ? `, ${result.skippedHashes} not comparable (recorded by another reducer version)` : ''}\n`);
  if (!parsed.values.verify) return 0;
  if (trace.rejected.length > 0) {
    process.stderr.write(`tsray replay: not verified: ${trace.rejected.length} lines could not be applied\n`);
    return 1;
  }
  if (result.skippedHashes > 0 || result.checkedHashes === 0) {
    process.stderr.write(`tsray replay: not verified: ${result.checkedHashes === 0 ? 'the trace records no state hashes' : 'some hashes were recorded by another reducer version'}\n`);
    return 1;
  }
  return 0;
}
