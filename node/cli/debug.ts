/**
 * `tsray debug [TRACE]`: the replay debugger in the terminal. This file only reads files and starts
 * the Ink app in debugger/; without a trace it lists the curated ones in traces/. A trace that
 * cannot be opened gives one line and exit 1, in a terminal or not.
 */
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { tmpdir } from 'node:os';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { render } from 'ink';
import { createElement } from 'react';
import type { ReactElement } from 'react';
import { Debugger } from '../../debugger/components/Debugger.js';
import { TraceChooser } from '../../debugger/components/TraceChooser.js';
import { PlainContext } from '../../debugger/hooks/use-plain.js';
import type { CuratedTrace } from '../../debugger/components/TraceChooser.js';
import { TraceLoadError, loadTrace } from '../../debugger/trace-index.js';
import type { TraceSource } from '../../debugger/trace-index.js';
import { UsageError } from './usage.js';
import * as E from 'fp-ts/lib/Either.js';
import { bisectFirst } from '../../core/trace/bisect.js';
import { decodeHeader, decodeTrace } from '../../core/trace/decode.js';
import { splitSum } from '../../core/trace/format.js';
import { indexTrace } from '../../core/trace/entities.js';
import type { TraceIndex as EntityIndex } from '../../core/trace/entities.js';
import type { Trace, TraceEntry } from '../../core/trace/format.js';
import type { FaultPlan, ScheduledFault } from '../../core/sim/index.js';
import { CounterfactualError, runCounterfactual } from '../trace/counterfactual.js';
import { parallelReplayer } from '../trace/parallel-replay.js';
import type { PlanChange } from '../trace/counterfactual.js';
import { renderChain, whyChain } from '../../core/trace/why.js';
import { parentChain } from '../../debugger/causal-chain.js';
import type { WhyFunction } from '../../debugger/causal-chain.js';

/** The curated traces' folder: traces/ at the package root (dist/node/cli is three levels down). */
const tracesFolder = fileURLToPath(new URL('../../../traces/', import.meta.url));

