/**
 * `tsray replay TRACE [--verify] [--invariants every|hashes]`: decode a trace, report lines that cannot be applied and breaks of
 * its checksum chain (summarised), re-run the reducers over it, and compare every recorded state
 * hash. A damaged file or a divergence exits 1 either way; with --verify the exit code also says
 * whether every recorded hash was reproduced. Invariants are checked after every event, or on a
 * trace of more than 20,000 events only where the recording can be compared (see ReplayOptions).
 */
import { parseArgs } from 'node:util';
import { gcsCore } from '../../core/gcs/index.js';
import { ownerCore } from '../../core/owner/index.js';
import { rayletCore } from '../../core/raylet/index.js';
import type { AnyEvent, ComponentCore } from '../../core/component.js';
import { summariseProblems } from '../../core/trace/decode.js';
import { replayTrace } from '../../core/trace/replay.js';
import { mutationNamed } from '../../core/sim/mutations.js';
import { loadTraceFile } from './trace-file.js';
import { UsageError } from './usage.js';
import { counted } from '../../core/counted.js';

/** Up to this many events, invariants are checked after every one unless --invariants says otherwise. */
const everyEventLimit = 20_000;

/** Runs `tsray replay`; resolves to the exit code. */
export async function replayCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { verify: { type: 'boolean', default: false }, invariants: { type: 'string' } } });
  } catch (error) {
    throw new UsageError(`replay: ${(error as Error).message}`);
  }
  const file = parsed.positionals[0];
  if (file === undefined || parsed.positionals.length > 1) throw new UsageError('replay takes exactly one trace file: tsray replay TRACE [--verify]');
  const { trace, problems } = await loadTraceFile(file, { strict: false });
  // A damaged file is still replayed as far as it goes (that shows what the damage changes), but it never passes.
  for (const line of summariseProblems(problems)) process.stderr.write(`tsray replay: ${line}\n`);
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
  const invariantsOption = parsed.values.invariants;
  if (invariantsOption !== undefined && invariantsOption !== 'every' && invariantsOption !== 'hashes') throw new UsageError(`--invariants takes every or hashes, not '${invariantsOption}'`);
  // Invariants walk a component's whole state: after every event of a big trace that is quadratic.
  const invariants = invariantsOption ?? (trace.entries.length <= everyEventLimit ? 'every' : 'hashes');
  // Checked after every event, a component that grew is stepped under immer and checked from what each event changed.
  const result = replayTrace(trace, cores, { invariants, mode: invariants === 'every' ? 'auto' : 'direct' });
  if (!result.ok) {
    process.stderr.write(`tsray replay: diverged at seq ${result.seq} (${result.address}): ${result.reason}\n`);
    return 1;
  }
  const snapshots = result.checkedSnapshots === undefined ? '' : `, ${counted(result.checkedSnapshots, 'snapshot')} matched`;
  process.stdout.write(`replayed ${result.events} events; ${result.checkedHashes} recorded state hashes reproduced${snapshots}${result.skippedHashes > 0 ? `, ${result.skippedHashes} not comparable (recorded by another reducer version)` : ''}\n`);
  if (invariants === 'hashes') process.stdout.write(`invariants checked where the recording can be compared (each recorded hash and each component's last event); --invariants every checks after every event, slowly on a large trace\n`);
  if (result.reproducedFailure !== undefined) process.stdout.write(`reproduced the recorded failure at seq ${result.reproducedFailure.seq}: ${result.reproducedFailure.reason}\n`);
  if (problems.length > 0) {
    process.stderr.write(`tsray replay: ${file} is damaged (${counted(problems.length, 'problem')}): record or collect it again\n`);
    return 1;
  }
  if (!parsed.values.verify) return 0;
  if (result.skippedHashes > 0 || result.checkedHashes === 0) {
    process.stderr.write(`tsray replay: not verified: ${result.checkedHashes === 0 ? 'the trace records no state hashes' : 'some hashes were recorded by another reducer version'}\n`);
    return 1;
  }
  return 0;
}