/** The curated traces, with the line traces/README.md gives each (`- \`name.jsonl\`: what to look at`). */
export async function curatedTraces(folder: string): Promise<CuratedTrace[]> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.jsonl')).sort();
  } catch {
    return [];
  }
  const readme = await readFile(join(folder, 'README.md'), 'utf8').catch(() => '');
  const described = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const found = /([\w.-]+\.jsonl)`?\**\s*[:—–-]+\s*(.+)$/.exec(line);
    if (found?.[1] !== undefined && found[2] !== undefined) described.set(found[1], found[2].trim());
  }
  const shown = relative(process.cwd(), folder) || '.';
  return names.map((name) => ({ path: join(shown, name), description: described.get(name) ?? 'no line about it in README.md' }));
}

/** Runs `tsray debug`; resolves to the exit code. */
export async function debugCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: {} });
  } catch (error) {
    throw new UsageError(`debug: ${(error as Error).message}`);
  }
  if (parsed.positionals.length > 1) throw new UsageError('debug takes at most one trace file: tsray debug [TRACE]');
  const interactive = process.stdin.isTTY && process.stdout.isTTY;
  let file = parsed.positionals[0];
  if (file === undefined) {
    const traces = await curatedTraces(tracesFolder);
    if (!interactive) {
      process.stdout.write(traces.length === 0 ? 'no curated traces yet; make one: tsray sim examples/sim/fan-out.mjs --seed 1 -o traces\n' : traces.map((trace) => `${trace.path}: ${trace.description}\n`).join(''));
      return 0;
    }
    file = await choose(traces);
    if (file === undefined) return 0;
  }
  let source: TraceSource & { close: () => void };
  try {
    source = fileSource(file);
  } catch (error) {
    throw new Error(`cannot read trace ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; pass a file written by tsray sim or tsray trace collect`);
  }
  if (!interactive) {
    // Without a terminal there is nothing to draw on, but a bad trace still deserves its reason.
    try {
      await loadTrace(source, { pause: () => Promise.resolve(), parallel: parallelReplayer(file) });
    } catch (error) {
      if (error instanceof TraceLoadError) throw new Error(`${file}: ${error.message}`);
      throw error;
    } finally {
      source.close();
    }
    throw new Error(`debug needs an interactive terminal; for scripts use tsray replay ${file} --verify`);
  }
  let failure: string | undefined;
  const analysis = wholeTrace(file, source.sizeBytes);
  const parallel = parallelReplayer(file);
  const app = render(
    plainly(Debugger, {
      source,
      name: basename(file),
      // The replay pass (checksums, validation, states, ids) runs in worker threads, one component each.
      loadOptions: { parallel },
      why: coreWhy(analysis),
      ...(canRunAgain(source) ? { counterfactual: (change: string) => whatIf(analysis, file, change) } : {}),
      search: (holds: (position: number) => boolean, count: number) => bisectFirst(count, holds),
      onQuit: () => app.unmount(),
      onFailure: (reason: string) => {
        failure = reason;
        app.unmount();
      },
    }),
    { exitOnCtrlC: true },
  );
  await app.waitUntilExit();
  // A replay pass still under way must not hold the process after the user quit.
  parallel.close();
  source.close();
  if (failure !== undefined) throw new Error(`${file}: ${failure}`);
  return 0;
}

/** Traces up to this size are also decoded whole, for core/trace's why and the counterfactual. */
const wholeMaxBytes = 200 * 1024 * 1024;

/** The whole trace, decoded and indexed on first use; undefined for a trace too big or unreadable. */
export type WholeTrace = () => { readonly trace: Trace; readonly index: EntityIndex } | undefined;

export function wholeTrace(path: string, sizeBytes: number): WholeTrace {
  let analysed: { trace: Trace; index: EntityIndex } | null | undefined;
  return () => {
    if (analysed === undefined) {
      analysed = null;
      if (sizeBytes <= wholeMaxBytes) {
        const decoded = decodeTrace(readFileSync(path, 'utf8'), { checksums: false });
        if (E.isRight(decoded)) analysed = { trace: decoded.right, index: indexTrace(decoded.right) };
      }
    }
    return analysed ?? undefined;
  };
}

/**
 * The why pane's chain from core/trace/why.ts, which follows what events say (a worker's death to
 * how it ended, a node's to its fault, an attempt to its push) and not only parent links. A trace
 * too big to decode whole, or an event the analysis does not know, falls back on the parent chain.
 */
export function coreWhy(whole: WholeTrace): WhyFunction {
  return (source, seq) => {
    const analysed = whole();
    const chain = analysed === undefined ? undefined : whyChain(analysed.trace, analysed.index, seq);
    return chain === undefined ? parentChain(source, seq) : renderChain(chain);
  };
}

/** Whether the trace is a simulator run that says where its workload is (its header, read alone). */
function canRunAgain(source: TraceSource): boolean {
  const head = Buffer.from(source.read(0, Math.min(source.sizeBytes, 1 << 16))).toString('utf8');
  const header = decodeHeader(splitSum(head.split('\n')[0] ?? '').content);
  return E.isRight(header) && header.right.createdBy === 'sim' && header.right.workloadModule !== undefined;
}

/** `drop N`, `N key=value ...` or `rate key=value`, as a change to a fault plan. */
export function parsePlanChange(text: string, plan: FaultPlan): PlanChange {
  const words = text.trim().split(/\s+/);
  const [first = '', ...rest] = words;
  const numberOf = (value: string, what: string): number => {
    const parsed = Number(value);
    if (value === '' || !Number.isFinite(parsed)) throw new CounterfactualError(`${what} should be a number, not '${value}'`);
    return parsed;
  };
  if (first === 'drop') return { kind: 'drop', index: numberOf(rest[0] ?? '', 'the fault to drop') };
  if (first === 'rate') {
    const [key = '', value = ''] = (rest[0] ?? '').split('=');
    const keys = ['dropRate', 'duplicateRate', 'jitterMs', 'spikeRate', 'spikeMs'] as const;
    const known = keys.find((name) => name === key);
    if (known === undefined) throw new CounterfactualError(`rate takes one of ${keys.join(', ')}, e.g. rate dropRate=0`);
    return { kind: 'rate', key: known, value: numberOf(value, key) };
  }
  const index = numberOf(first, 'the fault to change');
  const fault = plan.scheduled?.[index];
  if (fault === undefined) throw new CounterfactualError(`the plan has ${plan.scheduled?.length ?? 0} scheduled faults; there is no fault ${index}`);
  if (rest.length === 0) throw new CounterfactualError(`say what to change in fault ${index}, e.g. ${index} atMs=300`);
  const changed: Record<string, unknown> = { ...fault };
  for (const pair of rest) {
    const [key = '', value = ''] = pair.split('=');
    if (!(key in fault) || key === 'kind') throw new CounterfactualError(`fault ${index} (${fault.kind}) has no field '${key}' to change; it has ${Object.keys(fault).filter((name) => name !== 'kind').join(', ')}`);
    changed[key] = numberOf(value, key);
  }
  return { kind: 'replace', index, fault: changed as unknown as ScheduledFault };
}

/** Runs the counterfactual and says what it found, one line each; the changed run's trace is saved to open. */
export async function whatIf(whole: WholeTrace, path: string, text: string): Promise<readonly string[]> {
  const analysed = whole();
  if (analysed === undefined) throw new CounterfactualError('this trace is too big to run again from the debugger; use tsray sim with the changed plan');
  const change = parsePlanChange(text, (analysed.trace.header.faultPlan ?? {}));
  const result = await runCounterfactual(analysed.trace, path, change);
  const saved = join(mkdtempSync(join(tmpdir(), 'tsray-whatif-')), basename(path));
  writeFileSync(saved, result.changedTraceText);
  const verdict =
    result.originalFailure === undefined
      ? result.changedFailure === undefined
        ? 'neither run fails'
        : 'the changed run fails where the original did not'
      : result.changedFailure === undefined
        ? 'the failure is gone: this change avoids it'
        : 'the failure remains';
  const side = (entry: TraceEntry | undefined): string => (entry === undefined ? '(the run had ended)' : `${entry.address} ${entry.event.type}`);
  return [
    verdict,
    `original: ${result.originalFailure ?? 'no failure'}`,
    `changed:  ${result.changedFailure ?? 'no failure'}`,
    result.firstDifference === undefined
      ? 'the two runs are identical, event for event'
      : `they first differ at seq ${result.firstDifference.seq}: original ${side(result.firstDifference.original)} | changed ${side(result.firstDifference.changed)}`,
    `changed plan: ${JSON.stringify(result.changedPlan)}`,
    `the changed run's trace: ${saved} (tsray debug it)`,
  ];
}

/**
 * A trace file read in ranges as the debugger asks, so a big trace is never held whole in memory.
 * @throws the open's error (ENOENT, EACCES, EISDIR).
 */
export function fileSource(path: string): TraceSource & { close: () => void } {
  const descriptor = openSync(path, 'r');
  const stat = fstatSync(descriptor);
  if (stat.isDirectory()) {
    closeSync(descriptor);
    throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
  }
  let open = true;
  return {
    sizeBytes: stat.size,
    read: (offset, length) => {
      const buffer = Buffer.allocUnsafe(Math.max(0, Math.min(length, stat.size - offset)));
      let filled = 0;
      while (filled < buffer.length) {
        const got = readSync(descriptor, buffer, filled, buffer.length - filled, offset + filled);
        if (got === 0) break;
        filled += got;
      }
      return buffer.subarray(0, filled);
    },
    // Buffers from `read`: checked for ASCII at SIMD speed and copied as one-byte text, about twice
    // as fast as decoding UTF-8 and comparing lengths.
    asciiText: (bytes) => {
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      return isAscii(buffer) ? buffer.toString('latin1') : undefined;
    },
    close: () => {
      if (open) closeSync(descriptor);
      open = false;
    },
  };
}

/** `component` with `props`, drawn without styling when NO_COLOR is set (https://no-color.org). */
function plainly<P extends object>(component: (props: P) => ReactElement, props: P): ReactElement {
  const plain = (process.env['NO_COLOR'] ?? '') !== '';
  return createElement(PlainContext.Provider, { value: plain }, createElement(component, props));
}

/** Shows the curated traces and resolves to the one chosen, or undefined when the user quits. */
async function choose(traces: readonly CuratedTrace[]): Promise<string | undefined> {
  let chosen: string | undefined;
  const app = render(
    plainly(TraceChooser, {
      traces,
      folder: relative(process.cwd(), tracesFolder) || '.',
      width: process.stdout.columns || 80,
      onOpen: (path: string) => {
        chosen = path;
        app.unmount();
      },
      onQuit: () => app.unmount(),
    }),
  );
  await app.waitUntilExit();
  return chosen;
}
